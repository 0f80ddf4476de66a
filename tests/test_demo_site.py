from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from demo_site.app import create_app


def test_accept_then_calculate_is_logged_and_shown(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path / "demo.sqlite3")) as client:
        assert 'id="consent-banner"' in client.get("/").text
        client.post("/consent", data={"choice": "accept"})
        assert 'id="consent-banner"' not in client.get("/").text
        page = client.post("/loans", data={"amount": "50000", "years": "10"}).text
        assert "Monthly payment: <strong>530.33" in page
        mine = client.get("/me").text
        assert "custom_loan_calculator" in mine and "<td>50000</td>" in mine
        assert "Enter a positive amount" in client.post("/loans", data={"amount": "-1"}).text


def test_decline_logs_nothing(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path / "demo.sqlite3")) as client:
        client.post("/consent", data={"choice": "decline"})
        client.post("/loans", data={"amount": "50000", "years": "10"})
        assert "Nothing is tracked" in client.get("/me").text
    # the key file lets cookies survive a restart on the same database
    assert (tmp_path / "demo.secret").exists()
