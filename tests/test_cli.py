from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from kxt_middleware import ActivityStore, ActivityType
from kxt_middleware.activities import NewActivity
from kxt_middleware.cli import main


def run(database: Path, *args: str) -> str:
    out = io.StringIO()
    assert main(["--database", str(database), *args], out=out) == 0
    return out.getvalue()


def fails(database: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(["--database", str(database), *args], out=io.StringIO())
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error  # one line
    return error


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
