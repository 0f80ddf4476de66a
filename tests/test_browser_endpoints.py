from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from kxt_middleware import (
    CookieLevel,
    StoreOverloadedError,
    get_activity_logger,
    is_cross_site_request,
)
from kxt_middleware.script import TrackingScript
from kxt_middleware.tracking import ActivityTracker

from .helpers import CTA, stored, stored_contacts

AppFactory = Callable[..., Starlette]
P = "/Kentico.Tracking"
TEXT = {"content-type": "text/plain;charset=UTF-8"}


FIELDS = ("type", "value", "title", "source")


def activity(**fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "type": "custom_cta", **fields}


def post(client: TestClient, body: Any, **headers: str) -> Any:
    return client.post(f"{P}/browser/activities", content=json.dumps(body), headers=TEXT | headers)


@pytest.fixture
def client(make_app: AppFactory) -> Any:
    with TestClient(make_app(activity_types=[CTA])) as client:
        yield client


def agree(client: TestClient) -> None:
    assert client.post(f"{P}/browser/consent", json={"agree": True}).json() == {"level": 1000}


def test_script_is_served_versioned_gzipped_and_cacheable(client: TestClient) -> None:
    script = TrackingScript.from_source()
    response = client.get(f"{P}/{script.filename}", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == script.minified  # the client decoded the gzip
    assert int(response.headers["content-length"]) == len(gzip.compress(script.minified, 9))
    plain = client.get(f"{P}/{script.filename}", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == script.minified
    etag = plain.headers["etag"]
    assert client.get(f"{P}/{script.filename}", headers={"if-none-match": etag}).status_code == 304
    stale = client.get(f"{P}/kxt.0000.js")
    assert stale.status_code == 200 and stale.headers["cache-control"] == "no-cache"
    assert client.get(f"{P}/kxt.js").content == script.minified
    refused = client.post(f"{P}/{script.filename}")
    assert refused.status_code == 405 and refused.json()["error"] == "method_not_allowed"
    missing = client.get(f"{P}/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_activities_are_logged_for_consenting_visitors_only(
    client: TestClient, database: Path
) -> None:
    answer = post(client, {"activities": [activity(value="btnCTA", title="Custom CTA click")]})
    assert answer.status_code == 200
    assert answer.json()["results"][0]["status"] == "no_consent"
    assert "consented" in answer.json()["results"][0]["reason"]
    assert answer.headers.get_list("set-cookie") == []
    assert stored_contacts(database) == []
    agree(client)
    first = activity(value="btnCTA", title="Custom CTA click")
    answer = post(
        client,
        {"activities": [first, activity(type="nobody_defined"), {**activity(), "type": "click"}]},
    )
    assert answer.json() == {
        "results": [
            {"id": first["id"], "status": "logged"},
            {
                "id": answer.json()["results"][1]["id"],
                "status": "type_unknown",
                "reason": "no activity type has this code name",
            },
            {"id": answer.json()["results"][2]["id"], "status": "logged"},
        ],
        "level": 1000,
    }
    assert "CurrentContact" in client.cookies
    assert stored(database, *FIELDS) == [
        ("custom_cta", "btnCTA", "Custom CTA click", "browser"),
        ("click", "", "", "browser"),
    ]


def test_a_retried_request_is_stored_once(client: TestClient, database: Path) -> None:
    agree(client)
    body = {"activities": [activity(value="once")]}
    assert post(client, body).json()["results"][0]["status"] == "logged"
    assert post(client, body).json()["results"][0]["status"] == "logged"
    assert stored(database, *FIELDS) == [("custom_cta", "once", "", "browser")]


def test_page_visits_and_landing_pages(client: TestClient, database: Path) -> None:
    visit = {"type": "pagevisit", "url": "http://testserver/a", "referrer": "https://search/"}
    post(client, {"activities": [activity(**visit)]})
    assert stored(database, *FIELDS) == []  # no consent yet
    agree(client)
    first = post(client, {"activities": [activity(**visit)]})
    assert len(first.json()["results"]) == 1
    assert "CMSLandingPageLoaded" in client.cookies
    post(client, {"activities": [activity(**visit, title="B")]})
    assert stored(database, "type", "url", "referrer") == [
        ("pagevisit", "http://testserver/a", "https://search/"),
        ("landingpage", "http://testserver/a", "https://search/"),
        ("pagevisit", "http://testserver/a", "https://search/"),
    ]
    # a new visit once the landing page cookie is gone
    del client.cookies["CMSLandingPageLoaded"]
    retry = {"activities": [activity(**visit)]}
    post(client, retry)
    del client.cookies["CMSLandingPageLoaded"]
    post(client, retry)  # a retried page visit adds no second landing page
    assert [t for (t,) in stored(database, "type")][3:] == [
        "pagevisit",
        "landingpage",
    ]


def test_revoking_consent_erases_the_contact(client: TestClient, database: Path) -> None:
    agree(client)
    post(client, {"activities": [activity(), activity(type="pagevisit")]})
    assert "CMSLandingPageLoaded" in client.cookies
    answer = client.post(f"{P}/browser/consent", json={"agree": False})
    assert answer.json() == {"level": 0}
    assert "CurrentContact" not in client.cookies
    assert "CMSLandingPageLoaded" not in client.cookies
    assert stored(database, *FIELDS) == [] and stored_contacts(database) == []


def test_erasing_on_revoke_can_be_turned_off(make_app: AppFactory, database: Path) -> None:
    app = make_app(activity_types=[CTA], erase_on_revoke=False)
    with TestClient(app) as client:
        agree(client)
        post(client, {"activities": [activity()]})
        client.post(f"{P}/browser/consent", json={"agree": False})
    assert len(stored(database)) == 1


def test_revoking_never_leaves_a_tracking_level(make_app: AppFactory) -> None:
    with TestClient(make_app(default_cookie_level=CookieLevel.ALL)) as client:
        assert client.post(f"{P}/browser/consent", json={"agree": False}).json() == {"level": 0}


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"{not json", 400, "malformed_json"),
        (b"\xff\xfe", 400, "malformed_json"),
        (b"[]", 422, "invalid_body"),
        (b'{"activities": []}', 422, "invalid_body"),
        (b'{"activities": "x"}', 422, "invalid_body"),
        (b'{"activity": [{"type": "custom_cta"}]}', 422, "invalid_body"),
    ],
)
def test_bad_bodies_get_a_json_reason(
    client: TestClient, body: bytes, status: int, error: str
) -> None:
    answer = client.post(f"{P}/browser/activities", content=body, headers=TEXT)
    assert answer.status_code == status
    assert answer.json()["error"] == error and answer.json()["detail"]


def test_an_invalid_activity_fails_alone(client: TestClient, database: Path) -> None:
    agree(client)
    good, long_value, typed = activity(value="ok"), activity(value="v" * 251), activity(value=5)
    bad_type, no_id = activity(type="no spaces"), {"type": "custom_cta"}
    answer = post(
        client,
        {"activities": [good, long_value, typed, 1, bad_type, no_id, activity(id="x"), good]},
    )
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert results[0] == results[7] == {"id": good["id"], "status": "logged"}
    assert results[1] == {
        "id": long_value["id"],
        "status": "invalid",
        "reason": "value is 251 characters long; at most 250 are allowed (it is never cut "
        "silently: shorten it before logging)",
    }
    assert results[2] == {
        "id": typed["id"],
        "status": "invalid",
        "reason": "value must be a string",
    }
    assert results[3] == {
        "id": None,
        "status": "invalid",
        "reason": "an activity must be an object",
    }
    assert results[4]["id"] == bad_type["id"] and "not a valid code name" in results[4]["reason"]
    assert results[5] == {"id": None, "status": "invalid", "reason": "id must be a UUID string"}
    assert results[6] == {"id": "x", "status": "invalid", "reason": "activity id 'x' is not a UUID"}
    assert answer.json()["level"] == 1000
    assert stored(database, *FIELDS) == [("custom_cta", "ok", "", "browser")]


def test_invalid_activities_are_counted_and_alone_create_no_contact(
    make_app: AppFactory, database: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def not_logged(request: Request) -> Response:
        return JSONResponse(get_activity_logger(request).tracker.not_logged)

    app = make_app(activity_types=[CTA])
    app.router.routes.append(Route("/not-logged", not_logged))
    with TestClient(app) as client:
        agree(client)
        with caplog.at_level("DEBUG", logger="kxt_middleware"):
            answer = post(client, {"activities": [activity(value=1), [], "x"]})
        assert [r["status"] for r in answer.json()["results"]] == ["invalid"] * 3
        assert answer.json()["level"] == 1000
        assert "CurrentContact" not in client.cookies
        assert client.get("/not-logged").json() == {"invalid": 3}
    assert "activity not logged: invalid: value must be a string" in caplog.text
    assert stored_contacts(database) == []


def test_size_limits(client: TestClient, database: Path) -> None:
    too_many = post(client, {"activities": [activity() for _ in range(21)]})
    assert too_many.status_code == 413 and too_many.json()["error"] == "too_many_activities"
    huge = client.post(f"{P}/browser/activities", content=b" " * 70_000, headers=TEXT)
    assert huge.status_code == 413 and huge.json()["error"] == "body_too_large"
    assert "65536 bytes" in huge.json()["detail"]

    def chunks() -> Any:
        for _ in range(65):
            yield b" " * 1024

    streamed = client.post(f"{P}/browser/activities", content=chunks(), headers=TEXT)
    assert streamed.status_code == 413
    # What kxt.js sends at most: 60,000 bytes of JSON (long URLs), under the keepalive limit.
    agree(client)
    url = "http://testserver/?q=" + "u" * 2900
    batch = {"activities": [activity(url=url, referrer=url) for _ in range(10)]}
    assert 60_000 - 2_000 < len(json.dumps(batch)) < 60_000
    answer = post(client, batch)
    assert [r["status"] for r in answer.json()["results"]] == ["logged"] * 10
    assert len(stored(database)) == 10


def test_only_json_or_text_bodies(client: TestClient) -> None:
    answer = client.post(
        f"{P}/browser/activities",
        content=b"a=b",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 415 and answer.json()["error"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"origin": "https://evil.example"},
        {"origin": "http://testserver:8080"},
        {"origin": "null"},
        # the browser's Sec-Fetch-Site decides, whatever Origin says
        {"sec-fetch-site": "same-site", "origin": "http://testserver"},
        {"origin": "https://www.example.com", "x-forwarded-host": "other.example"},
    ],
)
def test_other_sites_are_refused(client: TestClient, database: Path, headers: dict) -> None:
    agree(client)
    answer = post(client, {"activities": [activity()]}, **headers)
    assert answer.status_code == 403 and answer.json()["error"] == "cross_site_request"
    consent = client.post(f"{P}/browser/consent", json={"agree": True}, headers=headers)
    assert consent.status_code == 403
    assert stored(database, *FIELDS) == []


def test_same_origin_requests_pass(client: TestClient, database: Path) -> None:
    agree(client)
    same = {"sec-fetch-site": "same-origin", "origin": "http://testserver"}
    assert post(client, {"activities": [activity()]}, **same).status_code == 200
    assert len(stored(database)) == 1


@pytest.mark.parametrize(
    "headers",
    [
        # nginx's default proxy_set_header Host $proxy_host: the app sees its upstream name
        {"sec-fetch-site": "same-origin", "origin": "https://www.example.com"},
        {"sec-fetch-site": "none"},
        # a browser without Sec-Fetch-Site: Origin is compared with Host and X-Forwarded-Host
        {"origin": "https://www.example.com", "x-forwarded-host": "www.example.com"},
        {"origin": "https://www.example.com", "x-forwarded-host": "cdn.example, www.example.com"},
        {"origin": "http://testserver:80"},
        {},
    ],
)
def test_pages_of_our_site_behind_a_proxy_that_rewrites_host_pass(
    client: TestClient, database: Path, headers: dict[str, str]
) -> None:
    consent = client.post(f"{P}/browser/consent", json={"agree": True}, headers=headers)
    assert consent.status_code == 200
    assert post(client, {"activities": [activity()]}, **headers).status_code == 200
    assert len(stored(database)) == 1


def test_is_cross_site_request_for_the_sites_own_endpoints() -> None:
    def check(**headers: str) -> bool:
        raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
        return is_cross_site_request(Request({"type": "http", "headers": raw}))

    assert not check(host="app:8000", sec_fetch_site="same-origin", origin="https://a.example")
    assert check(host="a.example", sec_fetch_site="cross-site", origin="https://a.example")
    assert not check(host="a.example", origin="https://A.example:443")
    assert check(host="a.example", origin="http://a.example:8443")


def test_consent_body_is_checked(client: TestClient) -> None:
    for body in ({}, {"agree": "yes"}, []):
        answer = client.post(f"{P}/browser/consent", json=body)
        assert answer.status_code == 422 and answer.json()["error"] == "invalid_body"
    assert client.get(f"{P}/browser/consent").status_code == 405


def test_an_overloaded_store_answers_503(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def overloaded(*args: object) -> None:
        raise StoreOverloadedError("10000 writes are already waiting")

    with TestClient(make_app(activity_types=[CTA])) as client:
        agree(client)
        monkeypatch.setattr(ActivityTracker, "log", overloaded)
        answer = post(client, {"activities": [activity()]})
    assert answer.status_code == 503 and answer.json()["error"] == "overloaded"


def test_text_that_cannot_be_stored_fails_alone(client: TestClient, database: Path) -> None:
    agree(client)
    # "\ud800" is valid JSON but no character: a lone UTF-16 surrogate, which no database takes
    broken, good = activity(value="\ud800"), activity(value="ok")
    answer = post(client, {"activities": [broken, good, activity(title="a \udc00 b")]})
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["invalid", "logged", "invalid"]
    assert "value holds '\\ud800' at position 0, a lone UTF-16 surrogate" in results[0]["reason"]
    assert "title holds" in results[2]["reason"]
    assert stored(database, *FIELDS) == [("custom_cta", "ok", "", "browser")]
