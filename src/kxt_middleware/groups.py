"""Contact groups: contacts who performed activities (type, count, time window, value)."""

from __future__ import annotations

import json
import uuid
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import aiosqlite

from .activities import VALUE_MAX, format_time, parse_time
from .activity_types import (
    DESCRIPTION_MAX,
    DISPLAY_NAME_MAX,
    check_text,
    validate_code_name,
)
from .errors import KxtError
from .store import ActivityStore

Match = Literal["all", "any"]
ValueMatch = Literal["equals", "contains"]
MAX_COUNT = 1_000_000
MAX_DAYS = 36_500
MAX_CONDITIONS = 20
RECALCULATION_BATCH = 1_000


class UnknownContactGroupError(KxtError, LookupError):
    """Raised when a contact group that does not exist is used."""


@dataclass(frozen=True)
class ActivityCondition:
    """Performed activities of ``activity_type`` at least ``at_least`` times.

    ``in_last_days`` limits the count to a time window (None: any time); ``value`` limits it to
    activities whose value equals it (``value_match="equals"``) or contains it ignoring case
    (``"contains"``).
    """

    activity_type: str
    at_least: int = 1
    in_last_days: int | None = None
    value: str | None = None
    value_match: ValueMatch = "equals"

    def __post_init__(self) -> None:
        validate_code_name(self.activity_type)
        _check_int("at_least", self.at_least, MAX_COUNT)
        if self.in_last_days is not None:
            _check_int("in_last_days", self.in_last_days, MAX_DAYS)
        if self.value is not None:
            check_text("value", self.value, VALUE_MAX)
        if self.value_match not in ("equals", "contains"):
            raise ValueError(
                f"value_match must be 'equals' or 'contains', not {self.value_match!r}"
            )

    def describe(self) -> str:
        """The condition in words, e.g. "custom_cta at least 3 times in the last 7 days"."""
        text = f"{self.activity_type} at least {self.at_least} time"
        text += "" if self.at_least == 1 else "s"
        if self.in_last_days is not None:
            days = "day" if self.in_last_days == 1 else f"{self.in_last_days} days"
            text += f" in the last {days}"
        if self.value is not None:
            verb = "equal to" if self.value_match == "equals" else "containing"
            text += f" with value {verb} {self.value!r}"
        return text

    def to_json(self) -> dict[str, Any]:
        """The condition as a JSON-ready dict."""
        return {
            "activity_type": self.activity_type,
            "at_least": self.at_least,
            "in_last_days": self.in_last_days,
            "value": self.value,
            "value_match": self.value_match,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ActivityCondition:
        """Inverse of :meth:`to_json`."""
        return cls(**data)


@dataclass(frozen=True)
class ContactGroup:
    """Contacts meeting ``all`` or ``any`` of the activity conditions, e.g. loan prospects."""

    code_name: str
    display_name: str
    description: str = ""
    conditions: Sequence[ActivityCondition] = field(default=())
    match: Match = "all"

    def __post_init__(self) -> None:
        validate_code_name(self.code_name)
        check_text("display_name", self.display_name, DISPLAY_NAME_MAX, required=True)
        check_text("description", self.description, DESCRIPTION_MAX)
        if self.match not in ("all", "any"):
            raise ValueError(f"match must be 'all' or 'any', not {self.match!r}")
        conditions = tuple(self.conditions)
        if not conditions:
            raise ValueError(
                f"contact group {self.code_name!r} has no condition; add at least one "
                "ActivityCondition (e.g. ActivityCondition('custom_loan_calculator'))"
            )
        if len(conditions) > MAX_CONDITIONS:
            raise ValueError(f"a contact group has at most {MAX_CONDITIONS} conditions")
        for condition in conditions:
            if not isinstance(condition, ActivityCondition):
                raise TypeError(
                    f"conditions must be ActivityCondition objects, not {type(condition).__name__}"
                )
        object.__setattr__(self, "conditions", conditions)

    @property
    def key(self) -> str:
        """The case-insensitive identity of the group."""
        return self.code_name.lower()

    def describe(self) -> str:
        """The conditions in words, joined by "and" or "or"."""
        joiner = " and " if self.match == "all" else " or "
        return joiner.join(condition.describe() for condition in self.conditions)


def _check_int(name: str, value: int, maximum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not 1 <= value <= maximum:
        raise ValueError(f"{name} must be between 1 and {maximum}, not {value}")


# -- reading and writing groups -------------------------------------------------------------

_GROUP_COLUMNS = "id, code_name, display_name, description, match, conditions"


def _group(row: Sequence[Any]) -> ContactGroup:
    conditions = [ActivityCondition.from_json(item) for item in json.loads(row[5])]
    return ContactGroup(row[1], row[2], row[3], conditions, row[4])


def _conditions_json(group: ContactGroup) -> str:
    return json.dumps([condition.to_json() for condition in group.conditions])


async def _select_groups(
    connection: aiosqlite.Connection, code_name: str | None = None
) -> list[tuple[int, ContactGroup]]:
    sql = f"SELECT {_GROUP_COLUMNS} FROM contact_groups"
    params: tuple[str, ...] = ()
    if code_name is not None:
        sql += " WHERE code_name = ?"
        params = (code_name,)
    async with connection.execute(sql + " ORDER BY code_name COLLATE NOCASE", params) as cursor:
        return [(row[0], _group(row)) async for row in cursor]


async def _one_group(connection: aiosqlite.Connection, code_name: str) -> tuple[int, ContactGroup]:
    found = await _select_groups(connection, code_name)
    if not found:
        raise UnknownContactGroupError(
            f"there is no contact group {code_name!r}; list them with `kxt groups list`"
        )
    return found[0]


async def _canonical_types(connection: aiosqlite.Connection, group: ContactGroup) -> ContactGroup:
    # Activities store the type's own spelling of its code name: conditions must use it too.
    conditions = []
    for condition in group.conditions:
        async with connection.execute(
            "SELECT code_name FROM activity_types WHERE code_name = ?", (condition.activity_type,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            raise ValueError(
                f"contact group {group.code_name!r} refers to activity type "
                f"{condition.activity_type!r}, which does not exist; create the activity type "
                "first (admin, `kxt types add` or activity_types=)"
            )
        conditions.append(
            ActivityCondition(
                row[0],
                condition.at_least,
                condition.in_last_days,
                condition.value,
                condition.value_match,
            )
        )
    return ContactGroup(
        group.code_name, group.display_name, group.description, conditions, group.match
    )


async def contact_groups(store: ActivityStore) -> list[ContactGroup]:
    """Every contact group, by code name."""
    return [group for _, group in await _select_groups(await store.read_connection())]


async def contact_group(store: ActivityStore, code_name: str) -> ContactGroup | None:
    """The contact group with this code name (ignoring case), or None."""
    found = await _select_groups(await store.read_connection(), code_name)
    return found[0][1] if found else None


async def add_contact_group(store: ActivityStore, group: ContactGroup) -> ContactGroup:
    """Create a contact group and compute its members; ValueError if the code name is taken."""

    async def add(connection: aiosqlite.Connection) -> ContactGroup:
        checked = await _canonical_types(connection, group)
        if not await _insert_group(connection, checked, format_time(store.clock())):
            raise ValueError(
                f"a contact group with code name {group.code_name!r} already exists; choose "
                "another code name or edit the existing group"
            )
        return checked

    added = await store.write(add)
    await recalculate_contact_group(store, added.code_name)
    return added


async def update_contact_group(store: ActivityStore, group: ContactGroup) -> ContactGroup:
    """Replace the group with ``group.code_name`` by ``group`` and recompute its members."""

    async def update(connection: aiosqlite.Connection) -> ContactGroup:
        await _one_group(connection, group.code_name)
        checked = await _canonical_types(connection, group)
        await connection.execute(
            "UPDATE contact_groups SET display_name = ?, description = ?, match = ?, "
            "conditions = ?, updated = ? WHERE code_name = ?",
            (
                checked.display_name,
                checked.description,
                checked.match,
                _conditions_json(checked),
                format_time(store.clock()),
                checked.code_name,
            ),
        )
        return checked

    updated = await store.write(update)
    await recalculate_contact_group(store, updated.code_name)
    return updated


async def delete_contact_group(store: ActivityStore, code_name: str) -> None:
    """Delete a contact group and its memberships (never contacts or activities)."""

    async def delete(connection: aiosqlite.Connection) -> None:
        await _one_group(connection, code_name)
        await connection.execute("DELETE FROM contact_groups WHERE code_name = ?", (code_name,))

    await store.write(delete)


async def _insert_group(connection: aiosqlite.Connection, group: ContactGroup, stamp: str) -> bool:
    cursor = await connection.execute(
        "INSERT INTO contact_groups (code_name, display_name, description, match, conditions, "
        "created, updated) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (code_name) DO NOTHING",
        (
            group.code_name,
            group.display_name,
            group.description,
            group.match,
            _conditions_json(group),
            stamp,
            stamp,
        ),
    )
    return cursor.rowcount > 0


# -- evaluation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Contacts:
    """Which contacts to evaluate: an SQL condition on ``contact_id`` and its parameters."""

    sql: str
    params: tuple[Any, ...]


def _by_guids(guids: Iterable[str]) -> _Contacts:
    return _Contacts(
        "contact_id IN (SELECT id FROM contacts WHERE guid IN (SELECT value FROM json_each(?)))",
        (json.dumps(sorted(guids)),),
    )


def _by_rows(rows: Iterable[int]) -> _Contacts:
    return _Contacts(
        "contact_id IN (SELECT value FROM json_each(?))", (json.dumps(sorted(set(rows))),)
    )


def _by_range(first: int, last: int) -> _Contacts:
    return _Contacts("contact_id BETWEEN ? AND ?", (first, last))


async def _qualifying(
    connection: aiosqlite.Connection,
    condition: ActivityCondition,
    contacts: _Contacts,
    now: datetime,
) -> dict[int, str | None]:
    """Contacts meeting ``condition`` at ``now``, each with when it stops meeting it."""
    where = ["type = ?", contacts.sql]
    params: list[Any] = [condition.activity_type, *contacts.params]
    window: timedelta | None = None
    if condition.in_last_days is not None:
        window = timedelta(days=condition.in_last_days)
        where.append("created > ?")
        params.append(format_time(now - window))
    if condition.value is not None:
        if condition.value_match == "equals":
            where.append("value = ?")
        else:
            where.append("instr(lower(value), lower(?)) > 0")
        params.append(condition.value)
    # The at_least-th newest matching activity: the contact qualifies while it is in the window.
    sql = (
        "SELECT contact_id, created FROM (SELECT contact_id, created, row_number() OVER "
        "(PARTITION BY contact_id ORDER BY created DESC, id DESC) AS n FROM activities WHERE "
        + " AND ".join(where)
        + ") WHERE n = ?"
    )
    params.append(condition.at_least)
    result: dict[int, str | None] = {}
    async with connection.execute(sql, params) as cursor:
        async for contact_id, created in cursor:
            result[contact_id] = (
                None if window is None else format_time(parse_time(created) + window)
            )
    return result


async def _members(
    connection: aiosqlite.Connection, group: ContactGroup, contacts: _Contacts, now: datetime
) -> dict[int, str | None]:
    """Contacts in ``group`` at ``now``, each with the moment its membership ends (None: never)."""
    results = [
        await _qualifying(connection, condition, contacts, now) for condition in group.conditions
    ]
    if group.match == "all":
        common = set(results[0]).intersection(*results[1:])
        # Every condition must hold: the membership ends when the first of them stops holding.
        return {c: _earliest([r[c] for r in results]) for c in common}
    anyone = set().union(*results)
    # One condition is enough: the membership ends when the last of them stops holding.
    return {c: _latest([r[c] for r in results if c in r]) for c in anyone}


def _earliest(ends: list[str | None]) -> str | None:
    known = [end for end in ends if end is not None]
    return min(known) if known else None


def _latest(ends: list[str | None]) -> str | None:
    known = [end for end in ends if end is not None]
    return None if len(known) < len(ends) else max(known)


async def _store_members(
    connection: aiosqlite.Connection,
    group_id: int,
    contacts: _Contacts,
    members: dict[int, str | None],
    now: datetime,
) -> None:
    await connection.execute(
        f"DELETE FROM contact_group_members WHERE group_id = ? AND {contacts.sql} "
        "AND contact_id NOT IN (SELECT value FROM json_each(?))",
        (group_id, *contacts.params, json.dumps(list(members))),
    )
    stamp = format_time(now)
    # `since` survives re-evaluation; it restarts only after the contact had left the group.
    await connection.executemany(
        "INSERT INTO contact_group_members (group_id, contact_id, since, expires) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (group_id, contact_id) DO UPDATE SET "
        "since = CASE WHEN expires IS NOT NULL AND expires <= excluded.since "
        "THEN excluded.since ELSE since END, expires = excluded.expires",
        [(group_id, contact_id, stamp, ends) for contact_id, ends in members.items()],
    )


async def _evaluate(
    connection: aiosqlite.Connection,
    groups: Iterable[tuple[int, ContactGroup]],
    contacts: _Contacts,
    now: datetime,
) -> None:
    for group_id, group in groups:
        members = await _members(connection, group, contacts, now)
        await _store_members(connection, group_id, contacts, members, now)


async def reevaluate_contacts(
    connection: aiosqlite.Connection, contact_rows: Iterable[int], now: datetime
) -> None:
    """Re-evaluate every group for these contacts (by row number) in the caller's
    transaction, e.g. after some of their activities were deleted."""
    rows = set(contact_rows)
    if rows:
        groups = await _select_groups(connection)
        if groups:
            await _evaluate(connection, groups, _by_rows(rows), now)


async def recalculate_contact_group(
    store: ActivityStore, code_name: str, *, batch_size: int = RECALCULATION_BATCH
) -> int:
    """Rebuild a group's memberships for every contact, one short transaction per batch.

    Returns the number of members. Other writes (activities) go on between batches.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    after = 0
    while True:

        async def batch(connection: aiosqlite.Connection, after: int = after) -> tuple[int, int]:
            group_id, group = await _one_group(connection, code_name)
            async with connection.execute(
                "SELECT count(*), max(id) FROM "
                "(SELECT id FROM contacts WHERE id > ? ORDER BY id LIMIT ?)",
                (after, batch_size),
            ) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            count, last = int(row[0]), row[1]
            if count:
                contacts = _by_range(after + 1, last)
                await _evaluate(connection, [(group_id, group)], contacts, store.clock())
            return count, last

        count, last = await store.write(batch)
        if count < batch_size:
            break
        after = last
    return await count_members(store, code_name)


async def recalculate_contact_groups(
    store: ActivityStore, *, batch_size: int = RECALCULATION_BATCH
) -> dict[str, int]:
    """Rebuild every group (see :func:`recalculate_contact_group`); members per code name."""
    return {
        group.code_name: await recalculate_contact_group(
            store, group.code_name, batch_size=batch_size
        )
        for group in await contact_groups(store)
    }


# -- membership -----------------------------------------------------------------------------


async def count_members(store: ActivityStore, code_name: str) -> int:
    """How many contacts are in the group now."""
    async with (await store.read_connection()).execute(
        "SELECT count(*) FROM contact_group_members m JOIN contact_groups g ON g.id = m.group_id "
        "WHERE g.code_name = ? AND (m.expires IS NULL OR m.expires > ?)",
        (code_name, format_time(store.clock())),
    ) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def member_counts(store: ActivityStore) -> dict[str, int]:
    """How many contacts each group has now, by code name."""
    async with (await store.read_connection()).execute(
        "SELECT g.code_name, count(m.contact_id) FROM contact_groups g "
        "LEFT JOIN contact_group_members m ON m.group_id = g.id "
        "AND (m.expires IS NULL OR m.expires > ?) GROUP BY g.id",
        (format_time(store.clock()),),
    ) as cursor:
        return {row[0]: int(row[1]) async for row in cursor}


async def groups_of_contact(store: ActivityStore, contact: uuid.UUID | str) -> frozenset[str]:
    """Code names of the groups the contact is in now (a passed time window counts as out)."""
    async with (await store.read_connection()).execute(
        "SELECT g.code_name FROM contact_group_members m "
        "JOIN contact_groups g ON g.id = m.group_id "
        "JOIN contacts c ON c.id = m.contact_id "
        "WHERE c.guid = ? AND (m.expires IS NULL OR m.expires > ?)",
        (str(uuid.UUID(str(contact))), format_time(store.clock())),
    ) as cursor:
        return frozenset([row[0] async for row in cursor])


async def group_members(
    store: ActivityStore, code_name: str, *, after: int = 0, limit: int = 100
) -> list[tuple[int, uuid.UUID, str]]:
    """A page of the group's current members: (contact row, GUID, member since), by row."""
    async with (await store.read_connection()).execute(
        "SELECT c.id, c.guid, m.since FROM contact_group_members m "
        "JOIN contact_groups g ON g.id = m.group_id JOIN contacts c ON c.id = m.contact_id "
        "WHERE g.code_name = ? AND (m.expires IS NULL OR m.expires > ?) AND c.id > ? "
        "ORDER BY c.id LIMIT ?",
        (code_name, format_time(store.clock()), after, limit),
    ) as cursor:
        return [(row[0], uuid.UUID(row[1]), row[2]) async for row in cursor]


# -- wiring into the store ------------------------------------------------------------------

_installed: weakref.WeakKeyDictionary[ActivityStore, list[ContactGroup]] = (
    weakref.WeakKeyDictionary()
)


def install_contact_groups(store: ActivityStore, groups: Iterable[ContactGroup] = ()) -> None:
    """Keep memberships current in ``store`` and create ``groups`` when they do not exist.

    Groups are created when the store opens, never overwriting a marketer's later edit; the
    memberships of every contact that logs activities are re-evaluated in the same
    transaction, so they are current when ``await logger.log(...)`` returns.
    """
    chosen = list(groups)
    for group in chosen:
        if not isinstance(group, ContactGroup):
            raise TypeError(f"contact_groups must hold ContactGroup objects, not {group!r}")
    if store in _installed:
        _installed[store].extend(chosen)
        return
    _installed[store] = chosen

    async def create_groups(connection: aiosqlite.Connection) -> None:
        now = store.clock()
        for group in _installed.get(store, []):
            checked = await _canonical_types(connection, group)
            if await _insert_group(connection, checked, format_time(now)):
                group_id, _ = await _one_group(connection, checked.code_name)
                await _evaluate(connection, [(group_id, checked)], _Contacts("1 = 1", ()), now)

    async def evaluate_contacts(connection: aiosqlite.Connection, guids: frozenset[str]) -> None:
        groups = await _select_groups(connection)
        if groups:
            await _evaluate(connection, groups, _by_guids(guids), store.clock())

    store.on_open(create_groups)
    store.on_activities(evaluate_contacts)
