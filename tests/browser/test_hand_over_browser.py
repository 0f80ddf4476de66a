"""Cross-site hand-overs in Chromium with its default cookie settings (third-party cookies
blocked): a main site, a registered shop and a registered blog, each its own site, over https."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from kxt_middleware import (
    ActivityStore,
    activity_logging_script,
    cross_site_snippet,
)
from kxt_middleware.sites import Site, add_site

from ..helpers import stored
from .conftest import Serve
from .pages import Watch, settle
from .test_cross_site_browser import certificate  # noqa: F401 (a fixture)
from .test_cross_site_browser import main_site as cross_site_main

PREFIX = "/Kentico.Tracking"


def main_site(database: Path, shop: str, blog: str, handover_max_age: int) -> Starlette:
    async def home(request: Request) -> Response:
        return HTMLResponse(
            f"""<!doctype html><html><head><title>Main</title>
{activity_logging_script(request)}</head><body>
<button id=agree onclick="kxt('consentagree')">Accept tracking</button>
<a id=shop href="{shop}/offers?from=main#deals">Our shop</a>
<a id=blog href="{blog}/">Our blog</a>
</body></html>"""
        )

    return cross_site_main(database, home, handover_max_age=handover_max_age)


def external_site(main_url: str, title: str) -> Starlette:
    page = f"""<!doctype html><html><head><title>{title}</title>
{cross_site_snippet(main_url)}
<script>
window.errors = [];
kxt('onerror', function (e, d) {{
  window.errors.push([e, d && d.body ? d.body.error : d && d.type]);
}});
</script>
</head><body>
<button id=cta onclick="kxt('customactivity', {{type: 'custom_cta', value: '{title}CTA'}})">
Offers</button>
<button id=revoke onclick="kxt('consentrevoke')">Withdraw consent</button>
</body></html>"""

    async def home(request: Request) -> Response:
        return HTMLResponse(page)

    return Starlette(routes=[Route("/", home), Route("/offers", home)])


class Sites:
    def __init__(self, database: Path, main: str, shop: str, blog: str) -> None:
        self.database, self.main, self.shop, self.blog = database, main, shop, blog

    def rows(self) -> list[tuple[Any, ...]]:
        return stored(self.database, "contact", "type", "value", "source", "site")


@pytest.fixture
def make_sites(serve: Serve, certificate: Path, tmp_path: Path) -> Callable[..., Sites]:  # noqa: F811
    """The main site (https://localhost), a shop (127.0.0.1) and a blog (127.0.0.2), both
    registered; ``handover_max_age`` for the main site."""

    def make(handover_max_age: int = 300) -> Sites:
        database = tmp_path / "main.sqlite3"
        # Ports first: the main site's page links to the others, which load its script.
        shop_app, blog_app = _Later(), _Later()
        shop = serve(shop_app, host="127.0.0.1", tls=certificate)
        blog = serve(blog_app, host="127.0.0.2", tls=certificate)
        main = serve(
            main_site(database, shop, blog, handover_max_age),
            host="127.0.0.1",
            name="localhost",
            tls=certificate,
        )
        shop_app.app = external_site(main, "shop")
        blog_app.app = external_site(main, "blog")

        async def register() -> None:
            async with ActivityStore(database) as store:
                await add_site(store, Site("shop", "Our shop", shop))
                await add_site(store, Site("blog", "Our blog", blog))

        # Playwright's sync API owns this thread's event loop: register from another thread.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, register()).result()
        return Sites(database, main, shop, blog)

    return make


class _Later:
    """An ASGI app given after its server started (its URL is needed to build the others)."""

    app: Starlette | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # the external sites have nothing to start
            message = await receive()
            while True:
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
                message = await receive()
        assert self.app is not None
        await self.app(scope, receive, send)


def open_main_and_agree(context: BrowserContext, sites: Sites) -> tuple[Page, Watch]:
    page = context.new_page()
    watch = Watch.attach(page)
    page.goto(sites.main)
    page.wait_for_function("typeof kxt === 'function' && !kxt.q")
    with page.expect_response(lambda r: r.url.endswith("/browser/consent")):
        page.click("#agree")
    page.wait_for_function("kxt('level') === 1000")
    return page, watch


def wait_until_identified(page: Page) -> None:
    """kxt-cs.js has exchanged the token: the credential is in the site's own storage."""
    page.wait_for_function(
        f"localStorage.getItem({json.dumps(f'{page_main(page)}{PREFIX}/cross-site/')}) !== null"
    )


def page_main(page: Page) -> str:
    script: str = page.evaluate("document.querySelector('script[src$=\"kxt-cs.js\"]').src")
    return script.removesuffix(f"{PREFIX}/kxt-cs.js")


def errors(page: Page) -> list[list[str]]:
    found: list[list[str]] = page.evaluate("window.errors")
    return found


def token_from(context: BrowserContext, sites: Sites, target: str) -> str:
    """A hand-over token, asked for as a main-site link would (with the context's cookies)."""
    answer = context.request.get(
        f"{sites.main}{PREFIX}/cross-site/handover?to={quote(target, safe='')}",
        max_redirects=0,
    )
    assert answer.status == 303
    [token] = parse_qs(urlsplit(answer.headers["location"]).query)["kxt_handover"]
    return token


def test_consent_on_the_main_site_follows_the_visitor_to_the_shop(
    default_profile: BrowserContext, make_sites: Callable[..., Sites], artifacts_dir: Path
) -> None:
    sites = make_sites()
    page, watch = open_main_and_agree(default_profile, sites)
    settle(page, watch)
    [(contact, *main_visit)] = [row for row in sites.rows() if row[1] == "pagevisit"]
    assert main_visit == ["pagevisit", "", "browser", None]

    handed: list[str] = []
    page.on("request", lambda r: handed.append(r.url) if "kxt_handover=" in r.url else None)
    page.click("#shop")
    page.wait_for_url(f"{sites.shop}/offers?from=main#deals")  # the token is out of the bar
    [arrival] = handed
    assert arrival.startswith(f"{sites.shop}/offers?from=main&kxt_handover=")
    wait_until_identified(page)
    page.click("#cta")
    settle(page, watch)
    shop_rows = [row for row in sites.rows() if row[4] == "shop"]
    assert shop_rows == [
        (contact, "pagevisit", "", "cross-site", "shop"),
        (contact, "landingpage", "", "cross-site", "shop"),
        (contact, "custom_cta", "shopCTA", "cross-site", "shop"),
    ]
    assert errors(page) == []
    page.screenshot(path=str(artifacts_dir / "shop.png"))

    # a later page of the shop names the contact from the site's own storage
    page.goto(sites.shop)
    page.wait_for_function("typeof kxt === 'function' && !kxt.q")
    page.click("#cta")
    settle(page, watch)
    assert [row for row in sites.rows() if row[1] == "custom_cta"] == [
        (contact, "custom_cta", "shopCTA", "cross-site", "shop"),
        (contact, "custom_cta", "shopCTA", "cross-site", "shop"),
    ]

    # revoking on the shop erases the contact, and its credential is gone from the shop
    with page.expect_response(lambda r: r.url.endswith("/cross-site/consent")) as revoke:
        page.click("#revoke")
    assert revoke.value.json()["level"] < 200
    settle(page, watch)
    assert sites.rows() == []
    page.reload()
    page.wait_for_function("window.errors.length > 0")
    assert errors(page) == [["error_cookies_blocked", "pagevisit"]]
    assert page.evaluate("Object.keys(localStorage)") == []


def test_a_token_pasted_elsewhere_or_used_late_is_refused(
    default_profile: BrowserContext, make_sites: Callable[..., Sites]
) -> None:
    sites = make_sites(handover_max_age=1)
    page, _ = open_main_and_agree(default_profile, sites)
    token = token_from(default_profile, sites, f"{sites.shop}/")
    # pasted into the blog's page (another registered site): refused, and nothing stored there
    with page.expect_response(lambda r: r.url.endswith("/cross-site/init")) as init:
        page.goto(f"{sites.blog}/?kxt_handover={token}")
    assert init.value.status == 403
    assert init.value.json()["error"] == "handover_wrong_site"
    page.wait_for_function("window.errors.length >= 2")
    page.click("#cta")
    page.wait_for_function("window.errors.length >= 3")
    assert errors(page) == [
        ["error_cookies_blocked", "pagevisit"],
        ["error_bad_response", "handover_wrong_site"],
        ["error_cookies_blocked", "custom_cta"],
    ]
    assert page.url == f"{sites.blog}/"
    # used on its own site after its life: refused too
    page.wait_for_timeout(2_100)
    with page.expect_response(lambda r: r.url.endswith("/cross-site/init")) as late:
        page.goto(f"{sites.shop}/?kxt_handover={token}")
    assert (late.value.status, late.value.json()["error"]) == (403, "handover_expired")
    page.wait_for_function("window.errors.length >= 2")
    assert [row for row in sites.rows() if row[4] is not None] == []


def test_a_visitor_without_consent_gets_no_token(
    default_profile: BrowserContext, make_sites: Callable[..., Sites]
) -> None:
    sites = make_sites()
    page = default_profile.new_page()
    page.goto(sites.main)
    page.wait_for_function("typeof kxt === 'function' && !kxt.q")
    assert page.evaluate("kxt('level')") == 0
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/cross-site/handover" in r.url else None)
    page.click("#shop")
    page.wait_for_url(f"{sites.shop}/offers?from=main#deals")
    assert asked == []  # the link was not decorated
    # and the main site refuses to put one on the way
    assert (
        "kxt_handover"
        not in default_profile.request.get(
            f"{sites.main}{PREFIX}/cross-site/handover?to={quote(sites.shop + '/', safe='')}",
            max_redirects=0,
        ).headers["location"]
    )
    page.wait_for_function("window.errors.length > 0")
    assert errors(page) == [["error_cookies_blocked", "pagevisit"]]
    assert sites.rows() == []


def test_without_a_hand_over_blocked_cookies_are_reported_at_once(
    default_profile: BrowserContext, make_sites: Callable[..., Sites]
) -> None:
    sites = make_sites()
    page = default_profile.new_page()
    watch = Watch.attach(page)
    page.goto(sites.shop)
    # the snippet's page visit fails as soon as init has answered: nothing waits in the page
    page.wait_for_function("window.errors.length > 0")
    page.click("#cta")
    page.wait_for_function("window.errors.length > 1")
    assert errors(page) == [
        ["error_cookies_blocked", "pagevisit"],
        ["error_cookies_blocked", "custom_cta"],
    ]
    settle(page, watch)
    assert [r.url.rsplit("/", 1)[1] for r in watch.requests] == ["init"]
    assert sites.rows() == []
