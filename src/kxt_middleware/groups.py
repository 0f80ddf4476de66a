"""Contact groups: contacts who performed activities (type, count, time window, value)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .activities import VALUE_MAX
from .activity_types import (
    DESCRIPTION_MAX,
    DISPLAY_NAME_MAX,
    check_text,
    validate_code_name,
)
from .errors import KxtError

if TYPE_CHECKING:
    from .storage import GroupMember, Store

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


# -- groups in a store ---------------------------------------------------------------------


async def contact_groups(store: Store) -> list[ContactGroup]:
    """Every contact group, by code name."""
    return await store.contact_groups()


async def contact_group(store: Store, code_name: str) -> ContactGroup | None:
    """The contact group with this code name (ignoring case), or None."""
    return await store.contact_group(code_name)


async def add_contact_group(store: Store, group: ContactGroup) -> ContactGroup:
    """Create a contact group and compute its members; ValueError if the code name is taken."""
    added = await store.add_contact_group(group)
    await recalculate_contact_group(store, added.code_name)
    return added


async def update_contact_group(store: Store, group: ContactGroup) -> ContactGroup:
    """Replace the group with ``group.code_name`` by ``group`` and recompute its members."""
    updated = await store.update_contact_group(group)
    await recalculate_contact_group(store, updated.code_name)
    return updated


async def delete_contact_group(store: Store, code_name: str) -> None:
    """Delete a contact group and its memberships (never contacts or activities)."""
    await store.delete_contact_group(code_name)


async def recalculate_contact_group(
    store: Store,
    code_name: str,
    *,
    batch_size: int = RECALCULATION_BATCH,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Rebuild a group's memberships for every contact, one short transaction per batch.

    Returns the number of members. Other writes (activities) go on between batches.
    ``progress(n)`` is called with the contacts of each batch; cancelled (Ctrl+C), the batch
    in flight ends whole and is reported first (see retention.whole_batch).
    """
    from .retention import whole_batch

    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = None if progress is None else (lambda batch: progress(batch[0]))
    after = 0
    while True:
        batch = store.recalculate_contact_group_batch(code_name, after, batch_size)
        count, after = await whole_batch(batch, report)
        if count < batch_size:
            break
    return await store.count_members(code_name)


async def recalculate_contact_groups(
    store: Store,
    *,
    batch_size: int = RECALCULATION_BATCH,
    progress: Callable[[int], object] | None = None,
) -> dict[str, int]:
    """Rebuild every group (see :func:`recalculate_contact_group`); members per code name."""
    return {
        group.code_name: await recalculate_contact_group(
            store, group.code_name, batch_size=batch_size, progress=progress
        )
        for group in await store.contact_groups()
    }


async def count_members(store: Store, code_name: str) -> int:
    """How many contacts are in the group now."""
    return await store.count_members(code_name)


async def member_counts(store: Store) -> dict[str, int]:
    """How many contacts each group has now, by code name."""
    return await store.member_counts()


async def groups_of_contact(store: Store, contact: uuid.UUID | str) -> frozenset[str]:
    """Code names of the groups the contact is in now (a passed time window counts as out)."""
    return await store.groups_of_contact(uuid.UUID(str(contact)))


async def group_members(
    store: Store, code_name: str, *, after: int = 0, limit: int = 100
) -> list[GroupMember]:
    """A page of the group's current members, by contact row."""
    return await store.group_members(code_name, after=after, limit=limit)


def install_contact_groups(store: Store, groups: Iterable[ContactGroup] = ()) -> None:
    """Create ``groups`` in ``store`` when it opens, if they do not exist (with their members).

    A marketer's later edit is never overwritten. Every store keeps the memberships of a
    contact that logs activities current in the same transaction, so they are current when
    ``await logger.log(...)`` returns.
    """
    store.include_contact_groups(groups)
