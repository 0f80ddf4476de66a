"""The SQLite writer: ONE thread owns all writes and commits whatever is waiting in one step.

Callers put jobs on a thread-safe queue and await a future. The writer thread takes every job
waiting (up to ``max_batch``) and runs the whole transaction as one function call: type check,
erased and consent checks, inserts, contact-group re-evaluation, commit. Then it hands all the
results back to the event loop at once. A batch costs one wake-up of the thread and one of the
loop, and an ``await`` on a write returns only after its commit.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...activities import LogStatus, format_time
from ...activity_types import ActivityType
from ...errors import StoreError
from ...groups import ContactGroup
from ..records import WriterStats
from ..writing import ActivitiesJob, Pending
from . import activities as sql
from . import groups as group_sql

log = logging.getLogger("kxt_middleware")

WriteFunction = Callable[[sqlite3.Connection], Any]
_NOT_RUN = object()


@dataclass
class FunctionJob:
    """One caller's other write (a plain function of the connection), waiting for the writer."""

    future: asyncio.Future[Any]
    function: WriteFunction


Job = ActivitiesJob | FunctionJob


@dataclass
class _Stop:
    """Asks the thread to end once the jobs queued before it are committed."""

    future: asyncio.Future[None]


class Writer:
    """Group commit in one thread that owns the write connection; see the module docstring.

    ``pending`` (jobs submitted and not yet answered) is only read and changed on the event
    loop, so the bound on it needs no lock.
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        *,
        max_pending: int,
        max_batch: int,
        clock: Callable[[], datetime],
        stats: WriterStats,
    ) -> None:
        self.max_pending = max_pending
        self.pending = 0
        self._connection = connection
        self._max_batch = max_batch
        self._clock = clock
        self._stats = stats
        self._types: dict[str, ActivityType] = {}
        self._groups: list[tuple[int, ContactGroup]] = []
        self._data_version = -1
        self._jobs: queue.SimpleQueue[Job | _Stop] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="kxt-writer", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        """Queue ``job`` (on the event loop); QueueFull when ``max_pending`` jobs wait."""
        if self.pending >= self.max_pending:
            raise asyncio.QueueFull
        self.pending += 1
        self._jobs.put(job)

    async def stop(self) -> None:
        """Commit every job queued before this call, close the connection, end the thread."""
        done = asyncio.get_running_loop().create_future()
        self._jobs.put(_Stop(done))
        await done
        await asyncio.to_thread(self._thread.join)

    def adopt(self) -> None:
        """Serve a new event loop after the old one ended: its unanswered jobs no longer count
        (the thread still commits them; their callers were cancelled with their loop)."""
        self.pending = 0

    def _run(self) -> None:
        stop: _Stop | None = None
        while stop is None:
            first = self._jobs.get()
            batch: list[Job] = []
            item: Job | _Stop | None = first
            while item is not None:
                if isinstance(item, _Stop):
                    stop = item
                    break
                batch.append(item)
                if len(batch) >= self._max_batch:
                    break
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    item = None
            if batch:
                self._commit(batch)
        self._connection.close()
        _answer_on(stop.future.get_loop(), functools.partial(stop.future.set_result, None))

    def _commit(self, batch: list[Job]) -> None:
        """Run the batch's transaction and hand every caller its outcome on its loop."""
        try:
            outcomes, stored, seconds = self._transaction(self._connection, batch)
        except Exception as exc:  # the whole transaction failed: every caller hears why
            self._stats.failed_commits += 1
            error = StoreError(f"the activity database could not commit: {exc}")
            error.__cause__ = exc
            outcomes, stored, seconds = [(False, error)] * len(batch), -1, 0.0
        if stored >= 0:
            self._stats.record(len(batch), stored, seconds)
        # Normally one loop; after a hand-over, the old loop's callers are answered nowhere.
        loops: dict[asyncio.AbstractEventLoop, list[tuple[Job, tuple[bool, Any]]]] = {}
        for job, outcome in zip(batch, outcomes, strict=True):
            loops.setdefault(job.future.get_loop(), []).append((job, outcome))
        for loop, answers in loops.items():
            _answer_on(loop, functools.partial(self._deliver, answers))

    def _deliver(self, answers: list[tuple[Job, tuple[bool, Any]]]) -> None:
        """On the event loop: settle the callers' futures."""
        self.pending = max(0, self.pending - len(answers))
        for job, (ok, value) in answers:
            if job.future.done():  # the caller was cancelled; its write is committed anyway
                continue
            if ok:
                job.future.set_result(value)
            elif isinstance(value, sqlite3.Error):
                error = StoreError(f"the activity database failed: {value}")
                error.__cause__ = value
                job.future.set_exception(error)
            else:
                job.future.set_exception(value)

    # -- in the writer's thread ---------------------------------------------------------------

    def _transaction(
        self, connection: sqlite3.Connection, batch: list[Job]
    ) -> tuple[list[tuple[bool, Any]], int, float]:
        started = time.perf_counter()
        self._refresh_types(connection)
        outcomes: list[tuple[bool, Any]] = [(False, _NOT_RUN)] * len(batch)
        pending: list[Pending] = []
        touched: set[str] = set()
        stored = 0
        connection.execute("BEGIN IMMEDIATE")
        try:
            for index, job in enumerate(batch):
                if isinstance(job, ActivitiesJob):
                    prepared = Pending(index, job)
                    prepared.check_types(self._types, format_time(job.created))
                    outcomes[index] = (True, prepared.results)
                    if prepared.rows:
                        pending.append(prepared)
                else:
                    # Keep the callers' order: what was logged before a function runs first.
                    stored += self._insert(connection, pending, outcomes, touched)
                    pending = []
                    outcomes[index] = _in_savepoint(connection, job.function)
                    # It may have edited types or groups: read them again.
                    self._refresh_types(connection, force=True)
            stored += self._insert(connection, pending, outcomes, touched)
            if touched and self._groups:
                self._evaluate_groups(connection, touched)
            connection.execute("COMMIT")
        except BaseException:
            self._data_version = -1  # the cache may hold what was rolled back
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return outcomes, stored, time.perf_counter() - started

    def _refresh_types(self, connection: sqlite3.Connection, *, force: bool = False) -> None:
        # data_version changes when another connection (the CLI, another process) commits, so a
        # type disabled (or a group defined) elsewhere applies at the next commit without a
        # query per activity.
        version = connection.execute("PRAGMA data_version").fetchone()[0]
        if force or version != self._data_version:
            self._types = {t.key: t for t in sql.select_types(connection)}
            self._groups, problems = group_sql.readable_groups(connection)
            for problem in problems:  # its members stay as they were until it is fixed
                self._stats.group_failures += 1
                log.error("%s; it is not evaluated until it is saved again", problem)
            self._data_version = version

    def _insert(
        self,
        connection: sqlite3.Connection,
        pending: list[Pending],
        outcomes: list[tuple[bool, Any]],
        touched: set[str],
    ) -> int:
        """Insert the rows of many callers together; return how many activities were new.

        An erased contact stays erased, and a caller that needs a consent its contact has not
        agreed to stores nothing. If the joint insert fails, each caller is retried in its own
        savepoint, so only the callers whose rows cannot be stored hear an error.
        """
        if not pending:
            return 0
        erased, agreed = sql.erased_and_agreed(
            connection,
            {p.job.contact for p in pending},
            {p.job.contact for p in pending if p.job.consent},
        )
        accepted: list[Pending] = []
        for prepared in pending:
            job = prepared.job
            if job.contact in erased:
                prepared.refuse(LogStatus.CONTACT_ERASED)
            elif job.consent and (job.contact, job.consent.lower()) not in agreed:
                prepared.refuse(LogStatus.NO_CONSENT)
            else:
                accepted.append(prepared)
        if not accepted:
            return 0
        try:
            stored: int = _in_savepoint_raising(connection, _inserter(accepted))
            touched.update(p.job.contact for p in accepted)
            return stored
        except Exception:  # e.g. text SQLite cannot take: find the caller it belongs to
            pass
        stored = 0
        for prepared in accepted:
            ok, value = _in_savepoint(connection, _inserter([prepared]))
            if ok:
                stored += int(value)
                touched.add(prepared.job.contact)
            else:
                self._stats.failed_callers += 1
                error = StoreError(f"the activities could not be stored: {value}")
                error.__cause__ = value
                outcomes[prepared.index] = (False, error)
        return stored

    def _evaluate_groups(self, connection: sqlite3.Connection, contacts: set[str]) -> None:
        groups, now = self._groups, self._clock()
        ok, error = _in_savepoint(
            connection, lambda c: group_sql.evaluate(c, groups, group_sql.by_guids(contacts), now)
        )
        if not ok:  # the activities are stored all the same; the next commit tries again
            self._stats.group_failures += 1
            log.error("contact groups could not be re-evaluated: %s", error, exc_info=error)


def _answer_on(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    try:
        loop.call_soon_threadsafe(callback)
    except RuntimeError:  # the loop has ended: its callers were cancelled with it
        pass


def _inserter(callers: list[Pending]) -> Callable[[sqlite3.Connection], int]:
    return lambda connection: sql.insert_rows(connection, callers)


def _in_savepoint_raising(connection: sqlite3.Connection, function: WriteFunction) -> Any:
    connection.execute("SAVEPOINT job")
    try:
        value = function(connection)
    except BaseException:
        connection.execute("ROLLBACK TO job")
        connection.execute("RELEASE job")
        raise
    connection.execute("RELEASE job")
    return value


def _in_savepoint(connection: sqlite3.Connection, function: WriteFunction) -> tuple[bool, Any]:
    """Run ``function`` in a savepoint: (True, value), or (False, error) with its changes undone."""
    try:
        return True, _in_savepoint_raising(connection, function)
    except Exception as exc:
        return False, exc
