"""Long kxt commands as an operator runs them: a progress bar on a terminal only, stdout that
is pure data, --since/--until, and Ctrl+C that stops cleanly between batches."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from kxt_middleware import ActivityCondition, ContactGroup, open_store
from kxt_middleware.activities import NewActivity

from .helpers import in_store, run

NOW = datetime.now(timezone.utc)


def fill(database: Path, *, days_ago: int, contacts: int, each: int) -> None:
    """``contacts`` contacts with ``each`` clicks, logged ``days_ago`` days ago."""

    async def write(_: object) -> None:
        when = NOW - timedelta(days=days_ago)
        async with open_store(database, clock=lambda: when) as store:
            people = [uuid.uuid4() for _ in range(contacts)]
            await asyncio.gather(
                *(
                    store.insert_activities(
                        p, [NewActivity("click", value=str(i)) for i in range(each)]
                    )
                    for p in people
                )
            )

    asyncio.run(write(None))


def kxt(database: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "kxt_middleware", "--database", str(database), *args]


def on_terminal(command: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``command`` with stderr on a pseudo-terminal (stdout a pipe); return the master."""
    master, slave = pty.openpty()
    # A terminal of 100 columns, as an operator's (a new pseudo-terminal has none).
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    return process, master


def run_on_terminal(command: list[str]) -> tuple[int, bytes, bytes]:
    """Run ``command`` to its end with stderr on a pseudo-terminal: (status, stdout, shown)."""
    process, master = on_terminal(command)
    shown: list[bytes] = []
    reader = threading.Thread(
        target=lambda: shown.append(read_terminal(master, time.monotonic() + 60))
    )
    reader.start()
    stdout, _ = process.communicate(timeout=60)
    reader.join()
    os.close(master)
    return process.returncode, stdout, shown[0]


def read_terminal(master: int, until: float, stop: re.Pattern[bytes] | None = None) -> bytes:
    """What the terminal showed, until EOF, ``until`` (monotonic), or ``stop`` matches."""
    seen = b""
    while time.monotonic() < until:
        ready, _, _ = select.select([master], [], [], 0.05)
        if not ready:
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        seen += chunk
        if stop is not None and stop.search(seen):
            break
    return seen


def test_the_export_shows_a_bar_on_a_terminal_only_and_stdout_is_the_same(
    database: Path,
) -> None:
    fill(database, days_ago=1, contacts=30, each=400)  # 12,000: three pages
    piped = subprocess.run(kxt(database, "activities"), capture_output=True, check=True)
    assert piped.stderr == b""
    assert len(piped.stdout.splitlines()) == 12_000

    status, stdout, shown = run_on_terminal(kxt(database, "activities"))
    assert status == 0
    assert stdout == piped.stdout  # byte for byte
    # The count, its total, the rate and time left (tqdm's bar), then the line is cleared.
    assert re.search(rb"exporting: +\d+%\|.*\| [\d.k]+/12\.0k \[.*activities/s\]", shown), shown

    status, stdout, shown = run_on_terminal(kxt(database, "activities", "--quiet"))
    assert status == 0 and shown == b"" and stdout == piped.stdout


def test_csv_export_is_unchanged_and_days_select_an_incremental_export(database: Path) -> None:
    fill(database, days_ago=3, contacts=2, each=3)
    fill(database, days_ago=1, contacts=1, each=2)
    everything = run(database, "activities", "--format", "csv").splitlines()
    assert everything[0] == "id,contact,type,title,value,url,referrer,source,site,created"
    assert len(everything) == 1 + 8
    day = (NOW - timedelta(days=1)).date().isoformat()
    recent = run(database, "activities", "--since", day).splitlines()
    assert len(recent) == 2
    older = run(database, "activities", "--until", (NOW - timedelta(days=2)).date().isoformat())
    assert len(older.splitlines()) == 6
    only = run(database, "activities", "--since", day, "--until", day, "--format", "csv")
    assert only.splitlines()[1:] == everything[-2:]


def test_bad_days_are_one_error_line(database: Path) -> None:
    fill(database, days_ago=1, contacts=1, each=1)
    bad = subprocess.run(kxt(database, "activities", "--since", "yesterday"), capture_output=True)
    assert bad.returncode == 2 and b"is not a day: use YYYY-MM-DD" in bad.stderr
    swapped = subprocess.run(
        kxt(database, "activities", "--since", date.today().isoformat(), "--until", "2000-01-01"),
        capture_output=True,
    )
    assert swapped.returncode == 2 and b"--until is before --since" in swapped.stderr


def test_ctrl_c_during_a_purge_stops_between_batches_consistently(database: Path) -> None:
    fans = ContactGroup("fans", "Fans", conditions=[ActivityCondition("click")])
    in_store(database, lambda store: store.ensure_activity_types([]))
    fill(database, days_ago=400, contacts=200, each=300)  # 60,000 old activities
    fill(database, days_ago=1, contacts=5, each=1)  # 5 contacts stay fans

    async def add_group(store: object) -> None:
        from kxt_middleware.groups import add_contact_group

        await add_contact_group(store, fans)  # type: ignore[arg-type]

    in_store(database, add_group)
    process, master = on_terminal(
        kxt(database, "purge", "--older-than", "30d", "--batch-size", "300")
    )
    # Wait until the bar shows that some batches are done, then press Ctrl+C.
    shown = read_terminal(master, time.monotonic() + 60, re.compile(rb"purging:\s+[1-9]\d*%"))
    process.send_signal(signal.SIGINT)
    stdout, _ = process.communicate(timeout=60)
    shown += read_terminal(master, time.monotonic() + 5)
    os.close(master)
    assert process.returncode == 130, shown
    assert b"Traceback" not in shown and stdout == b""
    said = re.search(rb"interrupted: deleted ([\d,]+) of 60,000 activities", shown)
    assert said, shown
    deleted = int(said.group(1).replace(b",", b""))
    assert 0 < deleted < 60_000 and deleted % 300 == 0  # whole batches only

    async def check(store: object) -> tuple[int, int, int]:
        from kxt_middleware.groups import recalculate_contact_group

        remaining = await store.count_activities()  # type: ignore[attr-defined]
        members = await store.count_members("fans")  # type: ignore[attr-defined]
        # Recomputing from scratch changes nothing: memberships matched what remained.
        return remaining, members, await recalculate_contact_group(store, "fans")  # type: ignore[arg-type]

    remaining, members, recomputed = in_store(database, check)
    assert remaining == 60_005 - deleted
    assert members == recomputed
    # Running it again finishes the job.
    finished = subprocess.run(kxt(database, "purge", "--older-than", "30d"), capture_output=True)
    assert finished.returncode == 0
    assert finished.stdout.decode() == f"deleted {60_000 - deleted} activities\n"
    assert in_store(database, lambda store: store.count_members("fans")) == 5


@pytest.mark.parametrize("command", [("activities",), ("groups", "recalculate", "--all")])
def test_ctrl_c_in_other_long_commands_exits_130_without_a_traceback(
    database: Path, command: tuple[str, ...]
) -> None:
    fill(database, days_ago=1, contacts=2_000, each=20)
    in_store(
        database,
        lambda store: store.add_contact_group(
            ContactGroup("fans", "Fans", conditions=[ActivityCondition("click")])
        ),
    )
    process, master = on_terminal(kxt(database, *command))
    read_terminal(master, time.monotonic() + 60, re.compile(rb"\d+%"))
    process.send_signal(signal.SIGINT)
    process.stdout.close()  # type: ignore[union-attr]
    process.wait(timeout=60)
    shown = read_terminal(master, time.monotonic() + 5)
    os.close(master)
    assert process.returncode == 130, shown
    assert b"Traceback" not in shown and b"kxt: interrupted: " in shown
