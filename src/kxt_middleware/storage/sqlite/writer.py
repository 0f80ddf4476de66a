"""The SQLite writer's hand-over: callers' jobs go to ONE owner of the write connection, which
commits whatever is waiting in one step (:class:`~.commit.Committer`), and every caller's
future is settled on its event loop after the commit.

Two owners share this life: :class:`Writer`, a thread of the app's process, and
:class:`~.writer_process.ProcessWriter`, a process of its own (the default where the event
loop can watch a pipe), whose Python never holds the app's GIL. A batch costs one wake-up of
the owner and one of the loop, and an ``await`` on a write returns only after its commit.
"""

from __future__ import annotations

import asyncio
import functools
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..records import WriterStats
from .commit import Committer, FunctionJob, Job, Outcome

__all__ = ["FunctionJob", "Job", "Writer", "answer_on", "settle"]


@dataclass
class _Stop:
    """Asks the thread to end once the jobs queued before it are committed."""

    future: asyncio.Future[None]


class Writer:
    """Group commit in one thread that owns the write connection; see the module docstring.

    ``pending`` (jobs submitted and not yet answered) is only read and changed on the event
    loop, so the bound on it needs no lock.
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        *,
        max_pending: int,
        max_batch: int,
        clock: Callable[[], datetime],
        stats: WriterStats,
    ) -> None:
        self.max_pending = max_pending
        self.pending = 0
        self._committer = Committer(connection, stats)
        self._max_batch = max_batch
        self._clock = clock
        self._jobs: queue.SimpleQueue[Job | _Stop] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="kxt-writer", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        """Queue ``job`` (on the event loop); QueueFull when ``max_pending`` jobs wait."""
        if self.pending >= self.max_pending:
            raise asyncio.QueueFull
        self.pending += 1
        self._jobs.put(job)

    async def stop(self) -> None:
        """Commit every job queued before this call, close the connection, end the thread."""
        done = asyncio.get_running_loop().create_future()
        self._jobs.put(_Stop(done))
        await done
        await asyncio.to_thread(self._thread.join)

    def adopt(self) -> None:
        """Serve a new event loop after the old one ended: its unanswered jobs no longer count
        (the thread still commits them; their callers were cancelled with their loop)."""
        self.pending = 0

    def _run(self) -> None:
        stop: _Stop | None = None
        while stop is None:
            first = self._jobs.get()
            batch: list[Job] = []
            item: Job | _Stop | None = first
            while item is not None:
                if isinstance(item, _Stop):
                    stop = item
                    break
                batch.append(item)
                if len(batch) >= self._max_batch:
                    break
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    item = None
            if batch:
                outcomes = self._committer.commit(batch, self._clock())
                # Normally one loop; after a hand-over, the old loop's callers are answered
                # nowhere.
                loops: dict[asyncio.AbstractEventLoop, list[tuple[Job, Outcome]]] = {}
                for job, outcome in zip(batch, outcomes, strict=True):
                    loops.setdefault(job.future.get_loop(), []).append((job, outcome))
                for loop, answers in loops.items():
                    answer_on(loop, functools.partial(self._deliver, answers))
        self._committer.connection.close()
        answer_on(stop.future.get_loop(), functools.partial(stop.future.set_result, None))

    def _deliver(self, answers: list[tuple[Job, Outcome]]) -> None:
        """On the event loop: settle the callers' futures."""
        self.pending = max(0, self.pending - len(answers))
        for job, outcome in answers:
            settle(job.future, outcome)


def settle(future: asyncio.Future[Any], outcome: Outcome) -> None:
    """On ``future``'s loop: give it its outcome (unless its caller was cancelled: the write
    is committed anyway)."""
    if future.done():
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def answer_on(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    try:
        loop.call_soon_threadsafe(callback)
    except RuntimeError:  # the loop has ended: its callers were cancelled with it
        pass
