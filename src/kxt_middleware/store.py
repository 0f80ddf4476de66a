"""The activity store: a SQLite file in WAL mode with ONE writer that group-commits all writes."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

import aiosqlite

from .activities import (
    Activity,
    ActivitySource,
    LogResult,
    LogStatus,
    NewActivity,
    format_time,
    parse_time,
    utc_now,
)
from .activity_types import BUILT_IN_TYPES, ActivityType, validate_code_name
from .errors import StoreClosedError, StoreError, StoreOverloadedError, UnknownActivityTypeError
from .migrations import MIGRATIONS

log = logging.getLogger("kxt_middleware")
T = TypeVar("T")
WriteFunction = Callable[[aiosqlite.Connection], Awaitable[T]]
# Called inside the open() transaction, after migrations (e.g. to create configured rows).
OpenHook = Callable[[aiosqlite.Connection], Awaitable[None]]
# Called inside the writer's transaction with the GUIDs of contacts that just logged activities.
ActivitiesHook = Callable[[aiosqlite.Connection, frozenset[str]], Awaitable[None]]
Synchronous = Literal["FULL", "NORMAL"]

ACTIVITY_COLUMNS = (
    "a.id, a.uid, c.guid, a.type, a.title, a.value, a.url, a.referrer, a.created, a.source, a.site"
)


@dataclass
class _Job:
    """One caller's write, waiting in the queue for the writer."""

    future: asyncio.Future[Any]
    activities: tuple[uuid.UUID, Sequence[NewActivity], datetime] | None = None
    function: WriteFunction[Any] | None = None


@dataclass
class WriterStats:
    """What the writer has done: how many callers each commit absorbed."""

    commits: int = 0
    jobs: int = 0
    activities: int = 0
    largest_commit: int = 0
    failed_commits: int = 0
    commit_sizes: list[int] = field(default_factory=list, repr=False)

    def record(self, jobs: int, activities: int) -> None:
        """Count one successful commit of ``jobs`` callers and ``activities`` rows."""
        self.commits += 1
        self.jobs += jobs
        self.activities += activities
        self.largest_commit = max(self.largest_commit, jobs)
        if len(self.commit_sizes) < 100_000:
            self.commit_sizes.append(jobs)


_STOP = object()


class ActivityStore:
    """Durable storage of activity types, contacts and activities in one SQLite file.

    Every write goes through one writer task that drains the queue and commits whatever is
    waiting in a single transaction (group commit); ``await`` on a write returns only after the
    commit. Reads use a separate connection, which WAL lets run beside the writer.
    """

    def __init__(
        self,
        database: str | os.PathLike[str],
        *,
        activity_types: Iterable[ActivityType] = (),
        max_pending: int = 10_000,
        max_batch: int = 1_000,
        synchronous: Synchronous = "FULL",
        busy_timeout: float = 5.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if max_pending < 1 or max_batch < 1:
            raise ValueError("max_pending and max_batch must be at least 1")
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("synchronous must be 'FULL' or 'NORMAL'")
        self.database = os.fspath(database)
        self.max_pending = max_pending
        self.clock = clock
        self.stats = WriterStats()
        self._initial_types = tuple(activity_types)
        self._max_batch = max_batch
        self._synchronous = synchronous
        self._busy_timeout_ms = int(busy_timeout * 1000)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._queue: asyncio.Queue[_Job | object] | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._open_lock = asyncio.Lock()
        self._closing = False
        self._types: dict[str, ActivityType] = {}
        self._data_version = -1
        self._hooks: list[ActivitiesHook] = []
        self._open_hooks: list[OpenHook] = []
        self.hook_failures = 0

    def include_activity_types(self, types: Iterable[ActivityType]) -> tuple[ActivityType, ...]:
        """Also create ``types`` (when absent) whenever the store opens; return them.

        Call it before the store opens (an open store creates them at its next open, or use
        :meth:`ensure_activity_types`).
        """
        chosen = tuple(types)
        self._initial_types += chosen
        return chosen

    def on_open(self, hook: OpenHook) -> None:
        """Run ``hook(connection)`` in the transaction that opens the store, after migrations."""
        self._open_hooks.append(hook)

    def on_activities(self, hook: ActivitiesHook) -> None:
        """Run ``hook(connection, contact_guids)`` in every commit that stores activities.

        It runs in the same transaction (in a savepoint), so what it writes is committed with
        the activities; if it raises, its own changes are undone, the error is logged and
        counted in ``hook_failures``, and the activities are stored all the same.
        """
        self._hooks.append(hook)

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True between :meth:`open` and :meth:`close`."""
        return self._task is not None and not self._closing

    async def open(self) -> None:
        """Open (creating and migrating) the database and start the writer; safe to call twice."""
        await self._forget_ended_loop()
        async with self._open_lock:
            if self._task is not None:
                return
            writer = await self._connect(read_only=False)
            try:
                await self._migrate(writer)
                await writer.execute("BEGIN IMMEDIATE")
                await self._insert_types(writer, (*BUILT_IN_TYPES, *self._initial_types))
                for hook in self._open_hooks:
                    await hook(writer)
                await writer.execute("COMMIT")
                reader = await self._connect(read_only=True)
            except BaseException:
                await _rollback(writer)
                await writer.close()
                raise
            self._writer, self._reader = writer, reader
            await self._load_types()
            self._loop = asyncio.get_running_loop()
            self._queue = asyncio.Queue(maxsize=self.max_pending)
            self._task = asyncio.create_task(self._run_writer(), name="kxt-activity-writer")

    async def close(self) -> None:
        """Commit every pending write, stop the writer and close the database (reopenable)."""
        await self._forget_ended_loop()
        async with self._open_lock:
            if self._task is None or self._queue is None:
                return
            self._closing = True
            try:
                await self._queue.put(_STOP)
                await self._task
            finally:
                for connection in (self._writer, self._reader):
                    if connection is not None:
                        await connection.close()
                self._writer = self._reader = None
                self._task = self._queue = self._loop = None
                self._closing = False

    async def _forget_ended_loop(self) -> None:
        """Let a new event loop take over a store whose loop has ended.

        Without a lifespan the store opens lazily on the loop of the first request. When that
        loop ends (``TestClient(app)`` used without ``with`` runs every request on a loop of its
        own), its writer task ended with it; the connections live in their own threads, so they
        are closed here and the store reopens on the running loop. A loop that has not been
        closed keeps the store: two loops never share one writer.
        """
        old = self._loop
        if old is None or old is asyncio.get_running_loop() or not old.is_closed():
            return
        queue, connections = self._queue, (self._writer, self._reader)
        self._writer = self._reader = None
        self._task = self._queue = self._loop = None
        self._closing = False
        self._open_lock = asyncio.Lock()
        unfinished = 0
        while queue is not None and not queue.empty():
            if queue.get_nowait() is not _STOP:
                unfinished += 1
        if unfinished:  # their callers were cancelled with their loop: never acknowledged
            log.warning(
                "%d writes were still queued when the event loop that opened the activity store "
                "ended; they were not committed and their callers were cancelled",
                unfinished,
            )
        for connection in connections:
            if connection is not None:
                await connection.close()

    async def __aenter__(self) -> ActivityStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _connect(self, *, read_only: bool) -> aiosqlite.Connection:
        directory = os.path.dirname(os.path.abspath(self.database))
        if not os.path.isdir(directory):
            raise StoreError(
                f"cannot open the activity database {self.database!r}: the folder {directory!r} "
                "does not exist; create it or pass another database path"
            )
        pending = aiosqlite.connect(self.database, isolation_level=None)
        try:
            connection = await pending
        except BaseException as exc:
            # aiosqlite stops its worker thread by posting to this loop: wait for it here, or
            # the thread outlives a short-lived loop (a CLI run) and prints a traceback.
            worker = getattr(pending, "_thread", None)
            if worker is not None:
                await asyncio.to_thread(worker.join, 5)
            if isinstance(exc, sqlite3.Error):
                raise self._cannot_open(exc) from exc
            raise
        try:
            await connection.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            await connection.execute("PRAGMA foreign_keys = ON")
            if read_only:
                await connection.execute("PRAGMA query_only = ON")
            else:
                # WAL lets readers run beside the writer. FULL syncs the WAL on every commit so
                # an acknowledged activity survives a power cut, not only a process crash; group
                # commit spreads that one fsync over every caller waiting in the queue.
                await connection.execute("PRAGMA journal_mode = WAL")
                await connection.execute(f"PRAGMA synchronous = {self._synchronous}")
        except BaseException as exc:
            await connection.close()
            if isinstance(exc, sqlite3.Error):
                raise self._cannot_open(exc) from exc
            raise
        return connection

    def _cannot_open(self, error: sqlite3.Error) -> StoreError:
        return StoreError(
            f"cannot open the activity database {self.database!r}: {error}; check that the path "
            "is an SQLite file (or a new file's name) that this process may read and write"
        )

    async def _migrate(self, connection: aiosqlite.Connection) -> None:
        await connection.execute("BEGIN IMMEDIATE")
        try:
            await connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
            )
            async with connection.execute("SELECT max(version) FROM schema_version") as cursor:
                row = await cursor.fetchone()
            current = row[0] if row and row[0] is not None else 0
            if current > len(MIGRATIONS):
                raise StoreError(
                    f"the database {self.database!r} has schema version {current}, newer than "
                    f"this kxt-middleware knows ({len(MIGRATIONS)}); upgrade kxt-middleware"
                )
            for version in range(current + 1, len(MIGRATIONS) + 1):
                for statement in MIGRATIONS[version - 1]:
                    await connection.execute(statement)
                await connection.execute(
                    "INSERT INTO schema_version (version) VALUES (?)", (version,)
                )
            await connection.execute("COMMIT")
        except BaseException:
            await _rollback(connection)
            raise

    async def schema_version(self) -> int:
        """The schema version of the open database."""
        async with (await self._read()).execute("SELECT max(version) FROM schema_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    # -- the writer ---------------------------------------------------------------------------

    async def _submit(self, job: _Job) -> Any:
        if self._closing:
            raise StoreClosedError(
                f"the activity store {self.database!r} is closing; nothing more can be written"
            )
        if asyncio.get_running_loop() is not self._loop:
            await self._forget_ended_loop()
        if not self.is_open:
            await self.open()
        if asyncio.get_running_loop() is not self._loop:
            raise StoreError(
                "the activity store belongs to another event loop, which has not ended; give each "
                "loop its own ActivityStore, or run the app with its lifespan (for tests: "
                "`with TestClient(app) as client:`) so one loop owns it"
            )
        assert self._queue is not None
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            raise StoreOverloadedError(
                f"{self.max_pending} writes are already waiting for the database; retry later, "
                "or raise max_pending if the disk keeps up"
            ) from None
        return await job.future

    @staticmethod
    def _new_job() -> _Job:
        return _Job(future=asyncio.get_running_loop().create_future())

    async def write(self, function: WriteFunction[T]) -> T:
        """Run ``function(connection)`` inside the writer's next transaction and return its result.

        The function runs in a savepoint: if it raises, only its own changes are undone and the
        exception is raised here; other callers in the same commit are unaffected.
        """
        job = self._new_job()
        job.function = function
        result: T = await self._submit(job)
        return result

    async def insert_activities(
        self, contact: uuid.UUID, activities: Sequence[NewActivity]
    ) -> list[LogResult]:
        """Store activities of one contact (consent already checked); one result per activity."""
        job = self._new_job()
        job.activities = (contact, activities, self.clock())
        results: list[LogResult] = await self._submit(job)
        return results

    async def _run_writer(self) -> None:
        assert self._queue is not None
        stop = False
        while not stop:
            first = await self._queue.get()
            if first is _STOP:
                break
            batch: list[_Job] = [first]  # type: ignore[list-item]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)  # type: ignore[arg-type]
            await self._commit(batch)

    async def _commit(self, batch: list[_Job]) -> None:
        writer = self._writer
        assert writer is not None
        outcomes: list[tuple[bool, Any]] = []
        pending: list[tuple[list[LogResult], list[tuple[Any, ...]]]] = []  # one insert's worth
        stored = 0
        touched: set[str] = set()
        try:
            await self._refresh_types(writer)
            await writer.execute("BEGIN IMMEDIATE")
            try:
                for job in batch:
                    if job.activities is not None:
                        result, rows = self._prepare(*job.activities)
                        outcomes.append((True, result))
                        pending.append((result, rows))
                    else:
                        # Keep the callers' order: what was logged before a function runs first.
                        stored += await self._insert(writer, pending, touched)
                        pending = []
                        assert job.function is not None
                        outcomes.append(await self._run_in_savepoint(writer, job.function))
                stored += await self._insert(writer, pending, touched)
                if touched and self._hooks:
                    await self._run_hooks(writer, frozenset(touched))
                await writer.execute("COMMIT")
            except BaseException:
                await _rollback(writer)
                raise
        except Exception as exc:  # the whole transaction failed: every caller hears why
            self.stats.failed_commits += 1
            error = StoreError(f"the activity database could not commit: {exc}")
            error.__cause__ = exc
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(error)
            return
        self.stats.record(len(batch), stored)
        if any(job.function is not None for job in batch):
            self._data_version = -1  # a function may have edited activity types: reload them
        for job, (ok, value) in zip(batch, outcomes, strict=True):
            if job.future.done():  # the caller was cancelled; its write is committed anyway
                continue
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)

    async def _run_hooks(self, writer: aiosqlite.Connection, contacts: frozenset[str]) -> None:
        for hook in self._hooks:

            async def call(connection: aiosqlite.Connection, hook: ActivitiesHook = hook) -> None:
                await hook(connection, contacts)

            ok, error = await self._run_in_savepoint(writer, call)
            if not ok:
                self.hook_failures += 1
                log.error("activity hook %r failed: %s", hook, error, exc_info=error)

    @staticmethod
    async def _run_in_savepoint(
        writer: aiosqlite.Connection, function: WriteFunction[Any]
    ) -> tuple[bool, Any]:
        await writer.execute("SAVEPOINT job")
        try:
            value = await function(writer)
        except Exception as exc:
            await writer.execute("ROLLBACK TO job")
            await writer.execute("RELEASE job")
            return False, exc
        await writer.execute("RELEASE job")
        return True, value

    def _prepare(
        self, contact: uuid.UUID, activities: Sequence[NewActivity], created: datetime
    ) -> tuple[list[LogResult], list[tuple[Any, ...]]]:
        """One caller's results and the rows to insert, by the activity types' current state."""
        results: list[LogResult] = []
        rows: list[tuple[Any, ...]] = []
        guid, stamp = str(contact), format_time(created)
        for activity in activities:
            activity_type = self._types.get(activity.type.lower())
            if activity_type is None:
                results.append(LogResult(LogStatus.TYPE_UNKNOWN))
            elif not activity_type.enabled:
                results.append(LogResult(LogStatus.TYPE_DISABLED))
            else:
                results.append(LogResult(LogStatus.LOGGED, activity.id))
                rows.append(
                    (
                        activity.id,
                        guid,
                        activity_type.code_name,
                        activity.title,
                        activity.value,
                        activity.url,
                        activity.referrer,
                        stamp,
                        activity.source.value,
                        activity.site,
                    )
                )
        return results, rows

    @staticmethod
    async def _insert(
        writer: aiosqlite.Connection,
        pending: list[tuple[list[LogResult], list[tuple[Any, ...]]]],
        touched: set[str],
    ) -> int:
        """Insert the rows of many callers with two statements; return how many were new.

        A contact that was erased stays erased: its activities (sent before the visitor revoked
        consent, say) are answered "contact erased" instead of bringing the contact back.
        """
        jobs = [(results, rows) for results, rows in pending if rows]
        if not jobs:
            return 0
        guids = list({rows[0][1] for _, rows in jobs})  # one contact per caller
        async with writer.execute(
            f"SELECT guid FROM erased_contacts WHERE guid IN ({','.join('?' * len(guids))})",
            guids,
        ) as cursor:
            erased = {row[0] async for row in cursor}
        contacts: dict[str, str] = {}
        rows: list[tuple[Any, ...]] = []
        for results, job_rows in jobs:
            guid = job_rows[0][1]
            if guid in erased:
                erased_result = LogResult(LogStatus.CONTACT_ERASED)
                results[:] = [erased_result if r.logged else r for r in results]
            else:
                contacts.setdefault(guid, job_rows[0][7])
                rows += job_rows
        if not rows:
            return 0
        await writer.executemany(
            "INSERT INTO contacts (guid, created) VALUES (?, ?) ON CONFLICT (guid) DO NOTHING",
            contacts.items(),
        )
        before = writer.total_changes
        # A retried request carries the same activity id: store it once, report it logged.
        await writer.executemany(
            "INSERT INTO activities (uid, contact_id, type, title, value, url, referrer, "
            "created, source, site) VALUES (?, (SELECT id FROM contacts WHERE guid = ?), "
            "?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (uid) DO NOTHING",
            rows,
        )
        touched.update(contacts)
        return writer.total_changes - before

    # -- activity types -----------------------------------------------------------------------

    async def _refresh_types(self, connection: aiosqlite.Connection) -> None:
        # data_version changes when another connection (the CLI, another worker) commits, so a
        # type disabled elsewhere takes effect at the next commit without a query per activity.
        async with connection.execute("PRAGMA data_version") as cursor:
            row = await cursor.fetchone()
        version = int(row[0]) if row else 0
        if version != self._data_version:
            self._types = {t.key: t for t in await self._select_types(connection)}
            self._data_version = version

    async def _load_types(self) -> None:
        assert self._writer is not None
        self._data_version = -1
        await self._refresh_types(self._writer)

    @staticmethod
    async def _select_types(connection: aiosqlite.Connection) -> list[ActivityType]:
        async with connection.execute(
            "SELECT code_name, display_name, description, enabled, built_in FROM activity_types "
            "ORDER BY built_in DESC, code_name COLLATE NOCASE"
        ) as cursor:
            return [
                ActivityType(row[0], row[1], row[2], bool(row[3]), bool(row[4]))
                async for row in cursor
            ]

    async def _insert_types(
        self, connection: aiosqlite.Connection, types: Iterable[ActivityType]
    ) -> int:
        # ON CONFLICT DO NOTHING: a type created at start never overwrites a marketer's later edit.
        stamp = format_time(self.clock())
        before = connection.total_changes
        await connection.executemany(
            "INSERT INTO activity_types (code_name, display_name, description, enabled, built_in, "
            "created) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (code_name) DO NOTHING",
            [
                (t.code_name, t.display_name, t.description, int(t.enabled), int(t.built_in), stamp)
                for t in types
            ],
        )
        return connection.total_changes - before

    async def activity_types(self) -> list[ActivityType]:
        """Every activity type, built-in first, then by code name."""
        return await self._select_types(await self._read())

    async def activity_type(self, code_name: str) -> ActivityType | None:
        """The activity type with this code name (ignoring case), or None."""
        async with (await self._read()).execute(
            "SELECT code_name, display_name, description, enabled, built_in FROM activity_types "
            "WHERE code_name = ?",
            (code_name,),
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else ActivityType(row[0], row[1], row[2], *map(bool, row[3:]))

    async def add_activity_type(self, activity_type: ActivityType) -> None:
        """Create an activity type; ValueError if one with this code name exists."""

        async def add(connection: aiosqlite.Connection) -> None:
            if not await self._insert_types(connection, [activity_type]):
                raise ValueError(
                    f"an activity type with code name {activity_type.code_name!r} already "
                    "exists; choose another code name or edit the existing type"
                )

        await self.write(add)

    async def ensure_activity_types(self, types: Iterable[ActivityType]) -> int:
        """Create the types that do not exist yet (never overwriting); return how many were new."""
        chosen = tuple(types)

        async def ensure(connection: aiosqlite.Connection) -> int:
            return await self._insert_types(connection, chosen)

        return await self.write(ensure)

    async def update_activity_type(
        self,
        code_name: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> ActivityType:
        """Change a type's display name, description or enabled flag; return the updated type."""
        validate_code_name(code_name)

        async def update(connection: aiosqlite.Connection) -> ActivityType:
            async with connection.execute(
                "SELECT code_name, display_name, description, enabled, built_in "
                "FROM activity_types WHERE code_name = ?",
                (code_name,),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                raise UnknownActivityTypeError(
                    f"there is no activity type {code_name!r}; list them with `kxt types list`"
                )
            current = ActivityType(row[0], row[1], row[2], bool(row[3]), bool(row[4]))
            updated = ActivityType(
                current.code_name,
                current.display_name if display_name is None else display_name,
                current.description if description is None else description,
                current.enabled if enabled is None else enabled,
                current.built_in,
            )
            await connection.execute(
                "UPDATE activity_types SET display_name = ?, description = ?, enabled = ? "
                "WHERE code_name = ?",
                (updated.display_name, updated.description, int(updated.enabled), code_name),
            )
            return updated

        return await self.write(update)

    # -- reading activities -------------------------------------------------------------------

    async def read_connection(self) -> aiosqlite.Connection:
        """The read-only connection (opening the store if needed); never write through it."""
        await self._forget_ended_loop()
        if not self.is_open:
            await self.open()
        assert self._reader is not None
        return self._reader

    _read = read_connection

    async def delete_contact(self, contact: uuid.UUID) -> bool:
        """Delete a contact and everything stored about it; False when it had no data.

        The GUID is remembered as erased, so activities still on their way for it (or sent
        with its old cookie) are not stored and do not bring the contact back.
        """

        async def delete(connection: aiosqlite.Connection) -> bool:
            await connection.execute(
                "INSERT INTO erased_contacts (guid, erased) VALUES (?, ?) "
                "ON CONFLICT (guid) DO NOTHING",
                (str(contact), format_time(self.clock())),
            )
            cursor = await connection.execute(
                "DELETE FROM contacts WHERE guid = ?", (str(contact),)
            )
            return cursor.rowcount > 0

        return await self.write(delete)

    async def activities(
        self,
        *,
        contact: uuid.UUID | str | None = None,
        type: str | None = None,
        before: int | None = None,
        after: int | None = None,
        limit: int = 100,
        newest_first: bool = True,
    ) -> list[Activity]:
        """A page of activities, filtered by contact and type, paged by row number (keyset)."""
        where: list[str] = []
        params: list[Any] = []
        if contact is not None:
            guid = str(contact if isinstance(contact, uuid.UUID) else uuid.UUID(contact))
            where.append("a.contact_id = (SELECT id FROM contacts WHERE guid = ?)")
            params.append(guid)
        if type is not None:
            known = await self.activity_type(type)
            where.append("a.type = ?")
            params.append(known.code_name if known else type)
        return await self.select_activities(
            where, params, before=before, after=after, limit=limit, newest_first=newest_first
        )

    async def select_activities(
        self,
        where: Sequence[str],
        params: Sequence[Any],
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = True,
    ) -> list[Activity]:
        """Activities matching SQL conditions on ``activities a`` (with their ``params``), in
        row order, after a keyset cursor (``before``/``after`` a row number) or an OFFSET."""
        conditions, values = list(where), list(params)
        if before is not None:
            conditions.append("a.id < ?")
            values.append(before)
        if after is not None:
            conditions.append("a.id > ?")
            values.append(after)
        sql = f"SELECT {ACTIVITY_COLUMNS} FROM activities a JOIN contacts c ON c.id = a.contact_id"
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        sql += f" ORDER BY a.id {'DESC' if newest_first else 'ASC'} LIMIT ?"
        values.append(limit)
        if offset:
            sql += " OFFSET ?"
            values.append(offset)
        async with (await self._read()).execute(sql, values) as cursor:
            return [activity_from_row(row) async for row in cursor]

    async def iter_activities(
        self,
        *,
        contact: uuid.UUID | str | None = None,
        type: str | None = None,
        page_size: int = 1_000,
    ) -> AsyncIterator[Activity]:
        """Every matching activity, oldest first, read page by page."""
        after = 0
        while True:
            page = await self.activities(
                contact=contact, type=type, after=after, limit=page_size, newest_first=False
            )
            for activity in page:
                yield activity
            if len(page) < page_size:
                return
            after = page[-1].row

    async def count_activities(self) -> int:
        """How many activities are stored."""
        async with (await self._read()).execute("SELECT count(*) FROM activities") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def is_erased(self, contact: uuid.UUID) -> bool:
        """True when the contact was erased (it can never be tracked again)."""
        return await was_erased(await self._read(), contact)

    async def contact_exists(self, contact: uuid.UUID) -> bool:
        """True when the contact has a row (it has logged something)."""
        async with (await self._read()).execute(
            "SELECT 1 FROM contacts WHERE guid = ?", (str(contact),)
        ) as cursor:
            return await cursor.fetchone() is not None


async def was_erased(connection: aiosqlite.Connection, contact: uuid.UUID) -> bool:
    """True when ``contact`` was erased, read through ``connection`` (inside a write, too)."""
    async with connection.execute(
        "SELECT 1 FROM erased_contacts WHERE guid = ?", (str(contact),)
    ) as cursor:
        return await cursor.fetchone() is not None


async def _rollback(connection: aiosqlite.Connection) -> None:
    # SQLite may already have rolled back on its own (e.g. after a failed COMMIT).
    if connection.in_transaction:
        await connection.execute("ROLLBACK")


def activity_from_row(row: sqlite3.Row | tuple[Any, ...]) -> Activity:
    """An Activity from a row selected as ``ACTIVITY_COLUMNS``."""
    return Activity(
        row=row[0],
        id=row[1],
        contact=uuid.UUID(row[2]),
        type=row[3],
        title=row[4],
        value=row[5],
        url=row[6],
        referrer=row[7],
        created=parse_time(row[8]),
        source=ActivitySource(row[9]),
        site=row[10],
    )
