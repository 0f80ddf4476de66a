"""The storage seam: everything the product asks of a database, in the product's words.

Nothing above this seam sees a connection, a cursor or SQL. A backend (``storage/sqlite``,
``storage/postgres``) implements every method that raises NotImplementedError here; the
contract suite in ``tests/storage`` runs the same tests against each.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from ..activities import (
    EVERY_ACTIVITY,
    Activity,
    ActivityFilter,
    ActivityRecord,
    ContactSummary,
    LogResult,
    NewActivity,
)
from ..exports import ExportChunk, ExportFormat, export_bytes, export_header
from .catalog import Catalog
from .records import PageCount, WriterStats

if TYPE_CHECKING:
    from ..activity_types import ActivityType
    from ..groups import ContactGroup

Synchronous = Literal["FULL", "NORMAL"]


class Store(Catalog):
    """Durable storage of activity types, contacts, activities, groups, consents and the rest.

    ``Store(database, **options)`` opens the backend its ``database`` names: a file path or
    ``sqlite:///path`` for SQLite, ``postgresql://…`` for PostgreSQL (see :func:`open_store`).
    Writes are durable when their ``await`` returns; concurrent writes share one commit.

    Every method below that raises NotImplementedError is part of the seam: each backend
    implements all of them (``tests/storage`` checks it, and runs one contract suite on each).
    """

    database: str
    max_pending: int
    clock: Callable[[], datetime]
    stats: WriterStats

    def __new__(cls, *args: Any, **kwargs: Any) -> Store:
        if cls is Store:
            from . import backend_class  # the URL's scheme picks the backend

            database = args[0] if args else kwargs.get("database", "kxt.sqlite3")
            cls = backend_class(database)
        return super().__new__(cls)

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """True between :meth:`open` and :meth:`close`."""
        raise NotImplementedError

    async def open(self) -> None:
        """Open (creating and migrating) the database and start the writer; safe to call twice."""
        raise NotImplementedError

    async def close(self) -> None:
        """Commit every pending write, stop the writer and close the database (reopenable)."""
        raise NotImplementedError

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def schema_version(self) -> int:
        """The schema version of the open database."""
        raise NotImplementedError

    def include_activity_types(self, types: Iterable[ActivityType]) -> tuple[ActivityType, ...]:
        """Also create ``types`` (when absent, never overwriting) whenever the store opens."""
        raise NotImplementedError

    def include_contact_groups(self, groups: Iterable[ContactGroup]) -> None:
        """Also create ``groups`` (when absent, with their members) whenever the store opens."""
        raise NotImplementedError

    # -- activities ---------------------------------------------------------------------------

    async def insert_activities(
        self,
        contact: uuid.UUID,
        activities: Sequence[NewActivity],
        *,
        consent: str | None = None,
    ) -> list[LogResult]:
        """Store activities of one contact; one result per activity, after the commit.

        In the same transaction: a disabled or unknown type is refused, an erased contact stays
        erased (``contact_erased``), and with ``consent`` the contact's agreement to that
        consent is checked (``no_consent`` without it). The contact's group memberships are
        re-evaluated in that transaction too. An activity id already stored is stored once.
        StoreOverloadedError when ``max_pending`` writes already wait.
        """
        raise NotImplementedError

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
        """Activities matching ``filters`` in row order, after a keyset cursor (``before`` /
        ``after`` a row number) or an OFFSET."""
        raise NotImplementedError

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
        if isinstance(contact, str):
            contact = uuid.UUID(contact)
        return await self.select_activities(
            ActivityFilter(type=type, contact=contact),
            before=before,
            after=after,
            limit=limit,
            newest_first=newest_first,
        )

    async def iter_activities(
        self,
        filters: ActivityFilter | None = None,
        *,
        contact: uuid.UUID | str | None = None,
        type: str | None = None,
        page_size: int = 1_000,
    ) -> AsyncIterator[Activity]:
        """Every matching activity, oldest first, read page by page (constant memory)."""
        if filters is None:
            if isinstance(contact, str):
                contact = uuid.UUID(contact)
            filters = ActivityFilter(type=type, contact=contact)
        after = 0
        while True:
            page = await self.select_activities(
                filters, after=after, limit=page_size, newest_first=False
            )
            for activity in page:
                yield activity
            if len(page) < page_size:
                return
            after = page[-1].row

    async def count_activities(
        self, filters: ActivityFilter = EVERY_ACTIVITY, *, created_before: datetime | None = None
    ) -> int:
        """How many activities match ``filters`` (and were created before ``created_before``)."""
        raise NotImplementedError

    async def activity_records(
        self, filters: ActivityFilter = EVERY_ACTIVITY, *, page_size: int = 5_000
    ) -> AsyncIterator[list[ActivityRecord]]:
        """Pages of the matching activities, oldest first, as plain records (EXPORT_FIELDS
        order) for exports: a backend reads them without building Activity objects."""
        after = 0
        while True:
            page = await self.select_activities(
                filters, after=after, limit=page_size, newest_first=False
            )
            if page:
                yield [activity.to_record() for activity in page]
            if len(page) < page_size:
                return
            after = page[-1].row

    async def export_activities(
        self,
        filters: ActivityFilter = EVERY_ACTIVITY,
        format: ExportFormat = "jsonl",
        *,
        processes: int = 1,
        page_size: int = 5_000,
    ) -> AsyncGenerator[ExportChunk, None]:
        """The export of the matching activities, oldest first, as ``format`` (a CSV header
        first), in chunks of bytes. ``processes`` > 1 lets a backend format a large export in
        that many processes (SQLite does); here, one page of records is one chunk."""
        chunks = (
            await self.export_in_processes(filters, format, processes) if processes > 1 else None
        )
        if chunks is not None:
            async with contextlib.aclosing(chunks):
                async for chunk in chunks:
                    yield chunk
            return
        header = export_header(format)
        if header:
            yield ExportChunk(header, 0)
        async for page in self.activity_records(filters, page_size=page_size):
            yield ExportChunk(export_bytes(page, format), len(page))

    async def export_in_processes(
        self, filters: ActivityFilter, format: ExportFormat, processes: int
    ) -> AsyncGenerator[ExportChunk, None] | None:
        """The chunks of export_activities() formatted in ``processes`` worker processes, or
        None to format them here: a backend that can (SQLite, for a large export) says so."""
        return None

    async def daily_counts(
        self, filters: ActivityFilter, start: date, end: date
    ) -> dict[str, dict[date, int]]:
        """Activities matching ``filters`` per type per UTC day from ``start`` to ``end``
        (inclusive; these replace the filter's own dates)."""
        raise NotImplementedError

    async def top_pages(self, filters: ActivityFilter, *, limit: int = 10) -> list[PageCount]:
        """The pages with the most activities matching ``filters``, most first (then by URL).

        A page is an activity's URL up to its first "#" or "?" (so ``/loans?amount=5`` and
        ``/loans#rates`` are ``/loans``); activities without a URL are left out. Each page comes
        with its number of activities and of distinct contacts that logged them.
        """
        raise NotImplementedError

    async def purge_activities_before(self, cutoff: datetime, limit: int) -> int:
        """Delete at most ``limit`` activities created before ``cutoff`` in one transaction that
        also re-evaluates their contacts' groups; return how many were deleted."""
        raise NotImplementedError

    # -- contacts -----------------------------------------------------------------------------

    async def count_contacts(self) -> int:
        """How many contacts are stored."""
        raise NotImplementedError

    async def contact_exists(self, contact: uuid.UUID) -> bool:
        """True when the contact has a row (it has logged something or agreed to a consent)."""
        raise NotImplementedError

    async def is_erased(self, contact: uuid.UUID) -> bool:
        """True when the contact was erased (it can never be tracked again)."""
        raise NotImplementedError

    async def delete_contact(self, contact: uuid.UUID) -> bool:
        """Erase a contact and everything stored about it; False when it had no data.

        The GUID is remembered as erased, so activities still on their way for it (or sent
        with its old cookie) are not stored and do not bring the contact back.
        """
        raise NotImplementedError

    async def contact_page(
        self, *, before: int | None = None, limit: int = 50
    ) -> tuple[list[ContactSummary], int | None]:
        """Contacts, newest first, after a keyset cursor; and the cursor of the next page."""
        raise NotImplementedError

    async def contact_summary(self, contact: uuid.UUID) -> ContactSummary | None:
        """One contact's summary, or None when it has no data."""
        raise NotImplementedError
