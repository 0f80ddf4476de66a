"""One intake for activities from every entry point: the rules per source, in one table.

The browser endpoint, cross-site tracking and the headless API all read the activities a
request sent here; server code builds them with ``ActivityLogger.log``. Whatever is refused is
answered ``invalid`` with the rule it broke, and counted with the activities not logged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from typing import Any

from .activities import ActivitySource, NewActivity
from .activity_batch import ActivityBatch, check_columns
from .activity_types import BUILT_IN_TYPES
from .tracking import ActivityTracker
from .web import RequestError, printable

_BUILT_IN = frozenset(t.code_name for t in BUILT_IN_TYPES)
_TEXT_FIELDS = ("type", "title", "value", "url", "referrer")
_ONLY_OBJECTS, _ONLY_TEXT = {dict}, {str}
_NULL_IS_EMPTY: dict[Any, str] = {None: ""}


@dataclass(frozen=True)
class SourceRules:
    """What one entry point may send."""

    # The built-in types it may send, each with the field it must fill (None: none). Every
    # source may send custom types; a built-in type not listed is refused.
    built_in: Mapping[str, str | None]
    # Property names match ignoring case ("Type", as the reference's headless examples write).
    any_case_keys: bool
    # A JSON null in a text field reads as "" (else it is refused: text must be a string).
    null_is_empty: bool
    # Each activity carries the client's id (a UUID), so a retried request is stored once.
    client_ids: bool
    # At most this many activities in one request, in a body of at most max_body bytes (None:
    # the source sends no body).
    max_activities: int
    max_body: int | None


# Page visits and clicks from pages; the server adds the landing page itself.
_PAGE = {"pagevisit": None, "click": None}

RULES: Mapping[ActivitySource, SourceRules] = {
    # Server code is trusted: ActivityLogger.log may log any type (NewActivity checks the rest).
    ActivitySource.SERVER: SourceRules(dict.fromkeys(_BUILT_IN), False, False, False, 1, None),
    # kxt.js: page visits, clicks and custom activities; 64 KiB is a keepalive request's limit.
    ActivitySource.BROWSER: SourceRules(_PAGE, False, False, True, 20, 64 * 1024),
    # kxt-cs.js: the same (its kxt('click', {label}) sends a click).
    ActivitySource.CROSS_SITE: SourceRules(_PAGE, False, False, True, 20, 64 * 1024),
    # The reference's headless API: a page visit needs its url, a click or data input a value.
    ActivitySource.HEADLESS: SourceRules(
        {"pagevisit": "url", "click": "value", "datainput": "value"},
        True,
        True,
        False,
        100,
        256 * 1024,
    ),
}


@dataclass(frozen=True)
class Invalid:
    """An activity refused by the rules, answered with the rule it broke."""

    id: str | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        """The result the browser endpoints answer for it."""
        return {"id": self.id, "status": "invalid", "reason": self.reason}


def object_fields(body: Any, rules: SourceRules) -> dict[str, Any]:
    """A JSON object's properties (names lower-cased when the source's names match in any case);
    422 when the body is not an object."""
    if not isinstance(body, Mapping):
        raise RequestError(422, "invalid_body", "the body must be a JSON object")
    if rules.any_case_keys:
        return {str(key).lower(): value for key, value in body.items()}
    return dict(body)


def activity_list(body: Any, source: ActivitySource) -> list[Any]:
    """The body's ``activities`` list, within the source's limit (422 or 413 otherwise)."""
    rules = RULES[source]
    items = object_fields(body, rules).get("activities")
    if not isinstance(items, list) or not items:
        raise RequestError(
            422, "invalid_body", 'expected {"activities": [{"type": ..., ...}, ...]} (not empty)'
        )
    if len(items) > rules.max_activities:
        raise RequestError(
            413,
            "too_many_activities",
            f"{len(items)} activities in one request; at most {rules.max_activities}",
        )
    return items


def read_activity(item: Any, source: ActivitySource, *, site: str | None = None) -> NewActivity:
    """The activity a client sent, by its source's rules; ValueError names the broken rule."""
    rules = RULES[source]
    if not isinstance(item, Mapping):
        raise ValueError("an activity must be an object")
    fields = item
    if rules.any_case_keys and not all(type(k) is str and k.islower() for k in item):
        fields = {str(k).lower(): v for k, v in item.items()}
    texts: dict[str, str] = {}
    for name in _TEXT_FIELDS:
        value = fields.get(name, "")
        if type(value) is not str:
            if value is None and rules.null_is_empty:
                value = ""
            elif not isinstance(value, str):
                raise ValueError(f"{name} must be a string")
        texts[name] = value
    code = texts["type"]
    if code.lower() in _BUILT_IN:
        code = code.lower()  # built-in code names are lower case; custom ones keep theirs
        if code not in rules.built_in:
            allowed = ", ".join(sorted(rules.built_in)) or "none"
            raise ValueError(
                f"the built-in type {code} cannot be sent from here (built-in types this "
                f"endpoint takes: {allowed}); log a custom activity type instead"
            )
        needed = rules.built_in[code]
        if needed and not texts[needed]:
            raise ValueError(f"a {code} activity needs a {needed}")
    client_id = fields.get("id") if rules.client_ids else None
    if rules.client_ids and not isinstance(client_id, str):
        raise ValueError("id must be a UUID string")
    return NewActivity(
        type=code,
        title=texts["title"],
        value=texts["value"],
        url=texts["url"],
        referrer=texts["referrer"],
        source=source,
        site=site,
        id=client_id or "",
    )


def read_activities(
    items: list[Any], source: ActivitySource, tracker: ActivityTracker, *, site: str | None = None
) -> list[NewActivity | Invalid]:
    """Every item read by the source's rules, in order: an activity, or why it was refused
    (counted with what was not logged). One bad activity never loses the others."""
    read: list[NewActivity | Invalid] = []
    for item in items:
        try:
            read.append(read_activity(item, source, site=site))
        except ValueError as exc:
            tracker.count_not_logged("invalid", str(exc))
            read.append(Invalid(_sent_id(item), str(exc)))
    return read


def _sent_id(item: Any) -> str | None:
    """The id a refused item carries, if it can be answered."""
    return printable(item.get("id") if isinstance(item, Mapping) else None)


def read_batch(
    items: list[Any], source: ActivitySource, *, site: str | None = None
) -> ActivityBatch | None:
    """All ``items`` read at once by the source's rules when every one is valid (the usual
    case, in a few calls per field instead of some per activity); None when any needs reading
    one by one (:func:`read_activities`): one to refuse with its reason, a name sent in two
    spellings, or a client's id."""
    columns = _columns(items, RULES[source])
    if columns is None:
        return None
    try:  # a text that is not a str, too long or not storable: refused one by one
        return ActivityBatch(*columns, source=source, site=site)
    except (TypeError, ValueError):
        return None


def read_valid(
    items: list[Any], source: ActivitySource, tracker: ActivityTracker, *, site: str | None = None
) -> tuple[Sequence[NewActivity], dict[int, Invalid]]:
    """The items the source's rules accept, in order (as one batch where they can be), and
    the refused ones by position with the rule each broke (counted with what was not logged).
    One bad activity never loses the others, nor makes them cost one reading each: the parts
    of the list that read as a batch are found by halving it."""
    batch = read_batch(items, source, site=site)
    if batch is not None:
        return batch, {}
    start, stop = _part_refused(items, RULES[source], site)
    if stop - start < len(items):  # the others read as a batch
        reasons = {}
        for at in range(start, stop):
            try:
                read_activity(items[at], source, site=site)
            except ValueError as exc:
                reasons[at] = str(exc)
        kept = [item for at, item in enumerate(items) if at not in reasons]
        valid: Sequence[NewActivity] | None = read_batch(kept, source, site=site) if kept else []
        if valid is not None:
            refused = {}
            for at, reason in reasons.items():
                tracker.count_not_logged("invalid", reason)
                refused[at] = Invalid(_sent_id(items[at]), reason)
            return valid, refused
    read = read_activities(items, source, tracker, site=site)
    refused = {at: entry for at, entry in enumerate(read) if isinstance(entry, Invalid)}
    return [entry for entry in read if isinstance(entry, NewActivity)], refused


def _part_refused(items: list[Any], rules: SourceRules, site: str | None) -> tuple[int, int]:
    """Where in ``items`` (a list that does not read as a batch) the items to read one by one
    lie, as (start, stop): the list is halved while they lie in one half (the other reads as
    a batch), and a part with some in both halves, or of a few items, is read whole. So one
    refused item costs a few halvings, and many little more than reading them one by one."""
    start, stop = 0, len(items)
    while stop - start > 4 and not rules.client_ids:
        middle = (start + stop) // 2
        first = _batchable(items[start:middle], rules, site)
        second = _batchable(items[middle:stop], rules, site)
        if first == second:  # some in both halves; or both read alone, not together
            return (start, stop) if not first else (0, len(items))
        start, stop = (middle, stop) if first else (start, middle)
    return start, stop


def _batchable(items: list[Any], rules: SourceRules, site: str | None) -> bool:
    """Whether ``items`` read as one batch (:func:`read_batch`, without making their ids)."""
    columns = _columns(items, rules)
    if columns is None:
        return False
    try:
        check_columns(*columns, site=site)
    except (TypeError, ValueError):
        return False
    return True


def _columns(items: list[Any], rules: SourceRules) -> list[list[Any]] | None:
    """The activities' type, title, value, url and referrer columns, each read from every
    item at once; None when some item breaks a rule of the source or needs reading alone."""
    if rules.client_ids or set(map(type, items)) != _ONLY_OBJECTS:
        return None
    # Each field's name as the activities spell it ("Type" reads as "type" where names match
    # in any case), so a field is read from every activity at once.
    keys = set().union(*items)
    spelling = {key.lower() if rules.any_case_keys else key: key for key in keys}
    if len(spelling) < len(keys):  # e.g. both "Type" and "type": the last one sent wins
        return None
    count = len(items)
    columns = []
    for name in _TEXT_FIELDS:
        if name not in spelling:  # no activity sent it
            columns.append([""] * count)
            continue
        column = list(map(dict.get, items, repeat(spelling[name]), repeat("")))
        if rules.null_is_empty and None in column:
            try:
                column = list(map(_NULL_IS_EMPTY.get, column, column))
            except TypeError:  # an array or an object: refused one by one
                return None
        columns.append(column)
    types, *texts = columns
    try:
        codes = set(types)
    except TypeError:  # an array or an object as a type
        return None
    if set(map(type, codes)) != _ONLY_TEXT:
        return None
    # Built-in code names are lower case ("Click" is stored as "click"); custom ones keep theirs.
    built_in = {code: code.lower() for code in codes if code.lower() in _BUILT_IN}
    if any(code != lower for code, lower in built_in.items()):
        types = list(map(built_in.get, types, types))
    for code in set(built_in.values()):
        needed = rules.built_in.get(code, False)
        if needed is False:  # not sendable from here
            return None
        column = texts[_TEXT_FIELDS.index(needed) - 1] if needed else []
        if "" in column and "" in compress(column, map(code.__eq__, types)):
            return None
    return [types, *texts]
