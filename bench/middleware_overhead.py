"""Per-request cost of ActivityTrackingMiddleware in process: the same ASGI app with and without it.

The app is called directly with an HTTP scope (no server, no HTTP client), so what is measured
is the middleware's own work: for an endpoint that does not track (its floor), one that reads
the visitor's cookie level, and one that logs an activity for a consenting visitor (a durable
commit each time). The baseline is the bare app given the same request in the same run; the two
take turns for several rounds and each figure is the median, in CPU time of the event loop's
thread (for the logging endpoint, the writer thread's work and the wait for the disk come on top:
bench/durable_log.py measures those).
Rerun: `.venv/bin/python bench/middleware_overhead.py [--requests N] [--rounds N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import http.cookies
import statistics
import tempfile
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message

from kxt_middleware import (
    ActivityStore,
    ActivityTrackingMiddleware,
    CookieLevel,
    get_activity_logger,
    get_cookie_level,
    set_cookie_level,
)


async def plain(request: Request) -> Response:
    return PlainTextResponse("ok")


async def level(request: Request) -> Response:
    return PlainTextResponse(str(int(get_cookie_level(request))))


async def consent(request: Request) -> Response:
    set_cookie_level(request, CookieLevel.ALL)
    return PlainTextResponse("ok")


async def log(request: Request) -> Response:
    result = await get_activity_logger(request).log("click", None)
    return PlainTextResponse(result.status.value)


async def call(app: ASGIApp, path: str, cookie: str) -> list[bytes]:
    """Send one GET to ``app``; the Set-Cookie values of its answer."""
    headers = [(b"host", b"bench")] + ([(b"cookie", cookie.encode())] if cookie else [])
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "server": ("bench", 80), "client": ("c", 1),
    }  # fmt: skip
    set_cookies: list[bytes] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            set_cookies.extend(v for k, v in message["headers"] if k == b"set-cookie")

    await app(scope, receive, send)
    return set_cookies


async def cpu_per_request(app: ASGIApp, path: str, cookie: str, requests: int) -> float:
    started = time.thread_time()
    for _ in range(requests):
        await call(app, path, cookie)
    return (time.thread_time() - started) / requests * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    routes = [Route("/plain", plain), Route("/level", level), Route("/consent", consent)]
    with tempfile.TemporaryDirectory() as folder:
        store = ActivityStore(Path(folder) / "bench.sqlite3")
        bare = Starlette(routes=[*routes, Route("/log", plain)])
        tracked = Starlette(
            routes=[*routes, Route("/log", log)],
            middleware=[Middleware(ActivityTrackingMiddleware, secret_key="bench", store=store)],
        )
        jar = http.cookies.SimpleCookie()
        for path in ("/consent", "/log"):  # a consenting visitor with a contact
            cookie = "; ".join(f"{m.key}={m.value}" for m in jar.values())
            for value in await call(tracked, path, cookie):
                jar.load(value.decode())
        cookie = "; ".join(f"{m.key}={m.value}" for m in jar.values())
        print("CPU µs per request, medians of alternating rounds; the baseline is the bare app")
        print("given the same request (with the visitor's cookies)")
        for label, path, requests in (
            ("an endpoint that does not track", "/plain", args.requests),
            ("an endpoint that reads the cookie level", "/level", args.requests),
            ("an endpoint that logs an activity", "/log", args.requests // 10),
        ):
            bare_rounds, tracked_rounds = [], []
            for _ in range(args.rounds):
                bare_rounds.append(await cpu_per_request(bare, "/plain", cookie, requests))
                tracked_rounds.append(await cpu_per_request(tracked, path, cookie, requests))
            baseline, took = statistics.median(bare_rounds), statistics.median(tracked_rounds)
            print(
                f"{label:<40}: {took:7.1f} vs {baseline:5.1f} bare "
                f"({took - baseline:+7.1f} µs, {took / baseline:.2f}x)"
            )
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
