"""The Sites and API keys tabs: list, add, enable or disable; an API key shown once."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from kxt_middleware.admin import admin_app
from kxt_middleware.api_keys import authenticate
from kxt_middleware.sites import enabled_site_for_origin, get_site

from .helpers import ADMIN_SECRET, csrf_token, in_store, post, seed_admin, sign_in


@pytest.fixture
def client(database: Path) -> Iterator[TestClient]:
    asyncio.run(seed_admin(database))
    app = admin_app(database=database, secret_key=ADMIN_SECRET, failed_sign_in_delay=0)
    with TestClient(app, follow_redirects=False) as client:
        yield client


def error(page: str) -> str:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', page, re.S)
    assert found, "no error shown"
    return html.unescape(found.group(1))


FORMS = ["/sites/new", "/sites/shop/disable", "/sites/shop/enable", "/api-keys/new"]


def test_the_tabs_need_a_session_and_their_forms_a_csrf_token(client: TestClient) -> None:
    for path in ["/sites", "/sites/new", "/api-keys", "/api-keys/new"]:
        assert client.get(path).headers["location"] == "/sign-in", path
    for path in [*FORMS, "/api-keys/abc/revoke", "/api-keys/abc/restore"]:
        response = client.post(path, data={"csrf_token": csrf_token(client)})
        assert response.headers["location"] == "/sign-in", path
    sign_in(client)
    site = {"name": "Shop", "code": "shop", "origin": "https://shop.example", "enabled": "on"}
    for path in FORMS:
        for forged in ({}, {"csrf_token": "forged"}):
            response = client.post(path, data={**site, "channel": "app", **forged})
            assert response.status_code == 403 and "security token" in response.text, path
    assert "No sites yet" in client.get("/sites").text
    assert "No API keys yet" in client.get("/api-keys").text
    nav = client.get("/sites").text
    assert 'href="/sites">Sites</a>' in nav and 'href="/api-keys">API keys</a>' in nav


def test_sites_are_registered_listed_disabled_and_enabled(
    client: TestClient, database: Path
) -> None:
    sign_in(client)
    form = client.get("/sites/new").text
    assert 'name="origin"' in form and 'name="enabled" checked' in form
    response = post(
        client, "/sites/new", name="Shop", origin="https://SHOP.example:443/", enabled="on"
    )
    assert response.status_code == 303 and response.headers["location"] == "/sites"
    listing = client.get("/sites").text
    assert "Registered site shop (https://shop.example)." in listing
    assert "<code>https://shop.example</code>" in listing and "<td>yes</td>" in listing
    site = in_store(database, lambda store: get_site(store, "shop"))
    assert site is not None and (site.name, site.origin, site.enabled) == (
        "Shop",
        "https://shop.example",
        True,
    )
    # Registered disabled: a site whose pages are not ready yet.
    post(client, "/sites/new", name="Blog", code="blog", origin="https://blog.example")
    blog = in_store(database, lambda store: get_site(store, "blog"))
    assert blog is not None and not blog.enabled

    assert post(client, "/sites/shop/disable").status_code == 303
    assert "shop is now disabled." in client.get("/sites").text
    found = in_store(database, lambda store: enabled_site_for_origin(store, "https://shop.example"))
    assert found is None
    assert post(client, "/sites/SHOP/enable").status_code == 303
    assert "shop is now enabled." in client.get("/sites").text
    found = in_store(database, lambda store: enabled_site_for_origin(store, "https://shop.example"))
    assert found is not None and found.code_name == "shop"
    assert post(client, "/sites/nope/disable").status_code == 404
    assert post(client, "/sites/shop/delete").status_code == 404


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"origin": "http://shop.example"}, "'http://shop.example' is not an https origin"),
        ({"origin": "https://shop.example/cart"}, "no path"),
        ({"origin": ""}, "is not an https origin"),
        ({"code": "bad code"}, "not a valid code name"),
        ({"name": "", "code": "x"}, "name must not be empty"),
        ({"code": "other"}, "already registered"),  # the origin is taken
        ({"origin": "https://other.example"}, "already registered"),  # the code name is taken
    ],
)
def test_a_bad_site_is_refused_with_what_was_typed(
    client: TestClient, form: dict[str, str], message: str
) -> None:
    sign_in(client)
    assert post(client, "/sites/new", name="Shop", origin="https://shop.example").status_code == 303
    typed = {"name": "Shop", "code": "shop", "origin": "https://shop.example", **form}
    response = post(client, "/sites/new", **typed)
    assert response.status_code == 400 and message in error(response.text), error(response.text)
    for name, value in typed.items():
        assert f'name="{name}" value="{html.escape(value)}"' in response.text
    assert 'name="enabled" >' in response.text  # left unchecked as it was sent


def session_data(client: TestClient) -> str:
    """The admin session cookie's data (signed, not encrypted: anyone holding it can read it)."""
    payload = client.cookies["kxt_admin"].split(".")[0]
    return base64.b64decode(payload + "=" * (-len(payload) % 4)).decode()


def test_an_api_key_is_shown_once_and_only_its_hash_is_kept(
    client: TestClient, database: Path
) -> None:
    sign_in(client)
    assert 'name="channel"' in client.get("/api-keys/new").text
    response = post(client, "/api-keys/new", channel="mobile_app")
    assert response.status_code == 200 and "it is not shown again" in response.text
    found = re.search(r'class="token" value="(kxt_([0-9a-f]+)_([^"]+))"', response.text)
    assert found
    token, key_id, secret = found.groups()
    assert response.headers["cache-control"] == "no-store"
    assert token not in str(response.headers) and secret not in session_data(client)
    channel = in_store(database, lambda store: authenticate(store, token))
    assert channel is not None and channel.name == "mobile_app"
    assert f"<code>{channel.guid}</code>" in response.text
    # The store keeps the secret's SHA-256, never the secret.
    stored = in_store(database, lambda store: store.active_api_key(key_id))
    assert stored is not None and stored[0] == hashlib.sha256(secret.encode()).hexdigest()
    listing = client.get("/api-keys").text
    assert f"<code>{key_id}</code>" in listing and "<td>active</td>" in listing
    assert secret not in listing and token not in listing

    assert post(client, f"/api-keys/{key_id}/revoke").status_code == 303
    listing = client.get("/api-keys").text
    assert f"Revoked API key {key_id}." in listing and "revoked 20" in listing
    assert f'action="/api-keys/{key_id}/revoke"' not in listing
    assert in_store(database, lambda store: authenticate(store, token)) is None
    assert post(client, f"/api-keys/{key_id}/revoke").status_code == 404
    assert post(client, "/api-keys/nope/revoke").status_code == 404
    # Restored (revoked by mistake): the same key works again.
    assert f'action="/api-keys/{key_id}/restore"' in listing
    assert post(client, f"/api-keys/{key_id}/restore").status_code == 303
    listing = client.get("/api-keys").text
    assert f"API key {key_id} works again." in listing and "<td>active</td>" in listing
    assert in_store(database, lambda store: authenticate(store, token)) is not None
    assert post(client, f"/api-keys/{key_id}/restore").status_code == 404
    assert post(client, f"/api-keys/{key_id}/revoke").status_code == 303
    # A second key for the same channel: another id, another secret.
    second = post(client, "/api-keys/new", channel="MOBILE_APP").text
    assert token not in second and "<code>mobile_app</code>" in second


@pytest.mark.parametrize(
    ("channel", "message"), [("", "not a valid code name"), ("mobile app", "not a valid code name")]
)
def test_a_bad_channel_name_is_refused(client: TestClient, channel: str, message: str) -> None:
    sign_in(client)
    response = post(client, "/api-keys/new", channel=channel)
    assert response.status_code == 400 and message in error(response.text)
    assert f'name="channel" value="{channel}"' in response.text
    assert "No API keys yet" in client.get("/api-keys").text


def test_api_keys_are_listed_oldest_first(client: TestClient) -> None:
    sign_in(client)
    ids = []
    for channel in ("web_front", "app"):
        page = post(client, "/api-keys/new", channel=channel).text
        found = re.search(r"API key <code>([0-9a-f]+)</code>", page)
        assert found
        ids.append(found.group(1))
    listing = client.get("/api-keys").text
    assert re.findall(r"<td><code>([0-9a-f]{12})</code></td>", listing) == ids
