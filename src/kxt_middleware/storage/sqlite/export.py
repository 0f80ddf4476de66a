"""A large export of the SQLite activity log, formatted in worker processes: each reads ranges of
row numbers with its own read-only connection, and the chunks come back strictly in order.

One Python thread cannot both fetch and format a million rows in a few seconds; processes are
what let every core work on it (threads share one interpreter lock).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import sqlite3
from collections import deque
from collections.abc import AsyncGenerator, Iterator
from multiprocessing.pool import Pool
from typing import Any, NamedTuple

from ...activities import ActivityFilter
from ...errors import StoreError
from ...exports import ExportChunk, ExportFormat, export_bytes, export_header
from . import activity_log as log_sql
from .connection import connect, database_error

CHUNK_ROWS = 10_000  # activities a worker formats at a time, on average (about 3 MB of JSON)
PARALLEL_FROM = 100_000  # a smaller export is quicker in one process than starting workers
CACHE_KB = 16_000  # each worker's SQLite page cache
IN_FLIGHT = 2  # chunks asked of each worker ahead of the one written: memory stays bounded


class ExportPlan(NamedTuple):
    """What an export covers: how many activities, and their first and last row numbers."""

    activities: int
    first: int
    last: int


def plan_export(connection: sqlite3.Connection, filters: ActivityFilter) -> ExportPlan:
    """The plan of the export of the activities matching ``filters``."""
    return ExportPlan(*log_sql.export_plan(connection, filters))


def id_ranges(plan: ExportPlan, chunk_rows: int) -> Iterator[tuple[int, int]]:
    """Ranges of row numbers (after, up to) that hold about ``chunk_rows`` activities each, as
    if the matching ones were spread evenly between the first and the last."""
    if plan.activities == 0:
        return
    width = max(1, (plan.last - plan.first + 1) * chunk_rows // plan.activities)
    for after in range(plan.first - 1, plan.last, width):
        yield after, min(after + width, plan.last)


# -- in a worker process ----------------------------------------------------------------------

_connection: sqlite3.Connection | None = None
_failure: StoreError | sqlite3.Error = StoreError("the worker did not start")


def _start_worker(database: str, busy_timeout_ms: int) -> None:
    """Ctrl+C reaches every process of the terminal: the parent alone stops the export (the
    signal stays blocked, from the parent, until it is ignored here)."""
    global _connection, _failure
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        _connection = connect(
            database, read_only=True, synchronous="NORMAL", busy_timeout_ms=busy_timeout_ms
        )
        # Room for the contacts each row looks up (the default 2 MB fill with the rows read).
        _connection.execute(f"PRAGMA cache_size = -{CACHE_KB}")
    except (StoreError, sqlite3.Error) as exc:  # said by the first chunk: a pool whose
        _failure = exc  # initializer fails starts new workers forever


def _format_range(
    filters: ActivityFilter, format: ExportFormat, after: int, upto: int, limit: int
) -> tuple[bytes, int, int | None]:
    """The export bytes of the activities in a range of row numbers (at most ``limit``), how
    many they are, and where to go on when the range held more."""
    if _connection is None:
        raise _failure if isinstance(_failure, StoreError) else database_error(_failure)
    try:
        records, last = log_sql.records_in_range(
            _connection, filters, after, upto, limit, site_or_empty=format == "csv"
        )
    except sqlite3.Error as exc:
        raise database_error(exc) from None
    return export_bytes(records, format), len(records), last


# -- in the process that writes the export -----------------------------------------------------


def _start_pool(database: str, processes: int, busy_timeout_ms: int) -> Pool:
    """Worker processes started afresh (not forked: this process runs threads), with Ctrl+C
    blocked until they ignore it; here it waits while they start, and is not lost."""
    context = multiprocessing.get_context("spawn")
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return context.Pool(processes, _start_worker, (database, busy_timeout_ms))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


async def export_in_processes(
    database: str,
    filters: ActivityFilter,
    format: ExportFormat,
    plan: ExportPlan,
    *,
    processes: int,
    busy_timeout_ms: int,
    chunk_rows: int = CHUNK_ROWS,
) -> AsyncGenerator[ExportChunk, None]:
    """The export of ``plan``'s activities, formatted by ``processes`` workers, in order.

    At most ``IN_FLIGHT`` chunks per worker are being read or waiting to be written, so the
    memory used does not grow with the export. The workers end with the iterator (closed,
    cancelled or failed), none is left behind.
    """
    header = export_header(format)
    if header:
        yield ExportChunk(header, 0)
    loop = asyncio.get_running_loop()
    ranges = id_ranges(plan, chunk_rows)
    pending: deque[tuple[int, asyncio.Future[Any]]] = deque()

    def settle(future: asyncio.Future[Any], outcome: Any, failed: bool) -> None:
        if not future.done():  # not cancelled meanwhile
            (future.set_exception if failed else future.set_result)(outcome)

    def ask(after: int, upto: int) -> tuple[int, asyncio.Future[Any]]:
        future = loop.create_future()
        pool.apply_async(
            _format_range,
            (filters, format, after, upto, 2 * chunk_rows),
            callback=lambda result: loop.call_soon_threadsafe(settle, future, result, False),
            error_callback=lambda error: loop.call_soon_threadsafe(settle, future, error, True),
        )
        return upto, future

    def ask_next() -> None:
        following = next(ranges, None)
        if following is not None:
            pending.append(ask(*following))

    pool = _start_pool(database, processes, busy_timeout_ms)
    finished = False
    try:
        for _ in range(IN_FLIGHT * processes):
            ask_next()
        while pending:
            upto, future = pending.popleft()
            data, count, last = await future
            if last is not None and last < upto:  # the range held more: its rest comes next
                pending.appendleft(ask(last, upto))
            else:
                ask_next()
            if count:
                yield ExportChunk(data, count)
        finished = True
    finally:
        if finished:
            pool.close()  # the workers end when they have nothing left
        else:
            pool.terminate()  # stopped, cancelled or failed: end the workers now
        pool.join()
