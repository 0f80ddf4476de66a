"""The one pipeline every entry point ends in: validated activities, consent, then the store."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from operator import attrgetter

from .activities import LogResult, LogStatus, NewActivity
from .storage import Store
from .visitor import Contact, Visitor

log = logging.getLogger("kxt_middleware")
_STATUS = attrgetter("status")
_LOGGED = LogStatus.LOGGED


class ActivityTracker:
    """Stores activities for consenting contacts and reports every other outcome."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.not_logged: dict[str, int] = {}

    async def log(
        self,
        contact: Contact | None,
        activities: Sequence[NewActivity],
        *,
        consent: str | None = None,
    ) -> list[LogResult]:
        """Log ``activities`` for ``contact``; None means the visitor has not consented.

        Activities are validated when built (NewActivity), so by here only consent and the
        activity type's state can stop them. With ``consent``, the contact's agreement to it is
        checked in the transaction that stores them (a revoke committed just before wins).
        One result per activity, in order.
        """
        if contact is None:
            results = [LogResult(LogStatus.NO_CONSENT) for _ in activities]
        elif activities:
            results = await self.store.insert_activities(contact.guid, activities, consent=consent)
        else:
            results = []
        return self._count(results)

    def _count(self, results: list[LogResult]) -> list[LogResult]:
        for result in results:  # the usual case, every one logged, costs no Counter
            if result.status is not _LOGGED:
                break
        else:
            return results
        counted = Counter(map(_STATUS, results))  # one C loop, not a call each
        counted.pop(LogStatus.LOGGED, None)
        for status, count in counted.items():
            self.not_logged[status.value] = self.not_logged.get(status.value, 0) + count
            reason = LogResult(status).reason
            log.debug("%d activities not logged: %s: %s", count, status.value, reason)
        return results

    def count_not_logged(self, status: str, reason: str) -> None:
        """Count one activity that was not logged (``not_logged[status]``) and log why."""
        self.not_logged[status] = self.not_logged.get(status, 0) + 1
        log.debug("activity not logged: %s: %s", status, reason)

    async def log_for_visitor(
        self, visitor: Visitor, activities: Sequence[NewActivity]
    ) -> list[LogResult]:
        """Log ``activities`` for the visitor's contact (created now if it consents).

        When the store says that contact was erased (consent withdrawn by another request, or
        deleted by an operator while its cookie lived on), the visitor forgets it: nothing more
        is logged in this request, the contact cookie is removed, and a visitor who still
        consents starts a new contact on a later request.
        """
        contact = visitor.contact()
        if contact is None and visitor.erased:  # erased earlier in this request
            return self._count([LogResult(LogStatus.CONTACT_ERASED) for _ in activities])
        results = await self.log(contact, activities)
        if contact is not None and any(r.status is LogStatus.CONTACT_ERASED for r in results):
            visitor.forget_contact(contact)
        return results
