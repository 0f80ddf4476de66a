"""The PostgreSQL writer: ONE task per process owns the write connection and commits whatever
is waiting in one transaction.

Callers queue jobs and await a future. The writer takes every job waiting (up to
``max_batch``) and runs one transaction with few round trips, whatever the batch's size: the
contacts' locks and the catalog version, the erased and consent checks, the contacts, the
activities (``INSERT … SELECT … FROM unnest(…)``), the contact-group re-evaluation, COMMIT.
A batch of activities alone, when no contact group has conditions, is ONE statement (the
``kxt_log_activities`` function), its own transaction: one round trip, commit included, so
the event loop's other work delays it once, not once per statement.
Many processes each run their own writer against one server: what must hold across them (an
activity id stored once, an erased contact never back, a disabled type refused) is enforced by
the database itself (unique keys, advisory locks, a version row), not by this process.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ...activities import LogStatus
from ...activity_types import ActivityType
from ...errors import StoreError
from ...groups import ContactGroup
from ..records import WriterStats
from ..writing import ActivitiesJob, Pending
from . import activities as sql
from . import groups as group_sql
from .connection import DriverErrors, database_error

log = logging.getLogger("kxt_middleware")

WriteFunction = Callable[[Any], Awaitable[Any]]
_NOT_RUN = object()


class _FastPathFailed(Exception):
    """The joint insert or the groups' evaluation failed outside a savepoint: the transaction
    is retried with savepoints."""


@dataclass
class FunctionJob:
    """One caller's other write (a coroutine function of the connection), waiting."""

    future: asyncio.Future[Any]
    function: WriteFunction
    locks: dict[int, bool] = field(default_factory=dict)  # contacts' lock keys: exclusive?


Job = ActivitiesJob | FunctionJob


class Writer:
    """Group commit on one connection; see the module docstring."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[Any]],
        connection: Any,
        *,
        max_pending: int,
        max_batch: int,
        clock: Callable[[], datetime],
        stats: WriterStats,
    ) -> None:
        self.max_pending = max_pending
        self.pending = 0
        self._connect = connect
        self._connection = connection
        self._max_batch = max_batch
        self._clock = clock
        self._stats = stats
        self._types: dict[str, ActivityType] = {}
        self._groups: list[tuple[int, ContactGroup]] = []
        self._version = -1
        self._jobs: collections.deque[Job] = collections.deque()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name="kxt-writer")

    def submit(self, job: Job) -> None:
        """Queue ``job``; QueueFull when ``max_pending`` jobs wait."""
        if self.pending >= self.max_pending:
            raise asyncio.QueueFull
        self.pending += 1
        self._jobs.append(job)
        self._wake.set()

    async def stop(self) -> None:
        """Commit every job queued before this call, then close the connection."""
        self._stopping = True
        self._wake.set()
        try:
            await self._task
        finally:
            await self._connection.close()

    async def _run(self) -> None:
        while self._jobs or not self._stopping:
            if not self._jobs:
                self._wake.clear()
                await self._wake.wait()
                continue
            size = min(len(self._jobs), self._max_batch)
            await self._commit([self._jobs.popleft() for _ in range(size)])

    async def _commit(self, batch: list[Job]) -> None:
        """Run the batch's transaction and hand every caller its outcome."""
        try:
            if self._connection.is_closed():  # the server went away: try a new connection
                self._connection = await self._connect()
            outcomes, stored, seconds = await self._transaction(self._connection, batch)
        except Exception as exc:  # the whole transaction failed: every caller hears why
            self._stats.failed_commits += 1
            error = StoreError(f"the activity database could not commit: {exc}")
            error.__cause__ = exc
            outcomes, stored, seconds = [(False, error)] * len(batch), -1, 0.0
        if stored >= 0:
            self._stats.record(len(batch), stored, seconds)
        self.pending = max(0, self.pending - len(batch))
        for job, (ok, value) in zip(batch, outcomes, strict=True):
            if job.future.done():  # the caller was cancelled; its write is committed anyway
                continue
            if ok:
                job.future.set_result(value)
            elif isinstance(value, DriverErrors):
                job.future.set_exception(database_error(value))
            else:
                job.future.set_exception(value)

    async def _transaction(
        self, connection: Any, batch: list[Job]
    ) -> tuple[list[tuple[bool, Any]], int, float]:
        """The batch's transaction; when the joint insert or the groups' evaluation fails,
        once more with savepoints (which cost round trips only then): each caller's rows in
        one of their own, the groups in one."""
        if all(isinstance(job, ActivitiesJob) for job in batch):
            done = await self._log_at_once(connection, batch)  # type: ignore[arg-type]
            if done is not None:
                return done
        try:
            return await self._attempt(connection, batch, careful=False)
        except _FastPathFailed:
            return await self._attempt(connection, batch, careful=True)

    async def _log_at_once(
        self, connection: Any, batch: list[ActivitiesJob]
    ) -> tuple[list[tuple[bool, Any]], int, float] | None:
        """A batch of activities alone, when no contact group has to be re-evaluated in its
        transaction: ONE statement, its own transaction, one round trip with the commit.
        None when it cannot be done so (groups to evaluate, or rows the server refused:
        the transaction then finds out whose they are)."""
        started = time.perf_counter()
        for _ in range(3):  # the catalog may change between reading it and logging
            if self._version < 0:
                await self._refresh_types(connection, await sql.catalog_version(connection))
            if any(group.conditions for _, group in self._groups):
                return None
            outcomes: list[tuple[bool, Any]] = []
            callers: list[Pending] = []
            for index, job in enumerate(batch):
                prepared = Pending(index, job)
                prepared.check_types(self._types, job.created)
                outcomes.append((True, prepared.results))
                if prepared.rows:
                    callers.append(prepared)
            try:  # even with no rows: the types that refused them may have changed
                logged = await sql.log_batch(connection, self._version, callers)
            except Exception:
                if connection.is_closed():
                    raise
                return None
            if logged.version != self._version:  # a type or group changed (in any process)
                self._version = -1
                continue
            for number in logged.erased:
                callers[number].refuse(LogStatus.CONTACT_ERASED)
            for number in logged.unconsented:
                callers[number].refuse(LogStatus.NO_CONSENT)
            return outcomes, logged.stored, time.perf_counter() - started
        return None

    async def _attempt(
        self, connection: Any, batch: list[Job], *, careful: bool
    ) -> tuple[list[tuple[bool, Any]], int, float]:
        started = time.perf_counter()
        outcomes: list[tuple[bool, Any]] = [(False, _NOT_RUN)] * len(batch)
        pending: list[Pending] = []
        touched: set[int] = set()
        stored = 0
        try:
            # Round trips without groups: BEGIN and the locks, the checks, the insert, COMMIT.
            await connection.execute(sql.begin_and_lock(_locks(batch)))
            for index, job in enumerate(batch):
                if isinstance(job, ActivitiesJob):
                    pending.append(Pending(index, job))
                    continue
                # Keep the callers' order: what was logged before a function runs first.
                stored += await self._insert(connection, pending, outcomes, touched, careful)
                pending = []
                outcomes[index] = await _in_savepoint(connection, job.function)
                # It may have edited types or groups: if so, read them again.
                version = await sql.catalog_version(connection)
                if version != self._version:
                    await self._refresh_types(connection, version)
            stored += await self._insert(connection, pending, outcomes, touched, careful)
            if touched and self._groups:
                await self._evaluate_groups(connection, touched, careful)
            await connection.execute("COMMIT")
        except BaseException:
            self._version = -1  # the cache may hold what was rolled back
            if not connection.is_closed():
                await connection.execute("ROLLBACK")
            raise
        return outcomes, stored, time.perf_counter() - started

    async def _refresh_types(self, connection: Any, version: int) -> None:
        """Read the types and groups again, as of catalog ``version`` (read before them)."""
        self._types = {t.key: t for t in await sql.select_types(connection)}
        self._groups, problems = await group_sql.readable_groups(connection)
        self._version = version
        for problem in problems:  # its members stay as they were until it is fixed
            self._stats.group_failures += 1
            log.error("%s; it is not evaluated until it is saved again", problem)

    async def _insert(
        self,
        connection: Any,
        pending: list[Pending],
        outcomes: list[tuple[bool, Any]],
        touched: set[int],
        careful: bool,
    ) -> int:
        """Check and insert the rows of many callers together; return how many activities
        were new.

        A disabled or unknown type is refused, an erased contact stays erased, and a caller
        that needs a consent its contact has not agreed to stores nothing. When ``careful``,
        the joint insert runs in a savepoint, and if it fails each caller is retried in its
        own, so only the callers whose rows cannot be stored hear an error.
        """
        if not pending:
            return 0
        asking = {p.job.contact for p in pending if p.job.consent}
        checked = await sql.check(connection, {p.job.contact for p in pending}, asking)
        if checked.version != self._version:  # a type or group changed (in any process)
            await self._refresh_types(connection, checked.version)
        accepted: list[Pending] = []
        for prepared in pending:
            job = prepared.job
            prepared.check_types(self._types, job.created)
            outcomes[prepared.index] = (True, prepared.results)
            if not prepared.rows:
                continue
            if job.contact in checked.erased:
                prepared.refuse(LogStatus.CONTACT_ERASED)
            elif job.consent and (job.contact, job.consent.lower()) not in checked.agreed:
                prepared.refuse(LogStatus.NO_CONSENT)
            else:
                accepted.append(prepared)
        if not accepted:
            return 0
        if not careful:
            try:
                stored, contacts = await sql.insert_rows(connection, accepted, checked.known)
            except Exception as exc:
                raise _FastPathFailed from exc
            touched.update(contacts)
            return stored
        ok, value = await _in_savepoint(connection, _inserter(accepted, checked.known))
        if ok:
            touched.update(value[1])
            return int(value[0])
        stored = 0  # e.g. text PostgreSQL cannot take: find the caller it belongs to
        for prepared in accepted:
            ok, value = await _in_savepoint(connection, _inserter([prepared], checked.known))
            if ok:
                stored += int(value[0])
                touched.update(value[1])
            else:
                self._stats.failed_callers += 1
                error = StoreError(f"the activities could not be stored: {value}")
                error.__cause__ = value
                outcomes[prepared.index] = (False, error)
        return stored

    async def _evaluate_groups(self, connection: Any, contacts: set[int], careful: bool) -> None:
        groups, now = self._groups, self._clock()

        def evaluate(c: Any) -> Awaitable[None]:
            return group_sql.evaluate(c, groups, sorted(contacts), now)

        if not careful:
            try:
                return await evaluate(connection)
            except Exception as exc:
                raise _FastPathFailed from exc
        ok, error = await _in_savepoint(connection, evaluate)
        if not ok:  # the activities are stored all the same; the next commit tries again
            self._stats.group_failures += 1
            log.error("contact groups could not be re-evaluated: %s", error, exc_info=error)


def _locks(batch: list[Job]) -> dict[int, bool]:
    """Every contact lock the batch needs (exclusive when any job needs it so)."""
    locks: dict[int, bool] = {}
    for job in batch:
        if isinstance(job, ActivitiesJob):
            locks.setdefault(sql.lock_key(job.contact), False)
        else:
            for key, exclusive in job.locks.items():
                locks[key] = locks.get(key, False) or exclusive
    return locks


def _inserter(callers: list[Pending], known: dict[str, int]) -> WriteFunction:
    return lambda connection: sql.insert_rows(connection, callers, known)


async def _in_savepoint(connection: Any, function: WriteFunction) -> tuple[bool, Any]:
    """Run ``function`` in a savepoint: (True, value), or (False, error) with its changes undone."""
    await connection.execute("SAVEPOINT kxt_job")
    try:
        value = await function(connection)
    except Exception as exc:
        await connection.execute("ROLLBACK TO SAVEPOINT kxt_job; RELEASE SAVEPOINT kxt_job")
        return False, exc
    await connection.execute("RELEASE SAVEPOINT kxt_job")
    return True, value
