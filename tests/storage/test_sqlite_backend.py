"""The SQLite backend's own guarantees: the file (WAL, FULL sync, durable when a process is
killed), its migrations, errors that name the file, and the event loops a store lives on.

The only tests that open the database with ``sqlite3``: the file is their subject.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import uuid
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from kxt_middleware import (
    ActivityStore,
    LogStatus,
    Store,
    StoreError,
    open_store,
)
from kxt_middleware.activities import ActivityFilter, ActivitySource, NewActivity
from kxt_middleware.api_keys import Channel
from kxt_middleware.consents import Consent
from kxt_middleware.groups import ActivityCondition, ContactGroup
from kxt_middleware.sites import Site
from kxt_middleware.storage import check_database
from kxt_middleware.storage.sqlite import SQLiteStore
from kxt_middleware.storage.sqlite.schema import MIGRATIONS, SCHEMA_VERSION

from ..helpers import CTA, LOAN, START, Clock, log

pytestmark = pytest.mark.anyio


def query(database: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(database)) as connection:
        return connection.execute(sql, params).fetchall()


def execute(database: Path, *statements: str) -> None:
    with closing(sqlite3.connect(database, isolation_level=None)) as connection:
        for statement in statements:
            connection.execute(statement)


class Statement(NamedTuple):
    """A statement a store's connection ran (values inlined), and in which thread."""

    connection: sqlite3.Connection
    sql: str
    thread: threading.Thread


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> list[Statement]:
    """Every statement the connections opened from now on run."""
    statements: list[Statement] = []
    real_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = real_connect(*args, **kwargs)
        connection.set_trace_callback(
            lambda sql: statements.append(Statement(connection, sql, threading.current_thread()))
        )
        return connection

    monkeypatch.setattr(sqlite3, "connect", connect)
    return statements


# -- the database URL and the file ------------------------------------------------------------


async def test_a_path_or_an_sqlite_url_opens_the_sqlite_backend(tmp_path: Path) -> None:
    path = tmp_path / "kxt.sqlite3"
    for database in (path, str(path), f"sqlite:///{path}"):
        for store in (Store(database), ActivityStore(database), open_store(database)):
            assert type(store) is SQLiteStore and store.database == str(path)
    async with open_store(f"sqlite:///{path}") as store:
        await log(store, uuid.uuid4(), "click")
    async with Store(path) as store:
        assert await store.count_activities() == 1
    with pytest.raises(ValueError, match="unknown database URL scheme 'mysql'.*postgresql://"):
        Store("mysql://localhost/kxt")


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_pending"):
        ActivityStore("x", max_pending=0)
    with pytest.raises(ValueError, match="max_pending, max_batch and readers"):
        ActivityStore("x", readers=0)
    with pytest.raises(ValueError, match="synchronous"):
        ActivityStore("x", synchronous="OFF")  # type: ignore[arg-type]


async def test_the_file_is_in_wal_mode_and_migrated_once(database: Path) -> None:
    async with ActivityStore(database) as store:
        assert await store.schema_version() == SCHEMA_VERSION == len(MIGRATIONS)
    assert query(database, "PRAGMA journal_mode") == [("wal",)]
    async with ActivityStore(database):
        pass
    versions = query(database, "SELECT version FROM schema_version ORDER BY version")
    assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]


@pytest.mark.parametrize(("option", "level"), [({}, 2), ({"synchronous": "NORMAL"}, 1)])
async def test_commits_sync_the_disk_fully_unless_asked_otherwise(
    database: Path, traced: list[Statement], option: Any, level: int
) -> None:
    async with ActivityStore(database, writer="thread", **option) as store:
        await log(store, uuid.uuid4(), "click")
        [writer] = {s.connection for s in traced if s.sql.startswith("INSERT INTO activities")}
        assert writer.execute("PRAGMA synchronous").fetchone() == (level,)  # 2 FULL, 1 NORMAL


async def test_the_event_loop_never_waits_for_sqlite(
    database: Path, traced: list[Statement]
) -> None:
    async with ActivityStore(database, activity_types=[CTA], writer="thread") as store:
        await log(store, uuid.uuid4(), "custom_cta")
        await store.add_consent(Consent("tracking", "Tracking"))
        assert len(await store.activities()) == 1 and len(await store.consents()) == 1
        assert await store.daily_counts(ActivityFilter(), START.date(), date.max) != {}
    ran = {s.sql.split()[0] for s in traced}
    assert {"INSERT", "SELECT"} <= ran  # what runs is seen
    assert threading.current_thread() not in {s.thread for s in traced}


async def test_a_newer_schema_is_refused(database: Path) -> None:
    async with ActivityStore(database):
        pass
    execute(database, "INSERT INTO schema_version VALUES (999)")
    with pytest.raises(StoreError, match="schema version 999, newer .* upgrade kxt-middleware"):
        await ActivityStore(database).open()


async def test_a_missing_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="folder .* does not exist"):
        await ActivityStore(tmp_path / "nope" / "kxt.sqlite3").open()
    assert not (tmp_path / "nope").exists()


@pytest.mark.parametrize("kind", ["not a database", "a folder"])
async def test_a_file_that_is_not_a_database_says_so(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "kxt.sqlite3"
    if kind == "a folder":
        path.mkdir()
    else:
        path.write_text("these are my notes, not a database")
    store = ActivityStore(path)
    with pytest.raises(StoreError, match="cannot open the activity database .*check that the path"):
        await store.open()
    assert not store.is_open
    with pytest.raises(StoreError, match="not a database file|file is not a database"):
        check_database(path, create=True)
    if kind == "not a database":
        assert path.read_text() == "these are my notes, not a database"


def test_check_database_before_a_command_opens_it(tmp_path: Path) -> None:
    path = tmp_path / "kxt.sqlite3"
    with pytest.raises(StoreError, match="no database at .*only commands that add"):
        check_database(path, create=False)
    check_database(path, create=True)
    assert not path.exists()  # a check never creates the file
    with pytest.raises(ValueError, match="unknown database URL scheme"):
        check_database("ftp://x/y", create=True)


# -- the writer -------------------------------------------------------------------------------


async def test_a_commit_that_fails_tells_every_caller(database: Path) -> None:
    async with ActivityStore(database, busy_timeout=0.05) as store:
        with closing(sqlite3.connect(database, isolation_level=None)) as blocker:
            blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            outcomes = await asyncio.gather(
                *(store.insert_activities(uuid.uuid4(), [NewActivity("click")]) for _ in range(3)),
                return_exceptions=True,
            )
            blocker.execute("ROLLBACK")
        # the driver's error reaches callers as the seam's error, saying what happened
        assert all(isinstance(o, StoreError) and "locked" in str(o) for o in outcomes), outcomes
        assert store.stats.failed_commits == 1
        await log(store, uuid.uuid4(), "click")  # the writer survives
        assert await store.count_activities() == 1


async def test_a_caller_whose_rows_the_database_refuses_fails_alone(database: Path) -> None:
    async with ActivityStore(database):
        pass
    execute(
        database,
        "CREATE TRIGGER poison BEFORE INSERT ON activities WHEN NEW.value = 'poison' "
        "BEGIN SELECT RAISE(ABORT, 'poisoned row'); END",
    )
    async with ActivityStore(database) as store:
        bad = uuid.uuid4()
        calls = [store.insert_activities(uuid.uuid4(), [NewActivity("click")]) for _ in range(10)]
        calls.insert(5, store.insert_activities(bad, [NewActivity("click", value="poison")]))
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        failed = outcomes.pop(5)
        assert isinstance(failed, StoreError) and "poisoned row" in str(failed)
        assert all(not isinstance(o, BaseException) and o[0].logged for o in outcomes)
        assert store.stats.failed_callers == 1 and store.stats.commits == 1
        assert await store.count_activities() == 10 and not await store.contact_exists(bad)


async def test_a_write_that_fails_halfway_undoes_its_own_changes_only(database: Path) -> None:
    kept = uuid.uuid4()
    async with ActivityStore(database) as store:
        await log(store, kept, "click")
    # the erasure records the GUID as erased, then fails to delete the contact
    execute(
        database,
        f"CREATE TRIGGER keep BEFORE DELETE ON contacts WHEN OLD.guid = '{kept}' "
        "BEGIN SELECT RAISE(ABORT, 'this contact stays'); END",
    )
    async with ActivityStore(database) as store:
        outcomes = await asyncio.gather(
            store.insert_activities(uuid.uuid4(), [NewActivity("click")]),
            store.delete_contact(kept),
            store.insert_activities(uuid.uuid4(), [NewActivity("click")]),
            return_exceptions=True,
        )
        assert isinstance(outcomes[1], StoreError) and "this contact stays" in str(outcomes[1])
        assert outcomes[0][0].logged and outcomes[2][0].logged  # type: ignore[index]
        assert not await store.is_erased(kept) and await store.contact_exists(kept)
        await log(store, kept, "click")
        assert await store.count_activities() == 4


async def test_a_failed_group_evaluation_loses_no_activity(
    database: Path, caplog: pytest.LogCaptureFixture
) -> None:
    group = ContactGroup("fans", "Fans", conditions=[ActivityCondition("click")])
    async with ActivityStore(database, contact_groups=[group]):
        pass
    execute(
        database,
        "CREATE TRIGGER no_members BEFORE INSERT ON contact_group_members "
        "BEGIN SELECT RAISE(ABORT, 'no members today'); END",
    )
    contact = uuid.uuid4()
    async with ActivityStore(database) as store:
        await log(store, contact, "click")
        assert store.stats.group_failures == 1
        assert await store.count_activities() == 1
        assert await store.groups_of_contact(contact) == frozenset()
    assert "contact groups could not be re-evaluated: " in caplog.text
    execute(database, "DROP TRIGGER no_members")
    async with ActivityStore(database) as store:  # the next commit evaluates the contact again
        await log(store, contact, "click")
        assert await store.groups_of_contact(contact) == {"fans"}


async def test_a_group_definition_that_cannot_be_read_loses_no_activity(database: Path) -> None:
    # e.g. written by another version of kxt-middleware whose rules differ
    group = ContactGroup("fans", "Fans", conditions=[ActivityCondition("click")])
    async with ActivityStore(database, contact_groups=[group]):
        pass
    unreadable = [{"activity_type": "click", "at_least": 0}]
    with closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("UPDATE contact_groups SET conditions = ?", (json.dumps(unreadable),))
    async with ActivityStore(database) as store:
        [result] = await store.insert_activities(uuid.uuid4(), [NewActivity("click")])
        assert result.logged and await store.count_activities() == 1
        assert store.stats.group_failures == 1


async def test_an_erasure_and_activities_in_one_commit_apply_in_their_order(
    database: Path,
) -> None:
    erased, other = uuid.uuid4(), uuid.uuid4()
    async with ActivityStore(database) as store:
        await log(store, erased, "click")
        commits = store.stats.commits
        outcomes = await asyncio.gather(
            store.insert_activities(erased, [NewActivity("click", value="before")]),
            store.delete_contact(erased),
            store.insert_activities(erased, [NewActivity("click"), NewActivity("x")]),
            store.insert_activities(other, [NewActivity("click")]),
        )
        assert store.stats.commits == commits + 1
        assert outcomes[0][0].logged and outcomes[1] is True  # stored, then erased with it
        assert [r.status for r in outcomes[2]] == [LogStatus.CONTACT_ERASED, LogStatus.TYPE_UNKNOWN]
        assert outcomes[3][0].logged
        assert {a.contact for a in await store.activities()} == {other}


async def test_a_type_disabled_by_the_kxt_command_applies_at_the_next_commit(
    database: Path,
) -> None:
    contact = uuid.uuid4()
    async with ActivityStore(database, activity_types=[CTA]) as server:
        await log(server, contact, "custom_cta")
        command = [sys.executable, "-m", "kxt_middleware", "--database", str(database)]
        for args in (["types", "disable", "custom_cta"], ["types", "add", "late", "--name", "L"]):
            done = await asyncio.to_thread(
                subprocess.run, [*command, *args], capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 0, done.stderr
        results = await server.insert_activities(
            contact, [NewActivity("custom_cta"), NewActivity("late")]
        )
    assert [r.status for r in results] == [LogStatus.TYPE_DISABLED, LogStatus.LOGGED]


async def test_max_batch_bounds_the_callers_of_one_commit(database: Path) -> None:
    async with ActivityStore(database, max_batch=10) as store:
        await asyncio.gather(
            *(store.insert_activities(uuid.uuid4(), [NewActivity("click")]) for _ in range(95))
        )
        assert store.stats.largest_commit == 10 and store.stats.commits == 10
        assert store.stats.commit_sizes == [10] * 9 + [5]


async def test_a_date_range_is_read_in_row_order_without_sorting_it(
    database: Path, traced: list[Statement]
) -> None:
    clock = Clock()
    async with ActivityStore(database, activity_types=[LOAN], clock=clock) as store:
        for days in (9, -5, 5, -3):  # the clock goes back between the activities
            clock.advance(days=days)
            await log(store, uuid.uuid4(), LOAN.code_name)
        day = START.date()
        for filters, expected in [
            (ActivityFilter(start=day + timedelta(days=5), end=day + timedelta(days=8)), [6]),
            (ActivityFilter(type="pagevisit", start=day + timedelta(days=5)), []),
            (ActivityFilter(source=ActivitySource.SERVER, start=day, end=date(2025, 1, 9)), [6, 4]),
            (ActivityFilter(start=day + timedelta(days=4), end=day + timedelta(days=4)), [4]),
        ]:
            traced.clear()
            found = await store.select_activities(filters, limit=51)
            assert [(a.created - START).days for a in found] == expected, filters
            [page] = [s.sql for s in traced if s.sql.startswith("SELECT") and "LIMIT" in s.sql]
            plan = query(database, f"EXPLAIN QUERY PLAN {page}")
            assert not any("TEMP B-TREE" in row[3] for row in plan), (filters, plan)


# -- a database written by the previous release -----------------------------------------------

PREVIOUS_RELEASE = 5  # the schema version of kxt-middleware's previous release
STAMP = "2025-01-01T12:00:00.000000Z"
JANE, JOE, ERASED = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
CHANNEL = uuid.uuid4()
OLD_ACTIVITIES = [  # uid, contact row, type, title, value, url, referrer, created, source, site
    (str(uuid.uuid4()), 1, "custom_loan_calculator", "Loan", "50000", "https://x/l", "", STAMP,
     "server", None),
    (str(uuid.uuid4()), 1, "custom_loan_calculator", "", "7", "", "https://r/", STAMP,
     "browser", None),
    (str(uuid.uuid4()), 2, "click", "Buy", "", "https://shop/p", "", STAMP, "cross-site", "shop"),
    (str(uuid.uuid4()), 2, "custom_old", "", "", "", "", STAMP, "headless", "mobile_app"),
]  # fmt: skip
OLD_GROUP = ContactGroup(
    "loan_prospects", "Loan prospects", conditions=[ActivityCondition(LOAN.code_name, 2)]
)


def write_previous_release_database(path: Path) -> None:
    """A database as the previous release left it: its schema, and a row in every table."""
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for version, statements in enumerate(MIGRATIONS[:PREVIOUS_RELEASE], start=1):
            for statement in statements:
                db.execute(statement)
            db.execute("INSERT INTO schema_version VALUES (?)", (version,))
        db.executemany(
            "INSERT INTO activity_types VALUES (?, ?, ?, ?, ?, ?)",
            [
                ("click", "Click", "A visitor clicked a tracked element.", 1, 1, STAMP),
                (LOAN.code_name, LOAN.display_name, "", 1, 0, STAMP),
                ("custom_old", "Retired", "no longer used", 0, 0, STAMP),
            ],
        )
        db.executemany(
            "INSERT INTO contacts VALUES (?, ?, ?)", [(1, str(JANE), STAMP), (2, str(JOE), STAMP)]
        )
        db.executemany(
            "INSERT INTO activities (uid, contact_id, type, title, value, url, referrer, created, "
            "source, site) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            OLD_ACTIVITIES,
        )
        conditions = json.dumps([c.to_json() for c in OLD_GROUP.conditions])
        db.execute(
            "INSERT INTO contact_groups VALUES (1, ?, ?, '', 'all', ?, ?, ?)",
            (OLD_GROUP.code_name, OLD_GROUP.display_name, conditions, STAMP, STAMP),
        )
        db.execute("INSERT INTO contact_group_members VALUES (1, 1, ?, NULL)", (STAMP,))
        db.execute("INSERT INTO operators VALUES (1, 'Jane', 'argon2-hash', ?)", (STAMP,))
        db.execute("INSERT INTO channels VALUES (1, ?, 'mobile_app', ?)", (str(CHANNEL), STAMP))
        db.execute("INSERT INTO api_keys VALUES (1, 1, 'k1', 'hash-1', ?, NULL)", (STAMP,))
        db.execute("INSERT INTO api_keys VALUES (2, 1, 'k0', 'hash-0', ?, ?)", (STAMP, STAMP))
        db.execute("INSERT INTO consents VALUES ('tracking', 'Tracking', 's', 'f', ?)", (STAMP,))
        db.execute("INSERT INTO consent_agreements VALUES (1, 'tracking', 1, ?)", (STAMP,))
        db.execute(
            "INSERT INTO sites VALUES ('shop', 'Our shop', 'https://shop.example', 1, ?)", (STAMP,)
        )
        db.execute("INSERT INTO erased_contacts VALUES (?, ?)", (str(ERASED), STAMP))


async def test_a_database_written_by_the_previous_release_opens_and_keeps_its_data(
    database: Path,
) -> None:
    write_previous_release_database(database)
    clock = Clock(START + timedelta(days=1))
    async with ActivityStore(database, activity_types=[LOAN], clock=clock) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        stored = [a async for a in store.iter_activities()]
        assert [
            (a.id, a.contact, a.type, a.title, a.value, a.url, a.referrer, a.source, a.site)
            for a in stored
        ] == [
            (uid, JANE if row == 1 else JOE, type, title, value, url, referrer, source, site)
            for uid, row, type, title, value, url, referrer, _, source, site in OLD_ACTIVITIES
        ]
        assert all(a.created == START for a in stored)
        assert list(stored[0].to_json()) == [
            "id", "contact", "type", "title", "value", "url", "referrer", "source", "site",
            "created",
        ]  # fmt: skip
        old_type = await store.activity_type("custom_old")
        assert old_type is not None and not old_type.enabled and not old_type.built_in
        assert await store.activity_type("pagevisit") is not None  # new built-ins are added
        assert await store.contact_groups() == [OLD_GROUP]
        assert [m.guid for m in await store.group_members("loan_prospects")] == [JANE]
        assert await store.groups_of_contact(JANE) == {"loan_prospects"}
        assert await store.operator_password_hash("jane") == ("Jane", "argon2-hash")
        assert await store.active_api_key("k1") == ("hash-1", Channel(CHANNEL, "mobile_app"))
        assert await store.active_api_key("k0") is None
        assert [k.revoked is None for k in await store.api_keys()] == [True, False]
        assert await store.consents() == [Consent("tracking", "Tracking", "s", "f")]
        assert await store.has_agreed(JANE, "tracking")
        assert await store.site("shop") == Site("shop", "Our shop", "https://shop.example")
        assert await store.is_erased(ERASED) and not await store.is_erased(JANE)
        contacts, _ = await store.contact_page()
        assert [(c.guid, c.activities) for c in contacts] == [(JOE, 2), (JANE, 2)]
        # and it goes on: a retried old id is stored once, a new activity joins a group
        retry = NewActivity("click", id=OLD_ACTIVITIES[2][0])
        assert (await store.insert_activities(JOE, [retry]))[0].logged
        for _ in range(2):
            await log(store, JOE, LOAN.code_name)
        assert await store.groups_of_contact(JOE) == {"loan_prospects"}
        assert await store.count_activities() == len(OLD_ACTIVITIES) + 2
        [erased] = await store.insert_activities(ERASED, [NewActivity("click")])
        assert erased.status is LogStatus.CONTACT_ERASED
    versions = query(database, "SELECT version FROM schema_version ORDER BY version")
    assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]


# -- event loops ------------------------------------------------------------------------------


def test_a_store_belongs_to_one_event_loop(database: Path) -> None:
    store = ActivityStore(database)
    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(store.open())
        with pytest.raises(StoreError, match="another event loop, which has not ended"):
            asyncio.run(store.insert_activities(uuid.uuid4(), [NewActivity("click")]))
    finally:
        first.run_until_complete(store.close())
        first.close()


def test_a_store_outlives_the_event_loop_that_opened_it(database: Path) -> None:
    # Without a lifespan, each loop that ends (asyncio.run, TestClient without `with`) hands
    # the store over to the next one.
    store = ActivityStore(database)
    contact = uuid.uuid4()

    async def log_one(value: str) -> str:
        [result] = await store.insert_activities(contact, [NewActivity("click", value=value)])
        return result.status.value

    assert asyncio.run(log_one("first")) == "logged"
    assert asyncio.run(log_one("second")) == "logged"

    async def values_then_close() -> list[str]:
        values = [a.value for a in await store.activities(contact=contact, newest_first=False)]
        await store.close()
        return values

    assert asyncio.run(values_then_close()) == ["first", "second"]
    assert not store.is_open


# -- durability -------------------------------------------------------------------------------

CRASHING_WRITER = textwrap.dedent(
    """
    import asyncio, os, signal, sys, uuid
    from kxt_middleware import ActivityStore
    from kxt_middleware.activities import NewActivity

    async def main():
        store = ActivityStore(sys.argv[1], writer=sys.argv[2])
        await store.open()
        results = await asyncio.gather(*(
            store.insert_activities(uuid.uuid4(), [NewActivity(type="click", value=str(i))])
            for i in range(50)
        ))
        print(sum(r[0].logged for r in results), flush=True)
        # no close, no flush: the app and its writer process just die
        os.killpg(os.getpgid(0), signal.SIGKILL)

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("writer", ["process", "thread"])
def test_an_acknowledged_activity_survives_the_process_being_killed(
    database: Path, writer: str
) -> None:
    child = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, str(database), writer],
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,  # its own process group, which it kills
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout.strip() == "50"
    assert Path(f"{database}-wal").exists()  # nothing checkpointed the log: it is read back
    values = query(database, "SELECT value FROM activities")
    assert sorted(int(value) for (value,) in values) == list(range(50))
