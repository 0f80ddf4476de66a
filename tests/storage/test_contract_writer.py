"""Contract: how writes are committed: together (group commit), within a bounded queue, with
the consent checked in the transaction, one caller's failure its own, and a clean close."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from kxt_middleware import (
    LogStatus,
    StoreClosedError,
    StoreError,
    StoreOverloadedError,
)
from kxt_middleware.activities import NewActivity
from kxt_middleware.consents import Consent

from ..helpers import MakeStore, log

pytestmark = pytest.mark.anyio
TRACKING = Consent("tracking", "Tracking")


def click(value: str = "") -> list[NewActivity]:
    return [NewActivity("click", value=value)]


async def test_concurrent_writes_share_few_commits(make_store: MakeStore) -> None:
    async with make_store() as store:
        results = await asyncio.gather(
            *(store.insert_activities(uuid.uuid4(), click(str(i))) for i in range(200))
        )
        assert all(r[0].logged for r in results)
        stats = store.stats
        assert (stats.jobs, stats.activities) == (200, 200)
        assert stats.commits <= 10 and stats.largest_commit >= 20
        assert sum(stats.commit_sizes) == 200 and len(stats.commit_sizes) == stats.commits
        assert len(stats.commit_seconds) == stats.commits
        assert all(seconds >= 0 for seconds in stats.commit_seconds)
        assert (stats.failed_commits, stats.failed_callers, stats.group_failures) == (0, 0, 0)
        assert await store.count_activities() == 200


async def test_a_full_queue_refuses_with_a_clear_error(make_store: MakeStore) -> None:
    async with make_store(max_pending=5) as store:
        assert store.max_pending == 5
        outcomes = await asyncio.gather(
            *(store.insert_activities(uuid.uuid4(), click()) for _ in range(20)),
            return_exceptions=True,
        )
        refused = [o for o in outcomes if isinstance(o, StoreOverloadedError)]
        assert len(refused) == 15 and "raise max_pending" in str(refused[0])
        accepted = [o for o in outcomes if not isinstance(o, BaseException)]
        assert len(accepted) == 5 and all(r[0].logged for r in accepted)
        # every accepted write is stored, none silently lost; the queue takes writes again
        assert await store.count_activities() == 5
        await log(store, uuid.uuid4(), "click")


def unstorable() -> NewActivity:
    """An activity whose value cannot be stored: a lone surrogate, which NewActivity refuses
    (so it is slipped in past the check, as a bug in a caller could)."""
    activity = NewActivity("click", value="fine")
    object.__setattr__(activity, "value", "\ud800")
    return activity


async def test_one_caller_whose_rows_cannot_be_stored_fails_alone(make_store: MakeStore) -> None:
    good = [uuid.uuid4() for _ in range(30)]
    bad = uuid.uuid4()
    async with make_store() as store:
        calls: list[Any] = [store.insert_activities(c, click(str(i))) for i, c in enumerate(good)]
        calls.insert(15, store.insert_activities(bad, [NewActivity("click"), unstorable()]))
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        failed = outcomes.pop(15)
        assert all(not isinstance(o, BaseException) and o[0].logged for o in outcomes), failed
        assert isinstance(failed, StoreError), failed
        assert store.stats.failed_callers == 1 and store.stats.failed_commits == 0
        # none of the failing caller's rows, every other caller's
        assert not await store.contact_exists(bad)
        assert sorted(int(a.value) for a in await store.activities(limit=100)) == list(range(30))
        await log(store, bad, "click")  # the writer goes on, and so may that contact


async def test_a_failing_write_undoes_only_itself(make_store: MakeStore) -> None:
    erased = uuid.uuid4()
    async with make_store() as store:
        await store.add_consent(TRACKING)
        await store.delete_contact(erased)
        outcomes = await asyncio.gather(
            store.insert_activities(uuid.uuid4(), click("before")),
            store.add_consent(Consent("TRACKING", "Taken")),
            store.set_agreement(erased, "tracking", True),
            store.update_activity_type("nobody_defined_this", enabled=False),
            store.insert_activities(uuid.uuid4(), click("after")),
            return_exceptions=True,
        )
        assert [type(o).__name__ for o in outcomes] == [
            "list",
            "ValueError",
            "ContactErasedError",
            "UnknownActivityTypeError",
            "list",
        ]
        assert [a.value for a in await store.activities(newest_first=False)] == ["before", "after"]
        assert await store.consent("tracking") == TRACKING
        assert not await store.contact_exists(erased)


async def test_consent_is_checked_in_the_transaction_that_stores(make_store: MakeStore) -> None:
    jane, joe = uuid.uuid4(), uuid.uuid4()
    async with make_store() as store:
        await store.add_consent(TRACKING)
        await store.add_consent(Consent("newsletter", "Newsletter"))
        refused = await store.insert_activities(
            jane, [NewActivity("click"), NewActivity("nobody_defined_this")], consent="tracking"
        )
        assert [r.status for r in refused] == [LogStatus.NO_CONSENT, LogStatus.TYPE_UNKNOWN]
        assert refused[0].activity_id is None
        assert not await store.contact_exists(jane)  # nothing stored, no contact made
        await store.set_agreement(jane, "newsletter", True)  # another consent does not count
        [other] = await store.insert_activities(jane, click(), consent="tracking")
        assert other.status is LogStatus.NO_CONSENT
        await store.set_agreement(jane, "tracking", True)
        [agreed] = await store.insert_activities(jane, click("agreed"), consent="tracking")
        assert agreed.logged
        # A revoke sent just before an activity wins, even when both share one commit ...
        revoke, late = await asyncio.gather(
            store.set_agreement(jane, "tracking", False),
            store.insert_activities(jane, click("late"), consent="tracking"),
        )
        assert revoke is None and late[0].status is LogStatus.NO_CONSENT
        # ... and an agreement sent just before counts.
        agree, early = await asyncio.gather(
            store.set_agreement(joe, "tracking", True),
            store.insert_activities(joe, click("early"), consent="tracking"),
        )
        assert agree is None and early[0].logged
        # without a consent to check, the caller has checked it (a cookie level, for example)
        assert (await store.insert_activities(jane, click("unchecked")))[0].logged
        stored = [(a.contact, a.value) for a in await store.activities(newest_first=False)]
        assert stored == [(jane, "agreed"), (joe, "early"), (jane, "unchecked")]


async def test_close_commits_every_pending_write_and_the_store_reopens(
    make_store: MakeStore,
) -> None:
    store = make_store()
    await store.open()
    pending = [
        asyncio.create_task(store.insert_activities(uuid.uuid4(), click())) for _ in range(30)
    ]
    await asyncio.sleep(0)  # the writes are queued
    await store.close()
    assert all(task.done() and task.result()[0].logged for task in pending)
    assert not store.is_open
    async with make_store() as other:
        assert await other.count_activities() == 30
    # a closed store opens again on use (a second lifespan, or lazily)
    await log(store, uuid.uuid4(), "click")
    assert store.is_open and await store.count_activities() == 31
    await store.close()
    await store.open()
    assert await store.count_activities() == 31
    await store.close()


async def test_writes_while_closing_are_refused(make_store: MakeStore) -> None:
    store = make_store()
    await store.open()
    queued = asyncio.create_task(store.insert_activities(uuid.uuid4(), click("queued")))
    await asyncio.sleep(0)
    closing = asyncio.create_task(store.close())
    await asyncio.sleep(0)
    assert not store.is_open
    with pytest.raises(StoreClosedError, match="is closing"):
        await store.insert_activities(uuid.uuid4(), click("too late"))
    with pytest.raises(StoreClosedError, match="is closing"):
        await store.add_consent(TRACKING)
    await closing
    assert (await queued)[0].logged
    async with make_store() as other:
        assert [a.value for a in await other.activities()] == ["queued"]
        assert await other.consents() == []
