"""The browser endpoints under the middleware's prefix: kxt.js, activities, consent."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from .activities import ActivitySource, LogResult, NewActivity
from .cookie_level import CookieLevel
from .errors import StoreOverloadedError
from .logger import ActivityLogger
from .origin import other_site
from .script import TrackingScript

# Activity ids derived from a page visit's id, so a retried page visit adds no second landing page.
_LANDING_PAGE = uuid.UUID("6f1c1f3e-9a55-4a4e-9d43-1f0e2b8c7a10")
_TEXT_FIELDS = ("type", "title", "value", "url", "referrer")


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


@dataclass(frozen=True)
class BrowserTracking:
    """Serves kxt.js and takes activities and consent choices from pages of this site."""

    prefix: str
    script: TrackingScript
    # The browser's limit for a keepalive request body (kxt.js keeps its batches below it).
    max_body: int = 64 * 1024
    max_activities: int = 20

    async def handle(
        self, route: str, logger: ActivityLogger, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Answer one request for ``route`` (the path below the prefix)."""
        try:
            response = await self._dispatch(route, logger, scope, receive)
        except RequestError as refused:
            response = refused.response()
        await response(scope, receive, send)

    async def _dispatch(
        self, route: str, logger: ActivityLogger, scope: Scope, receive: Receive
    ) -> Response:
        method = scope["method"]
        if route.startswith("/kxt.") and route.endswith(".js"):
            allow_methods(method, "GET", "HEAD")
            current = route == f"/{self.script.filename}"
            return serve_script(self.script, Headers(scope=scope), versioned=current)
        if route == "/browser/activities":
            allow_methods(method, "POST")
            body = await self._json(scope, receive)
            return await log_page_activities(
                logger, body, source=ActivitySource.BROWSER, max_activities=self.max_activities
            )
        if route == "/browser/consent":
            allow_methods(method, "POST")
            return page_consent(logger, await self._json(scope, receive))
        raise RequestError(404, "not_found", f"no tracking endpoint at {self.prefix}{route}")

    async def _json(self, scope: Scope, receive: Receive) -> Any:
        headers = Headers(scope=scope)
        _refuse_other_sites(headers)
        return await read_json(scope, receive, headers, self.max_body)


def serve_script(script: TrackingScript, headers: Headers, *, versioned: bool) -> Response:
    """A script response: gzip when accepted, cached for good under a versioned name."""
    # The versioned URL never changes content; any other name gets the current script,
    # revalidated each time (a page rendered before a deploy still works).
    cache = "public, max-age=31536000, immutable" if versioned else "no-cache"
    etag = f'"{script.version}"'
    common = {"cache-control": cache, "etag": etag, "vary": "Accept-Encoding"}
    if headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=common)
    media_type = "text/javascript; charset=utf-8"
    if "gzip" in headers.get("accept-encoding", ""):
        return Response(script.gzipped, media_type=media_type, headers=common | _GZIP)
    return Response(script.minified, media_type=media_type, headers=common)


async def log_page_activities(
    logger: ActivityLogger,
    body: Any,
    *,
    source: ActivitySource,
    max_activities: int,
    site: str | None = None,
) -> JSONResponse:
    """Log the activities a page sent for its visitor; one result per activity, and the level.

    An invalid activity fails alone (result ``invalid`` with the rule it broke): the script
    batches the calls of one task, so one bad call must not lose the others.
    """
    items = body.get("activities") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise RequestError(
            422, "invalid_body", 'expected {"activities": [{"id", "type", ...}, ...]}'
        )
    if len(items) > max_activities:
        raise RequestError(
            413,
            "too_many_activities",
            f"{len(items)} activities in one request; at most {max_activities}",
        )
    visitor = logger.visitor
    allowed = visitor.level.allows_tracking
    activities: list[NewActivity] = []
    answered: list[NewActivity | dict[str, Any]] = []
    for item in items:
        try:
            activity = _activity(item, source, site)
        except ValueError as exc:
            answered.append(_invalid(logger, item, str(exc)))
            continue
        answered.append(activity)
        activities.append(activity)
        if activity.type == "pagevisit" and allowed and visitor.start_page_visit():
            landing = NewActivity(
                type="landingpage",
                title=activity.title,
                url=activity.url,
                referrer=activity.referrer,
                source=source,
                site=site,
                id=str(uuid.uuid5(_LANDING_PAGE, activity.id)),
            )
            activities.append(landing)
    try:
        results = await logger.tracker.log_for_visitor(visitor, activities) if activities else []
    except StoreOverloadedError as exc:
        raise RequestError(503, "overloaded", str(exc)) from None
    by_id = dict(zip((a.id for a in activities), results, strict=True))
    return JSONResponse(
        {
            "results": [
                _result(entry.id, by_id[entry.id]) if isinstance(entry, NewActivity) else entry
                for entry in answered
            ],
            "level": int(visitor.level),
        }
    )


def page_consent(logger: ActivityLogger, body: Any) -> JSONResponse:
    """Apply a page's ``{"agree": bool}``: All when agreeing, below Visitor when revoking."""
    agree = body.get("agree") if isinstance(body, dict) else None
    if not isinstance(agree, bool):
        raise RequestError(422, "invalid_body", 'expected {"agree": true} or {"agree": false}')
    visitor = logger.visitor
    if agree:
        level = visitor.set_level(CookieLevel.ALL)
    else:
        # Back to the site's default, but never a tracking level: revoking must stop tracking.
        level = visitor.set_level(min(visitor.default_level, CookieLevel.ESSENTIAL))
    return JSONResponse({"level": int(level)})


_GZIP = {"content-encoding": "gzip"}


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


def allow_methods(method: str, *allowed: str) -> None:
    """Refuse a method the endpoint does not answer (405)."""
    if method not in allowed:
        raise RequestError(
            405, "method_not_allowed", f"use {' or '.join(allowed)}", {"allow": ", ".join(allowed)}
        )


def _too_large(limit: int) -> RequestError:
    return RequestError(413, "body_too_large", f"the body is over {limit} bytes")


def _refuse_other_sites(headers: Headers) -> None:
    """Refuse requests a page of another site made: they must not log for our visitors."""
    site = other_site(headers)
    if site is not None:
        raise RequestError(403, "cross_site_request", f"requests from {site} are refused")


def _activity(item: Any, source: ActivitySource, site: str | None) -> NewActivity:
    """The activity a page sent, validated by the core rules; ValueError names the broken rule."""
    if not isinstance(item, Mapping):
        raise ValueError("an activity must be an object")
    fields: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        value = item.get(name, "")
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string")
        fields[name] = value
    if not isinstance(item.get("id"), str):
        raise ValueError("id must be a UUID string")
    return NewActivity(source=source, site=site, id=item["id"], **fields)


def _invalid(logger: ActivityLogger, item: Any, reason: str) -> dict[str, Any]:
    """The result of an activity refused as invalid, counted with the activities not logged."""
    logger.tracker.count_not_logged("invalid", reason)
    sent_id = item.get("id") if isinstance(item, Mapping) else None
    return {
        "id": sent_id if isinstance(sent_id, str) else None,
        "status": "invalid",
        "reason": reason,
    }


def _result(activity_id: str, result: LogResult) -> dict[str, str]:
    answer = {"id": activity_id, "status": result.status.value}
    if not result.logged:
        answer["reason"] = result.reason
    return answer
