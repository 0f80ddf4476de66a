"""Contact-group rules every backend applies alike: a stored definition read back, and which
contacts are members (and until when) given what each condition found."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from ..groups import ActivityCondition, ContactGroup

# When a membership ends: a stored time (text for SQLite, a datetime for PostgreSQL); None: never.
End = TypeVar("End", str, datetime)


def group_from_row(row: Sequence[Any]) -> ContactGroup:
    """A group from (row, code_name, display_name, description, match, conditions JSON)."""
    conditions = [ActivityCondition.from_json(item) for item in json.loads(row[5])]
    return ContactGroup(row[1], row[2], row[3], conditions, row[4])


def conditions_json(group: ContactGroup) -> str:
    """The group's conditions as stored."""
    return json.dumps([condition.to_json() for condition in group.conditions])


def members(group: ContactGroup, found: list[dict[int, End | None]]) -> dict[int, End | None]:
    """Contacts in ``group``, each with the moment its membership ends (None: never), from
    what each of its conditions found (contact row: when the condition stops holding)."""
    if group.match == "all":
        common = set(found[0]).intersection(*found[1:])
        # Every condition must hold: the membership ends when the first of them stops holding.
        return {c: _earliest([f[c] for f in found]) for c in common}
    anyone = set().union(*found)
    # One condition is enough: the membership ends when the last of them stops holding.
    return {c: _latest([f[c] for f in found if c in f]) for c in anyone}


def _earliest(ends: list[End | None]) -> End | None:
    known = [end for end in ends if end is not None]
    return min(known) if known else None


def _latest(ends: list[End | None]) -> End | None:
    known = [end for end in ends if end is not None]
    return None if len(known) < len(ends) else max(known)
