"""The admin's layout as Chromium draws it: table rows, form checkboxes, placeholders."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from starlette.types import ASGIApp

from kxt_middleware import ActivityStore, ActivityType
from kxt_middleware.activities import NewActivity
from kxt_middleware.admin import admin_app
from kxt_middleware.groups import ActivityCondition, ContactGroup, add_contact_group
from kxt_middleware.operators import create_operator

Serve = Callable[[ASGIApp], str]
PASSWORD = "correct horse battery"
LOAN = ActivityType("custom_loan_calculator", "Loan calculator", "Amount of a calculated loan")


async def fill(database: Path) -> None:
    async with ActivityStore(database, activity_types=[LOAN]) as store:
        await create_operator(store, "jane", PASSWORD)
        await store.insert_activities(uuid.uuid4(), [NewActivity(LOAN.code_name, value="25000")])
        condition = ActivityCondition(LOAN.code_name, at_least=1, in_last_days=30)
        group = ContactGroup("loan_prospects", "Loan prospects", "Calculated a loan", [condition])
        await add_contact_group(store, group)


@pytest.fixture
def admin_url(serve: Serve, tmp_path: Path) -> str:
    database = tmp_path / "kxt.sqlite3"
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's loop
        pool.submit(asyncio.run, fill(database)).result()
    return serve(admin_app(database=database, secret_key="layout-admin-secret"))


def sign_in(page: Page, url: str) -> None:
    page.goto(f"{url}/sign-in")
    page.get_by_label("Name").fill("jane")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


ROW_BOXES = """() => [...document.querySelectorAll("tbody tr")].map(row => {
  const box = row.getBoundingClientRect();
  return {
    row: [box.top, box.height],
    cells: [...row.cells].map(cell => {
      const b = cell.getBoundingClientRect();
      return [cell.className, b.top, b.height, getComputedStyle(cell).display];
    }),
  };
})"""


@pytest.mark.parametrize("path", ["/activity-types", "/contact-groups"])
def test_every_cell_of_a_row_is_as_tall_as_the_row(page: Page, admin_url: str, path: str) -> None:
    sign_in(page, admin_url)
    page.goto(admin_url + path)
    rows = page.evaluate(ROW_BOXES)
    assert rows, "no table rows"
    actions = 0
    for row in rows:
        top, height = row["row"]
        for name, cell_top, cell_height, display in row["cells"]:
            assert display == "table-cell", (path, name)
            # The cell's box is the row's box, so its bottom border lines up with the others.
            assert cell_top == pytest.approx(top, abs=0.5), (path, name)
            assert cell_height == pytest.approx(height, abs=0.5), (path, name)
            actions += name == "actions"
    assert actions == len(rows)


def test_the_enabled_checkbox_sits_on_the_line_of_its_label(page: Page, admin_url: str) -> None:
    sign_in(page, admin_url)
    page.goto(f"{admin_url}/activity-types/new")
    checkbox = page.get_by_label("Enabled")
    expect(checkbox).to_be_checked()
    box = checkbox.bounding_box()
    text = page.evaluate(
        """() => {
          const label = document.querySelector("input[name=enabled]").closest("label");
          const node = [...label.childNodes].find(n => n.nodeType === 3 && n.textContent.trim());
          const range = document.createRange();
          range.selectNodeContents(node);
          const rects = [...range.getClientRects()].filter(r => r.width > 0);
          return rects.map(r => ({x: r.x, y: r.y, width: r.width, height: r.height}));
        }"""
    )
    assert box is not None and len(text) == 1, text  # "Enabled" is one line
    [line] = text
    assert box["x"] + box["width"] <= line["x"]  # the box before its word, ...
    middle = box["y"] + box["height"] / 2
    assert line["y"] <= middle <= line["y"] + line["height"]  # ... on the same line
    assert box["width"] < 30  # a checkbox, not a 100 % wide block


def test_placeholders_of_the_group_form_are_not_cut_off(page: Page, admin_url: str) -> None:
    sign_in(page, admin_url)
    for path in ["/contact-groups/new", "/contact-groups/loan_prospects/edit"]:
        page.goto(admin_url + path)
        fields = page.evaluate(
            """() => [...document.querySelectorAll("input[placeholder]")].map(input => {
              const typed = input.value;
              input.value = input.placeholder;  // measured as typed text: same font, same box
              const fits = [input.name, input.placeholder, input.scrollWidth, input.clientWidth];
              input.value = typed;
              return fits;
            })"""
        )
        shown = {placeholder for _, placeholder, _, _ in fields}
        assert {"any time", "any value"} <= shown, path
        for name, placeholder, needed, width in fields:
            assert needed <= width, (path, name, placeholder, needed, width)
