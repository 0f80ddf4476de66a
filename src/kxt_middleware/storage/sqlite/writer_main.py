"""The SQLite writer process itself: it reads jobs from the app's pipe, commits everything
waiting in one step (:class:`~.commit.Committer`), writes the answers back, and ends when the
pipe closes. Started by :class:`~.writer_process.ProcessWriter`."""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
from collections import deque
from datetime import datetime
from typing import Any, cast

from ...activities import ActivitySource, utc_now
from ...activity_batch import ActivityBatch
from ...errors import StoreError
from ..records import WriterStats
from ..writing import ActivitiesJob
from .commit import Committer, FunctionJob, Job, Outcome
from .connection import connect
from .writer_pipe import ALL_LOGGED, PICKLE, frame, frames

log = logging.getLogger("kxt_middleware")


class _Collected(logging.Handler):
    """Keeps the writer's log records to send them to the app with the next answers."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.records.append((record.levelno, text))


_NO_FUTURE = cast("asyncio.Future[Any]", None)  # the answers go back by number


class _Sent:
    """An activity as the writer process receives it (what the type check reads)."""

    __slots__ = ("id", "type", "title", "value", "url", "referrer", "source", "site")

    def __init__(self, row: tuple[Any, ...]) -> None:
        self.id, self.type, self.title, self.value, self.url, self.referrer = row[:6]
        self.source, self.site = _SOURCES[row[6]], row[7]


_SOURCES = {source.value: source for source in ActivitySource}


def _job(data: bytes) -> Job | None:
    """The job a payload holds (None: the app asks whether the database is open)."""
    payload = pickle.loads(data)
    if payload[0] == "a":
        _, contact, sent, created, consent = payload
        if not isinstance(sent, ActivityBatch):
            sent = [_Sent(row) for row in sent]
        return ActivitiesJob(_NO_FUTURE, contact, sent, datetime.fromisoformat(created), consent)
    if payload[0] == "f":
        return FunctionJob(_NO_FUTURE, payload[1], payload[2])
    return None


def _serve(read_fd: int, write_fd: int) -> None:
    received = bytearray()
    messages: deque[Any] = deque()

    def receive(wait: bool) -> bool:
        """Read what the app has sent (waiting for it when ``wait``); False at end of file."""
        while wait:
            data = os.read(read_fd, 1 << 20)
            if not data:
                return False
            received.extend(data)
            messages.extend(frames(received))
            wait = not messages
        return True

    def send(message: Any) -> None:
        data = memoryview(frame(message))
        while data:
            data = data[os.write(write_fd, data) :]

    open_ = receive(wait=True)
    database, synchronous, busy_timeout_ms, max_batch = messages.popleft()
    stats = WriterStats()
    committer: Committer | None = None
    failure: StoreError | None = None
    try:
        connection = connect(
            database, read_only=False, synchronous=synchronous, busy_timeout_ms=busy_timeout_ms
        )
        committer = Committer(connection, stats)
    except StoreError as exc:
        failure = exc
    collected = _Collected()
    log.addHandler(collected)
    log.propagate = False
    now = utc_now()
    waiting: deque[tuple[int, bytes]] = deque()
    stopping = False
    while True:
        while messages:
            message = messages.popleft()
            if message[0] == "jobs":
                now = message[1]
                waiting.extend(message[2])
            else:
                stopping = True
        while waiting:
            numbers: list[int] = []
            batch: list[Job] = []
            answers: list[tuple[int, bytes]] = []
            while waiting and len(batch) < max_batch:
                number, data = waiting.popleft()
                try:
                    job = _job(data)
                except Exception as exc:
                    error = StoreError(f"the writer process could not read this write: {exc}")
                    answers.append((number, pickle.dumps((False, error), PICKLE)))
                    continue
                if job is None:
                    answers.append((number, pickle.dumps((failure is None, failure), PICKLE)))
                    continue
                numbers.append(number)
                batch.append(job)
            before = (stats.commits, stats.failed_commits, stats.failed_callers)
            before_groups = stats.group_failures
            if failure is not None or committer is None:
                outcomes: list[Outcome] = [(False, failure)] * len(batch)
            else:
                outcomes = committer.commit(batch, now) if batch else []
            for number, job, outcome in zip(numbers, batch, outcomes, strict=True):
                answers.append((number, _answer(job, outcome)))
            record = None
            if stats.commits > before[0]:
                record = (stats.commit_sizes[-1], stats.activities, stats.commit_seconds[-1])
            send(
                (
                    "answers",
                    answers,
                    record,
                    (
                        stats.failed_commits - before[1],
                        stats.failed_callers - before[2],
                        stats.group_failures - before_groups,
                    ),
                    collected.records,
                    not waiting,
                )
            )
            collected.records = []
            del stats.commit_sizes[:], stats.commit_seconds[:]
            stats.activities = 0
        if stopping or not open_:
            break
        open_ = receive(wait=True)
    if committer is not None:
        committer.connection.close()
    if open_:
        send(("stopped",))


def _answer(job: Job, outcome: Outcome) -> bytes:
    ok, value = outcome
    if ok and isinstance(job, ActivitiesJob) and all(result.logged for result in value):
        return ALL_LOGGED  # the app knows the ids it sent
    try:
        return pickle.dumps(outcome, PICKLE)
    except Exception as exc:
        error = StoreError(f"the writer's answer cannot be sent back: {exc}")
        return pickle.dumps((False, error), PICKLE)


def main(arguments: list[str]) -> None:
    """The writer process, given the numbers of its two pipes' ends (in, out)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _serve(int(arguments[0]), int(arguments[1]))
