"""Helpers for the browser tracking tests: apps built as a user builds them, and what they stored.

The apps use the public API only: ``ActivityTrackingMiddleware`` with a SQLite file, pages that
render ``activity_logging_script(request, ...)`` at the end of ``<head>``, and a consent route
calling ``set_cookie_level``. What the browser achieved is read back through the storage seam.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from playwright.sync_api import Page, Request, Response
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request as StarletteRequest
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.responses import Response as StarletteResponse
from starlette.routing import BaseRoute, Route

from kxt_middleware import (
    ActivityTrackingMiddleware,
    ActivityType,
    CookieLevel,
    activity_logging_script,
    set_cookie_level,
)

from ..helpers import stored_activities

SECRET = "browser-test-secret"
PREFIX = "/Kentico.Tracking"
ACTIVITIES = f"{PREFIX}/browser/activities"
CONSENT = f"{PREFIX}/browser/consent"
CTA = ActivityType("custom_cta", "CTA click")
DISABLED = ActivityType("custom_disabled", "Switched off", enabled=False)
CTA_CALL = "kxt('customactivity',{type:'custom_cta',value:'btnCTA',title:'Custom CTA click'})"
CSP_HEADER = "content-security-policy"


def document(request: StarletteRequest, body: str, *, head: str = "", **tag: Any) -> str:
    """A whole HTML page: ``head`` first, then the tracking tags at the end of ``<head>``."""
    title = tag.pop("title", "Test page")
    after = tag.pop("after", "")  # markup right after the tags (still in <head>)
    markup = activity_logging_script(request, **tag)
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>'
        f"{head}{str(markup)}{after}</head><body>{body}</body></html>"
    )


def html_page(
    body: str, *, head: str = "", csp: str | None = None, **tag: Any
) -> Callable[[StarletteRequest], Any]:
    """An endpoint rendering ``document(...)`` (optionally under a Content-Security-Policy)."""

    async def endpoint(request: StarletteRequest) -> HTMLResponse:
        headers = {CSP_HEADER: csp} if csp else None
        return HTMLResponse(document(request, body, head=head, **dict(tag)), headers=headers)

    return endpoint


async def agree(request: StarletteRequest) -> StarletteResponse:
    """The site's consent route: the visitor accepts all cookies."""
    set_cookie_level(request, CookieLevel.ALL)
    return PlainTextResponse("thank you")


def tracking_app(
    database: Path,
    routes: Sequence[BaseRoute],
    *,
    activity_types: Sequence[ActivityType] = (CTA, DISABLED),
    **options: Any,
) -> Starlette:
    """A Starlette app with the middleware, the given routes and ``GET /agree``."""
    options.setdefault("secret_key", SECRET)
    return Starlette(
        routes=[*routes, Route("/agree", agree)],
        middleware=[
            Middleware(
                ActivityTrackingMiddleware,
                database=database,
                activity_types=list(activity_types),
                **options,
            )
        ],
    )


class Stored(NamedTuple):
    """One stored activity, as the browser made the server store it."""

    type: str
    value: str
    title: str
    url: str
    referrer: str
    source: str
    id: str
    contact: str


def stored(database: Path) -> list[Stored]:
    """Every stored activity, oldest first."""
    return [
        Stored(a.type, a.value, a.title, a.url, a.referrer, a.source.value, a.id, str(a.contact))
        for a in stored_activities(database)
    ]


def wait_for_stored(
    database: Path,
    count: int,
    *,
    type: str | None = None,
    timeout: float = 5.0,
) -> list[Stored]:
    """Poll until at least ``count`` activities (of ``type``) are stored; return them all."""
    deadline = time.monotonic() + timeout
    while True:
        rows = [row for row in stored(database) if type is None or row.type == type]
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.02)


@dataclass
class Watch:
    """What a page did: tracking requests sent, their answers, console messages, page errors."""

    requests: list[Request] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def attach(cls, page: Page) -> Watch:
        watch = cls()

        def on_request(request: Request) -> None:
            if f"{PREFIX}/browser/" in request.url:
                watch.requests.append(request)

        def on_response(response: Response) -> None:
            if f"{PREFIX}/browser/" in response.url:
                watch.responses.append(response)

        page.on("request", on_request)
        page.on("response", on_response)
        page.on("console", lambda message: watch.console.append(message.text))
        page.on("pageerror", lambda error: watch.errors.append(str(error)))
        return watch

    def sent(self, path: str = ACTIVITIES) -> list[Request]:
        """The requests sent to ``path`` (the activities endpoint by default), in order."""
        return [r for r in self.requests if r.url.split("?")[0].endswith(path)]

    def sent_values(self) -> list[str]:
        """The ``value`` of every activity sent to the activities endpoint, in order."""
        return [
            activity["value"]
            for request in self.sent()
            for activity in (request.post_data_json or {}).get("activities", [])
        ]

    def csp_violations(self) -> list[str]:
        return [text for text in self.console if "Content Security Policy" in text]


# Counts JSON answers the page has finished reading (kxt.js reads every answer with .json()).
# The count rises in a microtask: by the next task the script has handled the answer too.
COUNT_JSON_READS = """
(() => {
  const json = Response.prototype.json;
  window.__jsonReads = 0;
  Response.prototype.json = function () {
    return json.call(this).finally(() => { window.__jsonReads += 1; });
  };
  window.__violations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__violations.push(e.violatedDirective + ' ' + e.blockedURI);
  });
})();
"""

# Records how kxt.js sends each activities request: with fetch (and its keepalive flag) or as a
# beacon. Kept in sessionStorage, so the record survives the page navigating away.
RECORD_SENDS = """
(() => {
  const record = (how, url, body, keepalive) => {
    if (!String(url).endsWith('/browser/activities')) return;
    const sends = JSON.parse(sessionStorage.getItem('kxtSends') || '[]');
    sends.push({how, keepalive, body: String(body)});
    sessionStorage.setItem('kxtSends', JSON.stringify(sends));
  };
  const fetch = window.fetch;
  window.fetch = function (url, options) {
    record('fetch', url, options && options.body, !!(options && options.keepalive));
    return fetch.apply(this, arguments);
  };
  const beacon = navigator.sendBeacon;
  navigator.sendBeacon = function (url, data) {
    record('beacon', url, data, false);
    return beacon.apply(this, arguments);
  };
})();
"""


def recorded_sends(page: Page) -> list[dict[str, Any]]:
    """What RECORD_SENDS saw in this tab: ``{"how", "keepalive", "body"}`` per request."""
    sends: list[dict[str, Any]] = page.evaluate(
        "JSON.parse(sessionStorage.getItem('kxtSends') || '[]')"
    )
    return sends
