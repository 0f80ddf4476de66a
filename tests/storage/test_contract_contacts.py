"""Contract: contacts exist once they log or agree, are listed in keyset pages, and an erased
contact stays erased."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from kxt_middleware import ContactErasedError, LogStatus
from kxt_middleware.activities import NewActivity
from kxt_middleware.consents import Consent

from ..helpers import START, Clock, MakeStore, log

pytestmark = pytest.mark.anyio
TRACKING = Consent("tracking", "Tracking")


async def test_a_contact_exists_once_it_logged_or_agreed(make_store: MakeStore) -> None:
    logged, agreed, refused = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with make_store() as store:
        await store.add_consent(TRACKING)
        for contact in (logged, agreed, refused):
            assert not await store.contact_exists(contact)
            assert not await store.is_erased(contact)
        await log(store, logged, "click")
        await store.set_agreement(agreed, "tracking", True)
        [result] = await store.insert_activities(refused, [NewActivity("nobody_defined_this")])
        assert result.status is LogStatus.TYPE_UNKNOWN
        assert await store.contact_exists(logged) and await store.contact_exists(agreed)
        assert not await store.contact_exists(refused)  # nothing stored: no contact either
        assert await store.count_contacts() == 2
        assert not await store.is_erased(logged)


async def test_erasing_a_contact_deletes_everything_about_it(make_store: MakeStore) -> None:
    keep, erase = uuid.uuid4(), uuid.uuid4()
    async with make_store() as store:
        await store.add_consent(TRACKING)
        for contact in (keep, erase):
            await log(store, contact, "click")
            await log(store, contact, "pagevisit")
            await store.set_agreement(contact, "tracking", True)
        assert await store.delete_contact(erase)
        assert not await store.delete_contact(erase)  # nothing left to delete
        assert not await store.contact_exists(erase) and await store.is_erased(erase)
        assert await store.contact_summary(erase) is None
        assert not await store.has_agreed(erase, "tracking")
        assert {a.contact for a in await store.activities()} == {keep}
        assert await store.count_activities() == 2
        assert await store.has_agreed(keep, "tracking") and not await store.is_erased(keep)
        assert await store.count_contacts() == 1


async def test_an_erased_contact_stays_erased(make_store: MakeStore) -> None:
    erased, never_seen = uuid.uuid4(), uuid.uuid4()
    async with make_store() as store:
        await store.add_consent(TRACKING)
        await log(store, erased, "click")
        assert await store.delete_contact(erased)
        # a GUID with no data is remembered as erased all the same
        assert not await store.delete_contact(never_seen) and await store.is_erased(never_seen)
        for contact in (erased, never_seen):
            results = await store.insert_activities(
                contact, [NewActivity("click"), NewActivity("nobody_defined_this")]
            )
            assert [r.status for r in results] == [
                LogStatus.CONTACT_ERASED,
                LogStatus.TYPE_UNKNOWN,
            ]
            assert results[0].activity_id is None
            [asked] = await store.insert_activities(
                contact, [NewActivity("click")], consent="tracking"
            )
            assert asked.status is LogStatus.CONTACT_ERASED  # erased, whatever the consent
            with pytest.raises(ContactErasedError, match="stays erased"):
                await store.set_agreement(contact, "tracking", True)
            assert not await store.contact_exists(contact)
        assert await store.count_activities() == 0
    async with make_store() as reopened:  # remembered in the database, not in the store object
        assert await reopened.is_erased(erased)
        [later] = await reopened.insert_activities(erased, [NewActivity("click")])
        assert later.status is LogStatus.CONTACT_ERASED


async def test_activities_on_their_way_never_bring_an_erased_contact_back(
    make_store: MakeStore,
) -> None:
    erased, other = uuid.uuid4(), uuid.uuid4()
    async with make_store() as store:
        await log(store, erased, "click")
        # the erasure and activities still on their way arrive together
        outcomes = await asyncio.gather(
            store.delete_contact(erased),
            *(store.insert_activities(erased, [NewActivity("click")]) for _ in range(5)),
            store.insert_activities(other, [NewActivity("click")]),
        )
        assert outcomes[0] is True and outcomes[6][0].logged
        # each was refused, or stored before the erasure and erased with the contact
        on_their_way = {r[0].status for r in outcomes[1:6]}
        assert on_their_way <= {LogStatus.CONTACT_ERASED, LogStatus.LOGGED}
        assert not await store.contact_exists(erased) and await store.is_erased(erased)
        assert {a.contact for a in await store.activities()} == {other}


async def test_contacts_are_listed_newest_first_in_keyset_pages(make_store: MakeStore) -> None:
    clock = Clock()
    contacts = [uuid.uuid4() for _ in range(5)]
    async with make_store(clock=clock) as store:
        assert await store.contact_page() == ([], None)
        for number, contact in enumerate(contacts):
            for _ in range(number):
                await log(store, contact, "click")
                clock.advance(hours=1)
            if number == 0:  # a contact with no activity: it agreed to a consent
                await store.add_consent(TRACKING)
                await store.set_agreement(contact, "tracking", True)
            clock.advance(days=1)
        first, cursor = await store.contact_page(limit=2)
        assert [c.guid for c in first] == [contacts[4], contacts[3]]
        assert cursor == first[-1].row
        second, cursor = await store.contact_page(before=cursor, limit=2)
        assert [c.guid for c in second] == [contacts[2], contacts[1]]
        last, cursor = await store.contact_page(before=cursor, limit=2)
        assert [c.guid for c in last] == [contacts[0]] and cursor is None
        everyone, cursor = await store.contact_page(limit=5)
        assert [c.guid for c in everyone] == contacts[::-1] and cursor is None
        rows = [c.row for c in everyone]
        assert rows == sorted(rows, reverse=True)
        assert [c.activities for c in everyone] == [4, 3, 2, 1, 0]
        newest = everyone[0]
        # created at its first activity; last active at its fourth, an hour apart each
        assert newest.created < newest.last_activity  # type: ignore[operator]
        assert newest.last_activity - newest.created == timedelta(hours=3)  # type: ignore[operator]
        assert everyone[-1].last_activity is None and everyone[-1].created == START


async def test_one_contacts_summary(make_store: MakeStore) -> None:
    clock, contact = Clock(), uuid.uuid4()
    async with make_store(clock=clock) as store:
        assert await store.contact_summary(contact) is None
        await log(store, contact, "click")
        clock.advance(days=2)
        await log(store, contact, "pagevisit")
        await log(store, uuid.uuid4(), "click")
        summary = await store.contact_summary(contact)
        assert summary is not None
        assert (summary.guid, summary.activities) == (contact, 2)
        assert (summary.created, summary.last_activity) == (START, START + timedelta(days=2))
        [listed] = [c for c in (await store.contact_page())[0] if c.guid == contact]
        assert listed == summary
