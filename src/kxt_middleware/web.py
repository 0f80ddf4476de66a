"""The HTTP toolkit of the tracking endpoints: JSON errors, bodies, methods, CORS, overload."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope

from .errors import StoreOverloadedError

log = logging.getLogger("kxt_middleware")

# How long a client should wait before retrying when the write queue is full (seconds): the
# writer drains a full default queue in well under a second.
RETRY_AFTER = 1


class RequestError(Exception):
    """A request the endpoint refuses: HTTP status, error code and a detail for the client."""

    def __init__(
        self, status: int, error: str, detail: Any, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail
        self.headers = headers

    def response(self) -> Response:
        """The JSON answer ``{"error": ..., "detail": ...}`` with the status."""
        body = {"error": self.error, "detail": self.detail}
        return JSONResponse(body, self.status, headers=self.headers)


def overloaded(error: StoreOverloadedError) -> RequestError:
    """The one answer to a full write queue, for every endpoint: 503, Retry-After and why."""
    _OVERLOADS.note()
    return RequestError(503, "overloaded", str(error), {"retry-after": str(RETRY_AFTER)})


class _OverloadLog:
    """One log line per ten seconds of overload (with the count), not one per request."""

    def __init__(self) -> None:
        self.answered = 0
        self._since_line = 0
        self._last_line = 0.0

    def note(self) -> None:
        self.answered += 1
        self._since_line += 1
        now = time.monotonic()
        if now - self._last_line >= 10:
            log.warning(
                "the activity store is overloaded: %d requests answered 503 with Retry-After "
                "since the last report; raise max_pending if the disk keeps up",
                self._since_line,
            )
            self._since_line, self._last_line = 0, now


_OVERLOADS = _OverloadLog()


async def read_json(scope: Scope, receive: Receive, headers: Headers, max_body: int) -> Any:
    """The request body parsed as JSON (sent as JSON or as CORS-simple text), size-limited."""
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("text/plain", "application/json", ""):
        raise RequestError(
            415,
            "unsupported_media_type",
            f"{kind} is not accepted: send the JSON body with Content-Type: application/json "
            "(or text/plain)",
        )
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        raise _too_large(max_body)
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestError(400, "client_disconnected", "the request body was cut off")
        body += message.get("body", b"")
        if len(body) > max_body:
            raise _too_large(max_body)
        if not message.get("more_body", False):
            break
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestError(400, "malformed_json", f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise RequestError(400, "malformed_json", "the body's JSON is nested too deeply") from None


def _too_large(limit: int) -> RequestError:
    return RequestError(413, "body_too_large", f"the body is over {limit} bytes")


def allow_methods(method: str, *allowed: str) -> None:
    """Refuse a method the endpoint does not answer (405)."""
    if method not in allowed:
        raise RequestError(
            405, "method_not_allowed", f"use {' or '.join(allowed)}", {"allow": ", ".join(allowed)}
        )


def printable(text: object) -> str | None:
    """``text`` if it is a string a JSON answer can carry (valid Unicode), else None: a value
    from a request is echoed only when it can be encoded."""
    if not isinstance(text, str):
        return None
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return text


# -- CORS, for the headless API and cross-site tracking --------------------------------------


def preflight(methods: str, headers: str) -> Response:
    """The answer to an allowed origin's CORS preflight (cached for ten minutes)."""
    return Response(
        status_code=204,
        headers={
            "access-control-allow-methods": methods,
            "access-control-allow-headers": headers,
            "access-control-max-age": "600",
        },
    )


def allow_origin(
    response: Response, origin: str | None, *, credentials: bool = False, expose: str = ""
) -> None:
    """Let ``origin`` (already checked by the caller; None: no CORS) read ``response``."""
    if origin is not None:
        response.headers["access-control-allow-origin"] = origin
        if credentials:
            response.headers["access-control-allow-credentials"] = "true"
        if expose:
            response.headers["access-control-expose-headers"] = expose
    # The answer depends on the Origin: caches must keep one per origin.
    response.headers.append("vary", "Origin")
