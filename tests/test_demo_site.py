"""The demo bank over ASGI: banner, consent, calculator, personalized offer, CTA page, admin."""

from __future__ import annotations

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


def calculate(client: TestClient, amount: str = "50000", years: str = "10") -> str:
    response = client.post("/loans", data={"amount": amount, "years": years})
    return response.text


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
        assert BANNER not in page and 'data-level="1000"' in page and "Tracking: on" in page


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
        assert 'id="payment">Monthly payment: <strong>530.33</strong>' in page
        assert "for 50,000 over 10 years" in page

        home = client.get("/").text
        assert OFFER in home and GENERIC not in home
        assert 'id="offers-loan"' in client.get("/offers").text  # awaited in the endpoint

        mine = client.get("/me").text
        assert "custom_loan_calculator" in mine and "<td>50000</td>" in mine
        assert "Loan calculator usage" in mine


def test_the_calculator_rejects_bad_input_and_logs_nothing(database: Path) -> None:
    with TestClient(create_app(database)) as client:
        client.post("/consent", data={"choice": "accept"})
        for amount, years in (("-1", "10"), ("abc", "10"), ("50000", "41"), ("20000000", "5")):
            response = client.post("/loans", data={"amount": amount, "years": years})
            assert response.status_code == 422
            assert "Enter an amount of 1 to 10,000,000" in response.text
            assert f'value="{amount}"' in response.text  # the visitor's input is kept
        assert "custom_loan_calculator" not in client.get("/me").text
        assert OFFER not in client.get("/").text


def test_decline_logs_nothing_and_shows_no_offer(database: Path) -> None:
    with TestClient(create_app(database)) as client:
        client.post("/consent", data={"choice": "decline"})
        assert BANNER not in client.get("/").text  # the choice is remembered
        assert 'id="payment"' in calculate(client)  # the calculator still works
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
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
        # A second demo on the same port says why it cannot start, and announces nothing.
        second = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert second.returncode == 3
        assert "Demo Bank:" not in second.stdout
        assert "address already in use" in second.stderr
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
    assert server.returncode in (0, -signal.SIGINT)  # uvicorn re-raises the signal it caught


def test_main_refuses_a_bad_port(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--port", "many"])
    assert exit_info.value.code == 2
    assert "invalid int value" in capsys.readouterr().err
