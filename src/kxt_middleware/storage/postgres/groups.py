"""SQL for contact groups: definitions, and memberships evaluated in the caller's transaction.

Evaluating any number of groups for any number of contacts is one statement: what every
condition of every group finds, who is a member until when, the memberships that ended
deleted and the current ones stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ...activities import format_time
from ...groups import ActivityCondition, ContactGroup, UnknownContactGroupError
from ..memberships import conditions_json, group_from_row
from ..records import GroupMember
from .activities import BY_CODE_NAME

_GROUP_COLUMNS = "id, code_name, display_name, description, match, conditions"


async def select_groups(
    connection: Any, code_name: str | None = None
) -> list[tuple[int, ContactGroup]]:
    """(row, group) of every group, or of the one with ``code_name``, by code name."""
    sql = f"SELECT {_GROUP_COLUMNS} FROM contact_groups"
    params: tuple[str, ...] = ()
    if code_name is not None:
        sql += " WHERE lower(code_name) = lower($1)"
        params = (code_name,)
    rows = await connection.fetch(sql + f" ORDER BY {BY_CODE_NAME}", *params)
    return [(row[0], group_from_row(row)) for row in rows]


async def readable_groups(connection: Any) -> tuple[list[tuple[int, ContactGroup]], list[str]]:
    """Every group whose stored definition follows today's rules, and why the others do not
    (written by another version, say): one bad definition must not stop the others."""
    groups: list[tuple[int, ContactGroup]] = []
    problems: list[str] = []
    for row in await connection.fetch(f"SELECT {_GROUP_COLUMNS} FROM contact_groups ORDER BY id"):
        try:
            groups.append((row[0], group_from_row(row)))
        except (ValueError, TypeError, KeyError) as exc:
            problems.append(f"contact group {row[1]!r} cannot be read: {exc}")
    return groups, problems


async def one_group(connection: Any, code_name: str) -> tuple[int, ContactGroup]:
    """(row, group) with this code name; UnknownContactGroupError if there is none."""
    found = await select_groups(connection, code_name)
    if not found:
        raise UnknownContactGroupError(
            f"there is no contact group {code_name!r}; list them with `kxt groups list`"
        )
    return found[0]


async def canonical_types(connection: Any, group: ContactGroup) -> ContactGroup:
    """The group with each condition's type spelled as the type is; ValueError if one is
    missing (activities store the type's own spelling of its code name)."""
    wanted = [condition.activity_type for condition in group.conditions]
    rows = await connection.fetch(
        "SELECT w, t.code_name FROM unnest($1::text[]) AS w "
        "LEFT JOIN activity_types t ON lower(t.code_name) = lower(w)",
        wanted,
    )
    spelled = {row[0]: row[1] for row in rows}
    conditions = []
    for condition in group.conditions:
        found = spelled.get(condition.activity_type)
        if found is None:
            raise ValueError(
                f"contact group {group.code_name!r} refers to activity type "
                f"{condition.activity_type!r}, which does not exist; create the activity type "
                "first (admin, `kxt types add` or activity_types=)"
            )
        conditions.append(
            ActivityCondition(
                found,
                condition.at_least,
                condition.in_last_days,
                condition.value,
                condition.value_match,
            )
        )
    return ContactGroup(
        group.code_name, group.display_name, group.description, conditions, group.match
    )


async def insert_group(connection: Any, group: ContactGroup, now: datetime) -> int | None:
    """Create the group; its row, or None when its code name is taken."""
    row: int | None = await connection.fetchval(
        "INSERT INTO contact_groups (code_name, display_name, description, match, conditions, "
        "created, updated) VALUES ($1, $2, $3, $4, $5, $6, $6) "
        "ON CONFLICT ((lower(code_name))) DO NOTHING RETURNING id",
        group.code_name,
        group.display_name,
        group.description,
        group.match,
        conditions_json(group),
        now,
    )
    return row


async def update_group(connection: Any, group: ContactGroup, now: datetime) -> None:
    """Replace the stored definition of ``group.code_name``."""
    await connection.execute(
        "UPDATE contact_groups SET display_name = $1, description = $2, match = $3, "
        "conditions = $4, updated = $5 WHERE lower(code_name) = lower($6)",
        group.display_name,
        group.description,
        group.match,
        conditions_json(group),
        now,
        group.code_name,
    )


async def delete_group(connection: Any, code_name: str) -> None:
    """Delete a group and its memberships; UnknownContactGroupError if none."""
    await one_group(connection, code_name)
    await connection.execute(
        "DELETE FROM contact_groups WHERE lower(code_name) = lower($1)", code_name
    )


# -- evaluation -------------------------------------------------------------------------------


class _Texts:
    """The parameters of an evaluation, as one text array ($3): ``add(value)`` gives the SQL
    of ``$3[n]`` cast back to the value's type."""

    def __init__(self) -> None:
        self.values: list[str] = []

    def add(self, value: str | int) -> str:
        self.values.append(str(value))
        return f"($3::text[])[{len(self.values)}]::{'bigint' if isinstance(value, int) else 'text'}"


def _condition_sql(
    row: int, condition: ActivityCondition, contacts: str, params: _Texts
) -> str:  # fmt: skip
    """The contacts meeting ``condition`` at $2 (its group's row, the contact, and when the
    condition stops holding, NULL: never), from the at_least-th newest matching activity."""
    where = [f"type = {params.add(condition.activity_type)}", contacts]
    ends = "NULL::timestamptz"
    if condition.in_last_days is not None:
        # Exactly so many times 24 hours, as the SQLite backend counts them.
        window = f"make_interval(secs => {params.add(condition.in_last_days * 86_400)})"
        where.append(f"created > $2::timestamptz - {window}")
        ends = f"created + {window}"
    if condition.value is not None:
        value = params.add(condition.value)
        if condition.value_match == "equals":
            where.append(f"value = {value}")
        else:
            where.append(f"strpos(lower(value), lower({value})) > 0")
    return (
        f"SELECT {row} AS g, contact_id AS c, {ends} AS e FROM (SELECT contact_id, created, "
        "row_number() OVER (PARTITION BY contact_id ORDER BY created DESC, id DESC) AS n "
        f"FROM activities WHERE {' AND '.join(where)}) AS q "
        f"WHERE n = {params.add(condition.at_least)}"
    )


def evaluation(
    groups: Iterable[tuple[int, ContactGroup]], *, every_contact: bool = False
) -> tuple[str, list[str]] | None:
    """ONE statement that stores the current memberships in ``groups`` of the contacts with
    the rows $1 (bigint[]; of every contact when ``every_contact``, $1 then NULL) at $2
    (timestamptz), with its parameters in $3 (text[]); None when no group has conditions.

    In an "all" group a contact must meet every condition, and its membership ends when the
    first of them stops holding; in an "any" group one condition is enough, and it ends when
    the last one stops holding (as ``memberships.members`` decides for SQLite). Memberships
    that ended are deleted and the current ones stored; ``since`` survives re-evaluation and
    restarts only after the contact had left the group.
    """
    chosen = [(row, group) for row, group in groups if group.conditions]
    if not chosen:
        return None
    params = _Texts()
    contacts = "$1::bigint[] IS NULL" if every_contact else "contact_id = ANY($1::bigint[])"
    found = " UNION ALL ".join(
        _condition_sql(row, condition, contacts, params)
        for row, group in chosen
        for condition in group.conditions
    )
    every = ", ".join(str(row) for row, group in chosen if group.match == "all")
    met = " OR ".join(
        f"(g = {row} AND count(*) = {len(group.conditions)})" if group.match == "all" else
        f"g = {row}"
        for row, group in chosen
    )  # fmt: skip
    rows = ", ".join(str(row) for row, _ in chosen)
    in_contacts = contacts.replace("contact_id", "m.contact_id")
    sql = (
        f"WITH found AS ({found}), "
        f"keep AS (SELECT g, c, CASE WHEN g = ANY('{{{every}}}'::integer[]) THEN min(e) "
        "WHEN count(e) < count(*) THEN NULL ELSE max(e) END AS e "
        f"FROM found GROUP BY g, c HAVING {met}), "
        f"gone AS (DELETE FROM contact_group_members m WHERE m.group_id IN ({rows}) "
        f"AND {in_contacts} AND NOT EXISTS "
        "(SELECT 1 FROM keep k WHERE k.g = m.group_id AND k.c = m.contact_id)) "
        "INSERT INTO contact_group_members AS m (group_id, contact_id, since, expires) "
        "SELECT g, c, $2::timestamptz, e FROM keep "
        "ON CONFLICT (group_id, contact_id) DO UPDATE SET "
        "since = CASE WHEN m.expires IS NOT NULL AND m.expires <= excluded.since "
        "THEN excluded.since ELSE m.since END, expires = excluded.expires"
    )
    return sql, params.values


async def evaluate(
    connection: Any,
    groups: Iterable[tuple[int, ContactGroup]],
    contacts: list[int] | None,
    now: datetime,
) -> None:
    """Store the current memberships of ``contacts`` (None: every contact) in ``groups``."""
    built = evaluation(groups, every_contact=contacts is None)
    if built is not None and contacts != []:
        await connection.execute(built[0], contacts, now, built[1])


async def evaluate_rows(connection: Any, rows: set[int], now: datetime) -> None:
    """Re-evaluate every group for the contacts with these row numbers."""
    if rows:
        groups = await select_groups(connection)
        if groups:
            await evaluate(connection, groups, sorted(rows), now)


async def recalculate_batch(
    connection: Any, code_name: str, after: int, limit: int, now: datetime
) -> tuple[int, int]:
    """Recompute the group for the next ``limit`` contacts after row ``after``."""
    group = await one_group(connection, code_name)
    rows = [
        row[0]
        for row in await connection.fetch(
            "SELECT id FROM contacts WHERE id > $1 ORDER BY id LIMIT $2", after, limit
        )
    ]
    if rows:
        await evaluate(connection, [group], rows, now)
    return len(rows), rows[-1] if rows else after


# -- membership -------------------------------------------------------------------------------

_CURRENT = "(m.expires IS NULL OR m.expires > $2)"


async def count_members(connection: Any, code_name: str, now: datetime) -> int:
    """How many contacts are in the group at ``now``."""
    return int(
        await connection.fetchval(
            "SELECT count(*) FROM contact_group_members m JOIN contact_groups g "
            f"ON g.id = m.group_id WHERE lower(g.code_name) = lower($1) AND {_CURRENT}",
            code_name,
            now,
        )
    )


async def member_counts(connection: Any, now: datetime) -> dict[str, int]:
    """How many contacts each group has at ``now``."""
    rows = await connection.fetch(
        "SELECT g.code_name, count(m.contact_id) FROM contact_groups g "
        "LEFT JOIN contact_group_members m ON m.group_id = g.id "
        "AND (m.expires IS NULL OR m.expires > $1) GROUP BY g.id",
        now,
    )
    return {code: int(count) for code, count in rows}


async def groups_of_contact(connection: Any, guid: str, now: datetime) -> frozenset[str]:
    """Code names of the groups the contact is in at ``now``."""
    rows = await connection.fetch(
        "SELECT g.code_name FROM contact_group_members m "
        "JOIN contact_groups g ON g.id = m.group_id JOIN contacts c ON c.id = m.contact_id "
        f"WHERE c.guid = $1 AND {_CURRENT}",
        guid,
        now,
    )
    return frozenset(row[0] for row in rows)


async def group_members(
    connection: Any, code_name: str, now: datetime, after: int, limit: int
) -> list[GroupMember]:
    """A page of the group's members at ``now``, by contact row."""
    rows = await connection.fetch(
        "SELECT c.id, c.guid, m.since FROM contact_group_members m "
        "JOIN contact_groups g ON g.id = m.group_id JOIN contacts c ON c.id = m.contact_id "
        f"WHERE lower(g.code_name) = lower($1) AND {_CURRENT} AND c.id > $3 "
        "ORDER BY c.id LIMIT $4",
        code_name,
        now,
        after,
        limit,
    )
    return [GroupMember(row[0], row[1], format_time(row[2])) for row in rows]
