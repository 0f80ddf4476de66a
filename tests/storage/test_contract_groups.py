"""Contract: contact group definitions, memberships kept current in the commit that changes
them, recalculation in batches, and the membership reads."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from kxt_middleware import ActivityType, Store
from kxt_middleware.activities import format_time
from kxt_middleware.groups import ActivityCondition, ContactGroup, UnknownContactGroupError
from kxt_middleware.storage import GroupMember

from ..helpers import CTA, LOAN, START, Clock, MakeStore, log

pytestmark = pytest.mark.anyio
PROSPECTS = ContactGroup(
    "loan_prospects", "Loan prospects", conditions=[ActivityCondition("CUSTOM_LOAN_CALCULATOR")]
)
FANS = ContactGroup("cta_fans", "CTA fans", conditions=[ActivityCondition("custom_cta", 2)])
TYPES = [LOAN, CTA]


async def recalculate(store: Store, code_name: str, batch: int) -> list[tuple[int, int]]:
    """Every batch of a recalculation: (contacts evaluated, last row evaluated)."""
    batches, after = [], 0
    while True:
        count, after = await store.recalculate_contact_group_batch(code_name, after, batch)
        batches.append((count, after))
        if count < batch:
            return batches


async def test_group_definitions(make_store: MakeStore) -> None:
    async with make_store(activity_types=TYPES) as store:
        assert await store.contact_groups() == [] and await store.member_counts() == {}
        added = await store.add_contact_group(PROSPECTS)
        # the condition is spelled as its type is
        assert added.conditions[0].activity_type == "custom_loan_calculator"
        assert await store.add_contact_group(FANS) == FANS
        assert await store.contact_groups() == [FANS, added]
        assert await store.contact_group("LOAN_prospects") == added
        assert await store.contact_group("nobody") is None
        with pytest.raises(ValueError, match="already exists"):
            await store.add_contact_group(
                ContactGroup("Loan_Prospects", "Again", "", FANS.conditions)
            )
        unknown = ContactGroup("g", "G", conditions=[ActivityCondition("custom_nope")])
        with pytest.raises(ValueError, match="'custom_nope', which does not exist"):
            await store.add_contact_group(unknown)
        assert await store.contact_group("g") is None
        edited = ContactGroup(
            "loan_prospects",
            "Edited",
            "described",
            [ActivityCondition("custom_loan_calculator", 2, 7), ActivityCondition("CUSTOM_CTA")],
            "any",
        )
        updated = await store.update_contact_group(edited)
        assert updated.conditions[1].activity_type == "custom_cta"
        assert await store.contact_group("loan_prospects") == updated
        missing = ContactGroup("missing", "Missing", conditions=PROSPECTS.conditions)
        with pytest.raises(UnknownContactGroupError, match="kxt groups list"):
            await store.update_contact_group(missing)
        with pytest.raises(ValueError, match="does not exist"):
            await store.update_contact_group(ContactGroup("cta_fans", "F", "", unknown.conditions))
        assert await store.contact_group("cta_fans") == FANS
        await store.delete_contact_group("CTA_FANS")
        assert await store.contact_groups() == [updated]
        for call in (
            store.delete_contact_group("cta_fans"),
            store.recalculate_contact_group_batch("cta_fans", 0, 10),
        ):
            with pytest.raises(UnknownContactGroupError):
                await call


async def test_memberships_are_current_when_the_activity_is_stored(make_store: MakeStore) -> None:
    contacts = [uuid.uuid4() for _ in range(20)]
    async with make_store(activity_types=TYPES) as store:
        await store.add_contact_group(PROSPECTS)
        await store.add_contact_group(FANS)
        jane = contacts[0]
        await log(store, jane, "custom_cta")
        assert await store.groups_of_contact(jane) == frozenset()
        await log(store, jane, "custom_cta")
        assert await store.groups_of_contact(jane) == {"cta_fans"}  # no recalculation needed

        async def log_then_check(contact: uuid.UUID) -> frozenset[str]:
            await log(store, contact, "custom_loan_calculator")
            return await store.groups_of_contact(contact)

        seen = await asyncio.gather(*(log_then_check(c) for c in contacts))
        assert seen == [{"loan_prospects", "cta_fans"}] + [{"loan_prospects"}] * 19
        assert await store.member_counts() == {"loan_prospects": 20, "cta_fans": 1}
        assert await store.count_members("LOAN_PROSPECTS") == 20
        assert await store.count_members("nobody") == 0


async def test_a_new_group_counts_past_activities_once_recalculated(
    make_store: MakeStore,
) -> None:
    contacts = [uuid.uuid4() for _ in range(7)]
    async with make_store(activity_types=TYPES) as store:
        for contact in contacts[:5]:
            await log(store, contact, "custom_loan_calculator")
        for contact in contacts[5:]:
            await log(store, contact, "custom_cta")
        await store.add_contact_group(PROSPECTS)
        assert await store.count_members("loan_prospects") == 0  # computed separately
        rows = sorted(c.row for c in (await store.contact_page())[0])
        batches = await recalculate(store, "loan_prospects", 2)
        assert batches == [(2, rows[1]), (2, rows[3]), (2, rows[5]), (1, rows[6])]
        assert await store.count_members("loan_prospects") == 5
        # starting after the last row evaluates no one and stays there
        assert await store.recalculate_contact_group_batch("loan_prospects", rows[6], 2) == (
            0,
            rows[6],
        )
        assert await recalculate(store, "loan_prospects", 100) == [(7, rows[6])]
        assert await store.count_members("loan_prospects") == 5


async def test_members_are_read_in_pages_with_since_when(make_store: MakeStore) -> None:
    clock = Clock()
    contacts = [uuid.uuid4() for _ in range(5)]
    async with make_store(activity_types=TYPES, clock=clock) as store:
        await store.add_contact_group(PROSPECTS)
        for contact in contacts:
            await log(store, contact, "custom_loan_calculator")
            clock.advance(hours=1)
        await log(store, contacts[0], "custom_loan_calculator")  # already a member
        first = await store.group_members("loan_prospects", limit=3)
        assert all(isinstance(member, GroupMember) for member in first)
        assert [m.guid for m in first] == contacts[:3]
        assert [m.since for m in first] == [
            format_time(START + timedelta(hours=n)) for n in range(3)
        ]
        rest = await store.group_members("loan_prospects", after=first[-1].row)
        assert [m.guid for m in rest] == contacts[3:]
        rows = [m.row for m in first + rest]
        assert rows == sorted(rows)
        assert await store.group_members("loan_prospects", after=rows[-1]) == []
        assert await store.group_members("nobody") == []


async def test_a_time_window_ends_a_membership_at_reading_time(make_store: MakeStore) -> None:
    clock, jane = Clock(), uuid.uuid4()
    twice_a_week = ContactGroup(
        "keen", "Keen", conditions=[ActivityCondition("custom_loan_calculator", 2, 7)]
    )
    async with make_store(activity_types=TYPES, clock=clock) as store:
        await store.add_contact_group(twice_a_week)
        await log(store, jane, "custom_loan_calculator")
        clock.advance(days=3)
        await log(store, jane, "custom_loan_calculator")
        assert await store.groups_of_contact(jane) == {"keen"}
        clock.advance(days=3, hours=23)  # the first one is 6 days 23 hours old: still in
        assert await store.groups_of_contact(jane) == {"keen"}
        assert [m.guid for m in await store.group_members("keen")] == [jane]
        clock.advance(hours=1)  # exactly 7 days old: out, with no recalculation
        assert await store.groups_of_contact(jane) == frozenset()
        assert await store.count_members("keen") == 0
        assert await store.member_counts() == {"keen": 0}
        assert await store.group_members("keen") == []
        await log(store, jane, "custom_loan_calculator")  # two in the window again: back in
        [member] = await store.group_members("keen")
        assert member.since == format_time(clock())  # since restarts after she had left


async def test_deleting_a_contact_or_a_group_deletes_the_memberships(
    make_store: MakeStore,
) -> None:
    kept, erased = uuid.uuid4(), uuid.uuid4()
    async with make_store(activity_types=TYPES) as store:
        await store.add_contact_group(PROSPECTS)
        for contact in (kept, erased):
            await log(store, contact, "custom_loan_calculator")
        await store.delete_contact(erased)
        assert [m.guid for m in await store.group_members("loan_prospects")] == [kept]
        assert await store.groups_of_contact(erased) == frozenset()
        await store.delete_contact_group("loan_prospects")
        assert await store.groups_of_contact(kept) == frozenset()
        await store.add_contact_group(PROSPECTS)  # a new group starts with no members
        assert await store.count_members("loan_prospects") == 0


async def test_purging_activities_re_evaluates_their_contacts_groups(
    make_store: MakeStore,
) -> None:
    clock = Clock()
    old, both, recent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with make_store(activity_types=TYPES, clock=clock) as store:
        await store.add_contact_group(PROSPECTS)
        await store.add_contact_group(FANS)
        for contact in (old, both):
            for type in ("custom_loan_calculator", "custom_cta", "custom_cta"):
                await log(store, contact, type)
        clock.advance(days=40)
        cutoff = clock() - timedelta(days=30)
        for contact, type in [(both, LOAN), (both, CTA), (recent, LOAN)]:
            await log(store, contact, type.code_name)
        assert await store.member_counts() == {"loan_prospects": 3, "cta_fans": 2}
        assert await store.purge_activities_before(cutoff, 4) == 4
        assert await store.purge_activities_before(cutoff, 4) == 2
        # `old` has nothing left; `both` kept one loan activity but one CTA click of two
        assert await store.groups_of_contact(old) == frozenset()
        assert await store.groups_of_contact(both) == {"loan_prospects"}
        assert await store.groups_of_contact(recent) == {"loan_prospects"}
        assert await store.member_counts() == {"loan_prospects": 2, "cta_fans": 0}


async def test_groups_configured_on_the_store_are_created_once_with_their_members(
    make_store: MakeStore,
) -> None:
    contact = uuid.uuid4()
    async with make_store(activity_types=TYPES) as plain:
        await log(plain, contact, "custom_loan_calculator")  # before any group existed
    store = make_store(activity_types=TYPES, contact_groups=[PROSPECTS])
    store.include_contact_groups([FANS])
    async with store:
        assert await store.groups_of_contact(contact) == {"loan_prospects"}
        edited = await store.update_contact_group(
            ContactGroup("loan_prospects", "Edited", conditions=[ActivityCondition("custom_cta")])
        )
        await recalculate(store, "loan_prospects", 10)
    async with make_store(activity_types=TYPES, contact_groups=[PROSPECTS, FANS]) as store:
        assert await store.contact_groups() == [FANS, edited]  # the edit is kept
        assert await store.groups_of_contact(contact) == frozenset()
        await log(store, contact, "custom_cta")
        assert await store.groups_of_contact(contact) == {"loan_prospects"}
    with pytest.raises(TypeError, match="ContactGroup objects"):
        make_store().include_contact_groups(["loan_prospects"])  # type: ignore[list-item]


async def test_a_configured_group_on_an_unknown_type_stops_the_store_from_opening(
    make_store: MakeStore,
) -> None:
    unknown = ContactGroup("g", "G", conditions=[ActivityCondition("custom_nope")])
    store = make_store(contact_groups=[unknown])
    with pytest.raises(ValueError, match="custom_nope"):
        await store.open()
    assert not store.is_open
    async with make_store(activity_types=[ActivityType("custom_nope", "Now it exists")]):
        pass
    async with make_store(contact_groups=[unknown]) as store:
        assert await store.contact_group("g") == unknown


async def test_a_group_defined_through_another_store_applies_at_the_next_commit(
    make_store: MakeStore,
) -> None:
    contact = uuid.uuid4()
    async with make_store(activity_types=TYPES) as server, make_store() as other:
        await log(server, contact, "custom_cta")  # the server has seen the groups (none)
        await other.add_contact_group(FANS)
        await log(server, contact, "custom_cta")
        assert await server.groups_of_contact(contact) == {"cta_fans"}
        await other.update_contact_group(
            ContactGroup("cta_fans", "Fans", conditions=[ActivityCondition("custom_cta", 4)])
        )
        await log(server, contact, "custom_cta")
        assert await other.groups_of_contact(contact) == frozenset()
        await other.delete_contact_group("cta_fans")
        await log(server, contact, "custom_cta")
        assert await server.member_counts() == {}
        assert server.stats.group_failures == 0
