"""The demo bank site end to end, as its own command starts it, driven through Chromium.

``python -m demo_site --port P --database D`` runs in a subprocess; a visitor accepts, uses the
loan calculator (server-side and in the page), gets the loan offer, clicks the CTA on the page
whose legacy widget owns ``window.kxt``; the demo operator signs in with the printed password and
finds the contact's activities. A second visitor declines: nothing is sent, stored or offered.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect

from ..helpers import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
ACTIVITIES = "/Kentico.Tracking/browser/activities"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
STORE_TIMEOUT = 5.0


@dataclass
class Demo:
    url: str
    database: Path
    output: Path
    operator: str
    password: str

    def activities(self) -> list[dict[str, Any]]:
        """Every stored activity, oldest first, as the package's own CLI prints them."""
        printed = subprocess.run(
            [sys.executable, "-m", "kxt_middleware", "--database", str(self.database)]
            + ["activities"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return [json.loads(line) for line in printed.stdout.splitlines()]

    def wait_for_activity(self, type: str, value: str) -> list[dict[str, Any]]:
        """Poll (bounded) until an activity of ``type`` with ``value`` is stored; all of them."""
        deadline = time.monotonic() + STORE_TIMEOUT
        while True:
            stored = self.activities()
            if any(a["type"] == type and a["value"] == value for a in stored):
                return stored
            if time.monotonic() > deadline:
                pytest.fail(f"no {type} {value!r} stored within {STORE_TIMEOUT}s: {stored}")
            time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """The demo started by its own command; SIGTERM at the end (killed if it does not stop)."""
    port = free_port()
    database = tmp_path / "demo.sqlite3"
    output = tmp_path / "demo-output.txt"
    command = [sys.executable, "-m", "demo_site", "--port", str(port), "--database", str(database)]
    with output.open("w") as out:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(url + "/"):
            if process.poll() is not None:
                pytest.fail(f"the demo exited with {process.returncode}:\n{output.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the demo did not answer within {START_TIMEOUT}s:\n{output.read_text()}"
                )
            time.sleep(0.05)
        printed = output.read_text()
        sign_in = re.search(r"Admin: +(\S+) +sign in as (\S+) / (\S+)", printed)
        assert sign_in is not None, printed
        assert sign_in[1] == f"{url}/admin/" and f"Demo Bank: {url}/" in printed
        yield Demo(url, database, output, sign_in[2], sign_in[3])
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"the demo did not stop within {STOP_TIMEOUT}s of SIGTERM")
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal: -SIGTERM is clean.
    assert process.returncode in (0, -signal.SIGTERM), output.read_text()
    assert "Traceback" not in output.read_text()
    assert not Path(f"{database}-wal").exists()  # the store was closed


def _new_page(browser: Browser) -> tuple[BrowserContext, Page, list[str]]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page, errors


def _nav(page: Page, name: str) -> None:
    """Follow a link of the site's navigation bar."""
    page.get_by_role("navigation").get_by_role("link", name=name, exact=True).click()


def _logs(request: Request, type: str) -> bool:
    """Is ``request`` the browser script sending an activity of ``type``?"""
    if ACTIVITIES not in request.url or request.method != "POST":
        return False
    body = json.loads(request.post_data or "{}")
    return any(a.get("type") == type for a in body.get("activities", []))


def test_demo_bank_journey(browser: Browser, demo: Demo, artifacts_dir: Path) -> None:
    url = demo.url
    with contextlib.ExitStack() as contexts:
        visitor, page, errors = _new_page(browser)
        contexts.callback(visitor.close)
        # A new visitor: essential cookies only, the banner asks, generic content.
        page.goto(url)
        banner = page.locator("#consent-banner")
        expect(banner).to_be_visible()
        expect(page.locator("#generic-offer")).to_be_visible()
        expect(page.locator("#loan-offer")).to_have_count(0)
        page.screenshot(path=str(artifacts_dir / "home-generic.png"), full_page=True)

        banner.get_by_role("button", name="Accept").click()
        expect(banner).to_have_count(0)
        expect(page.locator("#tracking-state")).to_have_text("on")

        # The loan calculator: in the page (kxt('customactivity')) and through the form.
        _nav(page, "Loan calculator")
        page.get_by_label("Amount (EUR)").fill("25000")
        page.get_by_label("Term (years)").fill("5")
        with page.expect_response(lambda r: _logs(r.request, "custom_loan_calculator")) as sent:
            page.get_by_role("button", name="Calculate instantly").click()
        assert [r["status"] for r in sent.value.json()["results"]] == ["logged"]
        expect(page.locator("#instant-payment")).to_have_text(
            "Monthly payment: €471.78 for €25,000 over 5 years."
        )
        expect(page.locator("#instant-saved")).to_have_text(
            "Saved to your data, so we can suggest offers that fit you."
        )
        page.get_by_role("button", name="Calculate", exact=True).click()
        expect(page.locator("#payment")).to_have_text(
            "Monthly payment: €471.78 for €25,000 over 5 years."
        )
        with page.expect_response(lambda r: _logs(r.request, "custom_loan_calculator")):
            page.get_by_role("button", name="Calculate instantly").click()  # both results shown
        page.screenshot(path=str(artifacts_dir / "calculator.png"), full_page=True)

        # Now in "Loan prospects": the home page shows the loan offer.
        _nav(page, "Home")
        expect(page.locator("#loan-offer")).to_be_visible()
        expect(page.locator("#generic-offer")).to_have_count(0)
        page.screenshot(path=str(artifacts_dir / "home-offer.png"), full_page=True)
        # The offer's link opens the calculator at the offer's rate, in the page too.
        page.get_by_role("link", name="Recalculate with 3.9 %").click()
        expect(page.locator("#rate")).to_have_text("3.9 %")
        with page.expect_response(lambda r: _logs(r.request, "custom_loan_calculator")):
            page.get_by_role("button", name="Calculate instantly").click()
        expect(page.locator("#instant-payment")).to_have_text(
            "Monthly payment: €503.85 for €50,000 over 10 years."
        )
        _nav(page, "Home")

        # The CTA, logged by the renamed function beside the legacy widget's own kxt.
        _nav(page, "Accounts")
        expect(page.locator("#exchange-rates")).to_contain_text("1 EUR = 1.08 USD")
        assert page.evaluate("typeof window.customActivityTracker") == "function"
        assert page.evaluate("[window.kxt.widget, window.kxt('USD')]") == ["exchange-rates", 1.08]
        page.screenshot(path=str(artifacts_dir / "accounts-cta.png"), full_page=True)
        with page.expect_request(lambda r: _logs(r, "custom_cta")) as cta:
            page.get_by_role("link", name="See our special offers!").click()
        (sent_cta,) = json.loads(cta.value.post_data or "{}")["activities"]
        assert {k: sent_cta[k] for k in ("type", "value", "title", "url")} == {
            "type": "custom_cta",
            "value": "btnCTA",
            "title": "Custom CTA click",
            "url": f"{url}/accounts",
        }
        page.wait_for_url(f"{url}/offers")
        expect(page.locator("#offers-loan")).to_be_visible()
        stored = demo.wait_for_activity("custom_cta", "btnCTA")
        assert len({a["contact"] for a in stored}) == 1
        assert {(a["type"], a["value"], a["source"]) for a in stored} >= {
            ("custom_loan_calculator", "25000", "browser"),
            ("custom_loan_calculator", "25000", "server"),
            ("custom_cta", "btnCTA", "browser"),
        }
        contact = stored[0]["contact"]

        # The demo operator signs in with the printed password and finds the contact.
        page.goto(f"{url}/admin/")
        expect(page).to_have_url(f"{url}/admin/sign-in")
        page.get_by_label("Name").fill(demo.operator)
        page.get_by_label("Password").fill(demo.password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        page.get_by_role("link", name="Contacts").click()
        page.get_by_role("link", name=contact).click()
        expect(page.get_by_role("heading", name=f"Contact {contact}")).to_be_visible()
        expect(page.get_by_role("link", name="Loan prospects")).to_be_visible()
        rows = page.locator("table.log tbody tr")
        expect(rows.filter(has_text="custom_cta")).to_contain_text("btnCTA")
        expect(rows.filter(has_text="custom_loan_calculator")).to_have_count(4)
        calculations = rows.filter(has_text="custom_loan_calculator")
        expect(calculations.filter(has_text="25000")).to_have_count(3)
        expect(calculations.filter(has_text="50000")).to_have_count(1)
        page.screenshot(path=str(artifacts_dir / "admin-contact.png"), full_page=True)
        page.goto(f"{url}/admin/activities?type=custom_loan_calculator")
        expect(page.locator("table.log tbody tr")).to_have_count(4)
        page.screenshot(path=str(artifacts_dir / "admin-activities.png"), full_page=True)
        assert errors == []

        # Another visitor declines: nothing leaves the page, nothing is stored, no offer.
        other, page, errors = _new_page(browser)
        contexts.callback(other.close)
        sent_requests: list[str] = []

        def note(request: Request) -> None:
            if ACTIVITIES in request.url:
                sent_requests.append(request.url)

        page.on("request", note)
        page.goto(url)
        page.locator("#consent-banner").get_by_role("button", name="Decline").click()
        expect(page.locator("#consent-banner")).to_have_count(0)
        _nav(page, "Loan calculator")
        page.get_by_role("button", name="Calculate instantly").click()  # held in the page
        expect(page.locator("#instant-payment")).to_contain_text("Monthly payment: €530.33")
        expect(page.locator("#instant-saved")).to_contain_text(
            "Not saved: you chose essential cookies only"
        )
        page.get_by_role("button", name="Calculate", exact=True).click()
        expect(page.locator("#payment")).to_contain_text("Monthly payment: €530.33")
        expect(page.locator("#saved")).to_contain_text("Not saved: you chose essential cookies")
        # The panel for the curious says what the logger answered.
        page.get_by_text("How this demo works").click()
        expect(page.locator("#log-result")).to_have_text("no_consent")
        _nav(page, "Accounts")
        page.get_by_role("link", name="See our special offers!").click()
        page.wait_for_url(f"{url}/offers")
        expect(page.locator("#offers-loan")).to_have_count(0)
        _nav(page, "Home")
        expect(page.locator("#generic-offer")).to_be_visible()
        expect(page.locator("#loan-offer")).to_have_count(0)
        page.screenshot(path=str(artifacts_dir / "home-declined.png"), full_page=True)
        assert [c["name"] for c in other.cookies()] == ["CMSCookieLevel"]
        assert sent_requests == [] and errors == []
        assert {a["contact"] for a in demo.activities()} == {contact}

        # The first visitor changes their mind: withdrawing consent erases their data.
        # (Once the page visit is answered: one in flight could land after the erase.)
        page = visitor.pages[0]
        with page.expect_response(lambda r: _logs(r.request, "pagevisit")):
            page.goto(f"{url}/cookies")
        page.get_by_role("button", name="Withdraw consent").click()
        expect(page.locator("#consent-state")).to_contain_text("Essential cookies only")
        assert demo.activities() == []
        _nav(page, "Home")
        expect(page.locator("#generic-offer")).to_be_visible()
        assert "CurrentContact" not in [c["name"] for c in visitor.cookies()]
