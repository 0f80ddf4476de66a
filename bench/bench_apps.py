"""The apps the HTTP benchmarks serve with uvicorn (configured by environment variables).

- ``bare``: a Starlette app with no middleware (the baseline).
- ``tracked``: the same routes behind ActivityTrackingMiddleware on $KXT_BENCH_DATABASE, with
  a route that logs one activity durably and ``/stats`` reporting the writer's commits.
  It also serves ``/handoff``: the floor of any durable write made by another thread, a route
  that hands a no-op job to a thread and awaits its answer, batched exactly like the store's
  writer (one wake-up of the thread, one of the loop, per batch) with one fsync of a file per
  batch and no database at all; and ``/process-handoff``, the same with a process of its own
  (the app writes one byte per job, once per loop turn, and reads how many were synced).
- ``session``: the same routes behind Starlette's SessionMiddleware (a signed session cookie,
  set by ``/login``): the yardstick for what a cookie-reading middleware usually costs.
"""

from __future__ import annotations

import asyncio
import collections
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from kxt_middleware import (
    ActivityTrackingMiddleware,
    CookieLevel,
    CustomActivityData,
    get_activity_logger,
    get_current_contact,
    set_cookie_level,
)
from kxt_middleware.activities import NewActivity
from kxt_middleware.storage import open_store

SECRET = "bench secret key, not for production"


async def ready(request: Request) -> Response:
    return PlainTextResponse(str(os.getpid()))  # the benchmark reads the threads' CPU by pid


async def plain(request: Request) -> Response:
    return PlainTextResponse("ok")


async def consent(request: Request) -> Response:
    set_cookie_level(request, CookieLevel.ALL)
    return PlainTextResponse("ok")


ANSWERED = {"logged": 0}


async def log(request: Request) -> Response:
    result = await get_activity_logger(request).log(
        "click", CustomActivityData(title="Apply now", value="cta")
    )
    if result:
        ANSWERED["logged"] += 1
    return PlainTextResponse(result.status.value, status_code=200 if result else 409)


class HandOff:
    """A thread that answers every waiting job at once after one fsync: the store's writer
    without the database (what a durable write costs at least, when another thread makes it)."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[asyncio.Future[None]] = queue.SimpleQueue()
        self.file = tempfile.TemporaryFile()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            batch = [self.jobs.get()]
            while True:
                try:
                    batch.append(self.jobs.get_nowait())
                except queue.Empty:
                    break
            self.file.write(b"x" * len(batch))
            self.file.flush()
            os.fsync(self.file.fileno())
            batch[0].get_loop().call_soon_threadsafe(self._deliver, batch)

    @staticmethod
    def _deliver(batch: list[asyncio.Future[None]]) -> None:
        for future in batch:
            if not future.done():
                future.set_result(None)


HAND_OFF = HandOff()


async def handoff(request: Request) -> Response:
    future = asyncio.get_running_loop().create_future()
    HAND_OFF.jobs.put(future)
    await future
    return PlainTextResponse("logged")


# The process floor's child: reads what the app wrote, one fsync, answers how many bytes it took.
PROCESS_FLOOR_CHILD = """
import os, sys, tempfile
out = tempfile.TemporaryFile()
read_fd, write_fd = int(sys.argv[1]), int(sys.argv[2])
while True:
    data = os.read(read_fd, 65536)
    if not data:
        break
    out.write(data)
    out.flush()
    os.fsync(out.fileno())
    os.write(write_fd, len(data).to_bytes(4, "little"))
"""


class ProcessHandOff:
    """A process that answers every waiting job at once after one fsync: the writer process
    without the database. The app writes one byte per job, once per loop turn, and settles
    as many futures as the answer counts."""

    def __init__(self) -> None:
        self.sent: collections.deque[asyncio.Future[None]] = collections.deque()
        self.outbox: list[asyncio.Future[None]] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.received = b""

    def submit(self, future: asyncio.Future[None]) -> None:
        if self.loop is None:
            self.loop = future.get_loop()
            to_child, self.write_fd = os.pipe()
            self.read_fd, from_child = os.pipe()
            self.child = subprocess.Popen(
                [sys.executable, "-c", PROCESS_FLOOR_CHILD, str(to_child), str(from_child)],
                pass_fds=(to_child, from_child),
            )
            os.close(to_child)
            os.close(from_child)
            self.loop.add_reader(self.read_fd, self._answers)
        if not self.outbox:
            self.loop.call_soon(self._flush)
        self.outbox.append(future)

    def _flush(self) -> None:
        self.sent.extend(self.outbox)
        os.write(self.write_fd, b"x" * len(self.outbox))
        self.outbox = []

    def _answers(self) -> None:
        self.received += os.read(self.read_fd, 65536)
        while len(self.received) >= 4:
            count = int.from_bytes(self.received[:4], "little")
            self.received = self.received[4:]
            for _ in range(count):
                future = self.sent.popleft()
                if not future.done():
                    future.set_result(None)


PROCESS_HAND_OFF = ProcessHandOff()


async def process_handoff(request: Request) -> Response:
    future = asyncio.get_running_loop().create_future()
    PROCESS_HAND_OFF.submit(future)
    await future
    return PlainTextResponse("logged")


async def whoami(request: Request) -> Response:
    contact = get_current_contact(request)
    return PlainTextResponse("yes" if contact else "no")


async def build(request: Request) -> Response:
    contact = get_current_contact(request)
    data = CustomActivityData(title="Apply now", value="cta")
    logger = get_activity_logger(request)
    NewActivity(
        type="click", title=data.title, value=data.value, url=logger.url, referrer=logger.referrer
    )
    return PlainTextResponse("yes" if contact else "no")


STORE = open_store(
    os.environ.get("KXT_BENCH_DATABASE", "bench.sqlite3"),
    max_pending=int(os.environ.get("KXT_BENCH_MAX_PENDING", "10000")),
    **({"writer": os.environ["KXT_BENCH_WRITER"]} if "KXT_BENCH_WRITER" in os.environ else {}),
)


async def stats(request: Request) -> Response:
    sizes, seconds = STORE.stats.commit_sizes, sorted(STORE.stats.commit_seconds)

    def percentile(share: float) -> float:
        return seconds[min(len(seconds) - 1, int(share * len(seconds)))] * 1000 if seconds else 0

    return JSONResponse(
        {
            "commits": STORE.stats.commits,
            "callers": STORE.stats.jobs,
            "activities": STORE.stats.activities,
            "callers_per_commit": statistics.mean(sizes) if sizes else 0,
            "commit_ms_p50": percentile(0.5),
            "commit_ms_p99": percentile(0.99),
            "answered_logged": ANSWERED["logged"],
        }
    )


async def login(request: Request) -> Response:
    request.session["user"] = "bench"
    return PlainTextResponse("ok")


ROUTES = [Route("/ready", ready), Route("/plain", plain)]

bare = Starlette(routes=ROUTES)
tracked = Starlette(
    routes=[
        *ROUTES,
        Route("/consent", consent),
        Route("/log", log),
        Route("/stats", stats),
        Route("/whoami", whoami),
        Route("/build", build),
        Route("/handoff", handoff),
        Route("/process-handoff", process_handoff),
    ],
    middleware=[Middleware(ActivityTrackingMiddleware, secret_key=SECRET, store=STORE)],
)
session = Starlette(
    routes=[*ROUTES, Route("/login", login)],
    middleware=[Middleware(SessionMiddleware, secret_key=SECRET)],
)
