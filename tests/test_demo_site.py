"""The demo bank over ASGI: banner, consent, calculator, personalized offer, CTA page, admin,
and the customer's words: what the pages say, apart from the "How this demo works" panel."""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from demo_site.__main__ import main
from demo_site.app import DemoFiles, create_app

from .helpers import free_port

BANNER = 'id="consent-banner"'
OFFER = 'id="loan-offer"'
GENERIC = 'id="generic-offer"'


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "demo.sqlite3"


def calculate(client: TestClient, amount: str = "50000", years: str = "10", **more: str) -> str:
    response = client.post("/loans", data={"amount": amount, "years": years, **more})
    return response.text


NOTES = re.compile(r'<details class="demo-notes".*?</details>', re.S)


def customer_text(page: str) -> str:
    """What a visitor reads on ``page`` outside the "How this demo works" panel."""
    body = page[page.index("<body") :]
    body = re.sub(r"<script.*?</script>|<svg.*?</svg>", " ", NOTES.sub(" ", body), flags=re.S)
    return _text(body)


def _text(markup: str) -> str:
    """The text of ``markup``: inline tags dropped, block tags a space, spaces collapsed."""
    inline = re.sub(r"</?(a|strong|em|code|span)\b[^>]*>", "", markup)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", inline)).split())


def demo_notes(page: str) -> str:
    """The text of the page's "How this demo works" panel."""
    found = NOTES.search(page)
    assert found is not None, "no How this demo works panel"
    return _text(found[0])


def sign_in(client: TestClient, password: str) -> str:
    """Sign in to the admin as the demo operator; the page answered."""
    form = client.get("/admin/sign-in").text
    token = re.search(r'name="([^"]*csrf[^"]*)" value="([^"]+)"', form)
    assert token is not None
    data = {"name": "demo", "password": password, token[1]: token[2]}
    return client.post("/admin/sign-in", data=data).text


def test_banner_until_the_visitor_chooses(database: Path) -> None:
    with TestClient(create_app(database)) as client:
        home = client.get("/").text
        assert BANNER in home and GENERIC in home and OFFER not in home
        assert home.count("<script async src=") == 1  # one tracking tag, the default `kxt`
        assert 'data-fn="kxt"' in home and 'data-level="0"' in home
        assert home.index('data-fn="kxt"') < home.index("</head>")

        answer = client.post(
            "/consent", data={"choice": "accept", "next": "/loans"}, follow_redirects=False
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/loans"
        page = client.get("/loans").text
        assert BANNER not in page and 'data-level="1000"' in page
        assert "Tracking is on for you" in demo_notes(page)


def test_consent_redirects_only_within_the_site(database: Path) -> None:
    with TestClient(create_app(database)) as client:
        for target in ("//evil.example/", "https://evil.example/", "/\\evil", ""):
            answer = client.post(
                "/consent", data={"choice": "decline", "next": target}, follow_redirects=False
            )
            assert answer.headers["location"] == "/"
        assert client.post("/consent", data={"choice": "maybe"}).status_code == 400


def test_another_site_cannot_switch_tracking_on(database: Path) -> None:
    with TestClient(create_app(database)) as client:
        for headers in (
            {"sec-fetch-site": "cross-site"},
            {"origin": "https://evil.example"},
        ):
            answer = client.post("/consent", data={"choice": "accept"}, headers=headers)
            assert answer.status_code == 403
            assert "CMSCookieLevel" not in client.cookies
        same = client.post(
            "/consent",
            data={"choice": "accept"},
            headers={"sec-fetch-site": "same-origin", "origin": "http://testserver"},
            follow_redirects=False,
        )
        assert same.status_code == 303 and "CMSCookieLevel" in client.cookies


def test_accept_calculate_then_the_home_page_shows_the_offer(database: Path) -> None:
    with TestClient(create_app(database)) as client:
        client.post("/consent", data={"choice": "accept"})
        page = calculate(client)
        assert "Monthly payment: €530.33 for €50,000 over 10 years." in customer_text(page)
        assert "Saved to your data, so we can suggest offers" in customer_text(page)
        assert "the logger answered logged: the activity was stored" in demo_notes(page)

        home = client.get("/").text
        assert OFFER in home and GENERIC not in home
        assert 'id="offers-loan"' in client.get("/offers").text  # awaited in the endpoint

        mine = client.get("/me").text
        assert "Used the loan calculator A loan of €50,000" in customer_text(mine)
        assert "custom_loan_calculator Loan calculator usage 50000 server" in demo_notes(mine)


def test_the_calculator_rejects_bad_input_and_logs_nothing(database: Path) -> None:
    with TestClient(create_app(database)) as client:
        client.post("/consent", data={"choice": "accept"})
        bad = (("-1", "10"), ("abc", "10"), ("999", "10"), ("50000", "41"), ("20000000", "5"))
        for amount, years in bad:
            response = client.post("/loans", data={"amount": amount, "years": years})
            assert response.status_code == 422
            assert "Enter an amount of €1,000 to €10,000,000" in response.text
            assert f'value="{amount}"' in response.text  # the visitor's input is kept
        assert "custom_loan_calculator" not in client.get("/me").text
        assert OFFER not in client.get("/").text
        # What the page promises matches what it takes, and its example is worked out.
        assert "From €1,000 to €10,000,000" in customer_text(client.get("/").text)
        example = "Example: €50,000 over 10 years at 5 % is €530.33 a month."
        assert example in customer_text(client.get("/loans").text)


def test_decline_logs_nothing_and_shows_no_offer(database: Path) -> None:
    with TestClient(create_app(database)) as client:
        client.post("/consent", data={"choice": "decline"})
        assert BANNER not in client.get("/").text  # the choice is remembered
        page = calculate(client)  # the calculator still works, and says nothing was kept
        assert "Monthly payment: €530.33" in customer_text(page)
        assert "Not saved: you chose essential cookies only" in customer_text(page)
        assert "Saved to" not in customer_text(page)
        assert "the logger answered no_consent: the contact has not consented" in (demo_notes(page))
        assert "without consent the script holds the call in the page" in demo_notes(page)
        assert 'data-tracking="off"' in page  # so the in-page result says so too
        assert "CurrentContact" not in client.cookies
        home = client.get("/").text
        assert OFFER not in home and GENERIC in home
        assert 'id="nothing-tracked"' in client.get("/me").text


def test_withdrawing_consent_erases_the_data_and_the_offer(database: Path) -> None:
    with TestClient(create_app(database)) as client:
        client.post("/consent", data={"choice": "accept"})
        calculate(client)
        assert OFFER in client.get("/").text
        settings = client.get("/cookies").text
        assert 'value="revoke"' in settings and "Withdraw consent" in settings

        page = client.post("/consent", data={"choice": "revoke", "next": "/cookies"}).text
        assert "Essential cookies only" in page and 'value="accept"' in page
        assert 'value="decline"' not in page  # already chosen
        assert OFFER not in client.get("/").text
        assert 'id="nothing-tracked"' in client.get("/me").text

        # Accepting again starts a new contact, with none of the old data.
        client.post("/consent", data={"choice": "accept"})
        mine = client.get("/me").text
        assert "custom_loan_calculator" not in mine and OFFER not in client.get("/").text


def test_the_cta_page_uses_the_renamed_function_beside_the_legacy_kxt(database: Path) -> None:
    with TestClient(create_app(database)) as client:
        page = client.get("/accounts").text
        head = page[: page.index("</head>")]
        assert head.count("<script") == 2  # the legacy widget, then the one tracking tag
        assert head.index("/static/legacy-widget.js") < head.index("data-fn=")
        assert 'data-fn="customActivityTracker"' in head and 'data-fn="kxt"' not in head
        assert "window.kxt" not in head  # no stub touches the widget's kxt
        assert (
            "customActivityTracker('customactivity', {type: 'custom_cta', value: 'btnCTA', "
            "title: 'Custom CTA click'})" in page
        )
        assert "See our special offers!" in page
        widget = client.get("/static/legacy-widget.js")
        assert widget.status_code == 200 and "window.kxt = function" in widget.text
        assert client.get("/static/loan-calculator.js").status_code == 200
        assert client.get("/static/bank.css").status_code == 200


def test_the_admin_is_mounted_behind_a_sign_in(database: Path) -> None:
    with TestClient(create_app(database)) as client:
        answer = client.get("/admin/activities", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].endswith("/admin/sign-in")

        # A visitor's activity, then the demo operator signs in and finds it.
        client.post("/consent", data={"choice": "accept"})
        calculate(client, "25000", "5")
        password = DemoFiles(database).password_file.read_text().strip()
        assert "<h1>Overview</h1>" in sign_in(client, password)
        log = client.get("/admin/activities?type=custom_loan_calculator").text
        assert "<td>25000</td>" in log and "<td>server</td>" in log
        groups = client.get("/admin/contact-groups").text
        assert "Loan prospects" in groups and "loan_prospects" in groups


def test_a_restart_keeps_the_key_the_operator_and_the_visitor(database: Path) -> None:
    with TestClient(create_app(database)) as client:
        client.post("/consent", data={"choice": "accept"})
        calculate(client)
        cookies = dict(client.cookies)
    files = DemoFiles(database)
    key, password = files.secret_key(), files.admin_password()
    assert files.secret_file.stat().st_mode & 0o077 == 0
    assert files.password_file.stat().st_mode & 0o077 == 0
    assert len(password) >= 10

    ready: list[str] = []
    with TestClient(create_app(database, on_ready=lambda: ready.append("ready"))) as client:
        assert ready == ["ready"]
        client.cookies.update(cookies)
        home = client.get("/").text
        assert BANNER not in home and OFFER in home  # same key: the same contact
    assert (files.secret_key(), files.admin_password()) == (key, password)


def test_a_lost_password_file_gets_a_new_password(database: Path) -> None:
    files = DemoFiles(database)
    with TestClient(create_app(database)):
        old = files.admin_password()
    files.password_file.unlink()
    with TestClient(create_app(database)) as client:
        new = files.password_file.read_text().strip()
        assert new != old
        assert "<h1>Overview</h1>" in sign_in(client, new)


def test_main_prints_the_url_and_the_admin_sign_in_once_it_listens(database: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "demo_site", "--port", str(port), "--database", str(database)]
    # A session of its own, so SIGINT can go to the whole process group as Ctrl+C does.
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline() for _ in range(6)]
        out = "".join(lines)
        password = DemoFiles(database).admin_password()
        assert f"Demo Bank: http://127.0.0.1:{port}/" in out
        assert f"sign in as demo / {password}" in out
        assert str(database) in out and "activities" in out
        # Announced only once it listens: the page answers right away.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert page.status == 200
        # A second demo on the same port says in one line how to pick another, and nothing else.
        second = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert second.returncode == 3
        assert second.stdout == ""
        assert second.stderr.splitlines() == [
            f"Port {port} is already in use (address already in use): stop what runs there, "
            f'or start the demo on another port: make demo DEMO_ARGS="--port {port + 1}"'
        ]
    finally:
        os.killpg(server.pid, signal.SIGINT)  # Ctrl+C in the terminal
        rest, errors = server.communicate(timeout=30)
    # A quiet stop: no traceback, exit status 0 (so `make demo` reports no error either).
    assert (server.returncode, errors, rest) == (0, "", "Demo Bank stopped.\n")


def test_main_refuses_a_bad_port(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--port", "many"])
    assert exit_info.value.code == 2
    assert "invalid int value" in capsys.readouterr().err


def test_the_personal_offer_opens_the_calculator_at_its_rate(database: Path) -> None:
    with TestClient(create_app(database)) as client:
        # Not (yet) a prospect: the offer's link gives the usual rate.
        assert "at 5 % a year" in customer_text(client.get("/loans?offer=personal").text)
        client.post("/consent", data={"choice": "accept"})
        calculate(client)
        home = client.get("/").text
        link = re.search(
            r'<a class="button primary" href="([^"]+)">Recalculate with 3.9\u00a0%', home
        )
        assert link is not None and link[1] == "/loans?offer=personal"
        assert link[1] in client.get("/offers").text

        page = client.get(link[1]).text
        assert "at 3.9 % a year" in customer_text(page)
        assert "Your personal rate: 3.9 %" in customer_text(page)
        assert 'data-rate="0.039"' in page  # "Calculate instantly" uses it too
        assert '<input type="hidden" name="offer" value="personal">' in page
        # The form keeps the rate: 50,000 over 10 years at 3.9 % (5 % would be €530.33).
        posted = calculate(client, offer="personal")
        assert "Monthly payment: €503.85 for €50,000 over 10 years." in customer_text(posted)
        assert "Monthly payment: €530.33" in customer_text(calculate(client))


def test_customer_pages_speak_the_customers_words_and_amounts_carry_the_currency(
    database: Path,
) -> None:
    developer_words = re.compile(r"kxt|custom_|btnCTA|Tracking:|pagevisit|logged|[0-9a-f]{8}-")
    with TestClient(create_app(database)) as client:
        client.post("/consent", data={"choice": "accept"})
        calculate(client, "25000", "5")
        pages = {path: client.get(path).text for path in PAGES}
        for path, page in pages.items():
            assert developer_words.findall(customer_text(page)) == [], path
            assert "How this demo works" in demo_notes(page), path
        assert "custom_cta" in demo_notes(pages["/accounts"])
        assert "btnCTA" in demo_notes(pages["/accounts"])
        assert "€4.90 a month" in customer_text(pages["/accounts"])
        assert "Switch and get €100" in customer_text(pages["/offers"])
        assert "A loan of €25,000" in customer_text(pages["/me"])
        amounts = re.findall(
            r"(?<![€\w.,])\d{1,3}(?:,\d{3})+(?:\.\d\d)?", customer_text(pages["/"])
        )
        assert amounts == []  # every amount of money on the home page has its €


PAGES = ("/", "/loans", "/accounts", "/offers", "/cookies", "/me")


def test_unknown_pages_get_the_sites_own_404_page(database: Path) -> None:
    with TestClient(create_app(database)) as client:
        client.post("/consent", data={"choice": "accept"})
        answer = client.get("/no-such-page")
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/html")
        text = customer_text(answer.text)
        assert "We could not find that page" in text and "/no-such-page" in text
        assert "Back to the home page" in text
        assert "/static/bank.css" in answer.text  # styled like every other page
        assert 'data-pv="0"' in answer.text  # no page visit logged for a page that is not there
        assert client.get("/static/missing.css").status_code == 404


def test_the_favicon_is_served(database: Path) -> None:
    with TestClient(create_app(database)) as client:
        home = client.get("/").text
        assert '<link rel="icon" href="http://testserver/static/favicon.svg"' in home
        icon = client.get("/favicon.ico")  # browsers ask for it without reading the page
        assert icon.status_code == 200 and icon.url.path == "/static/favicon.svg"
        assert icon.headers["content-type"] == "image/svg+xml"
        assert icon.text.startswith("<svg") and "http" not in icon.text.replace(
            "http://www.w3.org/2000/svg", ""
        )
