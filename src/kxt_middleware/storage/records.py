"""Plain records the storage seam returns besides the domain's own: writer statistics, group
members, the most active pages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass
class WriterStats:
    """What the writer has done: how many callers each commit absorbed, and how long it took."""

    commits: int = 0
    jobs: int = 0
    activities: int = 0
    largest_commit: int = 0
    failed_commits: int = 0
    failed_callers: int = 0
    group_failures: int = 0
    commit_sizes: list[int] = field(default_factory=list, repr=False)
    commit_seconds: list[float] = field(default_factory=list, repr=False)

    def record(self, jobs: int, activities: int, seconds: float) -> None:
        """Count one successful commit of ``jobs`` callers and ``activities`` rows."""
        self.commits += 1
        self.jobs += jobs
        self.activities += activities
        self.largest_commit = max(self.largest_commit, jobs)
        if len(self.commit_sizes) < 100_000:
            self.commit_sizes.append(jobs)
            self.commit_seconds.append(seconds)


@dataclass(frozen=True)
class GroupMember:
    """A contact in a contact group: its row number, GUID and since when (ISO text)."""

    row: int
    guid: uuid.UUID
    since: str


@dataclass(frozen=True)
class PageCount:
    """A page (an activity URL without its query string or fragment) with how many activities
    were logged on it and by how many contacts."""

    url: str
    activities: int
    contacts: int
