from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from contextlib import closing
from pathlib import Path

import aiosqlite
import pytest

from kxt_middleware import (
    ActivityStore,
    ActivityType,
    LogStatus,
    StoreClosedError,
    StoreError,
    StoreOverloadedError,
    UnknownActivityTypeError,
)
from kxt_middleware.activities import NewActivity
from kxt_middleware.migrations import SCHEMA_VERSION

pytestmark = pytest.mark.anyio
CTA = ActivityType("custom_cta", "CTA click")


def rows(database: Path, sql: str = "SELECT type, value FROM activities ORDER BY id") -> list:
    with closing(sqlite3.connect(database)) as connection:
        return connection.execute(sql).fetchall()


async def test_open_creates_schema_in_wal_mode_with_built_in_types(database: Path) -> None:
    async with ActivityStore(database, activity_types=[CTA]) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        codes = [(t.code_name, t.built_in) for t in await store.activity_types()]
    assert codes == [
        ("click", True),
        ("datainput", True),
        ("landingpage", True),
        ("pagevisit", True),
        ("custom_cta", False),
    ]
    assert rows(database, "PRAGMA journal_mode") == [("wal",)]
    assert rows(database, "SELECT max(version) FROM schema_version") == [(SCHEMA_VERSION,)]


async def test_reopening_migrates_nothing_and_keeps_marketer_edits(database: Path) -> None:
    async with ActivityStore(database, activity_types=[CTA]) as store:
        await store.update_activity_type("custom_cta", display_name="Edited", enabled=False)
    async with ActivityStore(database, activity_types=[CTA]) as store:
        edited = await store.activity_type("CUSTOM_CTA")
        assert edited == ActivityType("custom_cta", "Edited", enabled=False)
        assert await store.ensure_activity_types([CTA, ActivityType("new", "New")]) == 1
    assert rows(database, "SELECT max(version) FROM schema_version") == [(SCHEMA_VERSION,)]


async def test_a_newer_schema_is_refused(database: Path) -> None:
    async with ActivityStore(database):
        pass
    with sqlite3.connect(database) as connection:
        connection.execute("INSERT INTO schema_version VALUES (999)")
    with pytest.raises(StoreError, match="schema version 999, newer .* upgrade kxt-middleware"):
        await ActivityStore(database).open()


async def test_missing_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="folder .* does not exist"):
        await ActivityStore(tmp_path / "nope" / "kxt.sqlite3").open()


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="max_pending"):
        ActivityStore("x", max_pending=0)
    with pytest.raises(ValueError, match="synchronous"):
        ActivityStore("x", synchronous="OFF")  # type: ignore[arg-type]


async def test_results_follow_each_activity_type(database: Path) -> None:
    contact = uuid.uuid4()
    async with ActivityStore(database, activity_types=[CTA]) as store:
        await store.add_activity_type(ActivityType("off", "Off", enabled=False))
        results = await store.insert_activities(
            contact,
            [
                NewActivity(type="custom_cta", value="btnCTA", title="Custom CTA click"),
                NewActivity(type="off"),
                NewActivity(type="nobody_defined_this"),
                NewActivity(type="CUSTOM_CTA", value="case-insensitive"),
            ],
        )
        assert [r.status for r in results] == [
            LogStatus.LOGGED,
            LogStatus.TYPE_DISABLED,
            LogStatus.TYPE_UNKNOWN,
            LogStatus.LOGGED,
        ]
        stored = await store.activities(contact=contact, newest_first=False)
    assert [(a.type, a.value, a.contact) for a in stored] == [
        ("custom_cta", "btnCTA", contact),
        ("custom_cta", "case-insensitive", contact),
    ]
    assert stored[0].id == results[0].activity_id and stored[0].title == "Custom CTA click"


async def test_a_retried_activity_id_is_stored_once(database: Path) -> None:
    activity = NewActivity(type="click", value="x")
    async with ActivityStore(database) as store:
        first = await store.insert_activities(uuid.uuid4(), [activity])
        again = await store.insert_activities(uuid.uuid4(), [activity])
        assert first == again and first[0].logged
        assert await store.count_activities() == 1


async def test_concurrent_logs_share_one_commit(database: Path) -> None:
    async with ActivityStore(database) as store:
        results = await asyncio.gather(
            *(
                store.insert_activities(uuid.uuid4(), [NewActivity(type="click", value=str(i))])
                for i in range(200)
            )
        )
        assert all(r[0].logged for r in results)
        assert store.stats.jobs == 200 and store.stats.activities == 200
        assert store.stats.commits < 10 and store.stats.largest_commit >= 100
    assert len(rows(database)) == 200


async def test_a_full_queue_refuses_with_a_clear_error(database: Path) -> None:
    async with ActivityStore(database, max_pending=5) as store:
        outcomes = await asyncio.gather(
            *(
                store.insert_activities(uuid.uuid4(), [NewActivity(type="click")])
                for _ in range(20)
            ),
            return_exceptions=True,
        )
    refused = [o for o in outcomes if isinstance(o, StoreOverloadedError)]
    assert len(refused) == 15 and "raise max_pending" in str(refused[0])
    assert len(rows(database)) == 5  # every accepted write is on disk, none silently lost


async def test_close_flushes_pending_writes_and_can_reopen(database: Path) -> None:
    store = ActivityStore(database)
    await store.open()
    pending = [
        asyncio.create_task(store.insert_activities(uuid.uuid4(), [NewActivity(type="click")]))
        for _ in range(30)
    ]
    await asyncio.sleep(0)  # the writes are queued
    await store.close()
    assert all(task.done() and task.result()[0].logged for task in pending)
    assert len(rows(database)) == 30
    assert not store.is_open
    # closed stores open again on use (a second lifespan, or lazily)
    await store.insert_activities(uuid.uuid4(), [NewActivity(type="click")])
    assert await store.count_activities() == 31
    await store.close()
    await store.close()


async def test_writes_during_close_are_refused(database: Path) -> None:
    store = ActivityStore(database)
    await store.open()
    closing = asyncio.create_task(store.close())
    await asyncio.sleep(0)
    with pytest.raises(StoreClosedError, match="is closing"):
        await store.insert_activities(uuid.uuid4(), [NewActivity(type="click")])
    await closing


async def test_a_failing_write_undoes_only_itself(database: Path) -> None:
    async def broken(connection: aiosqlite.Connection) -> None:
        await connection.execute("INSERT INTO contacts (guid, created) VALUES ('x', 'y')")
        raise RuntimeError("boom")

    async with ActivityStore(database) as store:
        outcomes = await asyncio.gather(
            store.insert_activities(uuid.uuid4(), [NewActivity(type="click")]),
            store.write(broken),
            store.insert_activities(uuid.uuid4(), [NewActivity(type="click")]),
            return_exceptions=True,
        )
    assert isinstance(outcomes[1], RuntimeError)
    assert len(rows(database)) == 2
    assert rows(database, "SELECT count(*) FROM contacts WHERE guid = 'x'") == [(0,)]


async def test_type_changes_from_another_process_apply_at_the_next_commit(
    database: Path,
) -> None:
    async with ActivityStore(database, activity_types=[CTA]) as server:
        contact = uuid.uuid4()
        assert (await server.insert_activities(contact, [NewActivity(type="custom_cta")]))[0]
        async with ActivityStore(database) as cli:
            await cli.update_activity_type("custom_cta", enabled=False)
            await cli.add_activity_type(ActivityType("late", "Added later"))
        results = await server.insert_activities(
            contact, [NewActivity(type="custom_cta"), NewActivity(type="late")]
        )
    assert [r.status for r in results] == [LogStatus.TYPE_DISABLED, LogStatus.LOGGED]


async def test_type_edits_are_checked(database: Path) -> None:
    async with ActivityStore(database, activity_types=[CTA]) as store:
        with pytest.raises(ValueError, match="already exists"):
            await store.add_activity_type(ActivityType("Custom_CTA", "Again"))
        with pytest.raises(UnknownActivityTypeError, match="kxt types list"):
            await store.update_activity_type("missing", enabled=False)
        with pytest.raises(ValueError, match="display_name is 251"):
            await store.update_activity_type("custom_cta", display_name="x" * 251)
        assert (await store.activity_type("custom_cta")) == CTA


async def test_a_commit_that_fails_tells_every_caller(database: Path) -> None:
    async with ActivityStore(database, busy_timeout=0.05) as store:
        with sqlite3.connect(database) as blocker:
            blocker.execute("BEGIN IMMEDIATE")
            outcomes = await asyncio.gather(
                *(
                    store.insert_activities(uuid.uuid4(), [NewActivity(type="click")])
                    for _ in range(3)
                ),
                return_exceptions=True,
            )
            blocker.rollback()
        assert all(isinstance(o, StoreError) and "locked" in str(o) for o in outcomes)
        assert store.stats.failed_commits == 1
        # the writer survives and the next write succeeds
        assert (await store.insert_activities(uuid.uuid4(), [NewActivity(type="click")]))[0]


async def test_reading_pages_and_filters(database: Path) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    async with ActivityStore(database, activity_types=[CTA]) as store:
        for i in range(25):
            await store.insert_activities(
                first if i % 2 else second,
                [NewActivity(type="custom_cta" if i % 5 == 0 else "click", value=str(i))],
            )
        everything = [a async for a in store.iter_activities(page_size=7)]
        assert [a.value for a in everything] == [str(i) for i in range(25)]
        newest = await store.activities(limit=10)
        assert [a.value for a in newest] == [str(i) for i in range(24, 14, -1)]
        older = await store.activities(before=newest[-1].row, limit=3)
        assert [a.value for a in older] == ["14", "13", "12"]
        mine = [a async for a in store.iter_activities(contact=str(first))]
        assert {a.contact for a in mine} == {first} and len(mine) == 12
        ctas = [a async for a in store.iter_activities(type="CUSTOM_CTA")]
        assert [a.value for a in ctas] == ["0", "5", "10", "15", "20"]
        assert await store.contact_exists(first)
        assert not await store.contact_exists(uuid.uuid4())


def test_a_store_belongs_to_one_event_loop(database: Path) -> None:
    store = ActivityStore(database)
    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(store.open())
        with pytest.raises(StoreError, match="another event loop, which has not ended"):
            asyncio.run(store.insert_activities(uuid.uuid4(), [NewActivity(type="click")]))
    finally:
        first.run_until_complete(store.close())
        first.close()


def test_a_store_outlives_the_event_loop_that_opened_it(database: Path) -> None:
    # Without a lifespan, each loop that ends (asyncio.run, TestClient without `with`) hands
    # the store over to the next one.
    store = ActivityStore(database)
    contact = uuid.uuid4()

    async def log(value: str) -> str:
        [result] = await store.insert_activities(contact, [NewActivity(type="click", value=value)])
        return result.status.value

    assert asyncio.run(log("first")) == "logged"
    assert asyncio.run(log("second")) == "logged"

    async def values_then_close() -> list[str]:
        values = [a.value for a in await store.activities(contact=contact, newest_first=False)]
        await store.close()
        return values

    assert asyncio.run(values_then_close()) == ["first", "second"]
    assert not store.is_open


CRASHING_WRITER = textwrap.dedent(
    """
    import asyncio, os, signal, sys, uuid
    from kxt_middleware import ActivityStore
    from kxt_middleware.activities import NewActivity

    async def main():
        store = ActivityStore(sys.argv[1])
        await store.open()
        results = await asyncio.gather(*(
            store.insert_activities(uuid.uuid4(), [NewActivity(type="click", value=str(i))])
            for i in range(50)
        ))
        print(sum(r[0].logged for r in results), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no flush: the process just dies

    asyncio.run(main())
    """
)


def test_an_acknowledged_activity_survives_the_process_being_killed(database: Path) -> None:
    child = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, str(database)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout.strip() == "50"
    assert sorted(int(v) for _, v in rows(database)) == list(range(50))


async def test_hooks_run_in_the_same_commit_and_cannot_lose_activities(database: Path) -> None:
    seen: list[frozenset[str]] = []

    async def remember(connection: aiosqlite.Connection, contacts: frozenset[str]) -> None:
        seen.append(contacts)
        await connection.execute("CREATE TABLE IF NOT EXISTS hook_log (n INTEGER)")
        await connection.execute("INSERT INTO hook_log VALUES (?)", (len(contacts),))

    async def broken(connection: aiosqlite.Connection, contacts: frozenset[str]) -> None:
        await connection.execute("DELETE FROM activities")
        raise RuntimeError("hook bug")

    first, second = uuid.uuid4(), uuid.uuid4()
    async with ActivityStore(database) as store:
        store.on_activities(remember)
        store.on_activities(broken)
        await asyncio.gather(
            store.insert_activities(first, [NewActivity(type="click")]),
            store.insert_activities(second, [NewActivity(type="click")]),
            store.insert_activities(second, [NewActivity(type="nobody_defined_this")]),
        )
        assert seen == [frozenset({str(first), str(second)})]
        assert store.hook_failures == 1
        await store.insert_activities(first, [NewActivity(type="nobody_defined_this")])
        assert len(seen) == 1  # nothing stored, nothing to re-evaluate
    assert len(rows(database)) == 2
    assert rows(database, "SELECT n FROM hook_log") == [(2,)]


async def test_deleting_a_contact_deletes_its_activities(database: Path) -> None:
    keep, erase = uuid.uuid4(), uuid.uuid4()
    async with ActivityStore(database) as store:
        for contact in (keep, erase):
            await store.insert_activities(contact, [NewActivity(type="click")] * 1)
            await store.insert_activities(contact, [NewActivity(type="click")])
        assert await store.delete_contact(erase)
        assert not await store.delete_contact(erase)
        assert not await store.contact_exists(erase)
        assert {a.contact for a in await store.activities()} == {keep}


async def test_open_hooks_run_once_per_open_in_the_opening_transaction(database: Path) -> None:
    calls: list[int] = []

    async def seed(connection: aiosqlite.Connection) -> None:
        calls.append(1)
        await connection.execute("CREATE TABLE IF NOT EXISTS seeded (x)")

    async def broken(connection: aiosqlite.Connection) -> None:
        await connection.execute("CREATE TABLE never (x)")
        raise RuntimeError("bad seed")

    store = ActivityStore(database)
    store.on_open(seed)
    async with store:
        pass
    assert calls == [1] and rows(database, "SELECT count(*) FROM seeded") == [(0,)]
    failing = ActivityStore(database)
    failing.on_open(broken)
    with pytest.raises(RuntimeError, match="bad seed"):
        await failing.open()
    assert rows(database, "SELECT count(*) FROM sqlite_master WHERE name = 'never'") == [(0,)]


async def test_an_erased_contact_is_not_brought_back(database: Path) -> None:
    erased, other = uuid.uuid4(), uuid.uuid4()
    async with ActivityStore(database) as store:
        await store.insert_activities(erased, [NewActivity(type="click")])
        # the erasure and an activity already on its way land in the same commit, in that order
        outcomes = await asyncio.gather(
            store.delete_contact(erased),
            store.insert_activities(erased, [NewActivity(type="click"), NewActivity(type="x")]),
            store.insert_activities(other, [NewActivity(type="click")]),
        )
        assert outcomes[0] is True
        assert [r.status for r in outcomes[1]] == [LogStatus.CONTACT_ERASED, LogStatus.TYPE_UNKNOWN]
        assert outcomes[2][0].logged
        later = await store.insert_activities(erased, [NewActivity(type="click")])
        assert later[0].status is LogStatus.CONTACT_ERASED
        assert not await store.contact_exists(erased)
        assert {a.contact for a in await store.activities()} == {other}


@pytest.mark.parametrize("kind", ["not a database", "a folder"])
async def test_a_file_that_is_not_a_database_says_so(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "kxt.sqlite3"
    if kind == "a folder":
        path.mkdir()
    else:
        path.write_text("these are my notes, not a database")
    with pytest.raises(StoreError, match="cannot open the activity database .*check that the path"):
        await ActivityStore(path).open()
