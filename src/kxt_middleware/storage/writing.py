"""What every backend's writer does alike: the job a caller queues with its activities, and
the type check that turns them into results and rows before the backend stores them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from typing import Any

from ..activities import LogResult, LogStatus, NewActivity
from ..activity_batch import ActivityBatch
from ..activity_types import ActivityType


@dataclass
class ActivitiesJob:
    """One caller's activities for one contact, waiting for the writer."""

    future: asyncio.Future[Any]
    contact: str
    activities: Sequence[NewActivity]
    created: datetime
    consent: str | None = None


@dataclass
class Pending:
    """An activities job with its results and the rows of the activities it may store."""

    index: int
    job: ActivitiesJob
    results: list[LogResult] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def check_types(self, types: dict[str, ActivityType], created: Any) -> None:
        """Results and rows by the activity types' current state (``types`` by lower-case
        code name); each row is (id, contact, type's own spelling, title, value, url,
        referrer, ``created`` as the backend stores it, source, site)."""
        results, rows, guid = self.results, self.rows, self.job.contact
        activities = self.job.activities
        if isinstance(activities, ActivityBatch) and self._check_batch(activities, types, created):
            return
        for activity in activities:
            activity_type = types.get(activity.type.lower())
            if activity_type is None:
                results.append(LogResult(LogStatus.TYPE_UNKNOWN))
            elif not activity_type.enabled:
                results.append(LogResult(LogStatus.TYPE_DISABLED))
            else:
                results.append(LogResult(LogStatus.LOGGED, activity.id))
                rows.append(
                    (
                        activity.id,
                        guid,
                        activity_type.code_name,
                        activity.title,
                        activity.value,
                        activity.url,
                        activity.referrer,
                        created,
                        activity.source.value,
                        activity.site,
                    )
                )

    def _check_batch(
        self, batch: ActivityBatch, types: dict[str, ActivityType], created: Any
    ) -> bool:
        """Results and rows for the whole batch at once when each of its types is enabled
        (False, nothing done: some activity is refused, see them one by one)."""
        found = {code: types.get(code.lower()) for code in set(batch.types)}
        spelling = {}
        for code, activity_type in found.items():
            if activity_type is None or not activity_type.enabled:
                return False
            spelling[code] = activity_type.code_name
        spelled = (
            batch.types
            if all(code == own for code, own in spelling.items())
            else list(map(spelling.__getitem__, batch.types))
        )
        self.results += map(LogResult, repeat(LogStatus.LOGGED), batch.ids)
        self.rows += zip(
            batch.ids,
            repeat(self.job.contact),
            spelled,
            batch.titles,
            batch.values,
            batch.urls,
            batch.referrers,
            repeat(created),
            repeat(batch.source.value),
            repeat(batch.site),
        )
        return True

    def refuse(self, status: LogStatus) -> None:
        """Answer ``status`` for every activity that passed the type check (none is stored)."""
        refused = LogResult(status)
        self.results[:] = [refused if result.logged else result for result in self.results]
