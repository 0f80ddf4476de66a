"""Activities: what a contact did, as logged (CustomActivityData) and as stored (Activity)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from .activity_types import check_text, validate_code_name

TITLE_MAX = 250
VALUE_MAX = 250
URL_MAX = 8192
SITE_MAX = 100


class ActivitySource(str, Enum):
    """Which entry point logged an activity."""

    SERVER = "server"
    BROWSER = "browser"
    HEADLESS = "headless"
    CROSS_SITE = "cross-site"


class LogStatus(str, Enum):
    """The outcome of logging one activity."""

    LOGGED = "logged"
    NO_CONSENT = "no_consent"
    TYPE_DISABLED = "type_disabled"
    TYPE_UNKNOWN = "type_unknown"
    CONTACT_ERASED = "contact_erased"


_REASONS = {
    LogStatus.LOGGED: "the activity was stored",
    LogStatus.NO_CONSENT: (
        "the contact has not consented to tracking (a cookie level below Visitor, or no "
        "agreement to the tracking consent through the headless API)"
    ),
    LogStatus.TYPE_DISABLED: "the activity type is disabled",
    LogStatus.TYPE_UNKNOWN: "no activity type has this code name",
    LogStatus.CONTACT_ERASED: (
        "the contact was erased (consent withdrawn, or deleted by an operator); nothing was "
        "stored for it, and a visitor who still consents continues as a new contact on the next "
        "request"
    ),
}


@dataclass(frozen=True)
class LogResult:
    """Whether an activity was logged (truthy) and, if not, why."""

    status: LogStatus
    activity_id: str | None = None

    @property
    def logged(self) -> bool:
        """True when the activity is committed to the database."""
        return self.status is LogStatus.LOGGED

    @property
    def reason(self) -> str:
        """A sentence saying what happened."""
        return _REASONS[self.status]

    def __bool__(self) -> bool:
        return self.logged


@dataclass(frozen=True)
class CustomActivityData:
    """What to record with a custom activity: a title for the log and an optional value."""

    title: str = ""
    value: str = ""
    url: str | None = None
    referrer: str | None = None

    def __post_init__(self) -> None:
        check_text("title", self.title, TITLE_MAX)
        check_text("value", self.value, VALUE_MAX)
        if self.url is not None:
            check_text("url", self.url, URL_MAX)
        if self.referrer is not None:
            check_text("referrer", self.referrer, URL_MAX)


@dataclass(frozen=True)
class NewActivity:
    """A validated activity on its way to the store, before consent and contact are applied."""

    type: str
    title: str = ""
    value: str = ""
    url: str = ""
    referrer: str = ""
    source: ActivitySource = ActivitySource.SERVER
    site: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        validate_code_name(self.type)
        check_text("title", self.title, TITLE_MAX)
        check_text("value", self.value, VALUE_MAX)
        check_text("url", self.url, URL_MAX)
        check_text("referrer", self.referrer, URL_MAX)
        if self.site is not None:
            check_text("site", self.site, SITE_MAX)
        try:
            parsed = uuid.UUID(self.id)
        except (ValueError, TypeError, AttributeError):
            raise ValueError(f"activity id {self.id!r} is not a UUID") from None
        if str(parsed) != self.id:
            object.__setattr__(self, "id", str(parsed))


@dataclass(frozen=True)
class Activity:
    """One stored activity of a contact."""

    row: int
    id: str
    contact: uuid.UUID
    type: str
    title: str
    value: str
    url: str
    referrer: str
    created: datetime
    source: ActivitySource
    site: str | None

    def to_json(self) -> dict[str, Any]:
        """The activity as a JSON-ready dict (``created`` in ISO 8601 UTC)."""
        return {
            "id": self.id,
            "contact": str(self.contact),
            "type": self.type,
            "title": self.title,
            "value": self.value,
            "url": self.url,
            "referrer": self.referrer,
            "source": self.source.value,
            "site": self.site,
            "created": format_time(self.created),
        }


def utc_now() -> datetime:
    """The current time in UTC (the default clock)."""
    return datetime.now(timezone.utc)


def format_time(moment: datetime) -> str:
    """ISO 8601 UTC with microseconds and a Z, so stored text sorts in time order."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """Inverse of :func:`format_time`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
