"""The activity export in worker processes: byte for byte what one process writes (which is what
json.dumps and the csv module write for every activity), a bar on a terminal, Ctrl+C."""

from __future__ import annotations

import asyncio
import csv
import fcntl
import io
import json
import os
import pty
import random
import re
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
import uuid
from contextlib import closing
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from kxt_middleware import open_store
from kxt_middleware.activities import EXPORT_FIELDS, ActivityFilter, ActivitySource, format_time
from kxt_middleware.exports import ExportFormat, csv_rows
from kxt_middleware.storage import Store
from kxt_middleware.storage.sqlite import export
from kxt_middleware.storage.sqlite.store import SQLiteStore

from .test_cli_long_commands import kxt, read_terminal, run_on_terminal

AWKWARD = [
    "", "plain", "comma, here", 'quote " here', '"', '""', "line\nbreak", "cr\rhere", "crlf\r\n",
    "tab\there", "back\\slash", "é ü 中文 😀", "\u2028 \u2029 \x85", ":starts", "ends,", 'has ":',
    '{"id": "x", "site": null}', "None", "null", "\x01\x1f control", " spaced ", ",", '","',
]  # fmt: skip
SITES = [None, "main", "None", "a,b", 'x"y', ""]
START = datetime(2031, 3, 1, tzinfo=timezone.utc)


def build(database: Path, rows: int, *, contacts: int = 50, seed: int = 7) -> None:
    """``rows`` activities with awkward text; rows 40%-60% are the "burst" type, which also
    appears at the very start and end: dense in one place, sparse elsewhere."""

    async def schema() -> None:
        async with open_store(database):
            pass

    asyncio.run(schema())
    rng = random.Random(seed)
    with closing(sqlite3.connect(database)) as connection:
        connection.executemany(
            "INSERT INTO contacts (id, guid, created) VALUES (?, ?, ?)",
            [(n, str(uuid.UUID(int=rng.getrandbits(128))), format_time(START))
             for n in range(1, contacts + 1)],
        )  # fmt: skip

        def row(n: int) -> tuple[object, ...]:
            burst = n in (0, rows - 1) or 0.4 * rows <= n < 0.6 * rows
            return (
                str(uuid.UUID(int=rng.getrandbits(128))),
                rng.randint(1, contacts),
                "burst" if burst else rng.choice(["click", "pagevisit"]),
                rng.choice(AWKWARD),
                rng.choice(AWKWARD),
                rng.choice(AWKWARD),
                rng.choice(AWKWARD),
                format_time(START + timedelta(days=10 * n / rows)),
                rng.choice(["server", "browser"]),
                rng.choice(SITES),
            )

        connection.executemany(
            "INSERT INTO activities (uid, contact_id, type, title, value, url, referrer, "
            "created, source, site) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row(n) for n in range(rows)),
        )
        connection.commit()


async def oracle(store: Store, filters: ActivityFilter, format: ExportFormat) -> bytes:
    """The export as the object path writes it: json.dumps / the csv module, per activity."""
    out = io.StringIO()
    writer = csv.DictWriter(out, EXPORT_FIELDS, lineterminator="\n") if format == "csv" else None
    if writer is not None:
        writer.writeheader()
    async for activity in store.iter_activities(filters):
        if writer is not None:
            writer.writerow(activity.to_json())
        else:
            out.write(json.dumps(activity.to_json(), ensure_ascii=False) + "\n")
    return out.getvalue().encode()


def filters_of(contact: uuid.UUID) -> list[ActivityFilter]:
    return [
        ActivityFilter(),
        ActivityFilter(type="BURST"),  # dense in the middle: ranges that hold more come back
        ActivityFilter(type="click"),
        ActivityFilter(contact=contact),
        ActivityFilter(start=date(2031, 3, 3), end=date(2031, 3, 6)),
        ActivityFilter(start=date(2031, 3, 8)),
        ActivityFilter(end=date(2031, 3, 2)),
        ActivityFilter(type="burst", start=date(2031, 3, 5), source=ActivitySource.BROWSER),
        ActivityFilter(site="a,b"),
        ActivityFilter(start=date(2040, 1, 1)),  # nothing
    ]


@pytest.mark.parametrize("format", ["jsonl", "csv"])
def test_worker_processes_write_what_one_process_and_the_object_path_write(
    database: Path, format: ExportFormat
) -> None:
    build(database, 3_000)

    async def check() -> None:
        async with SQLiteStore(database) as store:
            contact = (await store.contact_page(limit=1))[0][0].guid
            for filters in filters_of(contact):
                expected = await oracle(store, filters, format)
                plain = [c async for c in store.export_activities(filters, format, page_size=70)]
                assert b"".join(c.data for c in plain) == expected, filters
                plan = await store._read(lambda c: export.plan_export(c, filters))  # noqa: B023
                chunks = [
                    chunk
                    async for chunk in export.export_in_processes(
                        store.database, filters, format, plan,
                        processes=2, busy_timeout_ms=5000, chunk_rows=40,
                    )
                ]  # fmt: skip
                assert b"".join(c.data for c in chunks) == expected, filters
                assert sum(c.activities for c in chunks) == plan.activities
                assert max((c.activities for c in chunks), default=0) <= 80  # twice a chunk

    asyncio.run(check())


def test_csv_rows_is_what_the_csv_module_writes() -> None:
    rng = random.Random(3)
    pieces = [*AWKWARD, "a", "b", ",", '"', "\n", "\r"]
    for _ in range(300):
        records = [
            tuple("".join(rng.choices(pieces, k=rng.randint(0, 3))) for _ in range(10))
            for _ in range(rng.randint(1, 20))
        ]
        if rng.random() < 0.2:
            records[0] = (*records[0][:8], None, records[0][9])  # type: ignore[assignment]
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(records)
        assert csv_rows(records) == out.getvalue()


LARGE = export.PARALLEL_FROM + 10_000


@pytest.fixture
def large(tmp_path: Path) -> Path:
    """More activities than one process exports by itself."""
    database = tmp_path / "large.sqlite3"
    build(database, LARGE, contacts=500)
    return database


def expected_output(database: Path, format: ExportFormat) -> bytes:
    async def read() -> bytes:
        async with open_store(database) as store:
            return await oracle(store, ActivityFilter(), format)

    return asyncio.run(read())


def test_a_large_export_is_the_same_on_a_pipe_and_a_terminal_with_a_bar(large: Path) -> None:
    for format in ("jsonl", "csv"):
        piped = subprocess.run(
            kxt(large, "activities", "--format", format), capture_output=True, check=True
        )
        assert piped.stderr == b""
        assert piped.stdout == expected_output(large, format)  # type: ignore[arg-type]
    status, stdout, shown = run_on_terminal(kxt(large, "activities"))
    assert status == 0 and stdout == expected_output(large, "jsonl")
    bar = rb"exporting: +\d+%%\|.*\| [\d.k]+/%dk \[.*activities/s\]" % (LARGE // 1000)
    assert re.search(bar, shown), shown
    status, stdout, shown = run_on_terminal(kxt(large, "activities", "--quiet"))
    assert status == 0 and shown == b"" and stdout == expected_output(large, "jsonl")


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as listing:
            found |= {int(child) for child in listing.read().split()}
    return found


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def all_gone(pids: set[int]) -> bool:
    """Whether every process of ``pids`` ended, within 10 s (multiprocessing's resource
    tracker ends when it sees that its parent did)."""
    deadline = time.monotonic() + 10
    while not all(gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return all(gone(pid) for pid in pids)


def in_a_group_on_a_terminal(command: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``command`` in a process group of its own, stderr on a pseudo-terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=slave, start_new_session=True
    )
    os.close(slave)
    return process, master


def test_ctrl_c_on_the_terminal_stops_the_export_and_its_workers(large: Path) -> None:
    # Ctrl+C reaches every process of the terminal's foreground group: here, a group of its own.
    process, master = in_a_group_on_a_terminal(kxt(large, "activities"))
    stdout = process.stdout
    assert stdout is not None
    read: list[int] = []

    def slow_reader() -> None:  # a slow consumer, so the export is still running at Ctrl+C
        while chunk := stdout.read1(65536):  # type: ignore[attr-defined]
            read.append(len(chunk))
            time.sleep(0.02)

    reader = threading.Thread(target=slow_reader)
    reader.start()
    read_terminal(master, time.monotonic() + 60, re.compile(rb"exporting: +[1-9]\d*%"))
    workers = children_of(process.pid)
    assert len(workers) >= 2, workers  # the workers (and multiprocessing's resource tracker)
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=60)
    reader.join(timeout=60)
    stdout.close()
    shown = read_terminal(master, time.monotonic() + 5)
    os.close(master)
    assert process.returncode == 130, shown
    assert b"Traceback" not in shown
    total = f"{LARGE:,}".encode()
    said = re.search(rb"interrupted: wrote ([\d,]+) of %b activities" % total, shown)
    assert said and 0 < int(said.group(1).replace(b",", b"")) < LARGE, shown
    assert all_gone(workers)


def test_a_closed_pipe_ends_the_export_and_its_workers(large: Path) -> None:
    process = subprocess.Popen(
        kxt(large, "activities"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.read(1_000_000)
    workers = children_of(process.pid)
    process.stdout.close()  # as `kxt activities | head` does
    assert process.wait(timeout=60) == 0
    assert b"Traceback" not in process.stderr.read()
    process.stderr.close()
    assert workers and all_gone(workers)


def test_a_script_that_calls_main_exports_in_processes_too(database: Path) -> None:
    """Worker processes start afresh and import the main script (guarded, as the kxt command
    is), not only ``python -m kxt_middleware``."""
    build(database, export.PARALLEL_FROM + 1, contacts=5)
    script = database.with_name("run_kxt.py")
    script.write_text(
        "import sys\nfrom kxt_middleware.cli import main\n"
        "if __name__ == '__main__':\n    raise SystemExit(main())\n"
    )
    done = subprocess.run(
        [sys.executable, str(script), "--database", str(database), "activities"],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stderr == b""
    assert done.stdout == expected_output(database, "jsonl")
