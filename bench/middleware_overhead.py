"""Per-request cost of ActivityTrackingMiddleware: the same app with and without it, in process.

Three endpoints are timed: one that does not track (the middleware's floor), one that reads the
visitor's cookie level, and one that logs an activity for a consenting visitor (a durable
commit each time). The baseline is the bare app, measured in the same run.
Rerun: `.venv/bin/python bench/middleware_overhead.py [--requests N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

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


ROUTES = [Route("/plain", plain), Route("/level", level), Route("/consent", consent)]


async def per_request(app: Starlette, path: str, requests: int, cookies: dict[str, str]) -> float:
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(
        transport=transport, base_url="http://bench", cookies=cookies
    ) as client:
        for _ in range(50):  # warm up
            await client.get(path)
        started = time.perf_counter()
        for _ in range(requests):
            await client.get(path)
        return (time.perf_counter() - started) / requests * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = ActivityStore(Path(folder) / "bench.sqlite3")
        bare = Starlette(routes=[*ROUTES, Route("/log", plain)])
        tracked = Starlette(
            routes=[*ROUTES, Route("/log", log)],
            middleware=[Middleware(ActivityTrackingMiddleware, secret_key="bench", store=store)],
        )
        transport = httpx2.ASGITransport(app=tracked)
        async with httpx2.AsyncClient(transport=transport, base_url="http://bench") as client:
            await client.get("/consent")
            await client.get("/log")  # creates the contact cookie
            cookies = {cookie.name: cookie.value or "" for cookie in client.cookies.jar}
        n = args.requests
        print("µs per request; the baseline is the bare app given the same request")
        for label, path, jar, count in (
            ("an endpoint that does not track", "/plain", {}, n),
            ("an endpoint that reads the cookie level", "/level", cookies, n),
            ("an endpoint that logs an activity", "/log", cookies, n // 3),
        ):
            baseline = await per_request(bare, "/plain", count, jar)
            took = await per_request(tracked, path, count, jar)
            print(
                f"{label:<40}: {took:7.1f} vs {baseline:7.1f} bare "
                f"({took - baseline:+7.1f} µs, {took / baseline:.2f}x)"
            )
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
