from __future__ import annotations

import os
import time
import uuid

import pytest

from kxt_middleware import CustomActivityData, LogResult, LogStatus
from kxt_middleware.activities import (
    NewActivity,
    format_time,
    parse_time,
    utc_now,
)
from kxt_middleware.activity_ids import new_activity_id


def test_title_and_value_up_to_250() -> None:
    CustomActivityData(title="t" * 250, value="v" * 250)


@pytest.mark.parametrize("field", ["title", "value"])
def test_over_long_text_raises_instead_of_cutting(field: str) -> None:
    with pytest.raises(ValueError, match=f"{field} is 251 characters long; at most 250"):
        CustomActivityData(**{field: "x" * 251})


def test_non_text_value_raises_type_error() -> None:
    with pytest.raises(TypeError, match="value must be a str, not int"):
        CustomActivityData(value=50000)  # type: ignore[arg-type]


def test_url_limit() -> None:
    with pytest.raises(ValueError, match="url is 8193"):
        CustomActivityData(url="u" * 8193)
    with pytest.raises(ValueError, match="referrer is 8193"):
        CustomActivityData(referrer="u" * 8193)


def test_new_activity_validates_type_and_id() -> None:
    with pytest.raises(ValueError, match="not a valid code name"):
        NewActivity(type="bad type")
    with pytest.raises(ValueError, match="not a UUID"):
        NewActivity(type="click", id="nope")
    with pytest.raises(ValueError, match="site is 101"):
        NewActivity(type="click", site="s" * 101)
    upper = str(uuid.uuid4()).upper()
    assert NewActivity(type="click", id=upper).id == upper.lower()
    assert NewActivity(type="click").id != NewActivity(type="click").id


def test_log_result_is_truthy_only_when_logged() -> None:
    assert LogResult(LogStatus.LOGGED, "x")
    for status in LogStatus:
        result = LogResult(status)
        assert bool(result) is (status is LogStatus.LOGGED)
        assert result.reason


def test_time_format_round_trips_and_sorts() -> None:
    now = utc_now()
    text = format_time(now)
    assert text.endswith("Z") and len(text) == 27
    assert parse_time(text) == now


def test_new_ids_are_uuid7_with_the_time_and_74_random_bits() -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_activity_id() for _ in range(3000)]
    after = time.time_ns() // 1_000_000
    parsed = [uuid.UUID(text) for text in ids]
    assert all(str(guid) == text for guid, text in zip(parsed, ids, strict=True))
    assert {guid.version for guid in parsed} == {7}
    assert {guid.variant for guid in parsed} == {uuid.RFC_4122}
    assert all(before <= guid.int >> 80 <= after for guid in parsed)
    assert len(set(ids)) == len(ids)
    # Ids of different milliseconds sort by time.
    by_time = sorted(parsed, key=lambda guid: guid.int >> 80)
    assert [g.int >> 80 for g in sorted(parsed)] == [g.int >> 80 for g in by_time]
    # Every random bit varies: none of the 74 is stuck at 0 or 1.
    random_mask = (0xFFF << 64) | 0x3FFF_FFFF_FFFF_FFFF
    ones = zeros = 0
    for guid in parsed:
        ones |= guid.int & random_mask
        zeros |= ~guid.int & random_mask
    assert ones == zeros == random_mask


def test_a_forked_child_never_makes_the_ids_its_parent_makes() -> None:
    new_activity_id()  # the parent has random parts formatted ahead
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child's coverage is not collected)
        os.write(writer, "".join(new_activity_id() for _ in range(100)).encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    with os.fdopen(reader) as pipe:
        text = pipe.read()
    in_child = {text[at + 14 : at + 36] for at in range(0, len(text), 36)}
    in_parent = {new_activity_id()[14:] for _ in range(100)}
    assert len(in_child) == 100 and not in_child & in_parent


class Text(str):
    """A str subclass: what check_text accepts, and the one look at all the text does not."""


@pytest.mark.parametrize("made_by", ["CustomActivityData", "NewActivity"])
def test_every_text_rule_holds_in_the_one_look_at_all_the_text(made_by: str) -> None:
    def build(**texts: str) -> CustomActivityData | NewActivity:
        if made_by == "CustomActivityData":
            return CustomActivityData(**texts)
        return NewActivity(type="click", **texts)  # type: ignore[arg-type]

    # Halves of a surrogate pair in two fields are two lone surrogates, not one character.
    with pytest.raises(ValueError, match="title holds '\\\\ud83d' at position 3, a lone"):
        build(title="abc\ud83d", value="\ude00")
    with pytest.raises(ValueError, match="value holds a NUL character .* at position 1"):
        build(title="Über", value="a\x00")
    with pytest.raises(ValueError, match="referrer is 8193 characters long"):
        build(title="t" * 250, url="u" * 8192, referrer="r" * 8193)
    with pytest.raises(TypeError, match="title must be a str, not bytes"):
        build(title=b"x")  # type: ignore[arg-type]
    long = build(title="t" * 250, value="ü" * 250, url="u" * 8192, referrer="r" * 8192)
    assert long.url is not None and long.referrer is not None
    assert len(long.url) == len(long.referrer) == 8192
    subclassed = build(title=Text("Apply now"), value="😀")
    assert subclassed.title == "Apply now" and subclassed.value == "😀"


def test_an_activity_id_in_any_form_uuid_reads_is_kept_as_str_writes_it() -> None:
    guid = uuid.uuid4()
    for form in (str(guid), guid.hex, f"{{{guid}}}", f"urn:uuid:{guid}", str(guid).upper()):
        assert NewActivity(type="click", id=form).id == str(guid)
    for wrong in (f"{guid}x", f" {guid}", 5):
        with pytest.raises(ValueError, match="is not a UUID"):
            NewActivity(type="click", id=wrong)  # type: ignore[arg-type]
