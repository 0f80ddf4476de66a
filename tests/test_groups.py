from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from kxt_middleware import ActivityStore, ActivityType
from kxt_middleware.groups import (
    ActivityCondition,
    ContactGroup,
    UnknownContactGroupError,
    add_contact_group,
    contact_group,
    contact_groups,
    count_members,
    delete_contact_group,
    group_members,
    groups_of_contact,
    install_contact_groups,
    member_counts,
    recalculate_contact_group,
    recalculate_contact_groups,
    update_contact_group,
)
from kxt_middleware.retention import purge_activities

from .helpers import LOAN, Clock, log

pytestmark = pytest.mark.anyio
CTA = ActivityType("Custom_CTA", "CTA click")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(database: Path, clock: Clock) -> AsyncIterator[ActivityStore]:
    store = ActivityStore(database, activity_types=[LOAN, CTA], clock=clock)
    install_contact_groups(store)
    async with store:
        yield store


def group(*conditions: ActivityCondition, match: str = "all") -> ContactGroup:
    return ContactGroup("loan_prospects", "Loan prospects", "", conditions, match)  # type: ignore[arg-type]


async def test_count_in_window_joins_at_logging_and_leaves_when_window_passes(
    store: ActivityStore, clock: Clock
) -> None:
    await add_contact_group(store, group(ActivityCondition(LOAN.code_name, 2, in_last_days=7)))
    jane = uuid.uuid4()
    await log(store, jane, LOAN.code_name)
    assert await groups_of_contact(store, jane) == frozenset()
    clock.advance(days=3)
    await log(store, jane, LOAN.code_name)
    # Re-evaluated in the same commit as the activity: a member before the next request.
    assert await groups_of_contact(store, jane) == {"loan_prospects"}
    clock.advance(days=3, hours=23)  # the first activity is 6d23h old: still in the window
    assert await groups_of_contact(store, jane) == {"loan_prospects"}
    clock.advance(hours=1)  # now it is exactly 7 days old: out, at check time, no recalculation
    assert await groups_of_contact(store, jane) == frozenset()
    assert await count_members(store, "loan_prospects") == 0
    # Recalculation removes the row; a new activity brings her back (2 in the window again).
    assert await recalculate_contact_group(store, "loan_prospects") == 0
    await log(store, jane, LOAN.code_name)
    assert await groups_of_contact(store, jane) == {"loan_prospects"}


async def test_counts_values_and_types_must_all_match(store: ActivityStore) -> None:
    await add_contact_group(
        store,
        group(
            ActivityCondition("custom_loan_calculator", 3, value="50000"),
            ActivityCondition("custom_cta", value="LOAN", value_match="contains"),
        ),
    )
    contact = uuid.uuid4()
    for value in ("50000", "50000", "10000"):
        await log(store, contact, LOAN.code_name, value)
    await log(store, contact, "Custom_CTA", "apply for a loan now")
    assert await groups_of_contact(store, contact) == frozenset()  # only two with 50000
    await log(store, contact, LOAN.code_name, "50000")
    assert await groups_of_contact(store, contact) == {"loan_prospects"}
    # "equals" is exact; "contains" ignores case
    other = uuid.uuid4()
    for value in ("50000 ", "50000", "50000", "50000"):
        await log(store, other, LOAN.code_name, value)
    await log(store, other, "Custom_CTA", "no thanks")
    assert await groups_of_contact(store, other) == frozenset()
    await log(store, other, "Custom_CTA", "Loan")
    assert await groups_of_contact(store, other) == {"loan_prospects"}


async def test_any_keeps_the_member_while_one_condition_holds(
    store: ActivityStore, clock: Clock
) -> None:
    await add_contact_group(
        store,
        group(
            ActivityCondition(LOAN.code_name, in_last_days=1),
            ActivityCondition(CTA.code_name, in_last_days=10),
            match="any",
        ),
    )
    contact = uuid.uuid4()
    await log(store, contact, LOAN.code_name)
    await log(store, contact, CTA.code_name)
    clock.advance(days=2)  # the loan condition has lapsed, the CTA one holds
    assert await groups_of_contact(store, contact) == {"loan_prospects"}
    clock.advance(days=8)
    assert await groups_of_contact(store, contact) == frozenset()


async def test_all_ends_with_the_first_condition_to_lapse(
    store: ActivityStore, clock: Clock
) -> None:
    await add_contact_group(
        store,
        group(ActivityCondition(LOAN.code_name, in_last_days=1), ActivityCondition(CTA.code_name)),
    )
    contact = uuid.uuid4()
    await log(store, contact, CTA.code_name)
    assert await groups_of_contact(store, contact) == frozenset()
    await log(store, contact, LOAN.code_name)
    assert await groups_of_contact(store, contact) == {"loan_prospects"}
    clock.advance(days=1, seconds=1)
    assert await groups_of_contact(store, contact) == frozenset()


async def test_any_without_window_never_expires(store: ActivityStore, clock: Clock) -> None:
    await add_contact_group(
        store,
        group(
            ActivityCondition(LOAN.code_name, in_last_days=1),
            ActivityCondition(CTA.code_name),
            match="any",
        ),
    )
    contact = uuid.uuid4()
    await log(store, contact, LOAN.code_name)
    await log(store, contact, CTA.code_name)
    clock.advance(days=10_000)
    assert await groups_of_contact(store, contact) == {"loan_prospects"}


async def test_new_group_counts_past_activities_and_recalculation_runs_in_batches(
    store: ActivityStore,
) -> None:
    contacts = [uuid.uuid4() for _ in range(7)]
    for contact in contacts[:5]:
        await log(store, contact, LOAN.code_name)
    for contact in contacts[5:]:
        await log(store, contact, CTA.code_name)
    commits = store.stats.commits
    await add_contact_group(store, group(ActivityCondition("CUSTOM_LOAN_CALCULATOR")))
    assert await count_members(store, "loan_prospects") == 5
    assert await recalculate_contact_group(store, "LOAN_PROSPECTS", batch_size=2) == 5
    # add: 1 + 1 batch of all 7; recalculate: batches of 2, 2, 2 and 1
    assert store.stats.commits - commits == 2 + 4
    members = await group_members(store, "loan_prospects", limit=3)
    assert [member.guid for member in members] == contacts[:3]
    rest = await group_members(store, "loan_prospects", after=members[-1].row)
    assert [member.guid for member in rest] == contacts[3:5]
    # the condition was stored with the type's own spelling
    saved = await contact_group(store, "loan_prospects")
    assert saved is not None and saved.conditions[0].activity_type == "custom_loan_calculator"
    assert await recalculate_contact_groups(store) == {"loan_prospects": 5}


async def test_editing_a_group_recalculates_and_since_is_kept(
    store: ActivityStore, clock: Clock
) -> None:
    await add_contact_group(store, group(ActivityCondition(LOAN.code_name)))
    contact = uuid.uuid4()
    await log(store, contact, LOAN.code_name)
    await log(store, contact, CTA.code_name)
    clock.advance(days=1)
    await update_contact_group(
        store, group(ActivityCondition(LOAN.code_name), ActivityCondition(CTA.code_name))
    )
    [member] = await group_members(store, "loan_prospects")
    assert member.guid == contact and member.since.startswith("2025-01-01")
    await update_contact_group(store, group(ActivityCondition(LOAN.code_name, 2)))
    assert await count_members(store, "loan_prospects") == 0
    assert await member_counts(store) == {"loan_prospects": 0}


async def test_group_management_errors(store: ActivityStore) -> None:
    await add_contact_group(store, group(ActivityCondition(LOAN.code_name)))
    with pytest.raises(ValueError, match="already exists"):
        await add_contact_group(store, group(ActivityCondition(LOAN.code_name)))
    with pytest.raises(ValueError, match="'nope', which does not exist; create the activity"):
        await add_contact_group(
            store, ContactGroup("other", "Other", conditions=[ActivityCondition("nope")])
        )
    missing = ContactGroup("missing", "Missing", conditions=[ActivityCondition(LOAN.code_name)])
    with pytest.raises(UnknownContactGroupError, match="kxt groups list"):
        await update_contact_group(store, missing)
    with pytest.raises(UnknownContactGroupError):
        await recalculate_contact_group(store, "missing")
    with pytest.raises(UnknownContactGroupError):
        await delete_contact_group(store, "missing")
    with pytest.raises(ValueError, match="batch_size"):
        await recalculate_contact_group(store, "loan_prospects", batch_size=0)
    await delete_contact_group(store, "LOAN_prospects")
    assert await contact_groups(store) == []


def test_bad_definitions_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="no condition; add at least one"):
        ContactGroup("g", "G")
    with pytest.raises(ValueError, match="not a valid code name"):
        ContactGroup("bad code", "G", conditions=[ActivityCondition("x")])
    with pytest.raises(ValueError, match="match must be 'all' or 'any'"):
        ContactGroup("g", "G", conditions=[ActivityCondition("x")], match="some")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ActivityCondition objects"):
        ContactGroup("g", "G", conditions=["x"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="at most 20"):
        ContactGroup("g", "G", conditions=[ActivityCondition("x")] * 21)
    with pytest.raises(ValueError, match="at_least must be between 1"):
        ActivityCondition("x", 0)
    with pytest.raises(TypeError, match="at_least must be an int"):
        ActivityCondition("x", True)
    with pytest.raises(ValueError, match="in_last_days must be between 1 and 36500"):
        ActivityCondition("x", in_last_days=0)
    with pytest.raises(ValueError, match="value is 251"):
        ActivityCondition("x", value="v" * 251)
    with pytest.raises(ValueError, match="value_match"):
        ActivityCondition("x", value_match="like")  # type: ignore[arg-type]
    loan = ContactGroup(
        "g",
        "G",
        conditions=[
            ActivityCondition("a", 3, in_last_days=7, value="x", value_match="contains"),
            ActivityCondition("b", in_last_days=1, value="y"),
        ],
        match="any",
    )
    assert loan.describe() == (
        "a at least 3 times in the last 7 days with value containing 'x' or "
        "b at least 1 time in the last day with value equal to 'y'"
    )
    assert isinstance(loan.conditions, tuple)


async def test_installed_groups_are_created_once_and_never_overwrite_edits(
    database: Path, clock: Clock
) -> None:
    configured = ContactGroup(
        "loan_prospects", "Loan prospects", conditions=[ActivityCondition(LOAN.code_name)]
    )
    contact = uuid.uuid4()
    async with ActivityStore(database, activity_types=[LOAN, CTA], clock=clock) as plain:
        await log(plain, contact, LOAN.code_name)  # logged before any group existed
    store = ActivityStore(database, activity_types=[LOAN, CTA], clock=clock)
    install_contact_groups(store, [configured])
    install_contact_groups(store)  # nothing more to install
    async with store:
        assert await groups_of_contact(store, contact) == {"loan_prospects"}
        edited = ContactGroup(
            "loan_prospects", "Edited", conditions=[ActivityCondition("custom_cta")]
        )
        edited = await update_contact_group(store, edited)
    store = ActivityStore(database, activity_types=[LOAN, CTA], clock=clock)
    install_contact_groups(store, [configured])
    async with store:
        assert await contact_groups(store) == [edited]
        assert edited.conditions[0].activity_type == "Custom_CTA"
        assert edited.conditions[0].activity_type == "Custom_CTA"
        assert await groups_of_contact(store, contact) == frozenset()
        await log(store, contact, "custom_cta")
        assert await groups_of_contact(store, contact) == {"loan_prospects"}
    with pytest.raises(TypeError, match="ContactGroup objects"):
        install_contact_groups(store, ["loan_prospects"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="ActivityType objects, not 'custom_cta': write Activ"):
        store.include_activity_types(["custom_cta"])  # type: ignore[list-item]


async def test_a_group_on_an_unknown_type_stops_the_store_from_opening(database: Path) -> None:
    store = ActivityStore(database)
    install_contact_groups(
        store, [ContactGroup("g", "G", conditions=[ActivityCondition("custom_nope")])]
    )
    with pytest.raises(ValueError, match="custom_nope.*activity_types="):
        await store.open()
    assert not store.is_open


async def test_deleting_a_contact_deletes_its_memberships(store: ActivityStore) -> None:
    await add_contact_group(store, group(ActivityCondition(LOAN.code_name)))
    contact = uuid.uuid4()
    await log(store, contact, LOAN.code_name)
    assert await count_members(store, "loan_prospects") == 1
    assert await store.delete_contact(contact)
    assert await count_members(store, "loan_prospects") == 0
    assert await group_members(store, "loan_prospects") == []
    assert await recalculate_contact_group(store, "loan_prospects") == 0
    await delete_contact_group(store, "loan_prospects")


async def test_purging_activities_re_evaluates_the_groups_of_their_contacts(
    store: ActivityStore, clock: Clock
) -> None:
    await add_contact_group(store, group(ActivityCondition(LOAN.code_name)))
    await add_contact_group(
        store,
        ContactGroup("ctas", "CTA clickers", conditions=[ActivityCondition(CTA.code_name, 2)]),
    )
    old, both, recent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for contact in (old, both):
        await log(store, contact, LOAN.code_name)
        await log(store, contact, CTA.code_name)
        await log(store, contact, CTA.code_name)
    clock.advance(days=40)
    await log(store, both, LOAN.code_name)
    await log(store, both, CTA.code_name)
    await log(store, recent, LOAN.code_name)
    assert await member_counts(store) == {"loan_prospects": 3, "ctas": 2}
    commits = store.stats.commits
    assert await purge_activities(store, timedelta(days=30), batch_size=4) == 6
    assert store.stats.commits - commits == 2  # the groups change in the batches' transactions
    # `old` has nothing left; `both` kept one loan activity but only one CTA click of two.
    assert await groups_of_contact(store, old) == frozenset()
    assert await groups_of_contact(store, both) == {"loan_prospects"}
    assert await groups_of_contact(store, recent) == {"loan_prospects"}
    assert await member_counts(store) == {"loan_prospects": 2, "ctas": 0}
    # the same as recalculating every group from scratch
    assert await recalculate_contact_groups(store) == {"loan_prospects": 2, "ctas": 0}
