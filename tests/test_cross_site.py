from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kxt_middleware import ActivityStore, ActivityType, cross_site_snippet
from kxt_middleware.sites import (
    Site,
    UnknownSiteError,
    add_site,
    get_site,
    set_site_enabled,
    sites,
)

from .helpers import stored

AppFactory = Callable[..., Starlette]
P = "/Kentico.Tracking"
SHOP = Site("shop", "Our shop", "https://shop.example")
CROSS = {"same_site": "none", "https_only": True, "cross_site_tracking": True}


def register(database: Path, *registered: Site) -> None:
    async def run() -> None:
        async with ActivityStore(database) as store:
            for site in registered:
                await add_site(store, site)

    asyncio.run(run())


FIELDS = ("type", "value", "source", "site")


def post(client: TestClient, path: str, body: Any, origin: str = SHOP.origin) -> Any:
    return client.post(
        f"{P}/cross-site/{path}",
        content=json.dumps(body),
        headers={"origin": origin, "content-type": "text/plain;charset=UTF-8"},
    )


def activity(**fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "type": "custom_cta", "url": "https://shop.example/p"} | fields


@pytest.fixture
def client(make_app: AppFactory, database: Path) -> Iterator[TestClient]:
    register(database, SHOP, Site("old", "Old shop", "https://old.example", enabled=False))
    app = make_app(activity_types=[ActivityType("custom_cta", "CTA")], **CROSS)
    with TestClient(app, base_url="https://main.example") as client:
        yield client


def test_the_snippet() -> None:
    snippet = cross_site_snippet("https://Main.Example/", logging_function_name="tracker")
    assert '"tracker"' in snippet and "KXT_" not in snippet
    assert '"https://main.example/Kentico.Tracking/kxt-cs.js"' in snippet
    assert "tracker('init', {mainSiteUrl: 'https://main.example'});" in snippet
    assert "tracker('pagevisit');" in snippet
    with pytest.raises(ValueError, match="not an https origin"):
        cross_site_snippet("http://main.example")
    with pytest.raises(ValueError, match="JavaScript identifier"):
        cross_site_snippet("https://main.example", logging_function_name="a-b")
    with pytest.raises(ValueError, match="property of window"):
        cross_site_snippet("https://main.example", logging_function_name="location")


def test_cross_site_needs_cross_site_cookies(make_app: AppFactory) -> None:
    with pytest.raises(ValueError, match="same_site='none' and https_only=True"):
        make_app(cross_site_tracking=True).build_middleware_stack()


def test_an_enabled_site_logs_for_the_visitor_after_consent(
    client: TestClient, database: Path
) -> None:
    # kxt-cs.js comes with a probe cookie: when init brings it back, cookies reach the main site
    probe = client.get(f"{P}/kxt-cs.js").headers["set-cookie"]
    assert "KxtCookieProbe=1" in probe and "SameSite=none" in probe and "Secure" in probe
    init = post(client, "init", {})
    assert init.json() == {"level": 0}
    assert init.headers["access-control-allow-origin"] == SHOP.origin
    assert init.headers["access-control-allow-credentials"] == "true"
    held = post(client, "activities", {"activities": [activity()]})
    assert held.json()["results"][0]["status"] == "no_consent"
    agree = post(client, "consent", {"agree": True})
    assert agree.json() == {"level": 1000}
    cookie = agree.headers["set-cookie"]
    assert "SameSite=None" in cookie and "Secure" in cookie
    answer = post(
        client,
        "activities",
        {
            "activities": [activity(value="btn"), activity(type="click", value="Buy")],
            "agreed": True,
        },
    )
    assert [r["status"] for r in answer.json()["results"]] == ["logged", "logged"]
    assert stored(database, *FIELDS) == [
        ("custom_cta", "btn", "cross-site", "shop"),
        ("click", "Buy", "cross-site", "shop"),
    ]
    # consent given on the external site applies on the main site too: one cookie, one contact
    assert client.get("/whoami").json()["level"] == 1000
    revoke = post(client, "consent", {"agree": False})
    assert revoke.json() == {"level": 0}
    assert client.get("/whoami").json() == {"level": 0, "contact": None}


def test_an_invalid_activity_fails_alone(client: TestClient, database: Path) -> None:
    post(client, "consent", {"agree": True})
    good, long_value = activity(value="good"), activity(value="v" * 251)
    answer = post(client, "activities", {"activities": [long_value, "x", good], "agreed": True})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == SHOP.origin
    assert answer.json()["results"] == [
        {
            "id": long_value["id"],
            "status": "invalid",
            "reason": "value is 251 characters long; at most 250 are allowed (it is never cut "
            "silently: shorten it before logging)",
        },
        {"id": None, "status": "invalid", "reason": "an activity must be an object"},
        {"id": good["id"], "status": "logged"},
    ]
    assert stored(database, *FIELDS) == [("custom_cta", "good", "cross-site", "shop")]
    malformed = post(client, "activities", {"activities": {}, "agreed": True})
    assert malformed.status_code == 422 and malformed.json()["error"] == "invalid_body"


def test_a_batch_up_to_the_keepalive_limit_is_taken(client: TestClient, database: Path) -> None:
    post(client, "consent", {"agree": True})
    url = "https://shop.example/?q=" + "u" * 2900
    batch = [activity(url=url, referrer=url) for _ in range(10)]
    answer = post(client, "activities", {"activities": batch, "agreed": True})
    assert [r["status"] for r in answer.json()["results"]] == ["logged"] * 10
    huge = client.post(
        f"{P}/cross-site/activities",
        content=b" " * (64 * 1024 + 1),
        headers={"origin": SHOP.origin, "content-type": "text/plain"},
    )
    assert huge.status_code == 413 and huge.json()["error"] == "body_too_large"
    assert len(stored(database)) == 10


def test_other_origins_store_nothing(client: TestClient, database: Path) -> None:
    post(client, "consent", {"agree": True})
    for origin in ("https://evil.example", "https://old.example", "http://shop.example"):
        answer = post(client, "activities", {"activities": [activity()]}, origin=origin)
        assert answer.status_code == 403 and answer.json()["error"] == "site_not_allowed"
        assert "access-control-allow-origin" not in answer.headers
    no_origin = client.post(f"{P}/cross-site/activities", content=b"{}")
    assert no_origin.status_code == 403
    assert stored(database, *FIELDS) == []


def test_an_init_without_any_cookie_says_the_browser_blocks_them(client: TestClient) -> None:
    answer = post(client, "init", {"handover": None, "credential": None, "agreed": False})
    assert answer.json() == {"level": 0, "blocked": True}


def test_blocked_cookies_are_reported(client: TestClient) -> None:
    answer = post(client, "activities", {"activities": [activity()], "agreed": True})
    assert answer.status_code == 409 and answer.json()["error"] == "cookies_blocked"
    assert answer.headers["access-control-allow-origin"] == SHOP.origin


def test_preflight_script_and_unknown_routes(client: TestClient) -> None:
    preflight = client.options(
        f"{P}/cross-site/activities",
        headers={"origin": SHOP.origin, "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-credentials"] == "true"
    script = client.get(f"{P}/kxt-cs.js")
    assert script.status_code == 200 and b"cross-site/" in script.content
    assert post(client, "nothing", {}).status_code == 404
    assert client.get(f"{P}/cross-site/init", headers={"origin": SHOP.origin}).status_code == 405


def test_without_cross_site_tracking_the_routes_do_not_exist(make_app: AppFactory) -> None:
    with TestClient(make_app()) as client:
        assert post(client, "init", {}).status_code == 404
        assert client.get(f"{P}/kxt-cs.js").status_code == 404


def test_site_registry(database: Path) -> None:
    async def run() -> None:
        async with ActivityStore(database) as store:
            await add_site(store, SHOP)
            with pytest.raises(ValueError, match="already registered"):
                await add_site(store, Site("shop2", "Shop again", "https://SHOP.example:443/"))
            disabled = await set_site_enabled(store, "shop", False)
            assert disabled == Site("shop", "Our shop", "https://shop.example", enabled=False)
            assert await sites(store) == [disabled]
            assert await get_site(store, "nope") is None
            with pytest.raises(UnknownSiteError, match="kxt sites list"):
                await set_site_enabled(store, "nope", True)

    asyncio.run(run())
    for bad in ("http://x.example", "https://x.example/path", "x.example", "https://"):
        with pytest.raises(ValueError, match="not an https origin"):
            Site("x", "X", bad)
