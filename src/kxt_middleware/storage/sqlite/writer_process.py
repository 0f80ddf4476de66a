"""The SQLite writer as a process of its own: the default writer where the event loop can
watch a pipe (every platform but Windows).

The app's event loop pickles each job once when it is submitted and, once per loop turn,
writes everything submitted in that turn to the writer process's pipe. The process takes every
job waiting (up to ``max_batch``), commits them in one step (:class:`~.commit.Committer`) and
writes the answers back; the loop reads them when the pipe is readable and settles the futures.
So the commit's Python (binding rows, group evaluation) runs beside the app, not between its
requests, and a durable write costs the loop little more than the pickling of its job.

The process ends when its pipe closes: when the store is closed (after committing everything
submitted), or when the app's process dies. It ignores SIGINT and SIGTERM, which a terminal
or a service manager sends to the whole process group, so that the app can still flush its
writes while it shuts down.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import pickle
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from ...activities import LogResult, LogStatus
from ...activity_batch import ActivityBatch
from ...errors import StoreError
from ..records import WriterStats
from ..writing import ActivitiesJob
from .commit import Job, Outcome
from .writer import settle
from .writer_pipe import PICKLE, frame, frames

log = logging.getLogger("kxt_middleware")

_MAIN = "import sys; from kxt_middleware.storage.sqlite.writer_main import main; main(sys.argv[1:])"
_GONE: tuple[None, None] = (None, None)
LOGGED = LogStatus.LOGGED


class ProcessWriter:
    """Group commit in a writer process; the event loop's side (see the module docstring).

    Everything here runs on the event loop that owns the store, so it needs no lock.
    """

    def __init__(
        self,
        database: str,
        *,
        synchronous: str,
        busy_timeout_ms: int,
        max_pending: int,
        max_batch: int,
        clock: Callable[[], datetime],
        stats: WriterStats,
    ) -> None:
        self.max_pending = max_pending
        self.pending = 0
        self._settings = (database, synchronous, busy_timeout_ms, max_batch)
        self._clock = clock
        self._stats = stats
        self._numbers = itertools.count()
        # each caller's future, with the ids of its activities (an answer "all logged" is
        # then one byte)
        self._futures: dict[int, tuple[asyncio.Future[Any], list[str] | None]] = {}
        self._outbox: list[tuple[int, bytes]] = []
        self._unsent = bytearray()
        self._received = bytearray()
        self._flushing = False  # a flush is scheduled for this loop turn
        self._busy = False  # the process is committing what it was sent last
        self._stopped: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()
        self._start()

    def _start(self) -> None:
        to_writer, from_app = os.pipe()
        to_app, from_writer = os.pipe()
        package = str(Path(__file__).resolve().parents[3])  # kxt_middleware's parent folder
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package, env.get("PYTHONPATH")]))
        try:
            self._process = subprocess.Popen(
                [sys.executable or "python3", "-c", _MAIN, str(to_writer), str(from_writer)],
                pass_fds=(to_writer, from_writer),
                stdin=subprocess.DEVNULL,
                env=env,
            )
        except OSError as exc:
            _close(from_app, to_app)
            raise StoreError(
                f"cannot start the activity database's writer process ({exc}); open the store "
                "with writer='thread' to write from a thread of this process instead"
            ) from exc
        finally:
            _close(to_writer, from_writer)
        self._write_fd, self._read_fd = from_app, to_app
        # A store dropped without close(): its pipes close, and the process, seeing the end of
        # its input, commits what it has and ends; a thread reaps it.
        self._release = weakref.finalize(self, _release, self._process, from_app, to_app)
        os.set_blocking(self._write_fd, False)
        os.set_blocking(self._read_fd, False)
        self._unsent = bytearray(frame(self._settings))
        self._loop.add_reader(self._read_fd, self._read_answers)
        self._send()

    @classmethod
    async def started(cls, database: str, **options: Any) -> ProcessWriter:
        """A writer whose process has opened ``database`` (StoreError saying why it could not;
        the process is then ended)."""
        writer = cls(database, **options)
        try:
            future = writer._loop.create_future()
            writer._enqueue(future, pickle.dumps(("ready",), PICKLE))
            await future
        except BaseException:
            await writer.stop()
            raise
        return writer

    def submit(self, job: Job) -> None:
        """Queue ``job`` (on the event loop); QueueFull when ``max_pending`` jobs wait, and the
        pickling's own error when its arguments cannot cross to another process."""
        if self.pending >= self.max_pending:
            raise asyncio.QueueFull
        payload: tuple[Any, ...]
        ids: list[str] | None = None
        sent: Any
        if isinstance(job, ActivitiesJob):
            activities = job.activities
            if isinstance(activities, ActivityBatch):
                ids, sent = activities.ids, activities
            else:
                ids = [a.id for a in activities]
                sent = [
                    (a.id, a.type, a.title, a.value, a.url, a.referrer, a.source.value, a.site)
                    for a in activities
                ]
            # ISO text: a datetime with its time zone pickles 20 times slower
            payload = ("a", job.contact, sent, job.created.isoformat(), job.consent)
        else:
            payload = ("f", job.function, job.args)
        try:
            data = pickle.dumps(payload, PICKLE)
        except Exception as exc:
            raise StoreError(
                f"this write cannot be handed to the writer process: {exc}; pass module-level "
                "functions and plain values, or open the store with writer='thread'"
            ) from exc
        self.pending += 1
        self._enqueue(job.future, data, ids)

    def _enqueue(
        self, future: asyncio.Future[Any], data: bytes, ids: list[str] | None = None
    ) -> None:
        number = next(self._numbers)
        self._futures[number] = (future, ids)
        self._outbox.append((number, data))
        if not self._flushing and not self._busy:
            self._flushing = True  # at the end of this loop turn, with whatever comes in it
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Send what was submitted. While the process commits, jobs gather here instead, and
        go in one write when its answers come back: one write and one wake-up per commit."""
        self._flushing = False
        if self._outbox:
            outbox, self._outbox = self._outbox, []
            self._unsent += frame(("jobs", self._clock(), outbox))
            self._busy = True
            self._send()

    def _send(self) -> None:
        try:
            written = os.write(self._write_fd, self._unsent)
        except BlockingIOError:
            written = 0
        except OSError:  # the process has ended; _read_answers tells the callers
            written = len(self._unsent)
        del self._unsent[:written]
        if self._unsent:
            self._loop.add_writer(self._write_fd, self._send_rest)

    def _send_rest(self) -> None:
        self._loop.remove_writer(self._write_fd)
        self._send()

    def _read_answers(self) -> None:
        try:
            data = os.read(self._read_fd, 1 << 20)
        except BlockingIOError:
            return
        if not data:
            self._ended()
            return
        self._received += data
        for message in frames(self._received):
            if message[0] == "answers":
                self._answer(*message[1:])
            elif message[0] == "stopped" and self._stopped is not None:
                if not self._stopped.done():
                    self._stopped.set_result(None)
        if not self._busy and self._outbox:
            self._flush()

    def _answer(
        self,
        answers: list[tuple[int, bytes]],
        record: tuple[int, int, float] | None,
        counts: tuple[int, int, int],
        logs: list[tuple[int, str]],
        idle: bool,
    ) -> None:
        if idle:  # it has answered everything it was sent
            self._busy = False
        stats = self._stats
        if record is not None:
            stats.record(*record)
        stats.failed_commits += counts[0]
        stats.failed_callers += counts[1]
        stats.group_failures += counts[2]
        for level, text in logs:
            log.log(level, "%s", text)
        self.pending = max(0, self.pending - len(answers))
        futures = self._futures
        for number, data in answers:
            future, ids = futures.pop(number, _GONE)
            if future is None or future.get_loop().is_closed():
                continue  # a caller of an event loop that has ended
            if not data and ids is not None:  # all logged
                if not future.done():
                    future.set_result([LogResult(LOGGED, id_) for id_ in ids])
                continue
            try:
                outcome: Outcome = pickle.loads(data)
            except Exception as exc:
                outcome = (False, StoreError(f"the writer's answer could not be read: {exc}"))
            settle(future, outcome)

    def _ended(self) -> None:
        """The process has ended: every caller still waiting hears it."""
        self._loop.remove_reader(self._read_fd)
        code = self._process.wait()
        error = StoreError(
            f"the activity database's writer process ended (exit status {code}); "
            "the writes it had not answered may not be stored"
        )
        futures, self._futures = self._futures, {}
        self.pending = 0
        self._busy = False
        self._received.clear()
        for future, _ in futures.values():
            if not future.get_loop().is_closed():
                settle(future, (False, error))
        if self._stopped is not None and not self._stopped.done():
            self._stopped.set_result(None)
        elif self._stopped is None:  # not asked to stop: a new process takes over
            log.error("%s; starting a new one", error)
            self._close_pipes()
            self._start()

    def adopt(self) -> None:
        """Serve the running event loop after the old one ended: its unanswered jobs no longer
        count (the process still commits them; their callers were cancelled with their loop)."""
        self.pending = 0
        self._loop = asyncio.get_running_loop()
        self._flushing = self._busy = False
        self._loop.add_reader(self._read_fd, self._read_answers)
        if self._outbox:
            self._flush()
        elif self._unsent:
            self._send()

    async def stop(self) -> None:
        """Commit every job submitted before this call, then end the process."""
        self._flush()
        self._stopped = self._loop.create_future()
        self._unsent += frame(("stop",))
        self._send()
        await self._stopped
        self._loop.remove_reader(self._read_fd)
        self._loop.remove_writer(self._write_fd)
        self._close_pipes()
        await asyncio.to_thread(self._process.wait)

    def _close_pipes(self) -> None:
        self._release.detach()
        _close(self._write_fd, self._read_fd)


def _close(*fds: int) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _release(process: subprocess.Popen[bytes], *fds: int) -> None:
    _close(*fds)
    threading.Thread(target=process.wait, name="kxt-writer-reaper", daemon=True).start()
