from __future__ import annotations

import pytest

from kxt_middleware import ActivityType, code_name_from_display_name
from kxt_middleware.activity_types import BUILT_IN_TYPES, validate_code_name


@pytest.mark.parametrize(
    "code", ["custom_loan_calculator", "_x", "a", "Shop.Checkout-v2", "a" * 100]
)
def test_valid_code_names(code: str) -> None:
    assert validate_code_name(code) == code


@pytest.mark.parametrize(
    "code", ["", "1abc", "has space", "semi;colon", "é", "a" * 101, "-lead", "new\nline"]
)
def test_invalid_code_names_say_the_rule(code: str) -> None:
    with pytest.raises(ValueError, match="1 to 100 characters"):
        validate_code_name(code)


def test_code_name_must_be_text() -> None:
    with pytest.raises(TypeError, match="must be a str"):
        validate_code_name(42)  # type: ignore[arg-type]


def test_display_name_is_required_and_at_most_250() -> None:
    ActivityType("ok", "x" * 250)
    with pytest.raises(ValueError, match="display_name is 251 characters long; at most 250"):
        ActivityType("ok", "x" * 251)
    with pytest.raises(ValueError, match="display_name must not be empty"):
        ActivityType("ok", "  ")


def test_description_limit() -> None:
    with pytest.raises(ValueError, match="description is 2001"):
        ActivityType("ok", "Ok", "d" * 2001)


def test_built_in_types() -> None:
    assert {t.code_name for t in BUILT_IN_TYPES} == {
        "pagevisit",
        "landingpage",
        "click",
        "datainput",
    }
    assert all(t.built_in and t.enabled for t in BUILT_IN_TYPES)
    assert not ActivityType("custom", "Custom").built_in


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Loan calculator usage", "loan_calculator_usage"),
        ("CTA click!", "cta_click"),
        ("Über Café", "uber_cafe"),
        ("2024 promo", "_2024_promo"),
        ("Straße Æble Łódź", "strasse_aeble_lodz"),
        ("Займ 2024", "_2024"),
    ],
)
def test_code_name_suggestion_is_always_valid(name: str, code: str) -> None:
    assert code_name_from_display_name(name) == code
    validate_code_name(code)


@pytest.mark.parametrize("name", ["Займ", "***", "贷款计算器", "  "])
def test_no_code_name_is_invented_from_a_name_without_latin_letters(name: str) -> None:
    with pytest.raises(ValueError, match="no letters A-Z or digits. Enter a code name"):
        code_name_from_display_name(name)


def test_code_name_suggestion_respects_the_length_limit() -> None:
    assert len(code_name_from_display_name("word " * 80)) <= 100
