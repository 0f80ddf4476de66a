"""Admin forms given bad input: a 400 in the form's own words, with what was typed kept."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from kxt_middleware.admin import admin_app

from .helpers import ADMIN_SECRET, GROUP_FORM, post, seed_admin, sign_in


@pytest.fixture
def admin(database: Path) -> Iterator[TestClient]:
    asyncio.run(seed_admin(database))
    app = admin_app(database=database, secret_key=ADMIN_SECRET, failed_sign_in_delay=0)
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client)
        yield client


def shown(page: str) -> dict[str, str]:
    """The values the form shows: input values, textareas, selected options, checked radios."""
    text = html.unescape(page)
    values = dict(re.findall(r'<input name="(\w+)" value="([^"]*)"', text))
    values.update(re.findall(r'<textarea name="(\w+)"[^>]*>([^<]*)</textarea>', text))
    for name, options in re.findall(r'<select name="(\w+)"[^>]*>(.*?)</select>', text, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', options)
        values[name] = chosen.group(1) if chosen else ""
    values.update(re.findall(r'name="(match)" value="(\w+)" checked', text))
    return values


def error(page: str) -> str:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', page, re.S)
    assert found, "no error shown"
    return html.unescape(found.group(1))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            {"at_least_1": "abc"},
            "Condition 2: ‘at least’ must be a whole number from 1 to 1,000,000, not 'abc'.",
        ),
        ({"at_least_1": "0"}, "Condition 2: ‘at least’ must be a whole number from 1"),
        ({"at_least_1": "²"}, "Condition 2: ‘at least’ must be a whole number from 1"),
        ({"at_least_1": "9" * 5000}, "Condition 2: ‘at least’ must be a whole number from 1"),
        (
            {"days_1": "-3"},
            "Condition 2: ‘in the last … days’ must be a whole number from 1 to 36,500, "
            "or empty for any time; not '-3'.",
        ),
        ({"type_1": "nope"}, "Condition 2: there is no activity type 'nope'"),
        ({"value_1": "v" * 251}, "Condition 2: the value is 251 characters long; at most 250"),
        ({"value_match_1": "regex"}, "Condition 2: choose whether the value is ‘equal to’"),
        ({"name": ""}, "Enter a name for the contact group."),
        ({"name": "n" * 251}, "The name is 251 characters long; at most 250 are allowed."),
        ({"description": "d" * 2001}, "The description is 2001 characters long"),
        ({"match": "most"}, "Choose whether contacts must perform all or any"),
        ({"type_0": "", "type_1": ""}, "Choose an activity type for at least one condition."),
        ({"code": "bad code"}, "'bad code' is not a valid code name"),
    ],
)
def test_a_bad_new_group_keeps_what_was_typed(
    admin: TestClient, bad: dict[str, str], message: str
) -> None:
    typed = {**GROUP_FORM, "type_1": "pagevisit", "at_least_1": "3", **bad}
    response = post(admin, "/contact-groups/new", **typed)
    assert response.status_code == 400
    page = response.text
    assert message in error(page)
    assert "ActivityCondition" not in page and "invalid literal" not in page
    values = shown(page)
    fields = ["name", "description"]
    fields += ["match"] if typed["match"] in ("all", "any") else []  # radio buttons
    fields += ["type_0", "days_0", "value_0", "value_match_0"] if typed["type_0"] else []
    fields += ["at_least_1"] if typed["type_1"] else []  # no type: row dropped
    fields += ["type_1"] if typed["type_1"] == "pagevisit" else []  # a list of known types
    for field in fields:
        assert values[field] == typed[field], field
    assert admin.get("/contact-groups").text.count("loan_prospects") == 0  # nothing was created


def test_a_bad_edit_shows_the_submitted_values_not_the_stored_ones(admin: TestClient) -> None:
    assert post(admin, "/contact-groups/new", **GROUP_FORM).status_code == 303
    typed = {
        **GROUP_FORM,
        "name": "Loan fans",
        "description": "changed",
        "match": "all",
        "at_least_0": "5",
        "type_1": "pagevisit",
        "at_least_1": "abc",
        "days_1": "7",
    }
    response = post(admin, "/contact-groups/loan_prospects/edit", **typed)
    assert response.status_code == 400
    page = response.text
    assert error(page) == (
        "Condition 2: ‘at least’ must be a whole number from 1 to 1,000,000, not 'abc'."
    )
    values = shown(page)
    for field in ["name", "description", "match", "at_least_0", "at_least_1", "days_1"]:
        assert values[field] == typed[field], field
    assert values["type_1"] == "pagevisit"
    stored = admin.get("/contact-groups/loan_prospects").text
    assert "Loan prospects" in stored and "at least 2 times" in stored  # unchanged


def test_a_type_typed_in_another_case_is_stored_as_the_type_spells_it(admin: TestClient) -> None:
    form = {**GROUP_FORM, "type_0": "CUSTOM_LOAN_CALCULATOR", "code": "Loans"}
    assert post(admin, "/contact-groups/new", **form).status_code == 303
    assert "custom_loan_calculator at least 2 times" in admin.get("/contact-groups/Loans").text


def test_group_member_cursor_out_of_range(admin: TestClient) -> None:
    assert post(admin, "/contact-groups/new", **GROUP_FORM).status_code == 303
    for after in ["99999999999999999999", "²", "x"]:
        response = admin.get(f"/contact-groups/loan_prospects?after={after}")
        assert response.status_code == 400 and "after must be a contact number" in response.text
    assert admin.get("/contact-groups/loan_prospects?after=12").status_code == 200


@pytest.mark.parametrize("path", ["/contact-groups/new", "/activity-types/new"])
def test_a_name_without_latin_letters_asks_for_a_code_name(admin: TestClient, path: str) -> None:
    response = post(admin, path, **{**GROUP_FORM, "name": "Займ"})
    assert response.status_code == 400
    page = response.text
    assert "no code name can be made from the name 'Займ'" in error(page)
    assert "Enter a code name" in error(page)
    assert shown(page)["name"] == "Займ" and shown(page)["code"] == ""
    listing = admin.get(path.replace("/new", "")).text
    assert ">_<" not in listing and "<code>_</code>" not in listing
    response = post(admin, path, **{**GROUP_FORM, "name": "Займ", "code": "loan"})
    assert response.status_code == 303
    assert "Займ" in admin.get(path.replace("/new", "")).text


@pytest.mark.parametrize("path", ["/contact-groups/new", "/activity-types/new"])
def test_accented_names_make_code_names(admin: TestClient, path: str) -> None:
    response = post(admin, path, **{**GROUP_FORM, "name": "Crédit Straße"})
    assert response.status_code == 303
    assert "credit_strasse" in admin.get(path.replace("/new", "")).text
