"""What only the PostgreSQL backend has: its URL and options, the missing driver, a server
that cannot be reached, many processes migrating and writing at once, and the entry points
(kxt --database, KXT_DATABASE, the admin) opening it from a URL."""

from __future__ import annotations

import asyncio
import io
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from kxt_middleware import ActivityStore, LogStatus, StoreError
from kxt_middleware.activities import NewActivity
from kxt_middleware.activity_types import ActivityType
from kxt_middleware.cli import main
from kxt_middleware.storage import backend_class, open_store
from kxt_middleware.storage.postgres import PostgresStore
from kxt_middleware.storage.postgres.connection import parse_url
from kxt_middleware.storage.postgres.schema import MIGRATIONS, SCHEMA_VERSION

from ..helpers import every_activity, in_store, log, run
from .postgres_server import Databases

pytestmark = pytest.mark.anyio


def test_the_url_picks_the_backend_and_carries_its_options() -> None:
    url = "postgresql://kxt:secret@db.internal:6432/kxt?pool_size=4&connect_timeout=2.5"
    store = ActivityStore(url)
    assert isinstance(store, PostgresStore) and backend_class("postgres://h/db") is PostgresStore
    assert store.database == "postgresql://kxt:***@db.internal:6432/kxt"  # no password shown
    options = parse_url(url + "&command_timeout=30&sslmode=disable")
    assert (options.pool_size, options.connect_timeout, options.command_timeout) == (4, 2.5, 30)
    assert options.dsn == "postgresql://kxt:secret@db.internal:6432/kxt?sslmode=disable"
    assert parse_url("postgresql://h/kxt").pool_size == 10


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://h/db?pool_size=many", "pool_size must be a whole number"),
        ("postgresql://h/db?pool_size=0", "pool_size must be at least 1"),
        ("postgresql://h/db?connect_timeout=soon", "a number of seconds"),
        ("postgresql://h:5432", "names no database"),
    ],
)
def test_a_wrong_option_says_what_to_fix(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_store(url)
    with pytest.raises(ValueError, match="max_pending"):
        open_store("postgresql://h/db", max_pending=0)
    with pytest.raises(ValueError, match="synchronous"):
        open_store("postgresql://h/db", synchronous="OFF")  # type: ignore[arg-type]


def test_without_asyncpg_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m.startswith("kxt_middleware.storage.postgres")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "asyncpg", None)
    with pytest.raises(ImportError, match=r"pip install 'kxt-middleware\[postgres\]'"):
        backend_class("postgresql://h/db")


async def test_a_server_that_cannot_be_reached_says_what_to_check(postgres_url: str) -> None:
    missing = postgres_url.rsplit("/", 1)[0] + "/no_such_database?connect_timeout=5"
    with pytest.raises(StoreError, match="database exists"):
        await open_store(missing).open()


async def test_processes_starting_together_migrate_once(postgres_databases: Databases) -> None:
    empty = postgres_databases.fresh(migrated=False)
    stores = [open_store(empty, activity_types=[ActivityType("cta", "CTA")]) for _ in range(6)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        versions = {await store.schema_version() for store in stores}
        assert versions == {SCHEMA_VERSION} and SCHEMA_VERSION == len(MIGRATIONS)
        applied = await stores[0]._read(
            lambda c: c.fetch("SELECT version FROM schema_version ORDER BY version")
        )
        assert [row[0] for row in applied] == list(range(1, SCHEMA_VERSION + 1))  # each once
        assert [t.code_name for t in await stores[0].activity_types()].count("cta") == 1
    finally:
        await asyncio.gather(*(store.close() for store in stores))
        postgres_databases.drop(empty)


async def test_an_erasure_in_one_process_wins_over_writes_in_flight_in_another(
    postgres_url: str,
) -> None:
    contacts = [uuid.uuid4() for _ in range(20)]
    async with open_store(postgres_url) as server, open_store(postgres_url) as other:
        for contact in contacts:
            await log(server, contact, "click")

        async def keep_logging(contact: uuid.UUID) -> list[LogStatus]:
            statuses = []
            for n in range(10):
                [result] = await server.insert_activities(
                    contact, [NewActivity("click", value=str(n))]
                )
                statuses.append(result.status)
                await asyncio.sleep(0)
            return statuses

        logging = [asyncio.create_task(keep_logging(contact)) for contact in contacts]
        erased = await asyncio.gather(*(other.delete_contact(c) for c in contacts[::2]))
        outcomes = await asyncio.gather(*logging)
        assert erased == [True] * 10
        for contact, statuses in zip(contacts, outcomes, strict=True):
            if contacts.index(contact) % 2:
                assert statuses == [LogStatus.LOGGED] * 10
            else:  # once erased, never back
                assert set(statuses) <= {LogStatus.LOGGED, LogStatus.CONTACT_ERASED}
                assert statuses[-1] is LogStatus.CONTACT_ERASED
                assert not await server.contact_exists(contact)
        stored = {a.contact for a in await every_activity(server)}
        assert stored == set(contacts[1::2])


async def test_code_names_are_unique_ignoring_case_in_every_process(postgres_url: str) -> None:
    async with open_store(postgres_url) as one, open_store(postgres_url) as two:
        outcomes = await asyncio.gather(
            one.add_activity_type(ActivityType("Newsletter", "N")),
            two.add_activity_type(ActivityType("NEWSLETTER", "N")),
            return_exceptions=True,
        )
        assert sorted(type(o).__name__ for o in outcomes) == ["NoneType", "ValueError"]


def test_kxt_and_kxt_database_open_a_postgresql_url(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert "custom_cta" in run(postgres_url, "types", "add", "custom_cta", "--name", "CTA")  # type: ignore[arg-type]
    monkeypatch.setenv("KXT_DATABASE", postgres_url)
    listed = io.StringIO()
    assert main(["types", "list"], out=listed) == 0
    assert "custom_cta" in listed.getvalue()
    types = in_store(postgres_url, lambda store: store.activity_types())
    assert "custom_cta" in [t.code_name for t in types]


def test_the_admin_opens_a_postgresql_url(postgres_url: str) -> None:
    from starlette.testclient import TestClient

    from kxt_middleware.admin import admin_app

    from ..helpers import ADMIN_SECRET, seed_admin, sign_in

    asyncio.run(seed_admin(postgres_url))  # type: ignore[arg-type]
    app = admin_app(database=postgres_url, secret_key=ADMIN_SECRET)
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client)
        page = client.get("/activities")
        assert page.status_code == 200 and "custom_loan_calculator" in page.text


def test_a_missing_postgresql_is_an_error_saying_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from . import postgres_server

    monkeypatch.setattr(postgres_server, "DEBIAN_ROOT", tmp_path)  # no server installed here
    monkeypatch.setattr(postgres_server.os, "geteuid", lambda: 1000)  # and no root to install it
    with pytest.raises(postgres_server.PostgresUnavailable, match="install the postgresql"):
        postgres_server.binaries()
    (tmp_path / "15" / "bin").mkdir(parents=True)
    (tmp_path / "15" / "bin" / "initdb").touch()
    assert postgres_server.binaries() == tmp_path / "15" / "bin"


async def test_a_nul_slipped_past_the_check_fails_only_its_caller(postgres_url: str) -> None:
    good = [uuid.uuid4() for _ in range(10)]
    bad = NewActivity("click", value="fine")
    object.__setattr__(bad, "value", "a\x00b")  # as a bug in a caller could
    async with open_store(postgres_url) as store:
        calls = [store.insert_activities(c, [NewActivity("click", value="ok")]) for c in good]
        calls.insert(5, store.insert_activities(uuid.uuid4(), [bad]))
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        failed = outcomes.pop(5)
        assert isinstance(failed, StoreError), failed
        assert all(not isinstance(o, BaseException) and o[0].logged for o in outcomes)
        assert store.stats.failed_callers == 1 and await store.count_activities() == 10


async def test_a_batch_of_activities_with_its_groups_is_one_statement(
    postgres_url: str,
) -> None:
    from kxt_middleware.consents import Consent, add_consent, set_agreement
    from kxt_middleware.groups import ActivityCondition, ContactGroup, add_contact_group
    from kxt_middleware.groups import groups_of_contact as groups_of

    agreed, unasked, erased = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    others = [uuid.uuid4() for _ in range(10)]
    last_four = [LogStatus.LOGGED, LogStatus.NO_CONSENT, LogStatus.CONTACT_ERASED]
    last_four.append(LogStatus.TYPE_UNKNOWN)
    async with open_store(postgres_url) as store:
        await add_consent(store, Consent("tracking", "Tracking"))
        await set_agreement(store, agreed, "tracking", True)
        await log(store, erased, "click")
        await store.delete_contact(erased)
        statements: list[str] = []
        assert isinstance(store, PostgresStore) and store._writer is not None
        store._writer._connection.add_query_logger(lambda q: statements.append(q.query))

        def batch() -> list[Any]:
            def click() -> list[NewActivity]:
                return [NewActivity("click")]

            return [
                *(store.insert_activities(c, click()) for c in others),
                store.insert_activities(agreed, click(), consent="tracking"),
                store.insert_activities(unasked, click(), consent="tracking"),
                store.insert_activities(erased, click()),
                store.insert_activities(uuid.uuid4(), [NewActivity("no_such_type")]),
            ]

        results = await asyncio.gather(*batch())
        assert [r[0].status for r in results[-4:]] == last_four
        assert all(r[0].logged for r in results[:10])
        assert len(statements) == 1, statements  # its own transaction: one round trip
        assert store.stats.commit_sizes[-1] == 14

        # The contacts' groups are re-evaluated in the same statement.
        await add_contact_group(
            store, ContactGroup("clickers", "Clickers", conditions=[ActivityCondition("click")])
        )
        statements.clear()
        results = await asyncio.gather(*batch())
        assert [r[0].status for r in results[-4:]] == last_four
        assert len(statements) == 1, statements
        assert await groups_of(store, agreed) == {"clickers"}
        assert await groups_of(store, others[0]) == {"clickers"}
        assert not await store.contact_exists(unasked) and await store.is_erased(erased)
        assert await store.count_activities() == 2 * 11  # (the erasure deleted the first)


async def test_a_read_is_one_round_trip(postgres_url: str) -> None:
    """The pool hands a read's connection back without a reset query (reads leave no
    session state), so a read costs one statement."""
    async with open_store(postgres_url + "?pool_size=1") as store:
        assert isinstance(store, PostgresStore)
        statements: list[str] = []
        async with store._pool.acquire() as connection:
            connection.add_query_logger(lambda q: statements.append(q.query))
        statements.clear()
        assert await store.count_contacts() == 0
        assert statements == ["SELECT count(*) FROM contacts"]


async def test_logging_takes_no_lock_on_the_contact_row(postgres_url: str) -> None:
    """An activity's contact is not checked row by row (no foreign key locking the contact's
    row for each activity), and deleting a contact still deletes its activities."""
    import asyncpg

    contact = uuid.uuid4()
    async with open_store(postgres_url) as store:
        await log(store, contact, "click")
        holder = await asyncpg.connect(postgres_url.split("?")[0])
        try:
            async with holder.transaction():
                await holder.execute("SELECT 1 FROM contacts WHERE guid = $1 FOR UPDATE", contact)
                await asyncio.wait_for(log(store, contact, "click"), timeout=10)
            assert await store.count_activities() == 2
            await holder.execute("DELETE FROM contacts WHERE guid = $1", contact)
        finally:
            await holder.close()
        assert await store.count_activities() == 0


@pytest.mark.parametrize("first_byte", ["0f", "f0"])  # a positive and a negative lock key
async def test_a_batch_waits_for_its_contacts_erasure_lock(
    postgres_url: str, first_byte: str
) -> None:
    """The one-statement writer takes each contact's lock by the key erasure takes."""
    import asyncpg

    from kxt_middleware.storage.postgres.activities import lock_key

    contact = uuid.UUID(first_byte + uuid.uuid4().hex[2:])
    async with open_store(postgres_url) as store:
        await log(store, uuid.uuid4(), "click")  # the writer is ready
        holder = await asyncpg.connect(postgres_url)
        try:
            async with holder.transaction():
                await holder.execute("SELECT pg_advisory_xact_lock($1)", lock_key(contact))
                logging = asyncio.ensure_future(log(store, contact, "click"))
                await asyncio.sleep(0.5)
                assert not logging.done()
            await asyncio.wait_for(logging, timeout=10)
        finally:
            await holder.close()
        assert await store.count_activities() == 2


async def test_an_id_twice_in_one_batch_is_stored_once(postgres_url: str) -> None:
    """Two callers of one batch with the same new activity id (a request retried while the
    first is still queued): both hear it logged, it is stored once."""
    activity = NewActivity("click", value="x")
    first, second = uuid.uuid4(), uuid.uuid4()
    async with open_store(postgres_url) as store:
        answers = await asyncio.gather(
            store.insert_activities(first, [activity]),
            store.insert_activities(second, [NewActivity("click"), activity]),
        )
        assert all(result.logged for results in answers for result in results)
        assert store.stats.commit_sizes[-1] == 2  # one batch
        assert [(a.id, a.contact) for a in await store.activities() if a.id == activity.id] == [
            (activity.id, first)
        ]
        assert await store.count_activities() == 2
