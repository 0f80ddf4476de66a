from __future__ import annotations

import pytest

from kxt_middleware import CookieLevel


def test_reference_values() -> None:
    assert [(m.name, int(m)) for m in CookieLevel] == [
        ("NONE", -1000),
        ("SYSTEM", -100),
        ("ESSENTIAL", 0),
        ("EDITOR", 100),
        ("VISITOR", 200),
        ("ALL", 1000),
    ]


@pytest.mark.parametrize("level", list(CookieLevel))
def test_only_visitor_and_all_allow_tracking(level: CookieLevel) -> None:
    assert level.allows_tracking is (level in (CookieLevel.VISITOR, CookieLevel.ALL))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("all", CookieLevel.ALL),
        ("Visitor", CookieLevel.VISITOR),
        ("1000", CookieLevel.ALL),
        ("-100", CookieLevel.SYSTEM),
        (0, CookieLevel.ESSENTIAL),
        (CookieLevel.EDITOR, CookieLevel.EDITOR),
    ],
)
def test_parse(given: int | str, expected: CookieLevel) -> None:
    assert CookieLevel.parse(given) is expected


@pytest.mark.parametrize("given", ["everything", "201", 5, "", "1e3", "9" * 50])
def test_parse_rejects_other_values_with_the_choices(given: int | str) -> None:
    with pytest.raises(ValueError, match=r"not a cookie level; use one of NONE \(-1000\)"):
        CookieLevel.parse(given)
