"""The browser endpoints under the middleware's prefix: kxt.js, activities, consent."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from .activities import ActivitySource, LogResult, NewActivity
from .cookie_level import CookieLevel
from .errors import StoreOverloadedError
from .intake import RULES, Invalid, activity_list, read_activities
from .logger import ActivityLogger
from .origin import other_site
from .script import TrackingScript
from .web import RequestError, allow_methods, overloaded, read_json

# Activity ids derived from a page visit's id, so a retried page visit adds no second landing page.
_LANDING_PAGE = uuid.UUID("6f1c1f3e-9a55-4a4e-9d43-1f0e2b8c7a10")
_MAX_BODY = RULES[ActivitySource.BROWSER].max_body or 0


@dataclass(frozen=True)
class BrowserTracking:
    """Serves kxt.js and takes activities and consent choices from pages of this site."""

    prefix: str
    script: TrackingScript

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
            return await log_page_activities(logger, body, source=ActivitySource.BROWSER)
        if route == "/browser/consent":
            allow_methods(method, "POST")
            return page_consent(logger, await self._json(scope, receive))
        raise RequestError(404, "not_found", f"no tracking endpoint at {self.prefix}{route}")

    async def _json(self, scope: Scope, receive: Receive) -> Any:
        headers = Headers(scope=scope)
        _refuse_other_sites(headers)
        return await read_json(scope, receive, headers, _MAX_BODY)


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
    logger: ActivityLogger, body: Any, *, source: ActivitySource, site: str | None = None
) -> JSONResponse:
    """Log the activities a page sent for its visitor; one result per activity, and the level.

    An invalid activity fails alone (result ``invalid`` with the rule it broke): the script
    batches the calls of one task, so one bad call must not lose the others.
    """
    read = read_activities(activity_list(body, source), source, logger.tracker, site=site)
    visitor = logger.visitor
    allowed = visitor.level.allows_tracking
    activities: list[NewActivity] = []
    for activity in read:
        if isinstance(activity, Invalid):
            continue
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
        raise overloaded(exc) from None
    by_id = dict(zip((a.id for a in activities), results, strict=True))
    answers = [
        entry.to_json() if isinstance(entry, Invalid) else _result(entry.id, by_id[entry.id])
        for entry in read
    ]
    return JSONResponse({"results": answers, "level": int(visitor.level)})


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


def _refuse_other_sites(headers: Headers) -> None:
    """Refuse requests a page of another site made: they must not log for our visitors."""
    site = other_site(headers)
    if site is not None:
        raise RequestError(403, "cross_site_request", f"requests from {site} are refused")


def _result(activity_id: str, result: LogResult) -> dict[str, str]:
    answer = {"id": activity_id, "status": result.status.value}
    if not result.logged:
        answer["reason"] = result.reason
    return answer
