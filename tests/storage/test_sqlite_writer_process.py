"""The SQLite writer as a process of its own (the default): its life, and what crosses to it.

Everything else a writer must do is in the contract suite, which runs on both SQLite writers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from kxt_middleware import ActivityStore, StoreError
from kxt_middleware.activities import NewActivity
from kxt_middleware.storage.sqlite.writer_process import ProcessWriter

from ..helpers import log

pytestmark = pytest.mark.anyio


def writer_process(store: ActivityStore) -> subprocess.Popen[bytes]:
    writer = store._writer  # type: ignore[attr-defined]
    assert isinstance(writer, ProcessWriter)
    return writer._process


async def test_the_writer_is_a_process_that_ends_when_the_store_closes(database: Path) -> None:
    async with ActivityStore(database) as store:
        assert store.writer_kind == "process"  # type: ignore[attr-defined]
        process = writer_process(store)
        assert process.poll() is None and process.pid != os.getpid()
        await log(store, uuid.uuid4(), "click")
    assert process.returncode == 0
    async with ActivityStore(database, writer="thread") as store:
        assert await store.count_activities() == 1


def test_an_unknown_writer_is_refused(database: Path) -> None:
    with pytest.raises(ValueError, match="writer must be 'process' .* or 'thread'"):
        ActivityStore(database, writer="fork")  # type: ignore[call-arg]


async def test_a_write_that_cannot_cross_to_the_process_says_what_to_do(database: Path) -> None:
    async with ActivityStore(database) as store:
        with pytest.raises(StoreError, match="module-level functions .* writer='thread'"):
            await store._write(lambda connection: None)  # type: ignore[attr-defined]
        await log(store, uuid.uuid4(), "click")  # the writer is not harmed
        assert await store.count_activities() == 1


async def test_callers_waiting_when_the_process_dies_hear_it_and_a_new_process_takes_over(
    database: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with ActivityStore(database) as store:
        process = writer_process(store)
        os.kill(process.pid, signal.SIGSTOP)  # it reads nothing more
        waiting = asyncio.ensure_future(
            store.insert_activities(uuid.uuid4(), [NewActivity("click")])
        )
        await asyncio.sleep(0.05)
        assert not waiting.done()
        os.kill(process.pid, signal.SIGKILL)
        with pytest.raises(StoreError, match="writer process ended .* may not be stored"):
            await waiting
        assert "starting a new one" in caplog.text
        await log(store, uuid.uuid4(), "click")
        assert writer_process(store).pid != process.pid
        assert await store.count_activities() == 1


IGNORING_CTRL_C = textwrap.dedent(
    """
    import asyncio, os, signal, sys, uuid
    from kxt_middleware import ActivityStore
    from kxt_middleware.activities import NewActivity

    async def main():
        async with ActivityStore(sys.argv[1]) as store:
            signal.signal(signal.SIGINT, lambda *_: print("interrupted", flush=True))
            os.killpg(os.getpgid(0), signal.SIGINT)  # as Ctrl+C in a terminal does
            await asyncio.sleep(0.2)
            # the app shuts down gracefully: its writer is still there to commit
            [result] = await store.insert_activities(uuid.uuid4(), [NewActivity("click")])
            print(result.status.value, flush=True)

    asyncio.run(main())
    """
)


def test_ctrl_c_leaves_the_writer_to_the_app(database: Path) -> None:
    child = subprocess.run(
        [sys.executable, "-c", IGNORING_CTRL_C, str(database)],
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,  # its own process group, which gets the SIGINT
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["interrupted", "logged"]


DROPPED_STORE = textwrap.dedent(
    """
    import asyncio, gc, sys, uuid
    from kxt_middleware import ActivityStore
    from kxt_middleware.activities import NewActivity

    async def main():
        store = ActivityStore(sys.argv[1])
        await store.insert_activities(uuid.uuid4(), [NewActivity("click")])
        pid = store._writer._process.pid
        del store  # never closed
        gc.collect()
        print(pid, flush=True)

    asyncio.run(main())
    """
)


def test_a_store_dropped_without_closing_leaves_no_process_behind(database: Path) -> None:
    child = subprocess.run(
        [sys.executable, "-W", "error", "-c", DROPPED_STORE, str(database)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 0 and child.stderr == "", child.stderr
    pid = int(child.stdout)
    with pytest.raises(ProcessLookupError):
        for _ in range(100):
            os.kill(pid, 0)  # still there (or a zombie nobody reaped)?
            subprocess.run(["sleep", "0.05"], check=True)


async def test_a_writer_process_that_cannot_start_says_what_to_do(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(database.parent / "no-such-python"))
    with pytest.raises(StoreError, match="cannot start .* writer process .* writer='thread'"):
        async with ActivityStore(database):
            pass
    async with ActivityStore(database, writer="thread") as store:
        await log(store, uuid.uuid4(), "click")
