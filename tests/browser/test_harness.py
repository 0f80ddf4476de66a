"""Proves the browser harness itself: real Chromium, real uvicorn, real clicks."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.sync_api import Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp

Serve = Callable[[ASGIApp], str]  # the `serve` fixture's type (see conftest.py)

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>harness</title></head>
<body>
  <button id="go" onclick="fetch('/clicked', {method: 'POST'})
      .then(r => r.json())
      .then(d => { document.getElementById('status').textContent = 'done ' + d.count; })">
    Click me
  </button>
  <p id="status">idle</p>
</body></html>
"""


class Recorder:
    """Thread-safe list of what the server saw (the server runs in another thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[str] = []

    def add(self, call: str) -> int:
        with self._lock:
            self._calls.append(call)
            return len(self._calls)

    @property
    def calls(self) -> list[str]:
        with self._lock:
            return list(self._calls)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.calls


def click_app(recorder: Recorder) -> Starlette:
    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE)

    async def clicked(request: Request) -> JSONResponse:
        count = recorder.add(f"{request.method} {request.url.path}")
        return JSONResponse({"count": count})

    return Starlette(
        routes=[Route("/", index), Route("/clicked", clicked, methods=["POST"])],
    )


def named_app(name: str, lifespan_log: list[str]) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        lifespan_log.append(f"{name} startup")
        yield
        lifespan_log.append(f"{name} shutdown")

    async def index(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"server {name}")

    return Starlette(routes=[Route("/", index)], lifespan=lifespan)


def test_click_posts_once(page: Page, serve: Serve, artifacts_dir: Path) -> None:
    recorder = Recorder()
    base = serve(click_app(recorder))

    page.goto(base + "/")
    expect(page.locator("#status")).to_have_text("idle")
    page.click("#go")
    expect(page.locator("#status")).to_have_text("done 1")

    assert recorder.wait_for(1) == ["POST /clicked"]
    # A marker request, sent after the click's: the server counts it second, so no stray
    # request of the click came in between (no sleep needed to show it).
    marker = "fetch('/clicked', {method: 'POST'}).then(r => r.json()).then(d => d.count)"
    assert page.evaluate(marker) == 2
    assert recorder.calls == ["POST /clicked"] * 2

    shot = artifacts_dir / "after-click.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0


def test_two_servers_have_distinct_origins(page: Page, serve: Serve) -> None:
    lifespan_log: list[str] = []
    url_a = serve(named_app("A", lifespan_log))
    url_b = serve(named_app("B", lifespan_log))

    assert url_a != url_b
    assert lifespan_log == ["A startup", "B startup"]  # lifespan="on" ran before serve() returned

    for url, name in ((url_a, "A"), (url_b, "B")):
        response = page.goto(url + "/")
        assert response is not None and response.ok
        expect(page.locator("body")).to_have_text(f"server {name}")
