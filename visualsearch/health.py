"""``/healthz``: is every part this process depends on usable?

Load balancers need only the status; paths and exception texts go to staff alone.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse

from indexing.text_queries import text_encoder_problem
from indexing.vision.availability import clip_problem, detector_problem
from visualsearch.access import public, sees_details


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
        return {"ok": True, "mode": "eager", "detail": "CELERY_TASK_ALWAYS_EAGER is on: tasks run in-process"}
    from visualsearch.celery import app

    if not app.conf.broker_url:
        # Search needs no broker; the admin and the API refuse indexing with the reason (indexing.pipeline.jobs).
        return {"ok": True, "mode": "none", "detail": "CELERY_BROKER_URL is unset: indexing cannot be queued"}
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "mode": "broker", "error": str(exc)}
    return {"ok": True, "mode": "broker"}


def models_status() -> dict[str, Any]:
    """Which model could not be loaded, and why, without loading any (a probe must be quick)."""
    problems = {"detector": detector_problem(), "clip": clip_problem(), "text_encoder": text_encoder_problem()}
    return {
        "ok": not any(problems.values()),
        **{name: {"ok": not problem, **({"error": problem} if problem else {})} for name, problem in problems.items()},
        "detector_weights": settings.DETECTOR_WEIGHTS,
        "detector_classes": settings.DETECTOR_CLASSES,
        "clip_model": settings.CLIP_MODEL,
        "text_encoder": settings.TEXT_ENCODER or "the CLIP's own text tower",
        "device": settings.MODEL_DEVICE,
    }


def models_summary(models: dict[str, Any]) -> dict[str, Any]:
    """For anonymous callers: which model is missing, without paths or reasons."""
    summary = {"ok": models["ok"], "detector": {"ok": models["detector"]["ok"]}, "clip": {"ok": models["clip"]["ok"]}}
    if settings.TEXT_ENCODER:  # named only where one is configured: the CLIP's own tower is "clip"
        summary["text_encoder"] = {"ok": models["text_encoder"]["ok"]}
    return summary


def index_status(database: dict[str, Any]) -> dict[str, Any]:
    """The served build's recall, as the build measured it on its own vectors (staff only)."""
    if not database["ok"]:
        return {"ok": False, "error": "the database is unreachable"}
    from indexing.ann.served import served_summary

    return served_summary()


def asked_by_staff(request: HttpRequest) -> bool:
    try:
        return sees_details(request.user)
    except DatabaseError:  # the session lives in the database, which may be the part that is down
        return False


@public
def healthz(request: HttpRequest) -> JsonResponse:
    database = database_status()
    broker = broker_status()
    models = models_status()
    # Models that cannot load make searches answer 503 but leave the rest of the site up:
    # the status code (what load balancers act on) follows the database and the broker.
    ok = database["ok"] and broker["ok"]
    if asked_by_staff(request):
        body = {"ok": ok, "database": database, "broker": broker, "models": models, "index": index_status(database)}
    else:
        body = {
            "ok": ok,
            "database": {"ok": database["ok"]},
            "broker": {"ok": broker["ok"]},
            "models": models_summary(models),
        }
    return JsonResponse(body, status=200 if ok else 503)
