"""PostgresStore: the Store seam on a PostgreSQL server shared by any number of processes."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from ...activities import (
    EVERY_ACTIVITY,
    Activity,
    ActivityFilter,
    ActivityRecord,
    ContactSummary,
    utc_now,
)
from ...activity_types import BUILT_IN_TYPES, ActivityType
from ..lifecycle import WriterLifeCycle
from ..protocol import Store, Synchronous
from ..records import PageCount, WriterStats
from . import activities as sql
from . import activity_log as log_sql
from . import groups as group_sql
from .connection import DriverErrors, connect, create_pool, database_error, parse_url
from .schema import migrate, schema_version
from .store_catalog import CatalogMethods
from .writer import FunctionJob, WriteFunction, Writer

if TYPE_CHECKING:
    from ...groups import ContactGroup

T = TypeVar("T")


class PostgresStore(CatalogMethods, WriterLifeCycle, Store):
    """Activities and the rest on a PostgreSQL server; see :class:`Store` for every method.

    ``database`` is ``postgresql://user:password@host:port/name``, with the store's options
    as query parameters: ``pool_size`` (connections for reads, default 10; the writer has one
    more), ``connect_timeout`` and ``command_timeout`` (seconds). Every write of this process
    goes through one writer that commits whatever is waiting in a single transaction (group
    commit); ``await`` on a write returns only after the commit.
    ``synchronous="NORMAL"`` commits with ``synchronous_commit=off``: faster, and a server
    crash may lose the last moments of acknowledged writes (never corrupt the database).
    """

    def __init__(
        self,
        database: str | os.PathLike[str],
        *,
        activity_types: Iterable[ActivityType] = (),
        contact_groups: Iterable[ContactGroup] = (),
        max_pending: int = 10_000,
        max_batch: int = 1_000,
        synchronous: Synchronous = "FULL",
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if max_pending < 1 or max_batch < 1:
            raise ValueError("max_pending and max_batch must be at least 1")
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("synchronous must be 'FULL' or 'NORMAL'")
        self._options = parse_url(os.fspath(database))
        self.database = self._options.shown
        self.max_pending = max_pending
        self.clock = clock
        self.stats = WriterStats()
        self._initial_types: tuple[ActivityType, ...] = ()
        self.include_activity_types(activity_types)
        self._initial_groups: list[ContactGroup] = []
        self.include_contact_groups(contact_groups)
        self._max_batch = max_batch
        self._synchronous = synchronous
        self._pool: Any = None
        self._writer: Writer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._open_lock = asyncio.Lock()
        self._closing = False

    # -- life cycle ---------------------------------------------------------------------------

    def _connect_writer(self) -> Any:
        return connect(self._options, synchronous_commit=self._synchronous == "FULL")

    async def open(self) -> None:
        await self._forget_ended_loop()
        async with self._open_lock:
            if self._writer is not None:
                self._loop = self._loop or asyncio.get_running_loop()
                return
            connection = await self._connect_writer()
            try:
                async with connection.transaction():
                    await self._set_up(connection)
                pool = await create_pool(self._options)
            except BaseException as exc:
                await connection.close()
                if isinstance(exc, DriverErrors):
                    raise database_error(exc) from exc
                raise
            self._pool, self._loop = pool, asyncio.get_running_loop()
            self._writer = Writer(
                self._connect_writer,
                connection,
                max_pending=self.max_pending,
                max_batch=self._max_batch,
                clock=self.clock,
                stats=self.stats,
            )

    async def _set_up(self, connection: Any) -> None:
        """Migrate, then create the configured types and groups (with their members); under
        the migration lock, so processes starting together do it one after another."""
        await migrate(connection, self.database)
        now = self.clock()
        await sql.insert_types(connection, (*BUILT_IN_TYPES, *self._initial_types), now)
        for group in self._initial_groups:
            checked = await group_sql.canonical_types(connection, group)
            row = await group_sql.insert_group(connection, checked, now)
            if row is not None:
                await group_sql.evaluate(connection, [(row, checked)], None, now)

    async def close(self) -> None:
        await self._forget_ended_loop()
        async with self._open_lock:
            writer, pool = self._writer, self._pool
            self._closing = writer is not None
            try:
                if writer is not None:
                    await writer.stop()
            finally:
                self._writer, self._pool, self._loop = None, None, None
                self._closing = False
                if pool is not None:
                    await pool.close()

    async def _forget_ended_loop(self) -> None:
        """Let a new event loop take over a store whose loop has ended (its connections
        ended with it; writes still queued there were cancelled with their callers)."""
        old = self._loop
        if old is None or not old.is_closed() or old is asyncio.get_running_loop():
            return
        self._writer, self._pool, self._loop = None, None, None
        self._closing = False
        self._open_lock = asyncio.Lock()

    async def _write(
        self, function: Callable[[Any], Any], *, locks: dict[int, bool] | None = None
    ) -> Any:
        """Run ``await function(connection)`` in the writer's next transaction, in a savepoint,
        holding the contacts' ``locks`` (lock key: exclusive?)."""
        write: WriteFunction = function
        return await self._submit(lambda future: FunctionJob(future, write, locks or {}))

    async def _read(self, function: Callable[[Any], Any]) -> Any:
        """Run ``await function(connection)`` on a pooled connection."""
        await self._ready()
        try:
            async with self._pool.acquire() as connection:
                return await function(connection)
        except DriverErrors as exc:  # nothing above the seam knows the driver's errors
            raise database_error(exc) from exc

    async def schema_version(self) -> int:
        return int(await self._read(schema_version))

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
        found: list[Activity] = await self._read(
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
        return found

    async def count_activities(
        self, filters: ActivityFilter = EVERY_ACTIVITY, *, created_before: datetime | None = None
    ) -> int:
        return int(await self._read(lambda c: log_sql.count_activities(c, filters, created_before)))

    async def activity_records(
        self, filters: ActivityFilter = EVERY_ACTIVITY, *, page_size: int = 5_000
    ) -> AsyncIterator[list[ActivityRecord]]:
        def page(after: int) -> Any:
            return self._read(lambda c: log_sql.activity_records(c, filters, after, page_size))

        # The next page is read while the caller writes this one out.
        reading = asyncio.ensure_future(page(0))
        try:
            while True:
                rows, last = await reading
                if len(rows) == page_size:
                    reading = asyncio.ensure_future(page(last))
                if rows:
                    yield rows
                if len(rows) < page_size:
                    return
        finally:
            reading.cancel()

    async def count_contacts(self) -> int:
        return int(await self._read(lambda c: c.fetchval("SELECT count(*) FROM contacts")))

    async def daily_counts(
        self, filters: ActivityFilter, start: date, end: date
    ) -> dict[str, dict[date, int]]:
        ranged = dataclasses.replace(filters, start=start, end=end)
        counts: dict[str, dict[date, int]] = await self._read(
            lambda c: log_sql.daily_counts(c, ranged)
        )
        return counts

    async def top_pages(self, filters: ActivityFilter, *, limit: int = 10) -> list[PageCount]:
        pages: list[PageCount] = await self._read(lambda c: log_sql.top_pages(c, filters, limit))
        return pages

    async def purge_activities_before(self, cutoff: datetime, limit: int) -> int:
        async def purge(connection: Any) -> int:
            count, contacts = await sql.purge_batch(connection, cutoff, limit)
            await group_sql.evaluate_rows(connection, contacts, self.clock())
            return count

        return int(await self._write(purge))

    async def contact_exists(self, contact: uuid.UUID) -> bool:
        found = "SELECT 1 FROM contacts WHERE guid = $1"
        return await self._read(lambda c: c.fetchval(found, contact)) is not None

    async def is_erased(self, contact: uuid.UUID) -> bool:
        found = "SELECT 1 FROM erased_contacts WHERE guid = $1"
        return await self._read(lambda c: c.fetchval(found, contact)) is not None

    async def delete_contact(self, contact: uuid.UUID) -> bool:
        guid, now = str(contact), self.clock()
        erasing = {sql.lock_key(contact): True}
        return bool(await self._write(lambda c: sql.delete_contact(c, guid, now), locks=erasing))

    async def contact_page(
        self, *, before: int | None = None, limit: int = 50
    ) -> tuple[list[ContactSummary], int | None]:
        page: tuple[list[ContactSummary], int | None] = await self._read(
            lambda c: log_sql.contact_page(c, before, limit)
        )
        return page

    async def contact_summary(self, contact: uuid.UUID) -> ContactSummary | None:
        found: ContactSummary | None = await self._read(
            lambda c: log_sql.contact_summary(c, contact)
        )
        return found
