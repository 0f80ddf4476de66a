from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from kxt_middleware import ActivityStore
from kxt_middleware.activities import NewActivity
from kxt_middleware.admin import admin_app
from kxt_middleware.admin.auth import SignInThrottle
from kxt_middleware.operators import create_operator

from .helpers import (
    ADMIN_SECRET,
    GROUP_FORM,
    LOAN,
    PASSWORD,
    XSS,
    csrf_token,
    post,
    refused,
    seed_admin,
    sign_in,
)


@pytest.fixture
def contact(database: Path) -> uuid.UUID:
    return asyncio.run(seed_admin(database))


@pytest.fixture
def client(database: Path, contact: uuid.UUID) -> Iterator[TestClient]:
    app = admin_app(database=database, secret_key=ADMIN_SECRET, failed_sign_in_delay=0, page_size=2)
    with TestClient(app, follow_redirects=False) as client:
        yield client


PAGES = [
    "/",
    "/activities",
    "/activity-types",
    "/activity-types/new",
    "/contacts",
    "/contact-groups",
    "/contact-groups/new",
]


def test_every_page_needs_a_session(client: TestClient, contact: uuid.UUID) -> None:
    for path in [*PAGES, f"/contacts/{contact}", "/activity-types/click/edit"]:
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/sign-in"
    for path in [
        "/sign-out",
        f"/contacts/{contact}/delete",
        "/activity-types/click/disable",
        "/activity-types/click/enable",
        "/activity-types/new",
        "/activity-types/click/edit",
        "/contact-groups/new",
        "/contact-groups/loan_prospects/edit",
        "/contact-groups/loan_prospects/recalculate",
        "/contact-groups/loan_prospects/delete",
    ]:
        response = client.post(path, data={"csrf_token": csrf_token(client)})
        assert response.headers["location"] == "/sign-in", path
    page = client.get("/sign-in")
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_sign_in_refuses_bad_passwords_and_throttles(client: TestClient) -> None:
    for _ in range(5):
        response = client.post(
            "/sign-in", data={"name": "jane", "password": "nope", "csrf_token": csrf_token(client)}
        )
        assert response.status_code == 400 and "Wrong name or password" in response.text
    response = client.post(
        "/sign-in", data={"name": "jane", "password": PASSWORD, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 429 and "Too many wrong passwords" in response.text
    # without a CSRF token the form is refused before the password is even checked
    response = client.post("/sign-in", data={"name": "jane", "password": PASSWORD})
    assert response.status_code == 403


def test_csrf_is_required_on_every_form(client: TestClient, contact: uuid.UUID) -> None:
    sign_in(client)
    group = {"name": "Loan prospects", "type_0": "custom_loan_calculator", "at_least_0": "3"}
    assert post(client, "/contact-groups/new", **group).status_code == 303
    assert post(client, "/activity-types/click/disable").status_code == 303
    for path in [
        "/sign-out",
        "/activity-types/new",
        "/activity-types/click/disable",
        "/activity-types/click/enable",
        "/activity-types/click/edit",
        f"/contacts/{contact}/delete",
        "/contact-groups/new",
        "/contact-groups/loan_prospects/edit",
        "/contact-groups/loan_prospects/recalculate",
        "/contact-groups/loan_prospects/delete",
    ]:
        for data in ({}, {"csrf_token": "forged"}):
            response = client.post(path, data={**group, "name": "X", "at_least_0": "1", **data})
            assert response.status_code == 403, path
            assert "security token" in response.text
    # still signed in, and nothing changed
    assert "Loan prospects" in client.get("/contact-groups/loan_prospects").text
    assert "at least 3 times" in client.get("/contact-groups/loan_prospects").text
    assert "Recalculated" not in client.get("/contact-groups/loan_prospects").text
    assert 'action="/activity-types/click/enable"' in client.get("/activity-types").text
    assert client.get(f"/contacts/{contact}").status_code == 200


def test_activity_log_escapes_filters_and_pages(client: TestClient, contact: uuid.UUID) -> None:
    sign_in(client)
    page = client.get("/activities")
    assert page.status_code == 200
    assert XSS not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert '<svg class="chart"' in page.text and "custom_loan_calculator (3)" in page.text
    rows = re.findall(r"<tr>\s*<td class=\"nowrap\">", page.text)
    assert len(rows) == 2  # page_size=2, newest first: the page visit and one loan activity
    older = re.search(r'href="\?before=(\d+)" rel="next"', page.text)
    assert older
    second = client.get(f"/activities?before={older.group(1)}")
    assert len(re.findall(r"<td class=\"nowrap\">", second.text)) == 2
    assert "Older" not in second.text and "Newer" in second.text
    newer = re.search(r'href="\?after=(\d+)" rel="prev"', second.text)
    assert newer
    back = client.get(f"/activities?after={newer.group(1)}")
    assert len(re.findall(r"<td class=\"nowrap\">", back.text)) == 2
    filtered = client.get("/activities?type=PAGEVISIT&source=server&from=2000-01-01")
    assert filtered.text.count('<td class="nowrap">') == 1 and "Home" in filtered.text
    by_contact = client.get(f"/activities?contact={contact}&site=main")
    assert by_contact.text.count('<td class="nowrap">') == 2
    assert "Older" in by_contact.text
    assert client.get("/activities?site=other").text.count('<td class="nowrap">') == 0
    cases = [
        ("contact=nope", "not a contact GUID"),
        ("source=email", "source must be one of"),
        ("from=2025-13-01", "not a date"),
        ("from=2025-02-01&to=2025-01-01", "ends before it starts"),
        ("before=x", "before must be an activity number"),
    ]
    refused(client, "/activities", cases)


def test_activity_types_create_edit_toggle(client: TestClient) -> None:
    sign_in(client)
    assert "custom_loan_calculator" in client.get("/activity-types").text
    response = post(client, "/activity-types/new", name="Newsletter sign-up", description="d")
    assert response.status_code == 303
    listing = client.get("/activity-types").text
    assert "Created activity type newsletter_sign_up" in listing
    assert "newsletter_sign_up" in listing
    bad = post(client, "/activity-types/new", name="X", code="bad code")
    assert bad.status_code == 400 and "not a valid code name" in bad.text
    taken = post(client, "/activity-types/new", name="Again", code="NEWSLETTER_SIGN_UP")
    assert taken.status_code == 400 and "already exists" in taken.text
    edited = post(
        client, "/activity-types/newsletter_sign_up/edit", name="Newsletter", enabled="on"
    )
    assert edited.status_code == 303
    empty = post(client, "/activity-types/newsletter_sign_up/edit", name="  ")
    assert empty.status_code == 400 and "must not be empty" in empty.text
    assert post(client, "/activity-types/newsletter_sign_up/disable").status_code == 303
    assert "newsletter_sign_up is now disabled" in client.get("/activity-types").text
    assert post(client, "/activity-types/newsletter_sign_up/enable").status_code == 303
    assert client.get("/activity-types/nope/edit").status_code == 404
    assert post(client, "/activity-types/click/explode").status_code == 404
    assert "data-code-target" in client.get("/activity-types/new").text


def test_contacts_list_detail_and_delete(
    client: TestClient, contact: uuid.UUID, database: Path
) -> None:
    sign_in(client)
    listing = client.get("/contacts")
    assert str(contact) in listing.text and "<td>3</td>" in listing.text
    detail = client.get(f"/contacts/{contact}")
    assert detail.status_code == 200 and "In no contact group" in detail.text
    assert XSS not in detail.text
    assert (
        post(
            client,
            "/contact-groups/new",
            name="Loan prospects",
            type_0="custom_loan_calculator",
            at_least_0="3",
        ).status_code
        == 303
    )
    assert "Loan prospects" in client.get(f"/contacts/{contact}").text
    response = post(client, f"/contacts/{contact}/delete")
    assert response.status_code == 303
    assert "and all its data" in client.get("/contacts").text
    assert client.get(f"/contacts/{contact}").status_code == 404
    assert post(client, f"/contacts/{contact}/delete").status_code == 404
    assert client.get("/contacts/not-a-guid").status_code == 404
    assert client.get("/contacts?before=x").status_code == 400


def test_contact_groups_create_edit_recalculate_delete(
    client: TestClient, contact: uuid.UUID, database: Path
) -> None:
    sign_in(client)
    form = {**GROUP_FORM, "match": "all"}
    response = post(client, "/contact-groups/new", **form)
    assert response.status_code == 303
    assert response.headers["location"] == "/contact-groups/loan_prospects"
    detail = client.get("/contact-groups/loan_prospects")
    assert "with 1 member(s)" in detail.text and str(contact) in detail.text
    assert "at least 2 times in the last 30 days with value containing" in detail.text
    listing = client.get("/contact-groups").text
    assert "loan_prospects" in listing and "<td>1</td>" in listing
    for bad, message in [
        ({"at_least_0": "two"}, "Condition 1: ‘at least’ must be a whole number from 1"),
        ({"days_0": "0"}, "Condition 1: ‘in the last … days’ must be a whole number"),
        ({"type_0": ""}, "Choose an activity type for at least one condition"),
        ({"type_0": "unknown_type"}, "Condition 1: there is no activity type"),
    ]:
        response = post(client, "/contact-groups/new", **{**form, "code": "other", **bad})
        assert response.status_code == 400, bad
        assert message in response.text, bad
    taken = post(client, "/contact-groups/new", **form)
    assert taken.status_code == 400 and "already exists" in taken.text
    edit_page = client.get("/contact-groups/loan_prospects/edit").text
    assert (
        'name="type_2"' in edit_page
        and 'name="type_3"' not in edit_page
        and 'value="IMG"' in edit_page
    )
    edited = post(client, "/contact-groups/loan_prospects/edit", **{**form, "at_least_0": "4"})
    assert edited.status_code == 303
    assert "0 member(s)" in client.get("/contact-groups/loan_prospects").text
    bad_edit = post(client, "/contact-groups/loan_prospects/edit", **{**form, "name": ""})
    assert bad_edit.status_code == 400
    assert post(client, "/contact-groups/loan_prospects/recalculate").status_code == 303
    assert (
        "Recalculated loan_prospects: 0 member(s)"
        in client.get("/contact-groups/loan_prospects").text
    )
    assert client.get("/contact-groups/loan_prospects?after=x").status_code == 400
    assert client.get("/contact-groups/nope").status_code == 404
    assert post(client, "/contact-groups/loan_prospects/delete").status_code == 303
    assert "No contact groups yet" in client.get("/contact-groups").text


def test_sign_out_and_deleted_operator(client: TestClient, database: Path) -> None:
    sign_in(client)
    assert post(client, "/sign-out").headers["location"] == "/sign-in"
    assert client.get("/activities").status_code == 303


def test_mounted_with_a_shared_store(database: Path, contact: uuid.UUID) -> None:
    store = ActivityStore(database)
    admin = admin_app(store=store, secret_key=ADMIN_SECRET, failed_sign_in_delay=0)
    site = Starlette(routes=[Mount("/admin", app=admin)])
    with TestClient(site, follow_redirects=False) as client:
        assert client.get("/admin/activities").headers["location"] == "/admin/sign-in"
        found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/sign-in").text)
        assert found and 'href="/admin/static/admin.css"' in client.get("/admin/sign-in").text
        response = client.post(
            "/admin/sign-in",
            data={"name": "jane", "password": PASSWORD, "csrf_token": found.group(1)},
        )
        assert response.headers["location"] == "/admin/"
        overview = client.get("/admin/").text
        assert 'href="/admin/contacts"' in overview and 'href="/admin/"' in overview
        assert client.get("/admin/static/admin.css").status_code == 200
        client.portal.call(admin.close)  # a shared store is left open
        assert store.is_open
        client.portal.call(store.close)


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="exactly one of database= .* or store="):
        admin_app(secret_key=ADMIN_SECRET)
    with pytest.raises(ValueError, match="at least 16 characters"):
        admin_app(secret_key="short", database="x.sqlite3")
    with pytest.raises(ValueError, match="page_size"):
        admin_app(secret_key=ADMIN_SECRET, database="x.sqlite3", page_size=0)


def test_concurrent_wrong_passwords_are_counted_before_they_are_checked(
    database: Path, contact: uuid.UUID
) -> None:
    async def storm() -> list[int]:
        admin = admin_app(database=database, secret_key=ADMIN_SECRET, failed_sign_in_delay=0.2)
        transport = httpx2.ASGITransport(app=admin)
        async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as web:
            page = (await web.get("/sign-in")).text
            found = re.search(r'name="csrf_token" value="([^"]+)"', page)
            assert found
            form = {"name": "jane", "password": "guess", "csrf_token": found.group(1)}
            responses = await asyncio.gather(*(web.post("/sign-in", data=form) for _ in range(40)))
            right = await web.post("/sign-in", data={**form, "password": PASSWORD})
        await admin.close()
        return sorted(response.status_code for response in [*responses, right])

    statuses = asyncio.run(storm())
    # Five wrong passwords were checked; the other 35 and then the right one were refused.
    assert statuses == [400] * 5 + [429] * 36


def test_throttle_counts_attempts_in_flight_and_forgets_them_on_success() -> None:
    now = [1000.0]
    throttle = SignInThrottle(max_failures=3, window=60, delay=0, clock=lambda: now[0])
    assert [throttle.attempt("jane", "10.0.0.1") for _ in range(3)] == [0, 0, 0]
    assert throttle.attempt("JANE", "10.0.0.2") == 60  # the name is locked while all 3 run
    assert throttle.attempt("bob", "10.0.0.1") == 60  # and so is the address
    throttle.succeeded("jane", "10.0.0.1")  # one of them was the right password
    assert throttle.attempt("jane", "10.0.0.2") == 0
    assert throttle.attempt("bob", "10.0.0.1") == 0  # the address has 3 again: 2 + bob's
    assert throttle.attempt("carl", "10.0.0.1") == 60
    now[0] += 60
    assert throttle.retry_after("carl", "10.0.0.1") == 0


def test_dates_and_cursors_out_of_range_get_a_clear_answer(
    client: TestClient, contact: uuid.UUID
) -> None:
    sign_in(client)
    today = datetime.now(timezone.utc).date()  # the store's clock is in UTC
    soon = (today + timedelta(days=3)).isoformat()
    future = client.get(f"/activities?from={soon}")
    assert future.status_code == 200, future.text
    assert f"{soon} to {soon}" in future.text and 'class="segment"' not in future.text
    assert future.text.count('<td class="nowrap">') == 0
    for query in [
        "from=0001-01-01&to=0001-01-02",
        "to=0001-01-05",
        "from=0999-12-31&to=1000-01-01",
        "from=9999-12-31",
    ]:
        response = client.get(f"/activities?{query}")
        assert response.status_code == 200, query
        assert response.text.count('<td class="nowrap">') == 0, query
    everything = client.get("/activities?from=0001-01-01&to=9999-12-31&type=custom_loan_calculator")
    assert everything.status_code == 200 and everything.text.count('<td class="nowrap">') == 2
    assert "9999-12-31" in everything.text
    assert client.get("/activities?before=9223372036854775807").status_code == 200
    for name in ["before", "after"]:
        for number in ["99999999999999999999", "9223372036854775808", "²", "-1"]:
            response = client.get(f"/activities?{name}={number}")
            assert response.status_code == 400, (name, number)
            assert f"{name} must be an activity number" in response.text
    for path in ["/contacts?before=", f"/contacts/{contact}?before="]:
        response = client.get(path + "99999999999999999999")
        assert response.status_code == 400 and "before must be" in response.text, path
        assert client.get(path + "²").status_code == 400, path
        assert client.get(path + "9223372036854775807").status_code == 200, path


def test_the_chart_draws_what_the_list_shows(client: TestClient, contact: uuid.UUID) -> None:
    sign_in(client)

    def chart(query: str) -> tuple[int, int, str]:
        page = client.get(f"/activities?{query}").text
        legend = page.split("<figcaption>")[1].split("</figcaption>")[0]
        return page.count('<td class="nowrap">'), page.count('<rect class="segment"'), legend

    rows, lines, legend = chart("")
    assert (rows, lines) == (2, 2) and "pagevisit (1)" in legend
    rows, lines, legend = chart("type=CUSTOM_LOAN_CALCULATOR")
    assert (rows, lines) == (2, 1) and "custom_loan_calculator (3)" in legend
    rows, lines, legend = chart("type=custom_loan_calculator&site=main&source=server")
    assert (rows, lines) == (2, 1) and "custom_loan_calculator (3)" in legend
    rows, lines, legend = chart(f"contact={contact}")
    assert (rows, lines) == (2, 1) and "pagevisit" not in legend
    rows, lines, legend = chart("site=main")
    assert (rows, lines) == (2, 1) and "pagevisit" not in legend
    assert chart("source=headless")[:2] == (0, 0)
    assert chart("type=click")[:2] == (0, 0)


def test_a_date_range_is_exact_when_the_clock_went_back(
    database: Path,
) -> None:
    days = [date(2025, 3, 10), date(2025, 3, 5), date(2025, 3, 10), date(2025, 3, 7)]

    async def fill() -> None:
        async with ActivityStore(database, activity_types=[LOAN]) as store:
            await create_operator(store, "jane", PASSWORD)
        for day in days:  # the clock goes back between the first and the second activity
            moment = datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc)
            async with ActivityStore(database, clock=lambda moment=moment: moment) as store:
                await store.insert_activities(uuid.uuid4(), [NewActivity(LOAN.code_name)])

    asyncio.run(fill())
    app = admin_app(database=database, secret_key=ADMIN_SECRET, failed_sign_in_delay=0)
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client)
        for query, expected in [
            ("from=2025-03-05&to=2025-03-05", ["2025-03-05"]),
            ("from=2025-03-06&to=2025-03-09", ["2025-03-07"]),
            ("from=2025-03-06", ["2025-03-07", "2025-03-10", "2025-03-10"]),
            ("to=2025-03-07", ["2025-03-07", "2025-03-05"]),
        ]:
            page = client.get(f"/activities?{query}").text
            shown = re.findall(r'<td class="nowrap">(\d{4}-\d\d-\d\d)', page)
            assert shown == expected, query  # newest row first
