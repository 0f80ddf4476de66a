"""The admin in Chromium: table rows, checkboxes and placeholders as drawn; the chart legend and
the export without JavaScript."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from starlette.types import ASGIApp

from kxt_middleware import ActivityStore, ActivityType
from kxt_middleware.activities import NewActivity
from kxt_middleware.admin import admin_app
from kxt_middleware.api_keys import create_api_key
from kxt_middleware.groups import ActivityCondition, ContactGroup, add_contact_group
from kxt_middleware.operators import create_operator
from kxt_middleware.sites import Site, add_site

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
        await add_site(store, Site("shop", "Shop", "https://shop.example"))
        await create_api_key(store, "mobile_app")


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


@pytest.mark.parametrize("path", ["/activity-types", "/contact-groups", "/sites", "/api-keys"])
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


@pytest.mark.parametrize("path", ["/activity-types/new", "/sites/new"])
def test_the_enabled_checkbox_sits_on_the_line_of_its_label(
    page: Page, admin_url: str, path: str
) -> None:
    sign_in(page, admin_url)
    page.goto(admin_url + path)
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


def test_the_chart_legend_and_the_export_work_without_javascript(
    browser: Browser, admin_url: str
) -> None:
    context = browser.new_context(java_script_enabled=False, accept_downloads=True)
    try:
        page = context.new_page()
        sign_in(page, admin_url)
        page.goto(f"{admin_url}/activities")
        segments = page.locator("svg.chart rect.segment")
        expect(segments).to_have_count(1)
        expect(segments.locator("title")).to_have_text(
            re.compile(r"custom_loan_calculator, \w+ \d+ \d{4}: 1 of 1")
        )
        legend = page.locator("figcaption a.legend")
        expect(legend).to_have_text(["custom_loan_calculator (1)"])
        legend.click()
        expect(page).to_have_url(re.compile(r"/activities\?hide=custom_loan_calculator$"))
        expect(segments).to_have_count(0)
        expect(page.locator("figcaption a.legend.off")).to_have_count(1)
        expect(page.locator("table.log tbody tr")).to_have_count(1)  # the list keeps it
        page.locator("figcaption a.legend").click()
        expect(segments).to_have_count(1)

        with page.expect_download() as download_info:
            page.get_by_role("link", name="CSV").click()
        download = download_info.value
        assert re.fullmatch(r"activities-\d{8}-\d{6}\.csv", download.suggested_filename)
        path = download.path()
        lines = Path(path).read_text().splitlines()
        assert lines[0].startswith("id,contact,type,") and len(lines) == 2
        assert ",custom_loan_calculator,,25000," in lines[1]
    finally:
        context.close()
