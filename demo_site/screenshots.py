"""``make screenshots``: the README's pictures, taken from the demo with a few visitors' activities.

Starts the demo the way ``make demo`` does, on a new SQLite file, and gives it the month of
earlier visits a live site would have (stored through the package's store, dated on the days
before today); then five visitors use the site in Chromium (four accept, one declines; loans,
offers, the accounts page), and the home page with the personal offer, the loan calculator and
the admin's activity log are saved to ``docs/``.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from kxt_middleware.activities import NewActivity
from kxt_middleware.storage import open_store

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
VIEWPORT: ViewportSize = {"width": 1280, "height": 860}
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
START_TIMEOUT = 20.0


@dataclass(frozen=True)
class Demo:
    url: str
    operator: str
    password: str


@contextlib.contextmanager
def running_demo(database: Path, port: int) -> Iterator[Demo]:
    """``python -m demo_site`` on ``database``, until the block ends."""
    command = [sys.executable, "-m", "demo_site", "--port", str(port), "--database", str(database)]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        printed = "".join(process.stdout.readline() for _ in range(2))
        sign_in = re.search(r"Admin: +(\S+) +sign in as (\S+) / (\S+)", printed)
        if sign_in is None:
            raise SystemExit(f"the demo did not start:\n{printed}")
        url = sign_in[1].removesuffix("/admin/")
        _wait_until_it_answers(url)
        yield Demo(url, sign_in[2], sign_in[3])
    finally:
        process.terminate()
        process.wait(30)


def _wait_until_it_answers(url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"the demo did not answer at {url} within {START_TIMEOUT}s"
                ) from None
            time.sleep(0.1)


def _nav(page: Page, name: str) -> None:
    page.get_by_role("navigation").get_by_role("link", name=name, exact=True).click()


def _choose(page: Page, url: str, choice: str) -> None:
    page.goto(url)
    page.locator("#consent-banner").get_by_role("button", name=choice).click()


def _calculate(page: Page, amount: int, years: int, *, instantly: bool = False) -> None:
    page.get_by_label("Amount (EUR)").fill(str(amount))
    page.get_by_label("Term (years)").fill(str(years))
    name = "Calculate instantly" if instantly else "Calculate"
    page.get_by_role("button", name=name, exact=True).click()


def _offers_button(page: Page) -> None:
    _nav(page, "Accounts")
    page.get_by_role("link", name="See our special offers!").click()
    page.wait_for_url("**/offers")


def _borrower(page: Page, url: str) -> None:
    """Accepts, calculates two loans (the form, then in the page): kept for the pictures."""
    _choose(page, url, "Accept")
    _nav(page, "Loan calculator")
    _calculate(page, 25_000, 5)
    _calculate(page, 32_000, 7, instantly=True)


def _offer_seeker(page: Page, url: str) -> None:
    _choose(page, url, "Accept")
    _offers_button(page)
    _nav(page, "Home")


def _home_buyer(page: Page, url: str) -> None:
    _choose(page, url + "/loans", "Accept")
    _calculate(page, 180_000, 20)
    _offers_button(page)


def _decliner(page: Page, url: str) -> None:
    """Declines: nothing of this visit is recorded."""
    _choose(page, url, "Decline")
    _nav(page, "Loan calculator")
    _calculate(page, 9_000, 3)


def _browser(page: Page, url: str) -> None:
    _choose(page, url + "/accounts", "Accept")
    _nav(page, "Offers")
    _nav(page, "Home")


def visitors(browser: Browser, demo: Demo) -> Page:
    """Five visitors' visits; the page of the first, who ends on the loan calculator."""
    pages = []
    for journey in (_borrower, _offer_seeker, _home_buyer, _decliner, _browser):
        page = browser.new_context(viewport=VIEWPORT).new_page()
        journey(page, demo.url)
        pages.append(page)
    for page in pages[1:]:
        page.goto(demo.url + "/cookies")  # a last page visit, sent before the context closes
        page.wait_for_load_state("networkidle")
        page.context.close()
    return pages[0]


# Pages of the demo (path, title) and how often a visit of the history opens each.
_PAGES = [("/", "Home"), ("/loans", "Loan calculator"), ("/offers", "Offers"),
          ("/accounts", "Accounts")]  # fmt: skip


def history(database: Path, url: str, *, days: int = 29, seed: int = 2026) -> int:
    """Store ``days`` days of earlier visits (before today) in the demo's database; how many
    activities. Weekdays are busier than weekends, and a loan campaign starts halfway."""
    rng = random.Random(seed)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    moment = [today]

    def visit(day: datetime, campaign: bool) -> list[NewActivity]:
        pages = [_PAGES[0]] + rng.sample(_PAGES[1:], rng.randint(0, 3))
        made = [NewActivity("landingpage", title=f"{pages[0][1]} · Demo Bank", url=url + "/")]
        for path, title in pages:
            made.append(NewActivity("pagevisit", title=f"{title} · Demo Bank", url=url + path))
            if path == "/loans" and rng.random() < (0.8 if campaign else 0.5):
                amount = rng.choice([5_000, 12_000, 25_000, 50_000, 180_000])
                made.append(
                    NewActivity(
                        "custom_loan_calculator",
                        title="Loan calculator usage",
                        value=str(amount),
                        url=url + path,
                    )
                )
            if path == "/accounts" and rng.random() < 0.4:
                made.append(
                    NewActivity(
                        "custom_cta", title="Custom CTA click", value="btnCTA", url=url + path
                    )
                )
        return made

    async def store_all() -> int:
        stored = 0
        async with open_store(database, clock=lambda: moment[0]) as store:
            for back in range(days, 0, -1):
                day = today - timedelta(days=back)
                campaign = back < days // 2
                busy = 5 if day.weekday() >= 5 else 11
                for _ in range(rng.randint(busy - 3, busy + 3) + (4 if campaign else 0)):
                    moment[0] = day + timedelta(minutes=rng.randint(8 * 60, 22 * 60))
                    results = await store.insert_activities(uuid.uuid4(), visit(day, campaign))
                    stored += sum(1 for result in results if result)
        return stored

    # Playwright's sync API keeps an event loop running in this thread: store from another one.
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, store_all()).result()


def take(browser: Browser, demo: Demo, out: Path) -> list[Path]:
    """Save the README's pictures to ``out``; their paths."""
    page = visitors(browser, demo)
    saved = [
        out / "demo-calculator.png",
        out / "demo-home-offer.png",
        out / "admin-activities.png",
        out / "admin-overview.png",
    ]
    page.wait_for_load_state("networkidle")
    page.screenshot(path=saved[0])
    _nav(page, "Home")
    page.locator("#loan-offer").wait_for()
    page.screenshot(path=saved[1])

    admin = browser.new_context(viewport=VIEWPORT).new_page()
    admin.goto(demo.url + "/admin/")
    admin.get_by_label("Name").fill(demo.operator)
    admin.get_by_label("Password").fill(demo.password)
    admin.get_by_role("button", name="Sign in").click()
    admin.wait_for_load_state("networkidle")  # the overview, where signing in lands
    admin.screenshot(path=saved[3])
    admin.goto(demo.url + "/admin/activities")
    admin.wait_for_load_state("networkidle")
    admin.screenshot(path=saved[2])
    admin.context.close()
    page.context.close()
    return saved


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m demo_site.screenshots", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=DOCS, help="folder for the pictures")
    parser.add_argument(
        "--port", type=int, help="port for the demo meanwhile (default: a free one)"
    )
    args = parser.parse_args(argv)
    port = args.port or _free_port()
    executable = os.environ.get("KXT_BROWSER_EXECUTABLE") or (
        str(CHROMIUM) if CHROMIUM.exists() else None
    )
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS if executable else []
        )
        try:
            database = Path(scratch) / "demo.sqlite3"
            with running_demo(database, port) as demo:
                stored = history(database, demo.url)
                print(f"{stored:,} earlier activities stored as the site's history")
                saved = take(browser, demo, args.out)
        finally:
            browser.close()
    for picture in saved:
        print(f"{_shown(picture)}: {picture.stat().st_size:,} bytes")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


if __name__ == "__main__":
    main()
