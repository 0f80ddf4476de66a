"""What building and logging one activity from server code costs on the event loop, step by step.

In one process, with no server: the middleware prepares a real request scope (a consenting
visitor's signed cookies, as a browser sends them) and a tiny app inside it times each step of
the benchmarks' ``/build`` and ``/log`` routes many times over. ``log()`` runs against a store
that answers at once, so its figure is the logger's own work without the store's hand-off.
Every figure is the best of several repeats, in µs per call; ``whoami`` (what ``/whoami``
does) is the baseline of the same run.

Rerun: `PYTHONPATH=src .venv/bin/python bench/build_cost.py [--calls 20000] [--repeats 7]`.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from kxt_middleware import (
    ActivityTrackingMiddleware,
    CustomActivityData,
    get_activity_logger,
    get_current_contact,
)
from kxt_middleware.activities import LogResult, LogStatus, NewActivity

SECRET = "bench secret key, not for production"


class AnsweringStore:
    """Stands in for the store's hand-off: every activity is logged, at once."""

    async def insert_activities(
        self, contact: uuid.UUID, activities: Sequence[NewActivity], *, consent: str | None = None
    ) -> list[LogResult]:
        return [LogResult(LogStatus.LOGGED, activity.id) for activity in activities]


def build(request: Request) -> None:
    """What the benchmarks' /build route does."""
    get_current_contact(request)
    data = CustomActivityData(title="Apply now", value="cta")
    logger = get_activity_logger(request)
    NewActivity(
        type="click", title=data.title, value=data.value, url=logger.url, referrer=logger.referrer
    )


def steps(request: Request) -> dict[str, Callable[[], object]]:
    logger = get_activity_logger(request)
    data = CustomActivityData(title="Apply now", value="cta")
    url, referrer = logger.url, logger.referrer
    return {
        "whoami (get_current_contact)": lambda: get_current_contact(request),
        "build (the /build route)": lambda: build(request),
        "CustomActivityData(title, value)": lambda: CustomActivityData(
            title="Apply now", value="cta"
        ),
        "get_activity_logger(request)": lambda: get_activity_logger(request),
        "logger.url": lambda: logger.url,
        "logger.referrer": lambda: logger.referrer,
        "NewActivity(...)": lambda: NewActivity(
            type="click", title=data.title, value=data.value, url=url, referrer=referrer
        ),
    }


async def log_once(request: Request) -> object:
    """What the benchmarks' /log route does (against the answering store)."""
    return await get_activity_logger(request).log(
        "click", CustomActivityData(title="Apply now", value="cta")
    )


def best_of(repeats: int, calls: int, run: Callable[[], float]) -> float:
    return min(run() for _ in range(repeats)) / calls * 1e6


async def measure(request: Request, calls: int, repeats: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    for name, step in steps(request).items():

        def run(step: Callable[[], object] = step) -> float:
            start = time.perf_counter()
            for _ in range(calls):
                step()
            return time.perf_counter() - start

        figures[name] = best_of(repeats, calls, run)

    async def timed(make: Callable[[Request], Awaitable[object]]) -> float:
        start = time.perf_counter()
        for _ in range(calls):
            await make(request)
        return time.perf_counter() - start

    async def nothing(request: Request) -> None:
        get_current_contact(request)

    for name, make in (("await whoami coroutine", nothing), ("await logger.log(...)", log_once)):
        runs = [await timed(make) for _ in range(repeats)]
        figures[name] = min(runs) / calls * 1e6
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    figures: dict[str, float] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        figures.update(await measure(Request(scope, receive), args.calls, args.repeats))

    with tempfile.TemporaryDirectory() as folder:
        middleware = ActivityTrackingMiddleware(
            app, secret_key=SECRET, database=Path(folder) / "bench.sqlite3"
        )
        middleware.tracker.store = AnsweringStore()  # type: ignore[assignment]
        cookies = middleware.cookies

        def value(set_cookie: str) -> str:
            return set_cookie.split(";", 1)[0]

        cookie = "; ".join(
            (
                value(cookies.level.dump("1000", secure=False)),
                value(cookies.contact.dump(uuid.uuid4().hex, secure=False)),
            )
        )
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/build",
            "raw_path": b"/build",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"127.0.0.1:8000"), (b"cookie", cookie.encode("latin-1"))],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            pass

        await middleware(scope, receive, send)
    baseline = figures["whoami (get_current_contact)"]
    print(f"µs per call, best of {args.repeats} repeats of {args.calls:,} calls")
    for name, micros in figures.items():
        print(f"{name:<34} {micros:7.2f} µs   ({micros - baseline:+6.2f} against whoami)")


if __name__ == "__main__":
    asyncio.run(main())
