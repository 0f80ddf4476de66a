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
    ended: list[Request] = field(default_factory=list)  # finished or failed
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def attach(cls, page: Page) -> Watch:
        """Watch ``page`` from its next navigation on (and count its requests: ``settle``)."""
        watch = cls()
        page.add_init_script(COUNT_REQUESTS)

        def tracked(url: str) -> bool:
            return f"{PREFIX}/browser/" in url or f"{PREFIX}/cross-site/" in url

        def on_request(request: Request) -> None:
            if tracked(request.url):
                watch.requests.append(request)

        def on_response(response: Response) -> None:
            if tracked(response.url):
                watch.responses.append(response)

        def on_end(request: Request) -> None:
            if tracked(request.url):
                watch.ended.append(request)

        page.on("request", on_request)
        page.on("response", on_response)
        page.on("requestfinished", on_end)
        page.on("requestfailed", on_end)
        page.on("console", lambda message: watch.console.append(message.text))
        page.on("pageerror", lambda error: watch.errors.append(str(error)))
        return watch

    def clear(self) -> None:
        """Forget what was seen (settle the page first, or late events count afterwards)."""
        for seen in (self.requests, self.responses, self.ended, self.console, self.errors):
            seen.clear()

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


# Counts the tracking requests the page starts (fetch and sendBeacon to the middleware's
# endpoints) and those it is done with: a fetch once the script has read its answer (or the fetch
# failed), a beacon at once (it has no answer). The scripts send only when called or answered:
# equal counts, seen from a later task, mean nothing more will go out.
COUNT_REQUESTS = """
(() => {
  const tracked = (url) => /[/]Kentico[.]Tracking[/](browser|cross-site)[/]/.test(String(url));
  const counts = (window.__kxtRequests = {started: 0, finished: 0});
  const done = () => { counts.finished += 1; };
  const fetch = window.fetch;
  if (fetch) {
    window.fetch = function (url) {
      const sent = fetch.apply(this, arguments);
      if (!tracked(url)) return sent;
      counts.started += 1;
      return sent.then((response) => {
        const json = response.json;
        response.json = () => json.call(response).finally(done);
        return response;
      }, (error) => { done(); throw error; });
    };
  }
  const beacon = navigator.sendBeacon;
  navigator.sendBeacon = function (url) {
    if (tracked(url)) { counts.started += 1; done(); }
    return beacon.apply(this, arguments);
  };
})();
"""


def pump_until(page: Page, check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait in the page until ``check()`` (Playwright delivers events and runs route handlers
    only while it waits: never time.sleep here)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(10)


def settle(page: Page, watch: Watch | None = None) -> int:
    """Wait until the page's tracking script is idle: every request it started is over and its
    answer handled (and, with ``watch``, Playwright saw each one end: beacons too, so the server
    has answered them all). Returns how many the page started.

    No fixed sleep: a test may then assert that nothing more was sent or stored.
    """
    page.wait_for_function("() => window.__kxtRequests.started === window.__kxtRequests.finished")
    started: int = page.evaluate("window.__kxtRequests.started")
    if watch is not None:
        pump_until(page, lambda: len(watch.ended) >= started)
    return started


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
