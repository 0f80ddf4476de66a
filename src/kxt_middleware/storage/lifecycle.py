"""The life cycle both backends share: what a store creates when it opens, the event loop it
belongs to, and handing a write to its writer's bounded queue."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..activities import LogResult, NewActivity
from ..errors import StoreClosedError, StoreError, StoreOverloadedError
from .writing import ActivitiesJob

if TYPE_CHECKING:
    from ..activity_types import ActivityType
    from ..groups import ContactGroup


def migrations_to_run(database: str, current: int, known: int) -> range:
    """The schema versions to apply to a database at version ``current``; StoreError when
    it is newer than this release knows."""
    if current > known:
        raise StoreError(
            f"the database {database!r} has schema version {current}, newer than this "
            f"kxt-middleware knows ({known}); upgrade kxt-middleware"
        )
    return range(current + 1, known + 1)


class QueueingWriter(Protocol):
    """A backend's writer as the life cycle sees it."""

    def submit(self, job: Any) -> None:
        """Queue ``job``; asyncio.QueueFull when ``max_pending`` jobs wait."""


class WriterLifeCycle:
    """Mixed into each backend's store, which sets these attributes in ``__init__`` and
    implements :meth:`open` and :meth:`_forget_ended_loop`."""

    database: str
    max_pending: int
    _initial_types: tuple[ActivityType, ...]
    _initial_groups: list[ContactGroup]
    _writer: QueueingWriter | None
    _loop: asyncio.AbstractEventLoop | None
    _closing: bool
    clock: Callable[[], datetime]

    async def open(self) -> None:
        raise NotImplementedError

    async def _forget_ended_loop(self) -> None:
        raise NotImplementedError

    def include_activity_types(self, types: Iterable[ActivityType]) -> tuple[ActivityType, ...]:
        from ..activity_types import ActivityType

        chosen = tuple(types)
        for chosen_type in chosen:
            if not isinstance(chosen_type, ActivityType):
                raise TypeError(
                    f"activity_types must hold ActivityType objects, not {chosen_type!r}: "
                    "write ActivityType('custom_loan_calculator', 'Loan calculator usage')"
                )
        self._initial_types += chosen
        return chosen

    def include_contact_groups(self, groups: Iterable[ContactGroup]) -> None:
        from ..groups import ContactGroup

        for group in groups:
            if not isinstance(group, ContactGroup):
                raise TypeError(f"contact_groups must hold ContactGroup objects, not {group!r}")
            self._initial_groups.append(group)

    @property
    def is_open(self) -> bool:
        return self._writer is not None and not self._closing

    async def _ready(self) -> None:
        """Open the store on the running loop if needed; refuse a loop that is not its own."""
        if self._closing:
            raise StoreClosedError(
                f"the activity store {self.database!r} is closing; nothing more can be written"
            )
        loop = asyncio.get_running_loop()
        if loop is self._loop and self._writer is not None:
            return
        await self._forget_ended_loop()
        if self._loop is None:
            await self.open()
        if loop is not self._loop:
            raise StoreError(
                "the activity store belongs to another event loop, which has not ended; give each "
                "loop its own store, or run the app with its lifespan (for tests: "
                "`with TestClient(app) as client:`) so one loop owns it"
            )

    async def insert_activities(
        self,
        contact: uuid.UUID,
        activities: Sequence[NewActivity],
        *,
        consent: str | None = None,
    ) -> list[LogResult]:
        """Queue ``activities`` of ``contact`` for the writer; one result each, after the commit."""
        guid, created = guid_text(contact), self.clock()
        results: list[LogResult] = await self._submit(
            lambda future: ActivitiesJob(future, guid, activities, created, consent)
        )
        return results

    async def _submit(self, job: Callable[[asyncio.Future[Any]], Any]) -> Any:
        """Queue the write ``job(future)`` builds and await its answer (after its commit)."""
        loop = self._loop
        if loop is None or self._writer is None or self._closing:
            await self._ready()
        elif loop is not asyncio.get_running_loop():
            await self._ready()
        assert self._writer is not None and self._loop is not None
        future = self._loop.create_future()
        try:
            self._writer.submit(job(future))
        except asyncio.QueueFull:
            raise StoreOverloadedError(
                f"{self.max_pending} writes are already waiting for the database; retry later, "
                "or raise max_pending if the database keeps up"
            ) from None
        return await future


@functools.lru_cache(maxsize=4096)  # the contacts of recent visitors
def guid_text(guid: uuid.UUID) -> str:
    """A contact's GUID as the stores keep it (``str(guid)``, remembered: it is asked for on
    every write of a returning contact)."""
    return str(guid)
