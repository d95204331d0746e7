"""A WSGI app that answers with what reached it: what nginx forwards, seen from behind nginx."""

from __future__ import annotations

import json


def app(environ, start_response):
    body = environ["wsgi.input"].read()
    seen = {
        "path": environ.get("PATH_INFO"),
        "host": environ.get("HTTP_HOST"),
        "x_forwarded_for": environ.get("HTTP_X_FORWARDED_FOR"),
        "x_forwarded_proto": environ.get("HTTP_X_FORWARDED_PROTO"),
        "x_forwarded_host": environ.get("HTTP_X_FORWARDED_HOST"),
        "body_bytes": len(body),
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(seen).encode()]
