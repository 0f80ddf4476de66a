"""Many activities of one source and site, checked together and kept as columns (the headless
API's bulk requests)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

from .activities import SITE_MAX, TITLE_MAX, URL_MAX, VALUE_MAX, ActivitySource, NewActivity
from .activity_ids import new_activity_ids
from .activity_types import check_text, validate_code_name

_TEXT_LIMITS = (("title", TITLE_MAX), ("value", VALUE_MAX), ("url", URL_MAX), ("referrer", URL_MAX))


def check_columns(
    types: list[str],
    titles: list[str],
    values: list[str],
    urls: list[str],
    referrers: list[str],
    *,
    site: str | None,
) -> None:
    """Raise ValueError or TypeError when any activity of these columns would not pass
    NewActivity's checks."""
    columns = (titles, values, urls, referrers)
    if not all(len(column) == len(types) for column in columns):
        raise ValueError("every column needs one value per activity")
    for code in set(types):
        validate_code_name(code)
    for (name, maximum), column in zip(_TEXT_LIMITS, columns, strict=True):
        # One join per column finds a value that is not a str and gives the text to search
        # for NUL and lone surrogates; no value is longer than the column's total, so most
        # columns need no look at each value's length.
        try:
            text = "".join(column)
        except TypeError:
            raise TypeError(f"{name} must be a str") from None
        if len(text) > maximum and max(map(len, column)) > maximum:
            raise ValueError(f"{name} is over {maximum} characters")
        if "\x00" in text:
            raise ValueError(f"{name} holds a NUL character")
        if not text.isascii():
            text.encode("utf-8")  # UnicodeEncodeError is a ValueError
    if site is not None:
        check_text("site", site, SITE_MAX)


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
        check_columns(types, titles, values, urls, referrers, site=site)
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
