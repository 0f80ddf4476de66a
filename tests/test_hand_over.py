"""Hand-over tokens and site credentials: their rules (unit), and the endpoints using them."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import itsdangerous.timed
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from kxt_middleware import ActivityStore, ActivityTrackingMiddleware, ActivityType, CookieLevel
from kxt_middleware.cross_site import SiteOrigins
from kxt_middleware.hand_over import HandOver, HandOverRefused, HandOverSigner
from kxt_middleware.script_tag import activity_logging_script
from kxt_middleware.sites import Site, set_site_enabled

from .helpers import ROUTES, SECRET, stored
from .test_cross_site import CROSS, FIELDS, SHOP, P, activity, post, register

BLOG = Site("blog", "Our blog", "https://blog.example")
CONTACT = uuid.UUID("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9")


def hand_over(origin: str = SHOP.origin, level: CookieLevel = CookieLevel.ALL) -> HandOver:
    return HandOver(origin, CONTACT, level)


def refused(error: str) -> Any:
    return pytest.raises(HandOverRefused, check=lambda exc: exc.error == error)


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Move itsdangerous's clock on by ``seconds``."""

    def move(seconds: float) -> None:
        now = time.time() + seconds
        monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: now)

    return move


# -- the rules ----------------------------------------------------------------------------------


def test_a_token_names_the_contact_for_its_site_only() -> None:
    signer = HandOverSigner(SECRET)
    token = signer.token(hand_over())
    assert signer.read_token(token, SHOP.origin) == hand_over()
    assert str(CONTACT) not in token and CONTACT.hex not in token  # no plain identifier
    with refused("handover_wrong_site") as info:
        signer.read_token(token, BLOG.origin)
    assert "issued for https://shop.example, not for https://blog.example" in str(info.value)


def test_a_token_is_refused_after_its_life(later: Any) -> None:
    signer = HandOverSigner(SECRET, token_max_age=120)
    token = signer.token(hand_over())
    later(119)
    assert signer.read_token(token, SHOP.origin).contact == CONTACT
    later(121)
    with refused("handover_expired") as info:
        signer.read_token(token, SHOP.origin)
    assert "older than 120 seconds" in str(info.value)
    # the credential it was exchanged for lives on
    credential = signer.credential(hand_over())
    later(10 * 24 * 3600)
    assert signer.read_credential(credential, SHOP.origin).contact == CONTACT


def test_signature_salt_and_keys() -> None:
    signer = HandOverSigner(SECRET)
    token = signer.token(hand_over())
    credential = signer.credential(hand_over())
    # each kind has its own salt: one is never taken for the other
    with refused("handover_invalid"):
        signer.read_credential(token, SHOP.origin)
    with refused("handover_invalid"):
        signer.read_token(credential, SHOP.origin)
    # an altered payload, another key, or not a string at all
    payload, rest = token.split(".", 1)
    with refused("handover_invalid"):
        signer.read_token(payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + rest, "")
    with refused("handover_invalid"):
        HandOverSigner("another key").read_token(token, SHOP.origin)
    with refused("handover_invalid"):
        signer.read_token(None, SHOP.origin)
    # key rotation: a token signed with the old key still verifies once a new key is added
    assert HandOverSigner([SECRET, "newer"]).read_token(token, SHOP.origin) == hand_over()


def test_no_token_below_visitor_and_no_bad_settings() -> None:
    signer = HandOverSigner(SECRET)
    for level in (CookieLevel.ESSENTIAL, CookieLevel.EDITOR, CookieLevel.NONE):
        with pytest.raises(ValueError, match="Visitor level or above"):
            signer.token(hand_over(level=level))
    assert signer.read_token(signer.token(hand_over(level=CookieLevel.VISITOR)), SHOP.origin)
    with pytest.raises(ValueError, match="hand-over token's max_age must be a positive"):
        HandOverSigner(SECRET, token_max_age=0)
    with pytest.raises(ValueError, match="non-empty string"):
        HandOverSigner([])
    assert signer.token_max_age == 300  # the documented default: five minutes


# -- the endpoints ------------------------------------------------------------------------------


async def page(request: Request) -> Response:
    return HTMLResponse(str(activity_logging_script(request)))


def cross_site_app(database: Path, **options: Any) -> Starlette:
    return Starlette(
        routes=[*ROUTES, Route("/page", page)],
        middleware=[
            Middleware(
                ActivityTrackingMiddleware,
                secret_key=SECRET,
                database=database,
                activity_types=[ActivityType("custom_cta", "CTA")],
                **CROSS,
                **options,
            )
        ],
    )


@pytest.fixture
def main(database: Path) -> Iterator[TestClient]:
    register(database, SHOP, BLOG, Site("old", "Old shop", "https://old.example", enabled=False))
    with TestClient(cross_site_app(database), base_url="https://main.example") as client:
        yield client


def follow(client: TestClient, target: str, **headers: str) -> Any:
    """Click a main-site link to ``target`` (through the hand-over endpoint)."""
    return client.get(
        f"{P}/cross-site/handover?to={quote(target, safe='')}",
        headers={"sec-fetch-site": "same-origin"} | headers,
        follow_redirects=False,
    )


def token_of(response: Any) -> str | None:
    [token] = parse_qs(urlsplit(response.headers["location"]).query).get("kxt_handover", [None])
    return token


def agree_and_follow(main: TestClient) -> tuple[str, str]:
    """The visitor agrees on the main site, then follows a link to the shop: (contact, token)."""
    main.post("/consent", json={"level": "ALL"})
    contact = main.get("/whoami").json()["contact"]
    token = token_of(follow(main, "https://shop.example/"))
    assert token is not None
    return contact, token


def call(main: TestClient, path: str, body: Any, origin: str = SHOP.origin) -> Any:
    """A request from an external page whose browser blocks third-party cookies."""
    saved = list(main.cookies.jar)
    main.cookies.clear()
    try:
        return post(main, path, body, origin)
    finally:
        main.cookies.clear()  # what the answer set is blocked too
        for cookie in saved:
            main.cookies.jar.set_cookie(cookie)


def test_consenting_visitors_are_handed_over_with_a_token(main: TestClient) -> None:
    # below Visitor: the link still leads on, without a token
    plain = follow(main, "https://shop.example/offers?x=1#top")
    assert plain.status_code == 303
    assert plain.headers["location"] == "https://shop.example/offers?x=1#top"
    main.post("/consent", json={"level": "ALL"})
    contact = main.get("/whoami").json()["contact"]
    decorated = follow(main, "https://shop.example/offers?x=1#top")
    assert decorated.status_code == 303
    assert decorated.headers["cache-control"] == "no-store"
    location = decorated.headers["location"]
    assert location.startswith("https://shop.example/offers?x=1&kxt_handover=")
    assert location.endswith("#top")
    token = token_of(decorated)
    assert HandOverSigner(SECRET).read_token(token, SHOP.origin) == HandOver(
        SHOP.origin, uuid.UUID(contact), CookieLevel.ALL
    )
    assert "?kxt_handover=" in follow(main, "https://shop.example").headers["location"]
    # a link on another site's page gets no token
    assert (
        token_of(follow(main, "https://shop.example/", **{"sec-fetch-site": "cross-site"})) is None
    )


def test_a_hand_over_leads_only_to_enabled_registered_sites(main: TestClient) -> None:
    main.post("/consent", json={"level": "ALL"})
    for target in (
        "https://evil.example/",
        "https://old.example/",  # disabled
        "http://shop.example/",
        "https://shop.example.evil.example/",
        "https://user@shop.example/",
        "https://shop.example/\r\nset-cookie: x=1",
        "//shop.example/",
        "",
    ):
        answer = follow(main, target)
        assert answer.status_code == 400, target
        assert answer.json()["error"] == "handover_target_not_allowed"
    assert main.post(f"{P}/cross-site/handover?to=https://shop.example/").status_code == 405


def test_a_handed_over_visitor_is_tracked_without_third_party_cookies(
    main: TestClient, database: Path
) -> None:
    contact, token = agree_and_follow(main)
    # without cookies and without a hand-over, init says the browser withholds cookies
    assert call(main, "init", {}).json() == {"level": 0, "blocked": True}
    init = call(main, "init", {"handover": token})
    assert init.status_code == 200
    credential = init.json()["credential"]
    assert init.json()["level"] == 1000 and "blocked" not in init.json()
    # the credential names the contact on later pages; the token is not needed any more
    assert call(main, "init", {"credential": credential}).json() == {"level": 1000}
    logged = call(
        main, "activities", {"activities": [activity(value="shop")], "credential": credential}
    )
    assert logged.json()["results"][0]["status"] == "logged"
    assert stored(database, "contact", "type", "value", "site") == [
        (uuid.UUID(contact), "custom_cta", "shop", "shop")
    ]
    # a credential of another site, or a token offered as a credential, is refused
    for body, error in (
        ({"credential": credential}, "handover_wrong_site"),
        ({"credential": token}, "handover_invalid"),
    ):
        origin = BLOG.origin if error == "handover_wrong_site" else SHOP.origin
        refusal = call(main, "activities", {"activities": [activity()], **body}, origin)
        assert refusal.status_code == 403
        assert refusal.json()["error"] == error
    assert len(stored(database, *FIELDS)) == 1


def test_a_token_on_another_site_or_too_late_is_refused_clearly(
    main: TestClient, database: Path, later: Any
) -> None:
    _, token = agree_and_follow(main)
    pasted = call(main, "init", {"handover": token}, BLOG.origin)
    assert pasted.status_code == 403
    assert pasted.json() == {
        "error": "handover_wrong_site",
        "detail": "the hand-over token was issued for https://shop.example, not for "
        "https://blog.example",
        "level": 0,
        "blocked": True,
    }
    assert pasted.headers["access-control-allow-origin"] == BLOG.origin  # the page may read why
    later(301)
    expired = call(main, "init", {"handover": token})
    assert expired.status_code == 403
    assert expired.json()["error"] == "handover_expired"
    # a refused token does not cost the page a credential it already holds
    credential = HandOverSigner(SECRET).credential(
        HandOver(SHOP.origin, uuid.uuid4(), CookieLevel.ALL)
    )
    both = call(main, "init", {"handover": token, "credential": credential})
    assert both.status_code == 403
    assert both.json()["level"] == 1000 and "credential" not in both.json()
    # a token in an activities request is refused outright
    answer = call(main, "activities", {"activities": [activity()], "handover": token})
    assert (answer.status_code, answer.json()["error"]) == (403, "handover_expired")
    assert stored(database, *FIELDS) == []


def test_revoking_on_the_external_site_erases_the_contact_and_its_hand_overs(
    main: TestClient, database: Path
) -> None:
    contact, token = agree_and_follow(main)
    second = token_of(follow(main, "https://shop.example/"))
    credential = call(main, "init", {"handover": token}).json()["credential"]
    call(main, "activities", {"activities": [activity()], "credential": credential})
    assert len(stored(database, *FIELDS)) == 1
    revoke = call(main, "consent", {"agree": False, "credential": credential})
    assert revoke.json() == {"level": 0}
    assert stored(database, *FIELDS) == []  # erased
    refused_credential = call(main, "init", {"credential": credential})
    assert refused_credential.status_code == 403
    assert refused_credential.json() == {
        "error": "handover_erased",
        "detail": "the contact this hand-over names was erased (its consent was withdrawn); "
        "it is never tracked again",
        "credential": None,
        "level": 0,
        "blocked": True,
    }
    assert call(main, "init", {"handover": second}).json()["error"] == "handover_erased"
    # on the main site, the erased contact is dropped; a visitor who still consents there
    # starts a new one
    assert main.post("/calculate", json={"type": "custom_cta"}).json()["status"] == "contact_erased"
    assert main.get("/whoami").json()["contact"] not in (None, contact)


def test_cookies_win_over_a_hand_over(main: TestClient) -> None:
    # A browser that sends third-party cookies: the main site's cookies are the newer word.
    main.post("/consent", json={"level": "ALL"})
    token = token_of(follow(main, "https://shop.example/"))
    main.post("/consent", json={"level": "ESSENTIAL"})
    init = post(main, "init", {"handover": token})
    assert init.json()["level"] == 0  # revoked on the main site since
    assert post(main, "init", {}).json() == {"level": 0}  # cookies came: not blocked


def test_the_script_tag_offers_hand_overs_only_with_registered_sites(database: Path) -> None:
    with TestClient(cross_site_app(database), base_url="https://main.example") as client:
        assert "kxt-handover.js" not in client.get("/page").text
    register(database, SHOP)
    with TestClient(cross_site_app(database), base_url="https://main.example") as client:
        html = client.get("/page").text
        assert (
            f'<script async src="{P}/kxt-handover.js" data-fn="kxt" '
            f'data-sites=" https://shop.example " data-handover="{P}/cross-site/handover?to=">'
        ) in html
        script = client.get(f"{P}/kxt-handover.js")
        assert script.status_code == 200 and "closest" in script.text
        # a site disabled elsewhere drops out within the refresh interval
        asyncio.run(_disable(database))
        assert "kxt-handover.js" in client.get("/page").text  # read at most every 30 s
    with TestClient(cross_site_app(database), base_url="https://main.example") as client:
        assert "kxt-handover.js" not in client.get("/page").text


async def _disable(database: Path) -> None:
    async with ActivityStore(database) as store:
        await set_site_enabled(store, "shop", False)


@pytest.mark.anyio
async def test_pages_render_when_the_registered_sites_cannot_be_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    origins = SiteOrigins()
    store = ActivityStore(tmp_path / "missing folder" / "kxt.sqlite3")
    assert await origins.current(store) == ()
    assert "could not read the registered sites" in caplog.text
    assert await origins.current(store) == ()  # not read again before the refresh is due
    assert caplog.text.count("could not read the registered sites") == 1
