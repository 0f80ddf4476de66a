"""SQLiteStore: the Store seam on one SQLite file (WAL), one writer thread and reader threads."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import sqlite3
import sys
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ...activities import (
    EVERY_ACTIVITY,
    Activity,
    ActivityFilter,
    ActivityRecord,
    ContactSummary,
    format_time,
    utc_now,
)
from ...activity_types import BUILT_IN_TYPES, ActivityType
from ...exports import ExportChunk, ExportFormat
from ..lifecycle import WriterLifeCycle
from ..protocol import Store, Synchronous
from ..records import PageCount, WriterStats
from . import activities as sql
from . import activity_log as log_sql
from . import edits, export
from . import groups as group_sql
from .commit import FunctionJob
from .connection import ConnectionThread, connect, database_error, database_path
from .schema import migrate, schema_version
from .store_catalog import CatalogMethods
from .writer import Writer
from .writer_process import ProcessWriter

if TYPE_CHECKING:
    from ...groups import ContactGroup

log = logging.getLogger("kxt_middleware")
T = TypeVar("T")
WriterKind = Literal["process", "thread"]
DEFAULT_WRITER: WriterKind = "thread" if sys.platform == "win32" else "process"


class SQLiteStore(CatalogMethods, WriterLifeCycle, Store):
    """Activities and the rest in one SQLite file; see :class:`Store` for every method.

    Every write goes through one writer thread that commits whatever is waiting in a single
    transaction (group commit); ``await`` on a write returns only after the commit. Reads run
    in reader threads with their own connections, which WAL lets run beside the writer.
    """

    def __init__(
        self,
        database: str | os.PathLike[str] = "kxt.sqlite3",
        *,
        activity_types: Iterable[ActivityType] = (),
        contact_groups: Iterable[ContactGroup] = (),
        max_pending: int = 10_000,
        max_batch: int = 1_000,
        synchronous: Synchronous = "FULL",
        busy_timeout: float = 5.0,
        readers: int = 2,
        clock: Callable[[], datetime] = utc_now,
        writer: WriterKind = DEFAULT_WRITER,
    ) -> None:
        if max_pending < 1 or max_batch < 1 or readers < 1:
            raise ValueError("max_pending, max_batch and readers must be at least 1")
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("synchronous must be 'FULL' or 'NORMAL'")
        if writer not in ("process", "thread"):
            raise ValueError(
                f"writer must be 'process' (a writer process beside the app, the default) or "
                f"'thread' (a thread of the app's process), not {writer!r}"
            )
        if writer == "process" and sys.platform == "win32":
            writer = "thread"  # the event loop cannot watch a pipe there
        self.writer_kind: WriterKind = writer
        self.database = database_path(database)
        self.max_pending = max_pending
        self.clock = clock
        self.stats = WriterStats()
        self._initial_types: tuple[ActivityType, ...] = ()
        self.include_activity_types(activity_types)
        self._initial_groups: list[ContactGroup] = []
        self.include_contact_groups(contact_groups)
        self._max_batch = max_batch
        self._synchronous = synchronous
        self._busy_timeout_ms = int(busy_timeout * 1000)
        self._reader_count = readers
        self._readers: list[ConnectionThread] = []
        self._next_reader = 0
        self._writer: Writer | ProcessWriter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._open_lock = asyncio.Lock()
        self._closing = False

    # -- life cycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        await self._forget_ended_loop()
        async with self._open_lock:
            if self._writer is not None:
                self._loop = self._loop or asyncio.get_running_loop()
                return
            connection = await asyncio.to_thread(self._connect_and_set_up)
            if self.writer_kind == "process":
                connection.close()  # the writer process opens its own
                self._writer = await ProcessWriter.started(
                    self.database,
                    synchronous=self._synchronous,
                    busy_timeout_ms=self._busy_timeout_ms,
                    max_pending=self.max_pending,
                    max_batch=self._max_batch,
                    clock=self.clock,
                    stats=self.stats,
                )
            else:
                self._writer = Writer(
                    connection,
                    max_pending=self.max_pending,
                    max_batch=self._max_batch,
                    clock=self.clock,
                    stats=self.stats,
                )
            self._readers = [
                ConnectionThread("kxt-reader", self._opener(read_only=True))
                for _ in range(self._reader_count)
            ]
            self._loop = asyncio.get_running_loop()

    def _opener(self, *, read_only: bool) -> Callable[[], sqlite3.Connection]:
        return lambda: connect(
            self.database,
            read_only=read_only,
            synchronous=self._synchronous,
            busy_timeout_ms=self._busy_timeout_ms,
        )

    def _connect_and_set_up(self) -> sqlite3.Connection:
        """The writer's connection, after migrating and creating the configured types and
        groups (with their members)."""
        connection = self._opener(read_only=False)()
        try:
            migrate(connection, self.database)
            now = self.clock()
            connection.execute("BEGIN IMMEDIATE")
            stamp = format_time(now)
            sql.insert_types(connection, (*BUILT_IN_TYPES, *self._initial_types), stamp)
            for group in self._initial_groups:
                checked = group_sql.canonical_types(connection, group)
                if group_sql.insert_group(connection, checked, stamp):
                    found = group_sql.one_group(connection, checked.code_name)
                    group_sql.evaluate(connection, [found], group_sql.EVERY_CONTACT, now)
            connection.execute("COMMIT")
        except BaseException as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            connection.close()
            if isinstance(exc, sqlite3.Error):
                raise database_error(exc) from exc
            raise
        return connection

    async def close(self) -> None:
        await self._forget_ended_loop()
        async with self._open_lock:
            writer, readers = self._writer, self._readers
            self._closing = writer is not None
            try:
                if writer is not None:
                    await writer.stop()
            finally:
                self._writer, self._loop, self._readers = None, None, []
                self._closing = False
                for reader in readers:
                    await reader.close()

    async def _forget_ended_loop(self) -> None:
        """Let a new event loop take over a store whose loop has ended.

        Without a lifespan the store opens lazily on the loop of the first request. When that
        loop ends (``TestClient(app)`` used without ``with`` runs every request on a loop of its
        own), the writer and reader threads stay, and the next use serves the running loop.
        Writes the ended loop still had queued are committed; their callers were cancelled
        with their loop. A loop that has not been closed keeps the store: one loop at a time.
        """
        old = self._loop
        if old is None or old is asyncio.get_running_loop() or not old.is_closed():
            return
        self._loop = None
        self._closing = False
        self._open_lock = asyncio.Lock()
        if self._writer is not None:
            self._writer.adopt()

    async def _write(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(connection, *args)`` in the writer's next transaction, in a savepoint
        (a module-level function with picklable arguments: the writer may be another process)."""
        result: T = await self._submit(lambda future: FunctionJob(future, function, args))
        return result

    async def _read(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``function(connection)`` in a reader thread."""
        await self._ready()
        self._next_reader = (self._next_reader + 1) % len(self._readers)
        return await self._readers[self._next_reader].run(function)

    def _now(self) -> str:
        return format_time(self.clock())

    async def schema_version(self) -> int:
        return await self._read(schema_version)

    # -- activities and contacts --------------------------------------------------------------

    async def select_activities(
        self,
        filters: ActivityFilter = EVERY_ACTIVITY,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = True,
    ) -> list[Activity]:
        return await self._read(
            lambda c: log_sql.select_activities(
                c,
                filters,
                before=before,
                after=after,
                limit=limit,
                offset=offset,
                newest_first=newest_first,
            )
        )

    async def count_activities(
        self, filters: ActivityFilter = EVERY_ACTIVITY, *, created_before: datetime | None = None
    ) -> int:
        before = None if created_before is None else format_time(created_before)
        return await self._read(lambda c: log_sql.count_activities(c, filters, before))

    async def activity_records(
        self, filters: ActivityFilter = EVERY_ACTIVITY, *, page_size: int = 5_000
    ) -> AsyncIterator[list[ActivityRecord]]:
        page = functools.partial(log_sql.activity_records, filters=filters, limit=page_size)
        # The next page is read while the caller writes this one out.
        reading = asyncio.ensure_future(self._read(functools.partial(page, after=0)))
        try:
            while True:
                rows, last = await reading
                if len(rows) == page_size:
                    reading = asyncio.ensure_future(self._read(functools.partial(page, after=last)))
                if rows:
                    yield rows
                if len(rows) < page_size:
                    return
        finally:
            reading.cancel()

    async def export_in_processes(
        self, filters: ActivityFilter, format: ExportFormat, processes: int
    ) -> AsyncGenerator[ExportChunk, None] | None:
        plan = await self._read(lambda c: export.plan_export(c, filters))
        if plan.activities < export.PARALLEL_FROM:
            return None
        return export.export_in_processes(
            self.database,
            filters,
            format,
            plan,
            processes=processes,
            busy_timeout_ms=self._busy_timeout_ms,
        )

    async def count_contacts(self) -> int:
        return int(await self._read(lambda c: sql.one(c, "SELECT count(*) FROM contacts")))

    async def daily_counts(
        self, filters: ActivityFilter, start: date, end: date
    ) -> dict[str, dict[date, int]]:
        ranged = dataclasses.replace(filters, start=start, end=end)
        return await self._read(lambda c: log_sql.daily_counts(c, ranged))

    async def top_pages(self, filters: ActivityFilter, *, limit: int = 10) -> list[PageCount]:
        return await self._read(lambda c: log_sql.top_pages(c, filters, limit))

    async def purge_activities_before(self, cutoff: datetime, limit: int) -> int:
        return await self._write(edits.purge, cutoff, limit, self.clock())

    async def contact_exists(self, contact: uuid.UUID) -> bool:
        found = "SELECT 1 FROM contacts WHERE guid = ?"
        return await self._read(lambda c: sql.one(c, found, (str(contact),)) is not None)

    async def is_erased(self, contact: uuid.UUID) -> bool:
        found = "SELECT 1 FROM erased_contacts WHERE guid = ?"
        return await self._read(lambda c: sql.one(c, found, (str(contact),)) is not None)

    async def delete_contact(self, contact: uuid.UUID) -> bool:
        guid, stamp = str(contact), self._now()
        return await self._write(sql.delete_contact, guid, stamp)

    async def contact_page(
        self, *, before: int | None = None, limit: int = 50
    ) -> tuple[list[ContactSummary], int | None]:
        return await self._read(lambda c: log_sql.contact_page(c, before, limit))

    async def contact_summary(self, contact: uuid.UUID) -> ContactSummary | None:
        return await self._read(lambda c: log_sql.contact_summary(c, contact))
