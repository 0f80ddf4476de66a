"""Activities: what a contact did, as logged (CustomActivityData) and as stored (Activity)."""

from __future__ import annotations

import itertools
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from enum import Enum
from typing import Any, overload
from urllib.parse import urlencode

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


@dataclass(slots=True)
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

    def __post_init__(self) -> None:
        validate_code_name(self.type)
        check_text("title", self.title, TITLE_MAX)
        check_text("value", self.value, VALUE_MAX)
        check_text("url", self.url, URL_MAX)
        check_text("referrer", self.referrer, URL_MAX)
        if self.site is not None:
            check_text("site", self.site, SITE_MAX)
        if not self.id:
            self.id = new_activity_id()
            return
        try:
            parsed = uuid.UUID(self.id)
        except (ValueError, TypeError, AttributeError):
            raise ValueError(f"activity id {self.id!r} is not a UUID") from None
        if str(parsed) != self.id:
            self.id = str(parsed)


def new_activity_id() -> str:
    """A new activity id: a UUIDv7 (RFC 9562), so ids made later sort later.

    Time-ordered ids land at the end of the id index instead of at random places in it, which
    keeps inserts into a large table cheap. The 74 random bits come from os.urandom, read in
    blocks (and thrown away in a forked child, so two processes never share them).
    """
    if len(_RANDOM) < 10:
        _RANDOM.extend(os.urandom(10 * 256))
    # 48 bits of Unix milliseconds, then 80 random bits; the version nibble (7) and the
    # variant's two bits (10) replace six of them, which leaves 74 random bits.
    text = ((time.time_ns() // 1_000_000).to_bytes(6, "big") + _RANDOM[-10:]).hex()
    del _RANDOM[-10:]
    variant = _VARIANT[int(text[16], 16) & 3]
    return f"{text[:8]}-{text[8:12]}-7{text[13:16]}-{variant}{text[17:20]}-{text[20:]}"


_VARIANT = "89ab"  # the hex digits whose top two bits are 10
_RANDOM = bytearray()
os.register_at_fork(after_in_child=_RANDOM.clear)
# A random hex digit's two low bits, as the variant's hex digit (for many ids at once).
_VARIANT_OF = str.maketrans({digit: _VARIANT[int(digit, 16) & 3] for digit in "0123456789abcdef"})


def new_activity_ids(count: int) -> list[str]:
    """``count`` new activity ids made as :func:`new_activity_id` makes one (same millisecond)."""
    size = 10 * count
    if len(_RANDOM) < size:
        _RANDOM.extend(os.urandom(max(size, 10 * 256)))
    start = len(_RANDOM) - size  # not -size: for no ids that would take the whole buffer
    text = _RANDOM[start:].hex()
    del _RANDOM[start:]
    stamp = (time.time_ns() // 1_000_000).to_bytes(6, "big").hex()
    head = f"{stamp[:8]}-{stamp[8:]}-7"
    # Each id's 20 random hex digits r: 7 r[1:4] - variant(r[4]) r[5:8] - r[8:20] (r[0] unused).
    variants = text[4::20].translate(_VARIANT_OF)
    return [
        f"{head}{text[at + 1 : at + 4]}-{variant}{text[at + 5 : at + 8]}-{text[at + 8 : at + 20]}"
        for at, variant in zip(range(0, 20 * count, 20), variants, strict=True)
    ]


_TEXT_LIMITS = (("title", TITLE_MAX), ("value", VALUE_MAX), ("url", URL_MAX), ("referrer", URL_MAX))


class ActivityBatch(Sequence[NewActivity]):
    """Many activities of one source and site, checked together and kept as columns.

    It reads as NewActivity items, and holds the same values NewActivity would, but a hundred
    activities cost a few calls instead of a hundred checked objects. Construction raises
    ValueError or TypeError when any activity would not pass NewActivity's checks; the caller
    then builds them one by one to learn which and why (this class accepts nothing they refuse).
    """

    __slots__ = ("ids", "types", "titles", "values", "urls", "referrers", "source", "site")

    def __init__(
        self,
        types: list[str],
        titles: list[str],
        values: list[str],
        urls: list[str],
        referrers: list[str],
        *,
        source: ActivitySource,
        site: str | None,
    ) -> None:
        columns = (titles, values, urls, referrers)
        if not all(len(column) == len(types) for column in columns):
            raise ValueError("every column needs one value per activity")
        for code in set(types):
            validate_code_name(code)
        for (name, maximum), column in zip(_TEXT_LIMITS, columns, strict=True):
            if column and not set(map(type, column)) <= {str}:
                raise TypeError(f"{name} must be a str")
            if column and max(map(len, column)) > maximum:
                raise ValueError(f"{name} is over {maximum} characters")
        # NUL and lone surrogates, in all the text at once (check_text names the activity).
        text = "".join(itertools.chain(titles, values, urls, referrers))
        if "\x00" in text:
            raise ValueError("a text holds a NUL character")
        if not text.isascii():
            text.encode("utf-8")  # UnicodeEncodeError is a ValueError
        if site is not None:
            check_text("site", site, SITE_MAX)
        self.ids = new_activity_ids(len(types))
        self.types, self.titles, self.values = types, titles, values
        self.urls, self.referrers = urls, referrers
        self.source, self.site = source, site

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, index: int) -> NewActivity: ...

    @overload
    def __getitem__(self, index: slice) -> list[NewActivity]: ...

    def __getitem__(self, index: int | slice) -> NewActivity | list[NewActivity]:
        if isinstance(index, slice):
            return [self[at] for at in range(*index.indices(len(self)))]
        activity = object.__new__(NewActivity)  # checked already: skip __post_init__
        activity.type, activity.title, activity.value = (
            self.types[index],
            self.titles[index],
            self.values[index],
        )
        activity.url, activity.referrer, activity.id = (
            self.urls[index],
            self.referrers[index],
            self.ids[index],
        )
        activity.source, activity.site = self.source, self.site
        return activity


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
