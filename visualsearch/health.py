"""``/healthz``: is every part this process depends on usable?"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse


def database_status() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            row = cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return {"ok": False, "error": str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)}
    return {
        "ok": row is not None,
        "vendor": connection.vendor,
        "pgvector": row[0] if row else None,
        **({} if row else {"error": "the vector extension is not installed; run migrations"}),
    }


def broker_status() -> dict[str, Any]:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "mode": "eager", "detail": "CELERY_BROKER_URL is unset: tasks run in-process"}
    from visualsearch.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "mode": "broker", "error": str(exc)}
    return {"ok": True, "mode": "broker"}


def models_status() -> dict[str, Any]:
    return {
        "detector_weights": settings.DETECTOR_WEIGHTS,
        "detector_classes": settings.DETECTOR_CLASSES,
        "clip_model": settings.CLIP_MODEL,
        "device": settings.MODEL_DEVICE,
    }


def healthz(request: HttpRequest) -> JsonResponse:
    database = database_status()
    broker = broker_status()
    ok = database["ok"] and broker["ok"]
    body = {"ok": ok, "database": database, "broker": broker, "models": models_status()}
    return JsonResponse(body, status=200 if ok else 503)
