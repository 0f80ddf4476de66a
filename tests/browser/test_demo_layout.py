"""The demo bank as a visitor's browser shows it: the width of a 1280 px screen used, the site's
own logo and icons, nothing fetched from elsewhere, a favicon, the 404 page, the demo panel."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Response, expect

from demo_site.app import create_app

from .conftest import Serve

PAGES = ("/", "/loans", "/accounts", "/offers", "/cookies", "/me")


def test_every_page_uses_the_width_of_a_1280_px_screen(
    browser: Browser, serve: Serve, tmp_path: Path
) -> None:
    url = serve(create_app(tmp_path / "demo.sqlite3"))
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        requested: list[str] = []
        failed: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
        page.goto(url)
        page.locator("#consent-banner").get_by_role("button", name="Accept").click()
        for path in PAGES:
            page.goto(url + path)
            # The content spans the screen: at most 64 px of margin on either side.
            box = page.locator("main").bounding_box()
            assert box is not None
            content = page.evaluate(
                """() => {
                    const style = getComputedStyle(document.querySelector('main'));
                    const main = document.querySelector('main').getBoundingClientRect();
                    return main.width - parseFloat(style.paddingLeft)
                        - parseFloat(style.paddingRight);
                }"""
            )
            assert content >= 1280 - 2 * 64, (path, content)
            assert page.evaluate("document.documentElement.scrollWidth") == 1280, path
            header = page.locator("header.site")
            expect(header.locator("svg.logo")).to_be_visible()
            expect(header.get_by_role("link", name="Demo Bank home")).to_be_visible()
            logo = header.locator("svg.logo").bounding_box()
            assert logo is not None and logo["width"] >= 32, path
        # The site's own pictures: nothing from another origin, and none missing (favicon too).
        assert [r for r in requested if not r.startswith(url)] == []
        assert any(r.endswith("/static/favicon.svg") for r in requested)
        assert failed == []
    finally:
        context.close()


def test_the_demo_panel_opens_without_javascript_and_the_404_page_is_styled(
    browser: Browser, serve: Serve, tmp_path: Path
) -> None:
    url = serve(create_app(tmp_path / "demo.sqlite3"))
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto(url + "/accounts")
        notes = page.locator("#how-this-demo-works")
        expect(notes.get_by_text("custom_cta", exact=True)).to_be_hidden()
        notes.get_by_text("How this demo works").click()
        expect(notes.get_by_text("custom_cta", exact=True)).to_be_visible()

        answer: Response | None = page.goto(url + "/no-such-page")
        assert answer is not None and answer.status == 404
        expect(page.get_by_role("heading", name="We could not find that page")).to_be_visible()
        background = page.locator("header.site").evaluate(
            "e => getComputedStyle(e).backgroundColor"
        )
        assert background == "rgb(11, 61, 110)"  # the site's own header, not a bare text page
        page.get_by_role("link", name="Back to the home page").click()
        expect(page.get_by_role("heading", name="Banking that keeps it simple")).to_be_visible()
    finally:
        context.close()
