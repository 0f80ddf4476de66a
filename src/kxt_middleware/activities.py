"""Activities: what a contact did, as logged (CustomActivityData) and as stored (Activity)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from enum import Enum
from typing import Any
from urllib.parse import urlencode

from .activity_ids import new_activity_id
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


_LOGGED = LogStatus.LOGGED  # a module global: an enum member's lookup costs more
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


@dataclass(frozen=True, init=False)
class LogResult:
    """Whether an activity was logged (truthy) and, if not, why."""

    status: LogStatus
    activity_id: str | None = None

    def __init__(self, status: LogStatus, activity_id: str | None = None) -> None:
        # Frozen: written past __setattr__, into the instance's dict (half the cost of the
        # object.__setattr__ calls a frozen dataclass's own __init__ makes).
        fields = self.__dict__
        fields["status"] = status
        fields["activity_id"] = activity_id

    @property
    def logged(self) -> bool:
        """True when the activity is committed to the database."""
        return self.status is _LOGGED

    @property
    def reason(self) -> str:
        """A sentence saying what happened."""
        return _REASONS[self.status]

    def __bool__(self) -> bool:
        return self.logged


@dataclass(frozen=True, init=False)
class CustomActivityData:
    """What to record with a custom activity: a title for the log and an optional value."""

    title: str = ""
    value: str = ""
    url: str | None = None
    referrer: str | None = None

    def __init__(
        self,
        title: str = "",
        value: str = "",
        url: str | None = None,
        referrer: str | None = None,
    ) -> None:
        # As NewActivity looks at its text (usually no url nor referrer here).
        if not (
            url is None
            and referrer is None
            and title.__class__ is value.__class__ is str
            and "\x00" not in (text := title + value)
            and (text.isascii() or _encodes(text))
            and (len(text) <= _SHORT or _within(title, value))
        ):
            check_text("title", title, TITLE_MAX)
            check_text("value", value, VALUE_MAX)
            if url is not None:
                check_text("url", url, URL_MAX)
            if referrer is not None:
                check_text("referrer", referrer, URL_MAX)
        # Frozen: written past __setattr__, as LogResult's.
        fields = self.__dict__
        fields["title"] = title
        fields["value"] = value
        fields["url"] = url
        fields["referrer"] = referrer


@dataclass(slots=True, init=False)
class NewActivity:
    """A validated activity on its way to the store, before consent and contact are applied.

    Read-only by convention (not frozen: a frozen dataclass's constructor costs three times as
    much, and the headless API builds a hundred of these per request).
    """

    type: str
    title: str = ""
    value: str = ""
    url: str = ""
    referrer: str = ""
    source: ActivitySource = ActivitySource.SERVER
    site: str | None = None
    id: str = ""  # "" = a new time-ordered id; a client's id makes a retry idempotent

    def __init__(
        self,
        type: str,
        title: str = "",
        value: str = "",
        url: str = "",
        referrer: str = "",
        source: ActivitySource = ActivitySource.SERVER,
        site: str | None = None,
        id: str = "",
    ) -> None:
        validate_code_name(type)
        # The usual text passes check_text's rules in one look at all of it; otherwise
        # check_text looks at each field, and names the one that breaks a rule.
        if not (
            title.__class__ is value.__class__ is url.__class__ is referrer.__class__ is str
            and "\x00" not in (text := title + value + url + referrer)
            and (text.isascii() or _encodes(text))
            and (len(text) <= _SHORT or _within(title, value, url, referrer))
        ):
            check_text("title", title, TITLE_MAX)
            check_text("value", value, VALUE_MAX)
            check_text("url", url, URL_MAX)
            check_text("referrer", referrer, URL_MAX)
        if site is not None:
            check_text("site", site, SITE_MAX)
        if not id:
            id = new_activity_id()
        elif id.__class__ is not str or not _CANONICAL_UUID.fullmatch(id):
            try:
                parsed = uuid.UUID(id)
            except (ValueError, TypeError, AttributeError):
                raise ValueError(f"activity id {id!r} is not a UUID") from None
            id = str(parsed)
        self.type = type
        self.title = title
        self.value = value
        self.url = url
        self.referrer = referrer
        self.source = source
        self.site = site
        self.id = id


# Each text field's maximum, in the order the classes above check them.
_MAXIMA = (TITLE_MAX, VALUE_MAX, URL_MAX, URL_MAX)
_SHORT = min(_MAXIMA)  # text of at most this many characters fits in any field
# A UUID as str(uuid.UUID(...)) writes it: such an id needs no parsing.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _within(*texts: str) -> bool:
    """True when each of ``texts`` (title, value, url, referrer, in this order) is no longer
    than its field's maximum."""
    return all(map(int.__ge__, _MAXIMA, map(len, texts)))


def _encodes(text: str) -> bool:
    """True when ``text`` holds no lone surrogate (one anywhere fails: none pairs across the
    texts joined, as Python never pairs surrogates when it encodes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# The fields of an exported activity, in the order of Activity.to_json() and of the CLI's CSV.
EXPORT_FIELDS = (
    "id",
    "contact",
    "type",
    "title",
    "value",
    "url",
    "referrer",
    "source",
    "site",
    "created",
)
# One exported activity: its to_json() values in EXPORT_FIELDS order (only site may be None).
ActivityRecord = tuple[str, str, str, str, str, str, str, str, "str | None", str]


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

    def to_record(self) -> ActivityRecord:
        """The activity's exported values, in EXPORT_FIELDS order."""
        return (
            self.id,
            str(self.contact),
            self.type,
            self.title,
            self.value,
            self.url,
            self.referrer,
            self.source.value,
            self.site,
            format_time(self.created),
        )

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


def _day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field} {text!r} is not a date; use YYYY-MM-DD") from None


@dataclass(frozen=True)
class ActivityFilter:
    """Which activities to list: by type, contact, source, site and date range (UTC days)."""

    type: str | None = None
    contact: uuid.UUID | None = None
    source: ActivitySource | None = None
    site: str | None = None
    start: date | None = None
    end: date | None = None

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> ActivityFilter:
        """Read the filter from query parameters; ValueError saying which one is wrong."""
        text = {key: params.get(key, "").strip() for key in ("type", "contact", "source", "site")}
        contact = None
        if text["contact"]:
            try:
                contact = uuid.UUID(text["contact"])
            except ValueError:
                raise ValueError(f"contact {text['contact']!r} is not a contact GUID") from None
        source = None
        if text["source"]:
            try:
                source = ActivitySource(text["source"])
            except ValueError:
                choices = ", ".join(s.value for s in ActivitySource)
                raise ValueError(f"source must be one of {choices}") from None
        start = _day(params["from"], "from") if params.get("from") else None
        end = _day(params["to"], "to") if params.get("to") else None
        if start and end and end < start:
            raise ValueError("the date range ends before it starts; swap from and to")
        return cls(text["type"] or None, contact, source, text["site"] or None, start, end)

    def query(self, **extra: int | str | None) -> str:
        """The filter as a query string (with ``extra`` parameters such as a page cursor)."""
        values: dict[str, Any] = {
            "type": self.type,
            "contact": self.contact,
            "source": self.source.value if self.source else None,
            "site": self.site,
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            **extra,
        }
        return urlencode({key: value for key, value in values.items() if value is not None})


EVERY_ACTIVITY = ActivityFilter()


@dataclass(frozen=True)
class ContactSummary:
    """A contact with how many activities it has and when it was last active."""

    row: int
    guid: uuid.UUID
    created: datetime
    activities: int
    last_activity: datetime | None


def utc_now() -> datetime:
    """The current time in UTC (the default clock)."""
    return datetime.now(timezone.utc)


def format_time(moment: datetime) -> str:
    """ISO 8601 UTC with microseconds and a Z, so stored text sorts in time order."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """Inverse of :func:`format_time`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
