from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from kxt_middleware import ActivityStore, ActivityType, cli
from kxt_middleware.activities import NewActivity
from kxt_middleware.cli import ACTIVITY_FIELDS, build_parser, main
from kxt_middleware.errors import StoreError

from .helpers import fails, run


def test_types_add_list_enable_disable(database: Path) -> None:
    assert run(database, "types", "add", "custom_cta", "--name", "CTA click") == (
        "created activity type custom_cta\n"
    )
    run(database, "types", "add", "custom_off", "--name", "Off", "--description", "d", "--disabled")
    listing = run(database, "types", "list").splitlines()
    assert listing[0].split() == ["CODE", "NAME", "NAME", "KIND", "ENABLED"]
    assert listing[1].split() == ["click", "Click", "built-in", "yes"]
    assert listing[-2].split() == ["custom_cta", "CTA", "click", "custom", "yes"]
    assert listing[-1].split() == ["custom_off", "Off", "custom", "no"]
    assert run(database, "types", "disable", "custom_cta") == "custom_cta is now disabled\n"
    assert run(database, "types", "enable", "custom_off") == "custom_off is now enabled\n"
    # --database may also follow the command
    out = io.StringIO()
    main(["types", "list", "--database", str(database)], out=out)
    assert "custom_off" in out.getvalue()


def test_bad_arguments_exit_2_with_one_line(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(database, "types", "add", "custom_cta", "--name", "CTA click")
    assert "already exists" in fails(database, capsys, "types", "add", "custom_cta", "--name", "x")
    assert "not a valid code name" in fails(
        database, capsys, "types", "add", "bad code", "--name", "x"
    )
    assert "display_name is 251" in fails(
        database, capsys, "types", "add", "long", "--name", "x" * 251
    )
    assert "no activity type 'nope'" in fails(database, capsys, "types", "enable", "nope")
    assert "not a contact GUID" in fails(database, capsys, "activities", "--contact", "zz")
    assert "invalid choice" in fails(database, capsys, "activities", "--format", "xml")
    assert "required" in fails(database, capsys, "types", "add", "x")
    assert "required" in fails(database, capsys)
    # A missing command names the choices, not argparse's internal name for them.
    assert "required: {list,add,enable,disable}" in fails(database, capsys, "types")
    assert "no activity type 'nope'; list them" in fails(
        database, capsys, "activities", "--type", "nope"
    )
    # Only argument mistakes point to --help.
    assert "(see --help)" not in fails(database, capsys, "types", "enable", "nope")
    missing = database.parent / "missing.sqlite3"
    assert "no database at" in fails(missing, capsys, "activities")
    assert not missing.exists()


def seed(database: Path) -> tuple[uuid.UUID, uuid.UUID]:
    first, second = uuid.uuid4(), uuid.uuid4()

    async def write() -> None:
        async with ActivityStore(database, activity_types=[ActivityType("custom_cta", "CTA")]) as s:
            await s.insert_activities(
                first,
                [
                    NewActivity(type="custom_cta", value="btnCTA", title="Custom CTA click"),
                    NewActivity(type="click", value='comma, "quote"', url="https://x/y"),
                ],
            )
            await s.insert_activities(second, [NewActivity(type="custom_cta", value="é")])

    asyncio.run(write())
    return first, second


def test_activities_as_jsonl_with_filters(database: Path) -> None:
    first, second = seed(database)
    lines = [json.loads(line) for line in run(database, "activities").splitlines()]
    assert [(a["contact"], a["type"], a["value"]) for a in lines] == [
        (str(first), "custom_cta", "btnCTA"),
        (str(first), "click", 'comma, "quote"'),
        (str(second), "custom_cta", "é"),
    ]
    assert {"id", "contact", "type", "title", "value", "url", "source", "created"} <= set(lines[0])
    assert lines[0]["created"].endswith("Z") and lines[0]["source"] == "server"
    mine = run(database, "activities", "--contact", str(first), "--type", "custom_cta")
    assert [json.loads(line)["value"] for line in mine.splitlines()] == ["btnCTA"]


def test_activities_as_csv(database: Path) -> None:
    seed(database)
    rows = list(csv.DictReader(io.StringIO(run(database, "activities", "--format", "csv"))))
    assert [row["value"] for row in rows] == ["btnCTA", 'comma, "quote"', "é"]
    assert rows[1]["url"] == "https://x/y"


def test_activities_csv_quotes_line_breaks_and_jsonl_keeps_one_line_each(database: Path) -> None:
    contact = uuid.uuid4()
    titles = ["two\nlines", "windows\r\nbreak", 'quote " and, comma', "plain"]

    async def write() -> None:
        async with ActivityStore(database, activity_types=[ActivityType("custom_cta", "CTA")]) as s:
            await s.insert_activities(
                contact, [NewActivity(type="custom_cta", title=title) for title in titles]
            )

    asyncio.run(write())
    text = run(database, "activities", "--format", "csv")
    # A record spans several lines when a value has a line break (as the help says) ...
    assert len(text.splitlines()) > 1 + len(titles)
    # ... and a CSV parser reads every value back exactly.
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == list(ACTIVITY_FIELDS)
    assert [row[ACTIVITY_FIELDS.index("title")] for row in rows[1:]] == titles
    jsonl = run(database, "activities").splitlines()
    assert [json.loads(line)["title"] for line in jsonl] == titles
    help_text = io.StringIO()
    with pytest.raises(SystemExit), contextlib.redirect_stdout(help_text):
        main(["activities", "--help"])
    assert "can span several lines" in " ".join(help_text.getvalue().split())


NOT_A_DATABASE = b"this is a text file, not SQLite\n" * 100
# Every command, with arguments it accepts; those marked True may create a missing database.
COMMANDS: list[tuple[bool, list[str]]] = [
    (False, ["types", "list"]),
    (True, ["types", "add", "custom_cta", "--name", "CTA"]),
    (False, ["types", "enable", "custom_cta"]),
    (False, ["types", "disable", "custom_cta"]),
    (False, ["activities"]),
    (False, ["activities", "--format", "csv"]),
    (True, ["users", "create", "jane"]),
    (False, ["users", "list"]),
    (False, ["users", "password", "jane"]),
    (False, ["users", "delete", "jane"]),
    (False, ["groups", "list"]),
    (False, ["groups", "recalculate", "--all"]),
    (False, ["purge", "--older-than", "30d"]),
    (True, ["apikeys", "create", "--channel", "mobile_app"]),
    (False, ["apikeys", "list"]),
    (False, ["apikeys", "revoke", "abc"]),
    (False, ["apikeys", "restore", "abc"]),
    (True, ["consents", "add", "tracking", "--name", "Tracking"]),
    (False, ["consents", "list"]),
    (True, ["sites", "add", "shop", "--name", "Shop", "--origin", "https://shop.example"]),
    (False, ["sites", "list"]),
    (False, ["sites", "enable", "shop"]),
    (False, ["sites", "disable", "shop"]),
    (False, ["sites", "snippet", "shop", "--main-site", "https://www.example.com"]),
]

EVERY_COMMAND = [pytest.param(creates, args, id=" ".join(args)) for creates, args in COMMANDS]


def test_every_command_is_listed_here() -> None:
    listed = {
        tuple(args[:2]) if args[0] not in ("activities", "purge") else (args[0],)
        for _, args in COMMANDS
    }
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    found: set[tuple[str, ...]] = set()
    for name, sub in actions[0].choices.items():
        nested = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
        found |= {(name, verb) for verb in nested[0].choices} if nested else {(name,)}
    assert found == listed


def ends_in_one_error_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], *, stdin: str = "long enough pw\n"
) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv, out=io.StringIO(), stdin=io.StringIO(stdin), ask=lambda prompt: "unused")
    error = capsys.readouterr().err
    assert exit_info.value.code == 2, error
    assert error.startswith("kxt: error: ") and error.count("\n") == 1, error
    return error


@pytest.mark.parametrize(("creates", "args"), EVERY_COMMAND)
def test_a_file_that_is_not_sqlite_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], creates: bool, args: list[str]
) -> None:
    database = tmp_path / "notdb.sqlite3"
    database.write_bytes(NOT_A_DATABASE)
    error = ends_in_one_error_line(capsys, ["--database", str(database), *args])
    assert f"{str(database)!r}: file is not a database; check that the path" in error
    assert database.read_bytes() == NOT_A_DATABASE


@pytest.mark.parametrize(("creates", "args"), EVERY_COMMAND)
def test_only_commands_that_add_something_create_a_missing_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], creates: bool, args: list[str]
) -> None:
    database = tmp_path / "new-typo.sqlite3"
    argv = ["--database", str(database), *args]
    if creates:
        assert main(argv, out=io.StringIO(), stdin=io.StringIO("long enough pw\n")) == 0
        assert database.exists()
    else:
        error = ends_in_one_error_line(capsys, argv)
        assert f"no database at {str(database)!r}; check --database" in error
        assert list(tmp_path.iterdir()) == []
    # A folder that does not exist: never created, whatever the command.
    missing = ["--database", str(tmp_path / "no" / "such" / "x.sqlite3"), *args]
    error = ends_in_one_error_line(capsys, missing)
    assert ("folder" if creates else "no database at") in error
    assert not (tmp_path / "no").exists()


def test_a_folder_or_an_unwritable_place_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (["types", "list"], ["types", "add", "custom_cta", "--name", "CTA"]):
        error = ends_in_one_error_line(capsys, ["--database", str(tmp_path), *args])
        assert f"{str(tmp_path)!r} is a folder, not a database file; check --database" in error
    # /proc exists but no file can be created in it (even by root)
    argv = ["--database", "/proc/kxt.sqlite3", "types", "add", "custom_cta", "--name", "CTA"]
    assert "unable to open database file" in ends_in_one_error_line(capsys, argv)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (PermissionError(13, "Permission denied", "x-wal"), "': Permission denied (x-wal)"),
        (StoreError("the database has schema version 99"), "error: the database has schema"),
    ],
    ids=["OSError", "StoreError"],
)
def test_database_errors_while_running_are_one_error_line(
    database: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    expected: str,
) -> None:
    run(database, "types", "add", "custom_cta", "--name", "CTA")

    async def broken(store: ActivityStore, args: object, out: object) -> None:
        raise error

    monkeypatch.setattr(cli, "_types_list", broken)
    assert expected in ends_in_one_error_line(
        capsys, ["--database", str(database), "types", "list"]
    )


def test_python_dash_m_and_exit_status(database: Path) -> None:
    seed(database)
    done = subprocess.run(
        [sys.executable, "-m", "kxt_middleware", "--database", str(database), "activities"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 3
    bad = subprocess.run(
        [sys.executable, "-m", "kxt_middleware", "--database", str(database), "frobnicate"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "invalid choice" in bad.stderr
    database.with_name("notdb.sqlite3").write_bytes(NOT_A_DATABASE)
    for name in ("notdb.sqlite3", "missing.sqlite3"):
        for command in (["types", "list"], ["types", "enable", "custom_cta"]):
            argv = ["--database", str(database.with_name(name)), *command]
            done = subprocess.run(
                [sys.executable, "-m", "kxt_middleware", *argv],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 2 and done.stderr.startswith("kxt: error: "), done.stderr
            assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not database.with_name("missing.sqlite3").exists()


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and every parser of its commands, at any depth."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += _parsers(sub)
    return found


def test_the_help_is_plain_text() -> None:
    # What `kxt --help` prints is read in a terminal: no reStructuredText ``markup``.
    parsers = _parsers(build_parser())
    assert len(parsers) > 20
    pages = {parser.prog: parser.format_help() for parser in parsers}
    assert [prog for prog, page in pages.items() if "`" in page] == []
    assert "activity types, the activity log" in " ".join(pages["kxt"].split())
