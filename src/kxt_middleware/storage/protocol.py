"""The storage seam: everything the product asks of a database, in the product's words.

Nothing above this seam sees a connection, a cursor or SQL. A backend (``storage/sqlite``,
``storage/postgres``) implements every method that raises NotImplementedError here; the
contract suite in ``tests/storage`` runs the same tests against each.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from ..activities import (
    EVERY_ACTIVITY,
    Activity,
    ActivityFilter,
    ContactSummary,
    LogResult,
    NewActivity,
)

if TYPE_CHECKING:
    from ..activity_types import ActivityType
    from ..api_keys import ApiKey, Channel
    from ..consents import Consent
    from ..groups import ContactGroup
    from ..operators import Operator
    from ..sites import Site

Synchronous = Literal["FULL", "NORMAL"]


@dataclass
class WriterStats:
    """What the writer has done: how many callers each commit absorbed, and how long it took."""

    commits: int = 0
    jobs: int = 0
    activities: int = 0
    largest_commit: int = 0
    failed_commits: int = 0
    failed_callers: int = 0
    group_failures: int = 0
    commit_sizes: list[int] = field(default_factory=list, repr=False)
    commit_seconds: list[float] = field(default_factory=list, repr=False)

    def record(self, jobs: int, activities: int, seconds: float) -> None:
        """Count one successful commit of ``jobs`` callers and ``activities`` rows."""
        self.commits += 1
        self.jobs += jobs
        self.activities += activities
        self.largest_commit = max(self.largest_commit, jobs)
        if len(self.commit_sizes) < 100_000:
            self.commit_sizes.append(jobs)
            self.commit_seconds.append(seconds)


@dataclass(frozen=True)
class GroupMember:
    """A contact in a contact group: its row number, GUID and since when (ISO text)."""

    row: int
    guid: uuid.UUID
    since: str


class Store:
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

    # -- activity types -----------------------------------------------------------------------

    async def activity_types(self) -> list[ActivityType]:
        """Every activity type, built-in first, then by code name."""
        raise NotImplementedError

    async def activity_type(self, code_name: str) -> ActivityType | None:
        """The activity type with this code name (ignoring case), or None."""
        raise NotImplementedError

    async def add_activity_type(self, activity_type: ActivityType) -> None:
        """Create an activity type; ValueError if one with this code name exists."""
        raise NotImplementedError

    async def ensure_activity_types(self, types: Iterable[ActivityType]) -> int:
        """Create the types that do not exist yet (never overwriting); return how many were new."""
        raise NotImplementedError

    async def update_activity_type(
        self,
        code_name: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> ActivityType:
        """Change a type's display name, description or enabled flag; return the updated type.

        UnknownActivityTypeError when there is no such type.
        """
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

    async def count_activities(self) -> int:
        """How many activities are stored."""
        raise NotImplementedError

    async def daily_counts(
        self, filters: ActivityFilter, start: date, end: date
    ) -> dict[str, dict[date, int]]:
        """Activities matching ``filters`` per type per UTC day from ``start`` to ``end``
        (inclusive; these replace the filter's own dates)."""
        raise NotImplementedError

    async def purge_activities_before(self, cutoff: datetime, limit: int) -> int:
        """Delete at most ``limit`` activities created before ``cutoff`` in one transaction that
        also re-evaluates their contacts' groups; return how many were deleted."""
        raise NotImplementedError

    # -- contacts -----------------------------------------------------------------------------

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

    # -- contact groups -----------------------------------------------------------------------

    async def contact_groups(self) -> list[ContactGroup]:
        """Every contact group, by code name."""
        raise NotImplementedError

    async def contact_group(self, code_name: str) -> ContactGroup | None:
        """The contact group with this code name (ignoring case), or None."""
        raise NotImplementedError

    async def add_contact_group(self, group: ContactGroup) -> ContactGroup:
        """Create a group (its conditions spelled as their types are); ValueError if the code
        name is taken or a condition's type does not exist. Members are computed separately."""
        raise NotImplementedError

    async def update_contact_group(self, group: ContactGroup) -> ContactGroup:
        """Replace the group with ``group.code_name``; UnknownContactGroupError if none."""
        raise NotImplementedError

    async def delete_contact_group(self, code_name: str) -> None:
        """Delete a group and its memberships; UnknownContactGroupError if none."""
        raise NotImplementedError

    async def recalculate_contact_group_batch(
        self, code_name: str, after: int, limit: int
    ) -> tuple[int, int]:
        """Recompute the group's memberships of the next ``limit`` contacts after row ``after``
        in one transaction; return (contacts evaluated, last row evaluated)."""
        raise NotImplementedError

    async def count_members(self, code_name: str) -> int:
        """How many contacts are in the group now."""
        raise NotImplementedError

    async def member_counts(self) -> dict[str, int]:
        """How many contacts each group has now, by code name."""
        raise NotImplementedError

    async def groups_of_contact(self, contact: uuid.UUID) -> frozenset[str]:
        """Code names of the groups the contact is in now (a passed time window counts as out)."""
        raise NotImplementedError

    async def group_members(
        self, code_name: str, *, after: int = 0, limit: int = 100
    ) -> list[GroupMember]:
        """A page of the group's current members, by contact row."""
        raise NotImplementedError

    # -- consents -----------------------------------------------------------------------------

    async def add_consent(self, consent: Consent) -> None:
        """Create a consent; ValueError if one with this code name exists."""
        raise NotImplementedError

    async def consents(self) -> list[Consent]:
        """Every consent, by code name."""
        raise NotImplementedError

    async def consent(self, code_name: str) -> Consent | None:
        """The consent with this code name (ignoring case), or None."""
        raise NotImplementedError

    async def has_agreed(self, contact: uuid.UUID, consent: str) -> bool:
        """True when the contact's latest answer to the consent is an agreement."""
        raise NotImplementedError

    async def set_agreement(self, contact: uuid.UUID, consent: str, agree: bool) -> None:
        """Record an agreement or revocation; ContactErasedError for an erased contact."""
        raise NotImplementedError

    # -- headless channels and API keys -------------------------------------------------------

    async def add_api_key(self, channel_name: str, key_id: str, secret_hash: str) -> Channel:
        """Store a key's hash for the channel (creating the channel if new); return the channel."""
        raise NotImplementedError

    async def revoke_api_key(self, key_id: str) -> None:
        """Revoke an active key; UnknownApiKeyError if there is none with this id."""
        raise NotImplementedError

    async def api_keys(self) -> list[ApiKey]:
        """Every API key, oldest first."""
        raise NotImplementedError

    async def active_api_key(self, key_id: str) -> tuple[str, Channel] | None:
        """The secret's hash and channel of an unrevoked key, or None."""
        raise NotImplementedError

    # -- cross-site sites ---------------------------------------------------------------------

    async def add_site(self, site: Site) -> None:
        """Register a site; ValueError if its code name or origin is taken."""
        raise NotImplementedError

    async def set_site_enabled(self, code_name: str, enabled: bool) -> Site:
        """Enable or disable a site and return it; UnknownSiteError if none."""
        raise NotImplementedError

    async def sites(self) -> list[Site]:
        """Every registered site, by code name."""
        raise NotImplementedError

    async def site(self, code_name: str) -> Site | None:
        """The site with this code name, or None."""
        raise NotImplementedError

    async def enabled_site_for_origin(self, origin: str) -> Site | None:
        """The enabled site registered for this (normalized) origin, or None."""
        raise NotImplementedError

    # -- operators ----------------------------------------------------------------------------

    async def add_operator(self, name: str, password_hash: str) -> Operator:
        """Create an operator; ValueError if the name is taken (ignoring case)."""
        raise NotImplementedError

    async def set_operator_password_hash(self, name: str, password_hash: str) -> None:
        """Replace an operator's password hash; UnknownOperatorError if none."""
        raise NotImplementedError

    async def delete_operator(self, name: str) -> None:
        """Delete an operator; UnknownOperatorError if none."""
        raise NotImplementedError

    async def operators(self) -> list[Operator]:
        """Every operator, by name."""
        raise NotImplementedError

    async def operator_password_hash(self, name: str) -> tuple[str, str] | None:
        """The operator's stored name and password hash (name ignoring case), or None."""
        raise NotImplementedError
