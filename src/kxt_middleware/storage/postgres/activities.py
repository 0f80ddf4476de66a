"""SQL for activity types, activities and contacts (coroutines run on one connection)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ...activity_types import ActivityType
from .connection import affected

if TYPE_CHECKING:
    from ..writing import Pending

_TYPE_COLUMNS = "code_name, display_name, description, enabled, built_in"
# Code names sort as SQLite's NOCASE sorts them, whatever the database's collation.
BY_CODE_NAME = 'lower(code_name) COLLATE "C"'


def lock_key(guid: str | uuid.UUID) -> int:
    """The advisory lock key of a contact: writers hold it shared, erasure exclusively, so an
    activity on its way never brings an erased contact back (whichever process logs it).
    kxt_log_activities computes the same key in SQL (schema.py, migration 3)."""
    value = guid if isinstance(guid, uuid.UUID) else uuid.UUID(guid)
    return int.from_bytes(value.bytes[:8], "big", signed=True)


# -- activity types ---------------------------------------------------------------------------


def _type(row: Sequence[Any]) -> ActivityType:
    return ActivityType(row[0], row[1], row[2], row[3], row[4])


async def select_types(connection: Any) -> list[ActivityType]:
    """Every activity type, built-in first, then by code name."""
    rows = await connection.fetch(
        f"SELECT {_TYPE_COLUMNS} FROM activity_types ORDER BY built_in DESC, {BY_CODE_NAME}"
    )
    return [_type(row) for row in rows]


async def select_type(connection: Any, code_name: str) -> ActivityType | None:
    """The type with this code name (ignoring case), or None."""
    row = await connection.fetchrow(
        f"SELECT {_TYPE_COLUMNS} FROM activity_types WHERE lower(code_name) = lower($1)",
        code_name,
    )
    return None if row is None else _type(row)


async def insert_types(connection: Any, types: Iterable[ActivityType], now: datetime) -> int:
    """Create the types that do not exist yet; return how many were new."""
    chosen = list(types)
    if not chosen:
        return 0
    # ON CONFLICT DO NOTHING: a type created at start never overwrites a marketer's later edit.
    status = await connection.execute(
        "INSERT INTO activity_types (code_name, display_name, description, enabled, built_in, "
        "created) SELECT c, d, e, en, b, $6 FROM unnest($1::text[], $2::text[], $3::text[], "
        "$4::boolean[], $5::boolean[]) WITH ORDINALITY AS t(c, d, e, en, b, n) ORDER BY n "
        "ON CONFLICT ((lower(code_name))) DO NOTHING",
        [t.code_name for t in chosen],
        [t.display_name for t in chosen],
        [t.description for t in chosen],
        [t.enabled for t in chosen],
        [t.built_in for t in chosen],
        now,
    )
    return affected(status)


async def update_type(connection: Any, updated: ActivityType) -> None:
    """Store a type's display name, description and enabled flag."""
    await connection.execute(
        "UPDATE activity_types SET display_name = $1, description = $2, enabled = $3 "
        "WHERE code_name = $4",
        updated.display_name,
        updated.description,
        updated.enabled,
        updated.code_name,
    )


# -- writing activities -----------------------------------------------------------------------


def begin_and_lock(locks: dict[int, bool]) -> str:
    """BEGIN, then the contacts' locks (key: exclusive?) held until the transaction ends, as
    one simple query (one round trip). The locks are taken in key order in one statement, so
    two writers never wait for each other; the keys are integers this module computed."""
    if not locks:
        return "BEGIN"
    values = ", ".join(f"({key}::bigint, {str(locks[key]).lower()})" for key in sorted(locks))
    return (
        "BEGIN; SELECT count(CASE WHEN x THEN pg_advisory_xact_lock(k) "
        f"ELSE pg_advisory_xact_lock_shared(k) END) FROM (VALUES {values}) AS l(k, x)"
    )


@dataclass
class Checked:
    """What one statement tells the writer about a batch's contacts (after their locks)."""

    version: int  # of the catalog (activity types, groups)
    erased: set[str]
    agreed: set[tuple[str, str]]  # (GUID, lower-case consent) of every agreement asked about
    known: dict[str, int]  # row of every contact that exists


async def check(connection: Any, guids: set[str], asking: set[str]) -> Checked:
    """The catalog version, and which of the contacts are erased, agreed or known."""
    row = await connection.fetchrow(
        "SELECT (SELECT version FROM catalog_version), "
        "ARRAY(SELECT guid::text FROM erased_contacts WHERE guid = ANY($1::uuid[])), "
        "ARRAY(SELECT c.guid::text || ' ' || a.consent FROM consent_agreements a "
        "JOIN contacts c ON c.id = a.contact_id WHERE a.agreed AND c.guid = ANY($2::uuid[])), "
        "ARRAY(SELECT guid::text FROM contacts WHERE guid = ANY($1::uuid[]) ORDER BY guid), "
        "ARRAY(SELECT id FROM contacts WHERE guid = ANY($1::uuid[]) ORDER BY guid)",
        list(guids),
        list(asking),
    )
    agreed = {(guid, consent) for guid, _, consent in (a.partition(" ") for a in row[2])}
    return Checked(int(row[0]), set(row[1]), agreed, dict(zip(row[3], row[4], strict=True)))


async def insert_rows(
    connection: Any, callers: Sequence[Pending], known: dict[str, int]
) -> tuple[int, set[int]]:
    """Insert the callers' new contacts and their activities in one statement; return how
    many activities were new and their contacts' rows.

    ``known`` holds the rows of the contacts that existed when the batch's locks were taken
    (they cannot be erased meanwhile). A new contact that another process creates at the same
    moment is taken as it is (ON CONFLICT DO UPDATE returns its row). A retried request
    carries the same activity id: it is stored once (in any process) and reported logged.
    """
    new: dict[str, datetime] = {}
    columns: list[list[Any]] = [[] for _ in range(10)]
    for caller in callers:
        if caller.job.contact not in known:
            new.setdefault(caller.job.contact, caller.job.created)
        for row in caller.rows:
            for column, value in zip(columns, row, strict=True):
                column.append(value)
    guids = sorted(new)  # in GUID order: two writers never wait for each other
    rows = await connection.fetch(
        "WITH new AS (INSERT INTO contacts (guid, created) SELECT * FROM unnest($11::uuid[], "
        "$12::timestamptz[]) ON CONFLICT (guid) DO UPDATE SET guid = excluded.guid "
        "RETURNING id, guid), "
        "ids AS (SELECT id, guid FROM new UNION ALL SELECT * FROM unnest($13::bigint[], "
        "$14::uuid[])) "
        "INSERT INTO activities (uid, contact_id, type, title, value, url, referrer, created, "
        "source, site) SELECT r.uid, c.id, r.type, r.title, r.value, r.url, r.referrer, "
        "r.created, r.source, r.site FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], "
        "$5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::text[], $10::text[]) "
        "WITH ORDINALITY AS r(uid, guid, type, title, value, url, referrer, created, source, "
        "site, n) JOIN ids c ON c.guid = r.guid ORDER BY r.n "
        "ON CONFLICT (uid) DO NOTHING RETURNING contact_id",
        *columns,
        guids,
        [new[guid] for guid in guids],
        list(known.values()),
        list(known),
    )
    return len(rows), {row[0] for row in rows}


@dataclass
class Logged:
    """What ``kxt_log_activities`` did with a batch: nothing if the catalog version moved."""

    version: int
    erased: set[int]  # callers (indexes into the list given) whose contact is erased
    unconsented: set[int]  # callers whose contact has not agreed to the consent asked
    stored: int
    contacts: list[int]  # rows of the contacts of the activities stored


async def log_batch(
    connection: Any,
    version: int,
    callers: Sequence[Pending],
    now: datetime,
    evaluation: tuple[str, list[str]] | None,
) -> Logged:
    """Check and store the callers' rows (type-checked by catalog ``version``) and run the
    groups' ``evaluation`` (see groups.evaluation) for their contacts at ``now``, in one
    statement, which outside a transaction is its own, committed as it returns.

    The text goes as JSON arrays, one per column (made in C, where a typed array costs the
    driver a check in Python per element); a row's time is its caller's ``created``."""
    guids = [caller.job.contact for caller in callers]
    consents = [c.job.consent.lower() if c.job.consent else None for c in callers]
    rows: list[tuple[Any, ...]] = []
    owners: list[int] = []
    for number, caller in enumerate(callers, 1):
        rows += caller.rows
        owners += [number] * len(caller.rows)
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [()] * 10
    del columns[7], columns[1]  # the time and the contact's GUID, given once per caller
    row = await connection.fetchrow(
        "SELECT * FROM kxt_log_activities($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
        "$13, $14, $15, $16)",
        version,
        _json(guids),
        _json(consents),
        [caller.job.created for caller in callers],
        _json(owners),
        *map(_json, columns),
        now,
        *(evaluation or (None, None)),
    )
    if row[1] is None:  # the version moved: nothing was checked or stored
        return Logged(row[0], set(), set(), 0, [])
    return Logged(row[0], {n - 1 for n in row[1]}, {n - 1 for n in row[2]}, row[3], row[4])


# Compact, and any text as it is (PostgreSQL reads the escapes of JSON's strings).
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


async def catalog_version(connection: Any) -> int:
    """The version of the activity types and groups (bumped by every change, in any process)."""
    return int(await connection.fetchval("SELECT version FROM catalog_version"))


async def delete_contact(connection: Any, guid: str, now: datetime) -> bool:
    """Remember the GUID as erased and delete the contact with everything about it."""
    await connection.execute("SELECT pg_advisory_xact_lock($1)", lock_key(guid))
    await connection.execute(
        "INSERT INTO erased_contacts (guid, erased) VALUES ($1, $2) ON CONFLICT (guid) DO NOTHING",
        guid,
        now,
    )
    return affected(await connection.execute("DELETE FROM contacts WHERE guid = $1", guid)) > 0


async def purge_batch(connection: Any, cutoff: datetime, limit: int) -> tuple[int, set[int]]:
    """Delete up to ``limit`` activities older than ``cutoff``; (count, their contacts' rows)."""
    rows = await connection.fetch(
        "WITH gone AS (DELETE FROM activities WHERE id IN (SELECT id FROM activities "
        "WHERE created < $1 LIMIT $2) RETURNING contact_id) "
        "SELECT contact_id, count(*) FROM gone GROUP BY contact_id",
        cutoff,
        limit,
    )
    return sum(row[1] for row in rows), {row[0] for row in rows}
