"""One SQLite commit of many callers' writes, as ONE synchronous call: type check, erased and
consent checks, inserts, contact-group re-evaluation, commit. Whichever writer runs it (a
thread of the app's process, or a process of its own) hands it a batch and gets one outcome
per job back."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
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
    """One caller's other write, ``function(connection, *args)``, waiting for the writer (a
    module-level function with picklable arguments, so that a writer process can run it)."""

    future: asyncio.Future[Any]
    function: Callable[..., Any]
    args: tuple[Any, ...] = ()


Job = ActivitiesJob | FunctionJob
Outcome = tuple[bool, Any]  # (True, the caller's answer) or (False, the exception it hears)


class Committer:
    """The write connection with what the writer remembers between commits: the activity
    types and contact groups, read again whenever another connection has committed."""

    def __init__(self, connection: sqlite3.Connection, stats: WriterStats) -> None:
        self.connection = connection
        self.stats = stats
        self._types: dict[str, ActivityType] = {}
        self._groups: list[tuple[int, ContactGroup]] = []
        self._data_version = -1

    def commit(self, batch: Sequence[Job], now: datetime) -> list[Outcome]:
        """Commit ``batch`` in one transaction (group evaluation as of ``now``); one outcome
        per job, errors already in the seam's terms."""
        try:
            outcomes, stored, seconds = self._transaction(batch, now)
        except Exception as exc:  # the whole transaction failed: every caller hears why
            self.stats.failed_commits += 1
            error = StoreError(f"the activity database could not commit: {exc}")
            error.__cause__ = exc
            return [(False, error)] * len(batch)
        self.stats.record(len(batch), stored, seconds)
        for index, (ok, value) in enumerate(outcomes):
            if not ok and isinstance(value, sqlite3.Error):
                error = StoreError(f"the activity database failed: {value}")
                error.__cause__ = value
                outcomes[index] = (False, error)
        return outcomes

    def _transaction(self, batch: Sequence[Job], now: datetime) -> tuple[list[Outcome], int, float]:
        connection = self.connection
        started = time.perf_counter()
        self._refresh_types(connection)
        outcomes: list[Outcome] = [(False, _NOT_RUN)] * len(batch)
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
                    outcomes[index] = _in_savepoint(connection, job.function, *job.args)
                    # It may have edited types or groups: read them again.
                    self._refresh_types(connection, force=True)
            stored += self._insert(connection, pending, outcomes, touched)
            if touched and self._groups:
                self._evaluate_groups(connection, touched, now)
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
                self.stats.group_failures += 1
                log.error("%s; it is not evaluated until it is saved again", problem)
            self._data_version = version

    def _insert(
        self,
        connection: sqlite3.Connection,
        pending: list[Pending],
        outcomes: list[Outcome],
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
            stored: int = _in_savepoint_raising(connection, sql.insert_rows, accepted)
            touched.update(p.job.contact for p in accepted)
            return stored
        except Exception:  # e.g. text SQLite cannot take: find the caller it belongs to
            pass
        stored = 0
        for prepared in accepted:
            ok, value = _in_savepoint(connection, sql.insert_rows, [prepared])
            if ok:
                stored += int(value)
                touched.add(prepared.job.contact)
            else:
                self.stats.failed_callers += 1
                error = StoreError(f"the activities could not be stored: {value}")
                error.__cause__ = value
                outcomes[prepared.index] = (False, error)
        return stored

    def _evaluate_groups(
        self, connection: sqlite3.Connection, contacts: set[str], now: datetime
    ) -> None:
        ok, error = _in_savepoint(
            connection, group_sql.evaluate, self._groups, group_sql.by_guids(contacts), now
        )
        if not ok:  # the activities are stored all the same; the next commit tries again
            self.stats.group_failures += 1
            log.error("contact groups could not be re-evaluated: %s", error, exc_info=error)


def _in_savepoint_raising(
    connection: sqlite3.Connection, function: Callable[..., Any], *args: Any
) -> Any:
    connection.execute("SAVEPOINT job")
    try:
        value = function(connection, *args)
    except BaseException:
        connection.execute("ROLLBACK TO job")
        connection.execute("RELEASE job")
        raise
    connection.execute("RELEASE job")
    return value


def _in_savepoint(
    connection: sqlite3.Connection, function: Callable[..., Any], *args: Any
) -> Outcome:
    """Run ``function(connection, *args)`` in a savepoint: (True, value), or (False, error)
    with its changes undone."""
    try:
        return True, _in_savepoint_raising(connection, function, *args)
    except Exception as exc:
        return False, exc
