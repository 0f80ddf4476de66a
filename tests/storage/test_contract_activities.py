"""Contract: storing activities, reading them back (keyset pages, filters, per-day counts,
the export iterator) and purging old ones."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date, timedelta

import pytest

from kxt_middleware import Activity, ActivitySource, CustomActivityData, Store
from kxt_middleware.activities import (
    EVERY_ACTIVITY,
    EXPORT_FIELDS,
    ActivityFilter,
    LogStatus,
    NewActivity,
)
from kxt_middleware.activity_batch import ActivityBatch
from kxt_middleware.exports import export_bytes, export_header
from kxt_middleware.storage import PageCount

from ..helpers import CTA, START, Clock, MakeStore, log

pytestmark = pytest.mark.anyio


async def test_an_activity_is_stored_as_it_was_given(make_store: MakeStore) -> None:
    clock, contact = Clock(), uuid.uuid4()
    async with make_store(activity_types=[CTA], clock=clock) as store:
        new = NewActivity(
            "custom_cta",
            title="Custom CTA click",
            value="btnCTA",
            url="https://www.example.com/loans?x=1",
            referrer="https://search.example/",
            source=ActivitySource.CROSS_SITE,
            site="shop",
        )
        [result] = await store.insert_activities(contact, [new])
        [stored] = await store.activities()
        assert result.logged and result.activity_id == new.id == stored.id
        assert (stored.contact, stored.type, stored.title, stored.value) == (
            contact,
            "custom_cta",
            "Custom CTA click",
            "btnCTA",
        )
        assert (stored.url, stored.referrer, stored.source, stored.site) == (
            "https://www.example.com/loans?x=1",
            "https://search.example/",
            ActivitySource.CROSS_SITE,
            "shop",
        )
        assert stored.created == START and isinstance(stored.row, int)
        await log(store, contact, "click")
        [plain] = await store.activities(limit=1)
        assert (plain.title, plain.value, plain.url, plain.referrer) == ("", "", "", "")
        assert (plain.source, plain.site, plain.row > stored.row) == (
            ActivitySource.SERVER,
            None,
            True,
        )
        assert await store.count_activities() == 2


async def test_an_activity_id_is_stored_once(make_store: MakeStore) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    activity = NewActivity("click", value="x")
    async with make_store() as store:
        # A retried request carries the same id: logged each time, stored once.
        answers = [await store.insert_activities(first, [activity]) for _ in range(2)]
        answers += await asyncio.gather(
            store.insert_activities(second, [activity]),
            store.insert_activities(first, [activity, activity]),
        )
        assert all(result.logged for results in answers for result in results)
        assert {result.activity_id for results in answers for result in results} == {activity.id}
        assert [(a.id, a.contact) for a in await store.activities()] == [(activity.id, first)]
        assert await store.count_activities() == 1


async def test_a_batch_of_activities_is_stored_as_its_items_would_be(
    make_store: MakeStore,
) -> None:
    """An ActivityBatch (the headless API's columns) stores what its NewActivity items hold,
    over more rows than one SQLite statement takes, and refuses by type like any activity."""
    contact, count = uuid.uuid4(), 2_100
    async with make_store(activity_types=[CTA]) as store:
        batch = ActivityBatch(
            ["Custom_CTA"] * count,  # another case: stored in the type's own spelling
            [f"t{n}" for n in range(count)],
            [f"v{n}" for n in range(count)],
            ["https://x.example/"] * count,
            [""] * count,
            source=ActivitySource.HEADLESS,
            site="app",
        )
        results = await store.insert_activities(contact, batch)
        assert [r.activity_id for r in results if r.logged] == batch.ids
        stored = await store.activities(limit=count, newest_first=False)
        assert [(a.id, a.type, a.title, a.value, a.site) for a in stored] == [
            (n.id, "custom_cta", n.title, n.value, "app") for n in batch
        ]
        mixed = ActivityBatch(
            ["custom_cta", "custom_none"], ["", ""], ["", ""], ["", ""], ["", ""],
            source=ActivitySource.HEADLESS, site=None,
        )  # fmt: skip
        statuses = [r.status for r in await store.insert_activities(contact, mixed)]
        assert statuses == [LogStatus.LOGGED, LogStatus.TYPE_UNKNOWN]
        assert await store.count_activities() == count + 1


async def test_text_that_cannot_be_stored_is_refused_when_the_activity_is_built() -> None:
    for field in ("title", "value", "url", "referrer", "site"):
        with pytest.raises(ValueError, match=f"{field} holds .* lone UTF-16 surrogate"):
            NewActivity("click", **{field: "ok \ud800"})  # type: ignore[arg-type]
    for field in ("title", "value", "url", "referrer"):
        with pytest.raises(ValueError, match="surrogate pair must be complete"):
            CustomActivityData(**{field: "\udfff"})  # type: ignore[arg-type]
    assert NewActivity("click", value="\U0001f600 ok").value == "\U0001f600 ok"
    for field in ("title", "value", "url", "referrer", "site"):
        with pytest.raises(ValueError, match=f"{field} holds a NUL character"):
            NewActivity("click", **{field: "a\x00b"})  # type: ignore[arg-type]


async def fill(store: Store, first: uuid.UUID, second: uuid.UUID, clock: Clock) -> None:
    """25 activities, one a day from START: odd ones by ``first``, every fifth a CTA, every
    third from the browser on site "shop"."""
    for i in range(25):
        await store.insert_activities(
            first if i % 2 else second,
            [
                NewActivity(
                    "custom_cta" if i % 5 == 0 else "click",
                    value=str(i),
                    source=ActivitySource.BROWSER if i % 3 == 0 else ActivitySource.SERVER,
                    site="shop" if i % 3 == 0 else None,
                )
            ],
        )
        clock.advance(days=1)


def values(activities: list[Activity]) -> list[int]:
    return [int(a.value) for a in activities]


async def test_pages_by_row_number_and_offset(make_store: MakeStore) -> None:
    clock, first, second = Clock(), uuid.uuid4(), uuid.uuid4()
    async with make_store(activity_types=[CTA], clock=clock) as store:
        await fill(store, first, second, clock)
        newest = await store.select_activities(limit=10)
        assert values(newest) == list(range(24, 14, -1))
        rows = [a.row for a in newest]
        assert rows == sorted(rows, reverse=True) and len(set(rows)) == 10
        older = await store.select_activities(before=newest[-1].row, limit=3)
        assert values(older) == [14, 13, 12]
        oldest = await store.select_activities(EVERY_ACTIVITY, limit=4, newest_first=False)
        assert values(oldest) == [0, 1, 2, 3]
        later = await store.select_activities(after=oldest[-1].row, limit=2, newest_first=False)
        assert values(later) == [4, 5]
        between = await store.select_activities(after=oldest[0].row, before=newest[-1].row)
        assert values(between) == list(range(14, 0, -1))
        assert values(await store.select_activities(limit=3, offset=2)) == [22, 21, 20]
        assert await store.select_activities(before=oldest[0].row) == []
        assert values(await store.activities(before=newest[0].row, limit=2)) == [23, 22]


async def test_filters_by_type_contact_source_site_and_days(make_store: MakeStore) -> None:
    clock, first, second = Clock(), uuid.uuid4(), uuid.uuid4()
    async with make_store(activity_types=[CTA], clock=clock) as store:
        await fill(store, first, second, clock)

        async def matching(**fields: object) -> list[int]:
            found = await store.select_activities(
                ActivityFilter(**fields),  # type: ignore[arg-type]
                limit=100,
                newest_first=False,
            )
            return values(found)

        assert await matching(type="CUSTOM_CTA") == [0, 5, 10, 15, 20]
        assert await matching(type="nobody_defined_this") == []
        assert await matching(contact=first) == list(range(1, 25, 2))
        assert await matching(contact=uuid.uuid4()) == []
        assert await matching(source=ActivitySource.BROWSER) == list(range(0, 25, 3))
        assert await matching(source=ActivitySource.HEADLESS) == []
        assert await matching(site="shop") == list(range(0, 25, 3))
        day = START.date()
        assert await matching(start=day + timedelta(days=20)) == [20, 21, 22, 23, 24]
        assert await matching(end=day + timedelta(days=2)) == [0, 1, 2]
        assert await matching(start=day + timedelta(days=3), end=day + timedelta(days=6)) == [
            3,
            4,
            5,
            6,
        ]
        assert await matching(start=date(2024, 1, 1), end=date.max) == list(range(25))
        assert await matching(type="custom_cta", contact=first, start=day + timedelta(days=4)) == [
            5,
            15,
        ]
        assert await matching(
            source=ActivitySource.BROWSER, contact=second, end=day + timedelta(days=12)
        ) == [0, 6, 12]
        # the same filters page by row number too
        ctas = ActivityFilter(type="custom_cta")
        page = await store.select_activities(ctas, limit=2)
        assert values(page) == [20, 15]
        assert values(await store.select_activities(ctas, before=page[-1].row)) == [10, 5, 0]
        mine = await store.activities(contact=str(first), type="click", limit=3)
        assert values(mine) == [23, 21, 19]


async def test_every_activity_is_read_page_by_page_oldest_first(make_store: MakeStore) -> None:
    clock, first, second = Clock(), uuid.uuid4(), uuid.uuid4()
    async with make_store(activity_types=[CTA], clock=clock) as store:
        assert [a async for a in store.iter_activities()] == []
        await fill(store, first, second, clock)
        everything = [a async for a in store.iter_activities(page_size=7)]
        assert values(everything) == list(range(25))
        exact = [a async for a in store.iter_activities(page_size=5)]
        assert exact == everything
        mine = [a async for a in store.iter_activities(contact=str(first), page_size=4)]
        assert values(mine) == list(range(1, 25, 2))
        ctas = [a async for a in store.iter_activities(type="Custom_CTA", page_size=2)]
        assert values(ctas) == [0, 5, 10, 15, 20]
        shop = ActivityFilter(site="shop", contact=second)
        assert values([a async for a in store.iter_activities(shop, page_size=1)]) == [
            0,
            6,
            12,
            18,
            24,
        ]


async def test_counts_and_export_records(make_store: MakeStore) -> None:
    clock, first, second = Clock(), uuid.uuid4(), uuid.uuid4()
    async with make_store(activity_types=[CTA], clock=clock) as store:
        assert await store.count_activities() == 0 == await store.count_contacts()
        assert [page async for page in store.activity_records()] == []
        await fill(store, first, second, clock)
        assert await store.count_contacts() == 2
        assert await store.count_activities() == 25
        assert await store.count_activities(ActivityFilter(type="CUSTOM_CTA")) == 5
        browser = ActivityFilter(contact=first, source=ActivitySource.BROWSER)
        assert await store.count_activities(browser) == 4  # 3, 9, 15 and 21
        assert await store.count_activities(created_before=START + timedelta(days=3)) == 3
        shop = ActivityFilter(site="shop")
        assert await store.count_activities(shop, created_before=START + timedelta(days=10)) == 4
        assert await store.count_activities(ActivityFilter(start=date(2030, 1, 1))) == 0
        everything = [a async for a in store.iter_activities()]
        pages = [page async for page in store.activity_records(page_size=10)]
        assert [len(page) for page in pages] == [10, 10, 5]
        assert [record for page in pages for record in page] == [a.to_record() for a in everything]
        assert dict(zip(EXPORT_FIELDS, pages[0][0], strict=True)) == everything[0].to_json()
        ctas = ActivityFilter(type="custom_cta")
        exact = [page async for page in store.activity_records(ctas, page_size=5)]
        assert [[record[4] for record in page] for page in exact] == [["0", "5", "10", "15", "20"]]


async def test_export_is_its_records_as_json_lines_or_csv(make_store: MakeStore) -> None:
    clock, first, second = Clock(), uuid.uuid4(), uuid.uuid4()
    async with make_store(activity_types=[CTA], clock=clock) as store:
        await fill(store, first, second, clock)
        ctas = ActivityFilter(type="custom_cta")
        for filters in (EVERY_ACTIVITY, ctas):
            records = [r async for page in store.activity_records(filters) for r in page]
            for format in ("jsonl", "csv"):
                # processes=2: a backend may format in processes, never differently
                chunks = [c async for c in store.export_activities(filters, format, processes=2)]
                assert sum(c.activities for c in chunks) == len(records)
                expected = export_header(format) + export_bytes(records, format)
                assert b"".join(c.data for c in chunks) == expected
        lines = [json.loads(c.data) async for c in store.export_activities(ctas, page_size=1)]
        assert [line["value"] for line in lines] == ["0", "5", "10", "15", "20"]


async def test_daily_counts_per_type_and_day(make_store: MakeStore) -> None:
    clock, first, second = Clock(), uuid.uuid4(), uuid.uuid4()
    day = START.date()
    async with make_store(activity_types=[CTA], clock=clock) as store:
        for amount in (3, 0, 2):  # two days with clicks, one without anything
            for _ in range(amount):
                await log(store, first, "click")
            await log(store, second, "custom_cta")
            clock.advance(days=1)
        counts = await store.daily_counts(EVERY_ACTIVITY, day, day + timedelta(days=2))
        assert counts == {
            "click": {day: 3, day + timedelta(days=2): 2},
            "custom_cta": {day + timedelta(days=n): 1 for n in range(3)},
        }
        # the range replaces the filter's own dates, and ends with its last day
        second_day = day + timedelta(days=1)
        assert await store.daily_counts(
            ActivityFilter(start=day, end=day), second_day, second_day
        ) == {"custom_cta": {second_day: 1}}
        mine = ActivityFilter(contact=first)
        assert await store.daily_counts(mine, day - timedelta(days=9), day) == {"click": {day: 3}}
        ctas = ActivityFilter(type="CUSTOM_CTA", source=ActivitySource.SERVER)
        assert await store.daily_counts(ctas, day + timedelta(days=2), date.max) == {
            "custom_cta": {day + timedelta(days=2): 1}
        }
        assert await store.daily_counts(ActivityFilter(site="shop"), day, day) == {}


async def test_top_pages_count_activities_and_contacts_per_page(make_store: MakeStore) -> None:
    clock, first, second = Clock(), uuid.uuid4(), uuid.uuid4()
    day = START.date()
    loans, home = "https://bank.example/loans", "https://bank.example/"

    async def visit(contact: uuid.UUID, url: str, type: str = "pagevisit") -> None:
        [result] = await store.insert_activities(contact, [NewActivity(type, url=url)])
        assert result.logged

    async with make_store(activity_types=[CTA], clock=clock) as store:
        assert await store.top_pages(EVERY_ACTIVITY) == []
        # The query string and the fragment are not part of the page.
        for url in (loans, f"{loans}?amount=5000", f"{loans}#rates", f"{loans}?a=1#b?c"):
            await visit(first, url)
        await visit(second, f"{loans}?amount=9")
        await visit(second, home, "custom_cta")
        await visit(second, "")  # no page: not counted
        await visit(first, "https://bank.example/a")
        clock.advance(days=1)
        await visit(first, home)
        await visit(first, "https://bank.example/#?x")

        assert await store.top_pages(EVERY_ACTIVITY) == [
            PageCount(loans, 5, 2),
            PageCount(home, 3, 2),
            PageCount("https://bank.example/a", 1, 1),  # a tie is ordered by URL
        ]
        assert await store.top_pages(EVERY_ACTIVITY, limit=1) == [PageCount(loans, 5, 2)]
        second_day = ActivityFilter(start=day + timedelta(days=1), end=date.max)
        assert await store.top_pages(second_day) == [PageCount(home, 2, 1)]
        assert await store.top_pages(ActivityFilter(type="CUSTOM_CTA")) == [PageCount(home, 1, 1)]
        assert await store.top_pages(ActivityFilter(contact=second)) == [
            PageCount(home, 1, 1),
            PageCount(loans, 1, 1),
        ]
        assert await store.top_pages(ActivityFilter(end=day - timedelta(days=1))) == []


async def test_purging_deletes_old_activities_in_bounded_batches(make_store: MakeStore) -> None:
    clock, contact, other = Clock(), uuid.uuid4(), uuid.uuid4()
    async with make_store(clock=clock) as store:
        for value in range(5):
            await log(store, contact, "click", str(value))
        clock.advance(days=10)
        cutoff = clock()
        await log(store, other, "click", "new")
        assert await store.purge_activities_before(cutoff, 3) == 3
        assert await store.purge_activities_before(cutoff, 3) == 2
        assert await store.purge_activities_before(cutoff, 3) == 0
        assert [a.value for a in await store.activities()] == ["new"]
        assert await store.purge_activities_before(cutoff + timedelta(seconds=1), 10) == 1
        assert await store.count_activities() == 0
        # a contact whose activities were all purged is still a contact
        assert await store.contact_exists(contact)
