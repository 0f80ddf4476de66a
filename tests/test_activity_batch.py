"""Activities read as one batch (the headless API's usual case) agree with reading them one by
one: the same activities, and nothing accepted that the item-by-item rules refuse."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import JSONResponse

from kxt_middleware import ActivitySource
from kxt_middleware.activities import TITLE_MAX, LogResult, LogStatus, NewActivity
from kxt_middleware.activity_batch import ActivityBatch
from kxt_middleware.activity_ids import new_activity_id, new_activity_ids
from kxt_middleware.headless import _all_logged, _answer, _answers, _refused
from kxt_middleware.intake import Invalid, read_activities, read_batch, read_valid
from kxt_middleware.storage import open_store
from kxt_middleware.tracking import ActivityTracker

FIELDS = ("type", "title", "value", "url", "referrer")

# Texts near every rule's edge: empty, long, NUL, a lone surrogate, non-ASCII, not a string.
plain = st.sampled_from(["", "x", "cta-1", "é", "v" * TITLE_MAX])
texts = st.one_of(
    plain, st.sampled_from(["\x00", "\ud800", "v" * 251]), st.none(), st.integers(0, 3)
)
codes = st.sampled_from(
    ["click", "Click", "pagevisit", "datainput", "landingpage", "custom_cta", "Custom_CTA", "9x"]
)
keys = st.sampled_from([*FIELDS, "Type", "VALUE", "id", "extra"])


def activity(
    text: st.SearchStrategy[Any], spell: Callable[[str], str] = str
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {spell("type"): codes}, optional={spell(f): text for f in FIELDS[1:]}
    )


# Mostly bodies a client would send (plain texts, names in one spelling, nulls), some with
# anything in them.
items = st.one_of(
    st.lists(activity(plain), min_size=1, max_size=6),
    st.lists(activity(st.one_of(plain, st.none()), str.title), min_size=1, max_size=6),
    st.lists(activity(plain, str.upper), min_size=1, max_size=6),
    st.lists(
        st.one_of(
            activity(texts),
            st.dictionaries(keys, st.one_of(texts, codes), max_size=4),
            st.just("not an object"),
        ),
        min_size=1,
        max_size=6,
    ),
)


def fields(activity: NewActivity) -> tuple[Any, ...]:
    return (activity.type, activity.title, activity.value, activity.url, activity.referrer)


@settings(max_examples=400, deadline=None)
@given(items, st.sampled_from(list(ActivitySource)))
def test_a_batch_is_what_reading_one_by_one_gives(sent: list[Any], source: ActivitySource) -> None:
    tracker = ActivityTracker(open_store(":memory:"))
    one_by_one = read_activities(sent, source, tracker, site="app")
    batch = read_batch(sent, source, site="app")
    if batch is None:
        return  # read one by one: refused items are answered with their reasons
    assert all(isinstance(read, NewActivity) for read in one_by_one)
    assert [fields(a) for a in batch] == [
        fields(a) for a in one_by_one if isinstance(a, NewActivity)
    ]
    assert {(a.source, a.site) for a in batch} == {(source, "app")}
    assert len({a.id for a in batch}) == len(sent)


# Longer bodies of valid activities with a few that need refusing or reading alone among them.
mostly_valid = st.lists(
    st.one_of(activity(plain), activity(plain), activity(plain), activity(texts)),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(items, mostly_valid), st.sampled_from(list(ActivitySource)))
def test_the_valid_ones_and_the_reasons_are_what_reading_one_by_one_gives(
    sent: list[Any], source: ActivitySource
) -> None:
    by_one, by_parts = (ActivityTracker(open_store(":memory:")) for _ in range(2))
    one_by_one = read_activities(sent, source, by_one, site="app")
    valid, refused = read_valid(sent, source, by_parts, site="app")
    assert [fields(a) for a in valid] == [
        fields(a) for a in one_by_one if isinstance(a, NewActivity)
    ]
    assert {(a.source, a.site) for a in valid} <= {(source, "app")}
    assert refused == {at: a for at, a in enumerate(one_by_one) if isinstance(a, Invalid)}
    assert list(refused) == sorted(refused)
    assert by_parts.not_logged == by_one.not_logged


def test_a_refused_activity_leaves_the_others_in_one_batch() -> None:
    sent: list[Any] = [{"type": "click", "value": f"cta-{n}"} for n in range(100)]
    sent[37] = {"type": "click"}
    sent[39] = {"type": "click", "value": "x\x00", "id": "mine"}
    tracker = ActivityTracker(open_store(":memory:"))
    valid, refused = read_valid(sent, ActivitySource.HEADLESS, tracker, site="app")
    assert isinstance(valid, ActivityBatch) and len(valid) == 98
    assert refused == {
        37: Invalid(None, "a click activity needs a value"),
        39: Invalid("mine", refused[39].reason),
    }
    assert "NUL" in refused[39].reason and tracker.not_logged == {"invalid": 2}
    # Refused ones far apart: all read one by one, as many would be.
    sent[39], sent[90] = sent[38], sent[39]
    valid, refused = read_valid(sent, ActivitySource.HEADLESS, tracker, site="app")
    assert len(valid) == 98 and list(refused) == [37, 90]


def test_the_usual_headless_body_is_read_as_a_batch() -> None:
    sent = [{"type": "click", "value": f"cta-{n}", "url": "https://app.example/"} for n in range(5)]
    sent += [{"type": "pagevisit", "url": "https://app.example/é"}, {"type": "custom_cta"}]
    batch = read_batch(sent, ActivitySource.HEADLESS, site="app")
    assert batch is not None and [a.value for a in batch][:2] == ["cta-0", "cta-1"]
    assert batch[-1].type == "custom_cta" and batch[5:6][0].url == "https://app.example/é"
    # As the reference's examples write it: names in capitals, nulls, a built-in type's name
    # in capitals; read as the same activities, at once.
    cased = [
        {"Type": "Click", "Value": "cta-1", "Title": None},
        {"Type": "pagevisit", "Url": "https://app.example/", "Referrer": None},
    ]
    batch = read_batch(cased, ActivitySource.HEADLESS, site="app")
    assert batch is not None
    assert [fields(a) for a in batch] == [
        ("click", "", "cta-1", "", ""),
        ("pagevisit", "", "", "https://app.example/", ""),
    ]
    # What needs refusing, or a name sent in two spellings, is read one by one.
    for unusual in (
        {"Type": "click", "value": "x"},  # "type" in the others: the last one sent wins
        {"type": "click", "title": None},  # a click needs a value
        {"type": "click", "value": ["x"]},
        {"type": None, "value": "x"},
        {"type": "landingpage"},
    ):
        assert read_batch([*sent, unusual], ActivitySource.HEADLESS) is None
    # A browser activity carries its client's id: always read one by one.
    assert read_batch(sent, ActivitySource.BROWSER) is None


def test_a_batch_refuses_what_new_activity_refuses() -> None:
    def batch(**columns: list[Any]) -> ActivityBatch:
        given_columns = {"types": ["click"], "titles": [""], "values": [""], "urls": [""]}
        given_columns |= columns
        return ActivityBatch(
            **given_columns, referrers=[""], source=ActivitySource.SERVER, site=None
        )

    for bad in ({"types": ["not valid"]}, {"titles": ["t" * 251]}, {"values": ["a\x00"]}):
        with pytest.raises(ValueError):
            batch(**bad)
    with pytest.raises(ValueError, match="surrogate"):
        batch(urls=["\udc00"])
    with pytest.raises(TypeError):
        batch(values=[5])
    with pytest.raises(ValueError, match="one value per activity"):
        batch(urls=["", ""])
    assert batch(values=["é"])[0].value == "é"


def test_ids_made_together_are_uuid7_like_one_made_alone() -> None:
    made = new_activity_ids(500)
    assert len(set(made)) == 500
    for text in [*made, new_activity_id()]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (7, uuid.RFC_4122, text)
    assert made[0][:13] <= new_activity_id()[:13]  # the millisecond leads, so later sorts later
    assert new_activity_ids(0) == []


def test_the_all_stored_answer_is_what_json_response_encodes() -> None:
    ids = new_activity_ids(3)
    expected = JSONResponse({"results": [{"status": 202, "id": i} for i in ids]}, 207)
    answer = _all_logged(ids)
    assert (answer.body, answer.status_code) == (expected.body, 207)
    assert answer.headers["content-type"] == expected.headers["content-type"]
    assert json.loads(answer.body)["results"][2]["id"] == ids[2]


def test_every_other_answer_is_what_json_response_encodes() -> None:
    results = [LogResult(status, "id-1" if status == "logged" else None) for status in LogStatus]
    reason = 'the built-in type "é\\x" cannot be sent from here'
    pieces = [_answer(result) for result in results] + [_refused(Invalid(None, reason))]
    codes = {"no_consent": 403, "type_unknown": 404, "type_disabled": 422, "contact_erased": 410}
    expected: list[dict[str, Any]] = [{"status": 202, "id": "id-1"}]
    expected += [
        {"status": codes[result.status], "error": result.status.value, "detail": result.reason}
        for result in results[1:]
    ]
    expected.append({"status": 400, "error": "invalid_activity", "detail": reason})
    answer, encoded = _answers(pieces), JSONResponse({"results": expected}, 207)
    assert (answer.body, answer.status_code) == (encoded.body, 207)
    assert answer.headers["content-type"] == encoded.headers["content-type"]
