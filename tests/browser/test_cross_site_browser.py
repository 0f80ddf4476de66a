"""Cross-site tracking in a real browser: a main site, a registered shop, a rogue site; https."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import trustme
from playwright.sync_api import APIResponse, Browser, BrowserContext, Route
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route as StarletteRoute

from kxt_middleware import (
    ActivityStore,
    ActivityTrackingMiddleware,
    ActivityType,
    cross_site_snippet,
    get_cookie_level,
)
from kxt_middleware.sites import Site, add_site

from ..helpers import stored
from .pages import COUNT_JSON_READS, Watch, pump_until, settle


@pytest.fixture
def certificate(tmp_path: Path) -> Path:
    authority = trustme.CA()
    pem = tmp_path / "server.pem"
    authority.issue_cert(
        "localhost", "127.0.0.1", "127.0.0.2"
    ).private_key_and_cert_chain_pem.write_to_path(str(pem))
    return pem


async def level_page(request: Request) -> Response:
    return HTMLResponse(f"<p id=level>{int(get_cookie_level(request))}</p>")


def main_site(
    database: Path, home: Callable[[Request], Awaitable[Response]] = level_page, **options: Any
) -> Starlette:
    """The main site: ``home`` at /, the middleware with cross-site tracking (and ``options``)."""
    return Starlette(
        routes=[StarletteRoute("/", home)],
        middleware=[
            Middleware(
                ActivityTrackingMiddleware,
                secret_key="cross-site-test",
                database=database,
                activity_types=[ActivityType("custom_cta", "CTA click")],
                same_site="none",
                https_only=True,
                cross_site_tracking=True,
                **options,
            )
        ],
    )


def external_site(main_url: str) -> Starlette:
    page = f"""<!doctype html><html><head><title>Shop</title>
{cross_site_snippet(main_url)}
<script>window.errors = []; kxt('onerror', function (e, d) {{ window.errors.push(e); }});</script>
</head><body>
<button id=agree onclick="kxt('consentagree')">Accept tracking</button>
<button id=buy onclick="kxt('click', {{label: 'Buy'}})">Buy</button>
<button id=cta onclick="kxt('customactivity', {{type: 'custom_cta', value: 'shopCTA'}})">
Offers</button>
</body></html>"""

    async def home(request: Request) -> Response:
        return HTMLResponse(page)

    return Starlette(routes=[StarletteRoute("/", home)])


def rows(database: Path) -> list[tuple[Any, ...]]:
    return stored(database, "type", "value", "source", "site")


def wait_for(check: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


Sites = tuple[Path, str, str, str]


@pytest.fixture
def sites(serve: Callable[..., str], certificate: Path, tmp_path: Path) -> Sites:
    """The main site (https://localhost), a registered shop and an unregistered rogue site."""
    database = tmp_path / "main.sqlite3"
    main = serve(main_site(database), host="127.0.0.1", name="localhost", tls=certificate)
    shop = serve(external_site(main), host="127.0.0.1", tls=certificate)
    rogue = serve(external_site(main), host="127.0.0.2", tls=certificate)

    async def register() -> None:
        async with ActivityStore(database) as store:
            await add_site(store, Site("shop", "Our shop", shop))

    # Playwright's sync API owns this thread's event loop: register from another thread.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, register()).result()
    return database, main, shop, rogue


def test_external_site_logs_for_the_main_sites_contact(
    third_party_cookie_context: BrowserContext, sites: Sites, artifacts_dir: Path
) -> None:
    database, main, shop, rogue = sites
    page = third_party_cookie_context.new_page()
    watch = Watch.attach(page)
    page.goto(shop)
    page.wait_for_function("typeof kxt === 'function' && !kxt.q")
    page.click("#buy")  # held in the page: the visitor has not agreed yet
    assert settle(page, watch) == 1  # init only
    assert rows(database) == []
    page.click("#agree")
    wait_for(lambda: len(rows(database)) >= 3)
    page.click("#cta")
    wait_for(lambda: len(rows(database)) >= 4)
    assert rows(database) == [
        ("pagevisit", "", "cross-site", "shop"),
        ("landingpage", "", "cross-site", "shop"),
        ("click", "Buy", "cross-site", "shop"),
        ("custom_cta", "shopCTA", "cross-site", "shop"),
    ]
    assert page.evaluate("window.errors") == []
    page.screenshot(path=str(artifacts_dir / "shop.png"))
    settle(page, watch)
    watch.clear()
    # the consent given on the shop applies on the main site: one cookie, one contact
    page.goto(main)
    assert page.inner_text("#level") == "1000"
    # an unregistered site gets nothing stored; the browser withholds the answer (no CORS), so
    # its page hears of a failed request
    page.goto(rogue)
    page.wait_for_function("window.errors.length > 0")
    page.click("#agree")
    page.click("#cta")
    settle(page, watch)  # every request the rogue page sent has been answered
    assert len(rows(database)) == 4
    assert set(page.evaluate("window.errors")) == {"error_other"}


def test_blocked_third_party_cookies_are_reported_not_lost_silently(
    browser: Browser, sites: Sites
) -> None:
    # (the context is closed in the test, before the `sites` servers stop)
    database, _, shop, _ = sites
    context = browser.new_context(ignore_https_errors=True)  # off the record: 3P cookies blocked
    try:
        page = context.new_page()
        page.goto(shop)
        page.wait_for_function("typeof kxt === 'function' && !kxt.q")
        page.click("#agree")
        page.wait_for_function("window.errors.indexOf('error_cookies_blocked') >= 0")
        assert rows(database) == []
    finally:
        context.close()


def test_a_late_answer_does_not_switch_tracking_back_on_after_a_revoke(
    third_party_cookie_context: BrowserContext, sites: Sites
) -> None:
    database, _, shop, _ = sites
    page = third_party_cookie_context.new_page()
    page.add_init_script(COUNT_JSON_READS)
    watch = Watch.attach(page)
    page.goto(shop)
    page.wait_for_function("typeof kxt === 'function' && !kxt.q")
    page.click("#agree")
    pump_until(page, lambda: len(rows(database)) >= 2)  # the page visit, landing page
    reads = page.evaluate("window.__jsonReads")
    late: list[tuple[Route, APIResponse]] = []
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/activities") else None)

    def answer_late(route: Route) -> None:
        # The main site takes the click now (the cookie still says All); the page hears later.
        late.append((route, route.fetch()))

    page.route("**/cross-site/activities", answer_late)
    page.click("#buy")
    pump_until(page, lambda: bool(late))
    with page.expect_response(lambda r: r.url.endswith("/cross-site/consent")) as revoke:
        page.evaluate("kxt('consentrevoke')")
    assert revoke.value.json()["level"] < 200
    page.wait_for_function(f"window.__jsonReads >= {reads + 1}")
    [(route, answer)] = late
    assert answer.json()["level"] == 1000
    route.fulfill(response=answer)
    page.wait_for_function(f"window.__jsonReads >= {reads + 2}")  # kxt-cs.js has read it

    page.click("#cta")  # after the revoke: held in the page, not sent
    settle(page, watch)
    assert len(sent) == 1
    assert page.evaluate("window.errors") == []
    page.unroute("**/cross-site/activities")
