"""The overview page over known data: the counts, their changes, the tops and the groups."""

from __future__ import annotations

import asyncio
import html
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from kxt_middleware import ActivityStore
from kxt_middleware.activities import NewActivity
from kxt_middleware.admin import admin_app
from kxt_middleware.admin.overview import Period
from kxt_middleware.groups import ActivityCondition, ContactGroup, add_contact_group
from kxt_middleware.operators import create_operator

from .helpers import ADMIN_SECRET, CTA, PASSWORD, Clock, sign_in

NOW = datetime(2025, 3, 20, 15, 0, tzinfo=timezone.utc)
HOME, LOANS = "https://bank.example/", "https://bank.example/loans"
ANNA, BEN, CARL = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def at(day: int, hour: int, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=timezone.utc)


# (when, contact, type, url, how many)
LOG = [
    (at(1, 12, 1), CARL, "click", HOME, 1),  # before every period shown
    (at(10, 12, 2), CARL, "click", HOME, 2),  # in the 30 days before the last 30
    (at(10, 12), BEN, "click", f"{LOANS}#rates", 4),  # in the 7 days before the last 7
    (at(13, 16), BEN, "click", HOME, 1),  # ... but later in the day than now: not compared
    (at(15, 12), ANNA, "custom_cta", HOME, 1),
    (at(19, 10), ANNA, "pagevisit", f"{LOANS}?amount=5000", 2),  # yesterday, before 15:00
    (at(19, 18), BEN, "pagevisit", HOME, 3),  # yesterday, after 15:00
    (at(20, 9), ANNA, "pagevisit", LOANS, 3),  # today
    (at(20, 14), BEN, "custom_cta", "", 1),  # today, without a page
]


async def fill(database: Path) -> None:
    clock = Clock(NOW)
    async with ActivityStore(database, activity_types=[CTA], clock=clock) as store:
        await create_operator(store, "jane", PASSWORD)
        visits = ActivityCondition("pagevisit", at_least=3)
        await add_contact_group(store, ContactGroup("readers", "Readers", conditions=[visits]))
        ctas = ActivityCondition("custom_cta")
        await add_contact_group(store, ContactGroup("clickers", "CTA clickers", conditions=[ctas]))
        never = ActivityCondition("click", at_least=100)
        await add_contact_group(store, ContactGroup("fans", "Fans", conditions=[never]))
        for moment, contact, type, url, times in LOG:
            clock.now = moment
            for _ in range(times):
                [result] = await store.insert_activities(contact, [NewActivity(type, url=url)])
                assert result.logged


@pytest.fixture
def client(database: Path) -> Iterator[TestClient]:
    asyncio.run(fill(database))
    store = ActivityStore(database, clock=lambda: NOW)
    app = admin_app(store=store, secret_key=ADMIN_SECRET, failed_sign_in_delay=0)
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client)
        yield client
        client.portal.call(store.close)


def text(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def section(page: str, heading: str) -> list[str]:
    """The rows of the table under ``heading``, as text."""
    part = page.split(f"<h2>{heading}")[1].split("</table>")[0]
    return [text(row) for row in re.findall(r"<tr>(.*?)</tr>", part.split("<tbody>")[1], re.S)]


def test_the_overview_is_the_first_page_and_counts_the_periods(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "<h1>Overview</h1>" in page.text
    tiles = [text(tile) for tile in re.findall(r'<div class="tile">(.*?)</div>', page.text, re.S)]
    assert tiles == [
        # today until 15:00: 4; yesterday until 15:00: 2
        "Activities · Today 4 +100 % vs yesterday",
        # Mar 14-20: 1 + 2 + 3 + 4 = 10; Mar 7-13 until 15:00 on the 13th: 4
        "Activities · Last 7 days 10 +150 % vs the 7 days before",
        # Feb 19 - Mar 20: 15; Jan 20 - Feb 18: 2
        "Activities · Last 30 days 15 +650 % vs the 30 days before",
        "Contacts tracked 3 in the database now",
    ]
    assert 'href="/activities?from=2025-03-14&amp;to=2025-03-20"' in page.text
    assert 'title="4 in the 7 days before, up to this time of day"' in page.text


def test_the_overview_shows_the_top_types_pages_and_groups(client: TestClient) -> None:
    page = client.get("/").text
    assert section(page, "Top activity types") == [
        "Page visit pagevisit 8 53 %",
        "Click click 5 33 %",
        "CTA click custom_cta 2 13 %",
    ]
    assert 'href="/activities?type=pagevisit&amp;from=2025-02-19&amp;to=2025-03-20"' in page
    assert section(page, "Top pages") == [
        "https://bank.example/loans 9 2",  # 2 + 3 visits of Anna, 4 clicks of Ben
        "https://bank.example/ 5 2",  # the CTA without a page is not counted
    ]
    assert section(page, "Contact groups") == [
        "CTA clickers clickers 2",
        "Readers readers 2",
        "Fans fans 0",
    ]
    # the chart of the last 30 days, with its legend
    assert page.count('<rect class="segment"') == 6  # 5 days, today with two types
    assert "Activities per day, 2025-02-19 to 2025-03-20" in page
    hidden = client.get("/?hide=pagevisit").text
    assert hidden.count('<rect class="segment"') == 4
    assert 'class="legend off" href="?"' in hidden and 'href="?hide=click%2Cpagevisit"' in hidden


def test_an_empty_database_says_so(database: Path) -> None:
    async def operator_only() -> None:
        async with ActivityStore(database) as store:
            await create_operator(store, "jane", PASSWORD)

    asyncio.run(operator_only())
    app = admin_app(database=database, secret_key=ADMIN_SECRET, failed_sign_in_delay=0)
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client)
        page = client.get("/").text
    assert text(page).count("0 no change") == 3 and "Contacts tracked 0" in text(page)
    assert "No activities in the last 30 days." in page
    assert "No activities with a page in the last 30 days." in page
    assert "No contact groups yet" in page
    assert "No activities to show in this range" in page


@pytest.mark.parametrize(
    ("count", "previous", "change", "trend"),
    [
        (4, 2, "+100 %", "up"),
        (1, 2, "−50 %", "down"),
        (2, 3, "−33 %", "down"),
        (3, 3, "±0 %", ""),
        (5, 0, "new", "up"),
        (0, 0, "no change", ""),
        (0, 7, "−100 %", "down"),
    ],
)
def test_the_change_reads_as_people_say_it(
    count: int, previous: int, change: str, trend: str
) -> None:
    day = date(2025, 3, 20)
    result = Period("Today", 1, count, previous, day, day)
    assert (result.change, result.trend) == (change, trend)
