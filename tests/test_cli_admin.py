from __future__ import annotations

import asyncio
import io
import re
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kxt_middleware import ActivityStore
from kxt_middleware.activities import NewActivity
from kxt_middleware.cli import main
from kxt_middleware.groups import ActivityCondition, ContactGroup, add_contact_group
from kxt_middleware.operators import verify_operator
from kxt_middleware.retention import parse_age, purge_activities

from .helpers import LOAN, fails, run


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def verify(database: Path, name: str, password: str) -> str | None:
    async with ActivityStore(database) as store:
        return await verify_operator(store, name, password)


def test_users_create_from_stdin_or_terminal_list_delete(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(database, "users", "create", "jane", stdin="correct horse\n") == (
        "created operator jane\n"
    )
    assert asyncio.run(verify(database, "JANE", "correct horse")) == "jane"
    assert asyncio.run(verify(database, "jane", "wrong horse!")) is None
    assert asyncio.run(verify(database, "nobody", "correct horse")) is None
    answers = iter(["battery staple", "battery staple"])
    out = io.StringIO()
    code = main(
        ["--database", str(database), "users", "create", "joe"],
        out=out,
        stdin=Terminal(),
        ask=lambda prompt: next(answers),
    )
    assert code == 0 and out.getvalue() == "created operator joe\n"
    assert [line.split("\t")[0] for line in run(database, "users", "list").splitlines()] == [
        "jane",
        "joe",
    ]
    assert "already exists" in fails(database, capsys, "users", "create", "jane", stdin="x" * 12)
    assert "needs 10 to 1024 characters" in fails(
        database, capsys, "users", "create", "ann", stdin="short\n"
    )
    assert "not a valid operator name" in fails(
        database, capsys, "users", "create", "a b", stdin="long enough pw\n"
    )
    new = database.with_name("new.sqlite3")
    assert "needs 10 to 1024" in fails(new, capsys, "users", "create", "ann", stdin="short\n")
    assert not new.exists()  # the password is refused before the database is created
    answers = iter(["battery staple", "battery stapler"])
    with pytest.raises(SystemExit):
        main(
            ["--database", str(database), "users", "create", "ann"],
            stdin=Terminal(),
            ask=lambda prompt: next(answers),
        )
    assert "passwords differ" in capsys.readouterr().err
    assert run(database, "users", "delete", "joe") == "deleted operator joe\n"
    assert "no operator 'joe'" in fails(database, capsys, "users", "delete", "joe")


def test_users_password_from_stdin_or_terminal(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(database, "users", "create", "jane", stdin="old password\n")
    # The error for a taken name points to `kxt users password NAME`: that command works.
    error = fails(database, capsys, "users", "create", "jane", stdin="another password\n")
    suggested = re.search(r"`kxt (users password jane)`", error)
    assert suggested, error
    assert run(database, *suggested[1].split(), stdin="new password\n") == (
        "changed the password of operator jane\n"
    )
    assert asyncio.run(verify(database, "jane", "new password")) == "jane"
    assert asyncio.run(verify(database, "jane", "old password")) is None
    answers = iter(["terminal password", "terminal password"])
    out = io.StringIO()
    code = main(
        ["--database", str(database), "users", "password", "jane"],
        out=out,
        stdin=Terminal(),
        ask=lambda prompt: next(answers),
    )
    assert code == 0 and out.getvalue() == "changed the password of operator jane\n"
    assert asyncio.run(verify(database, "jane", "terminal password")) == "jane"
    assert next(answers, None) is None  # asked twice
    # Refused: too short, no password, two different ones, an unknown operator.
    assert "needs 10 to 1024 characters" in fails(
        database, capsys, "users", "password", "jane", stdin="short\n"
    )
    assert "needs 10 to 1024 characters" in fails(database, capsys, "users", "password", "jane")
    answers = iter(["battery staple", "battery stapler"])
    with pytest.raises(SystemExit) as exit_info:
        main(
            ["--database", str(database), "users", "password", "jane"],
            stdin=Terminal(),
            ask=lambda prompt: next(answers),
        )
    assert exit_info.value.code == 2 and "passwords differ" in capsys.readouterr().err
    assert asyncio.run(verify(database, "jane", "terminal password")) == "jane"

    def never_asked(prompt: str) -> str:
        raise AssertionError("asked for a password of an unknown operator")

    with pytest.raises(SystemExit) as exit_info:
        main(
            ["--database", str(database), "users", "password", "nobody"],
            stdin=Terminal(),
            ask=never_asked,
        )
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and error.count("\n") == 1
    assert "no operator 'nobody'; list them with `kxt users list`" in error
    missing = database.with_name("missing.sqlite3")
    assert "no database at" in fails(missing, capsys, "users", "password", "jane", stdin="x" * 12)
    assert not missing.exists()


async def seed(database: Path, now: datetime) -> list[uuid.UUID]:
    contacts = [uuid.uuid4() for _ in range(3)]
    clock = [now - timedelta(days=400)]
    async with ActivityStore(database, activity_types=[LOAN], clock=lambda: clock[0]) as store:
        for index, contact in enumerate(contacts):
            await store.insert_activities(
                contact, [NewActivity(LOAN.code_name) for _ in range(index + 1)]
            )
            clock[0] = now
        await add_contact_group(
            store,
            ContactGroup("fans", "Fans", conditions=[ActivityCondition(LOAN.code_name, 2)]),
        )
        await add_contact_group(
            store,
            ContactGroup("users", "Users", conditions=[ActivityCondition(LOAN.code_name)]),
        )
    return contacts


def test_groups_list_and_recalculate(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(seed(database, datetime.now(timezone.utc)))
    assert run(database, "groups", "list").splitlines() == [
        "fans\tFans\t2\tcustom_loan_calculator at least 2 times",
        "users\tUsers\t3\tcustom_loan_calculator at least 1 time",
    ]
    assert run(database, "groups", "recalculate", "fans") == "fans: 2 members\n"
    assert run(database, "groups", "recalculate", "--all") == "fans: 2 members\nusers: 3 members\n"
    assert "no contact group 'nope'" in fails(database, capsys, "groups", "recalculate", "nope")
    assert "not allowed with argument" in fails(
        database, capsys, "groups", "recalculate", "fans", "--all"
    )


def test_purge_deletes_old_activities_in_batches(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(seed(database, datetime.now(timezone.utc)))
    assert "not an age" in fails(database, capsys, "purge", "--older-than", "1y")
    assert "positive whole number" in fails(
        database, capsys, "purge", "--older-than", "1d", "--batch-size", "0"
    )
    assert run(database, "purge", "--older-than", "365d") == "deleted 1 activity\n"
    assert run(database, "purge", "--older-than", "52w") == "deleted 0 activities\n"
    assert "no database" in fails(
        database.with_name("missing.sqlite3"), capsys, "purge", "--older-than", "1d"
    )


@pytest.mark.anyio
async def test_purge_batches_through_the_writer(database: Path) -> None:
    now = datetime(2025, 6, 1, tzinfo=timezone.utc)
    clock = [now - timedelta(days=10)]
    async with ActivityStore(database, activity_types=[LOAN], clock=lambda: clock[0]) as store:
        await store.insert_activities(uuid.uuid4(), [NewActivity(LOAN.code_name) for _ in range(7)])
        clock[0] = now
        await store.insert_activities(uuid.uuid4(), [NewActivity(LOAN.code_name)])
        commits = store.stats.commits
        assert await purge_activities(store, timedelta(days=5), batch_size=3) == 7
        assert store.stats.commits - commits == 3  # 3 + 3 + 1
        assert await store.count_activities() == 1
        with pytest.raises(ValueError, match="batch_size"):
            await purge_activities(store, timedelta(days=5), batch_size=0)
        with pytest.raises(ValueError, match="positive age"):
            await purge_activities(store, timedelta(0))


def test_parse_age() -> None:
    assert parse_age("365d") == timedelta(days=365)
    assert parse_age(" 2w ") == timedelta(weeks=2)
    with pytest.raises(ValueError, match="e.g. 365d or 52w"):
        parse_age("0d")
