"""The marketer admin in a real browser: sign in, create a type and a group, see a visitor join."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from playwright.sync_api import Page, expect
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from kxt_middleware import (
    ActivityStore,
    ActivityTrackingMiddleware,
    CustomActivityData,
    get_activity_logger,
    set_cookie_level,
)
from kxt_middleware.admin import admin_app
from kxt_middleware.groups import install_contact_groups
from kxt_middleware.operators import create_operator
from kxt_middleware.personalization import is_in_contact_group

Serve = Callable[[ASGIApp], str]
PASSWORD = "correct horse battery"
HOME = """<!doctype html><html><head><meta charset="utf-8"><title>Bank</title></head><body>
<p id="offer">{offer}</p>
<form method="post" action="/consent"><button id="accept">Accept all cookies</button></form>
<form method="post" action="/subscribe"><button id="subscribe">Subscribe</button></form>
</body></html>"""


async def create_jane(database: Path) -> None:
    async with ActivityStore(database) as store:
        await create_operator(store, "jane", PASSWORD)


def site(database: Path) -> Starlette:
    store = ActivityStore(database)
    install_contact_groups(store)
    admin = admin_app(store=store, secret_key="browser-admin-secret", failed_sign_in_delay=0)

    async def home(request: Request) -> Response:
        member = await is_in_contact_group(request, "newsletter_readers")
        offer = "Thanks for reading our newsletter!" if member else "Welcome"
        return HTMLResponse(HOME.format(offer=offer))

    async def consent(request: Request) -> Response:
        set_cookie_level(request, "ALL")
        return RedirectResponse("/", status_code=303)

    async def subscribe(request: Request) -> Response:
        await get_activity_logger(request).log(
            "newsletter_sign_up", CustomActivityData(title="<b>Newsletter</b>", value="weekly")
        )
        return RedirectResponse("/", status_code=303)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await admin.close()

    return Starlette(
        routes=[
            Route("/", home),
            Route("/consent", consent, methods=["POST"]),
            Route("/subscribe", subscribe, methods=["POST"]),
            Mount("/admin", app=admin),
        ],
        middleware=[Middleware(ActivityTrackingMiddleware, secret_key="site-secret", store=store)],
        lifespan=lifespan,
    )


def test_marketer_builds_a_group_from_a_visitors_activity(
    page: Page, serve: Serve, artifacts_dir: Path, tmp_path: Path
) -> None:
    database = tmp_path / "kxt.sqlite3"
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's loop
        pool.submit(asyncio.run, create_jane(database)).result()
    url = serve(site(database))

    page.goto(f"{url}/admin/activities")
    expect(page).to_have_url(f"{url}/admin/sign-in")
    page.get_by_label("Name").fill("jane")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    # A custom activity type; the code name follows the name as it is typed.
    page.get_by_role("link", name="Activity types").click()
    page.get_by_role("link", name="New activity type").click()
    page.wait_for_url("**/activity-types/new")  # loaded, with its script
    page.get_by_label("Name", exact=True).fill("Newsletter sign-up")
    expect(page.locator("input[name=code]")).to_have_value("newsletter_sign_up")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status")).to_have_text("Created activity type newsletter_sign_up.")

    # A visitor consents and subscribes.
    page.goto(url)
    expect(page.locator("#offer")).to_have_text("Welcome")
    page.locator("#accept").click()
    page.locator("#subscribe").click()

    page.goto(f"{url}/admin/activities?type=newsletter_sign_up")
    row = page.locator("table.log tbody tr").first
    expect(row).to_contain_text("newsletter_sign_up")
    expect(row).to_contain_text("<b>Newsletter</b>")  # shown as text, not markup
    expect(page.locator("svg.chart rect.segment")).to_have_count(1)
    page.screenshot(path=str(artifacts_dir / "admin-activities.png"), full_page=True)

    # A contact group on that activity: the visitor is a member at once.
    page.get_by_role("link", name="Contact groups").click()
    page.get_by_role("link", name="New contact group").click()
    page.get_by_label("Name", exact=True).fill("Newsletter readers")
    page.get_by_label("Activity type 1").select_option("newsletter_sign_up")
    page.get_by_label("Value match 1").select_option("equals")
    page.get_by_label("Value, condition 1").fill("weekly")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status")).to_contain_text("with 1 member(s)")
    expect(page.get_by_role("heading", name="Members (1)")).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "admin-contact-group.png"), full_page=True)

    page.goto(url)
    expect(page.locator("#offer")).to_have_text("Thanks for reading our newsletter!")
