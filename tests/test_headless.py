from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kxt_middleware import ActivityStore, ActivityType
from kxt_middleware.api_keys import (
    UnknownApiKeyError,
    api_keys,
    authenticate,
    create_api_key,
    revoke_api_key,
)
from kxt_middleware.consents import Consent, add_consent, consents

from .helpers import LOAN, stored

AppFactory = Callable[..., Starlette]
P = "/Kentico.Tracking"
OFF = ActivityType("custom_off", "Disabled", enabled=False)
TRACKING = Consent("tracking", "Tracking", "We track what you do.", "The whole policy text.")


def prepare(database: Path) -> tuple[str, str, str]:
    """Two channels with a key each, and the tracking consent; returns (key, other_key, guid)."""

    async def run() -> tuple[str, str, str]:
        async with ActivityStore(database, activity_types=[LOAN, OFF]) as store:
            token, key = await create_api_key(store, "mobile_app")
            other, _ = await create_api_key(store, "kiosk")
            await add_consent(store, TRACKING)
            return token, other, str(key.channel.guid)

    return asyncio.run(run())


@pytest.fixture
def api(make_app: AppFactory, database: Path) -> Iterator[tuple[TestClient, str, str, str]]:
    token, other, channel = prepare(database)
    with TestClient(make_app(headless_origins=["https://app.example"])) as client:
        client.headers["authorization"] = f"Bearer {token}"
        yield client, token, other, channel


def agree(client: TestClient, contact: str) -> None:
    answer = client.post(f"{P}/contacts/{contact}/consents/tracking", json={"agree": True})
    assert answer.json() == {"isAgreed": True}


def test_every_call_needs_a_valid_key(api: tuple[TestClient, str, str, str]) -> None:
    client, token, _, _ = api
    for value in (None, "Bearer", "Bearer nope", f"Basic {token}", f"Bearer {token}x"):
        headers = {"authorization": value} if value else {}
        client.headers.pop("authorization", None)
        answer = client.post(f"{P}/contacts", headers=headers)
        assert answer.status_code == 401 and answer.json()["error"] == "unauthorized"
        assert answer.headers["www-authenticate"] == "Bearer"


def test_contacts_and_consents(api: tuple[TestClient, str, str, str]) -> None:
    client, *_ = api
    contact = client.post(f"{P}/contacts").json()["contact"]
    uuid.UUID(contact)
    assert client.get(f"{P}/consents/tracking").json() == {
        "shortText": "We track what you do.",
        "fullText": "The whole policy text.",
    }
    assert client.get(f"{P}/consents/TRACKING").status_code == 200
    assert client.get(f"{P}/consents/nope").status_code == 404
    url = f"{P}/contacts/{contact}/consents/tracking"
    assert client.get(url).json() == {"isAgreed": False}
    agree(client, contact)
    assert client.get(url).json() == {"isAgreed": True}
    assert client.post(url, json={"Agree": False}).json() == {"isAgreed": False}
    assert client.post(url, json={"agree": "yes"}).status_code == 422
    assert client.get(f"{P}/contacts/not-a-guid/consents/tracking").status_code == 422
    assert client.get(f"{P}/contacts/{contact}/consents/nope").status_code == 404
    assert client.delete(url).status_code == 405


def test_the_references_capitalized_example_body(
    api: tuple[TestClient, str, str, str], database: Path
) -> None:
    client, _, _, channel = api
    contact = str(uuid.uuid4())
    body = {
        "Channel": channel,
        "Contact": contact,
        "Activities": [{"Type": "custom_loan_calculator", "Value": "5000"}],
    }
    refused = client.post(f"{P}/activities", json=body)
    assert refused.status_code == 207
    assert refused.json()["results"][0]["status"] == 403  # no agreement to the tracking consent
    assert stored(database) == []
    agree(client, contact)
    answer = client.post(f"{P}/activities", json=body)
    assert answer.status_code == 207 and answer.json()["results"][0]["status"] == 202
    assert stored(database, "type", "value", "url", "source", "site") == [
        ("custom_loan_calculator", "5000", "", "headless", "mobile_app")
    ]


def test_results_follow_each_activity_in_order(
    api: tuple[TestClient, str, str, str], database: Path
) -> None:
    client, _, _, channel = api
    contact = str(uuid.uuid4())
    agree(client, contact)
    activities = [
        {"type": "pagevisit", "url": "https://app.example/home"},
        {"type": "pagevisit"},
        {"type": "click", "value": "buy"},
        {"type": "click"},
        {"type": "datainput", "value": "email"},
        {"type": "landingpage", "url": "https://x"},
        {"type": "custom_off", "value": "x"},
        {"type": "custom_nobody", "value": "x"},
        {"type": "custom_loan_calculator", "value": "v" * 251},
        {"type": "custom_loan_calculator", "value": 5},
        "not an object",
        {"type": "Custom_Loan_Calculator", "value": "ok", "title": "Loan", "referrer": None},
        {"type": "click", "value": "\ud800"},  # valid JSON, but no character: never storable
    ]
    body = json.dumps({"channel": channel, "contact": contact, "activities": activities})
    answer = client.post(
        f"{P}/activities", content=body, headers={"content-type": "application/json"}
    )
    statuses = [result["status"] for result in answer.json()["results"]]
    assert statuses == [202, 400, 202, 400, 202, 400, 422, 404, 400, 400, 400, 202, 400]
    details = [r.get("detail", "") for r in answer.json()["results"]]
    assert details[1] == "a pagevisit activity needs a url"
    assert details[5].startswith("the built-in type landingpage cannot be sent from here")
    assert "at most 250" in details[8]
    assert "value holds '\\ud800' at position 0, a lone UTF-16 surrogate" in details[12]
    assert [type for (type,) in stored(database, "type")] == [
        "pagevisit",
        "click",
        "datainput",
        "custom_loan_calculator",
    ]


def test_the_body_must_name_the_keys_channel(api: tuple[TestClient, str, str, str]) -> None:
    client, _, other, channel = api
    contact = str(uuid.uuid4())
    body = {"channel": channel, "contact": contact, "activities": [{"type": "click"}]}
    wrong = client.post(f"{P}/activities", json=body, headers={"authorization": f"Bearer {other}"})
    assert wrong.status_code == 403 and wrong.json()["error"] == "wrong_channel"
    by_name = client.post(f"{P}/activities", json=body | {"channel": "MOBILE_APP"})
    assert by_name.status_code == 207
    for bad in ({"contact": contact}, {"channel": channel, "contact": "x"}, []):
        assert client.post(f"{P}/activities", json=bad).status_code == 422
    empty = client.post(f"{P}/activities", json=body | {"activities": []})
    assert empty.status_code == 422
    no_contact = client.post(f"{P}/activities", json={"channel": channel, "activities": []})
    assert no_contact.json()["detail"] == "contact is missing: send the contact's GUID"


def test_limits(api: tuple[TestClient, str, str, str]) -> None:
    client, _, _, channel = api
    body = {"channel": channel, "contact": str(uuid.uuid4())}
    many = client.post(f"{P}/activities", json=body | {"activities": [{"type": "x"}] * 101})
    assert many.status_code == 413 and many.json()["error"] == "too_many_activities"
    huge = client.post(f"{P}/activities", content=b" " * (256 * 1024 + 1))
    assert huge.status_code == 413 and huge.json()["error"] == "body_too_large"
    broken = client.post(f"{P}/activities", content=b"{", headers={"content-type": "text/plain"})
    assert broken.status_code == 400 and broken.json()["error"] == "malformed_json"


def test_consent_enforcement_can_be_turned_off(make_app: AppFactory, database: Path) -> None:
    token, _, channel = prepare(database)
    with TestClient(make_app(headless_requires_consent=False)) as client:
        answer = client.post(
            f"{P}/activities",
            headers={"authorization": f"Bearer {token}"},
            json={
                "channel": channel,
                "contact": str(uuid.uuid4()),
                "activities": [{"type": "click", "value": "x"}],
            },
        )
    assert answer.json()["results"][0]["status"] == 202


def test_cors_for_configured_origins_only(api: tuple[TestClient, str, str, str]) -> None:
    client, *_ = api
    preflight = client.options(
        f"{P}/activities",
        headers={
            "origin": "https://app.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    refused = client.options(f"{P}/activities", headers={"origin": "https://evil.example"})
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers
    answer = client.post(f"{P}/contacts", headers={"origin": "https://app.example"})
    assert answer.headers["access-control-allow-origin"] == "https://app.example"
    other = client.post(f"{P}/contacts", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_bad_cors_origins_are_refused(make_app: AppFactory) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        make_app(headless_origins=["app.example"]).build_middleware_stack()


def test_openapi_document_needs_no_key(api: tuple[TestClient, str, str, str]) -> None:
    client, *_ = api
    document = client.get(f"{P}/openapi.json", headers={"authorization": ""}).json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        f"{P}/contacts",
        f"{P}/contacts/{{contact}}/consents/{{consent}}",
        f"{P}/consents/{{consent}}",
        f"{P}/activities",
    }


def test_api_keys_are_hashed_listed_and_revocable(database: Path) -> None:
    async def run() -> None:
        async with ActivityStore(database) as store:
            token, key = await create_api_key(store, "mobile_app")
            assert token.startswith(f"kxt_{key.key_id}_")
            assert (await authenticate(store, token)) == key.channel
            again, second = await create_api_key(store, "mobile_app")
            assert second.channel == key.channel and again != token
            assert [k.key_id for k in await api_keys(store)] == [key.key_id, second.key_id]
            await revoke_api_key(store, key.key_id)
            assert await authenticate(store, token) is None
            assert await authenticate(store, again) == key.channel
            with pytest.raises(UnknownApiKeyError, match="kxt apikeys list"):
                await revoke_api_key(store, key.key_id)
            for bad in ("", "kxt", "kxt__", "abc_def_ghi", token.replace("kxt_", "xyz_")):
                assert await authenticate(store, bad) is None
            with pytest.raises(ValueError, match="not a valid code name"):
                await create_api_key(store, "bad name")
            await add_consent(store, TRACKING)
            with pytest.raises(ValueError, match="already exists"):
                await add_consent(store, TRACKING)
            assert await consents(store) == [TRACKING]
            # only the SHA-256 digest of the secret is stored, never the secret itself
            secret = again.split("_", 2)[2]
            found = await store.active_api_key(second.key_id)
            assert found == (hashlib.sha256(secret.encode()).hexdigest(), key.channel)

    asyncio.run(run())


def test_revoking_tracking_erases_the_contact_for_good(
    api: tuple[TestClient, str, str, str], database: Path
) -> None:
    client, _, _, channel = api
    contact = client.post(f"{P}/contacts").json()["contact"]
    agree(client, contact)
    body = {"channel": channel, "contact": contact, "activities": [{"type": "click", "value": "a"}]}
    assert client.post(f"{P}/activities", json=body).json()["results"][0]["status"] == 202
    url = f"{P}/contacts/{contact}/consents/tracking"
    assert client.post(url, json={"agree": False}).json() == {"isAgreed": False}
    assert stored(database) == []  # as in the browser: revoking erases what was stored
    again = client.post(url, json={"agree": True})
    assert again.status_code == 410 and again.json()["error"] == "contact_erased"
    assert f"POST {P}/contacts" in again.json()["detail"]
    assert client.get(url).json() == {"isAgreed": False}
    refused = client.post(f"{P}/activities", json=body).json()["results"][0]
    assert refused["status"] == 410 and refused["error"] == "contact_erased"
    assert stored(database) == []


def test_revoking_a_consent_stored_in_another_case_erases_too(
    make_app: AppFactory, database: Path
) -> None:
    async def set_up() -> tuple[str, str]:
        async with ActivityStore(database, activity_types=[LOAN]) as store:
            token, key = await create_api_key(store, "mobile_app")
            await add_consent(store, Consent("Tracking", "Tracking", "short", "full"))
            return token, str(key.channel.guid)

    token, channel = asyncio.run(set_up())
    with TestClient(make_app()) as client:
        client.headers["authorization"] = f"Bearer {token}"
        contact = client.post(f"{P}/contacts").json()["contact"]
        url = f"{P}/contacts/{contact}/consents/tracking"
        assert client.post(url, json={"agree": True}).json() == {"isAgreed": True}
        body = {
            "channel": channel,
            "contact": contact,
            "activities": [{"type": "click", "value": "a"}],
        }
        assert client.post(f"{P}/activities", json=body).json()["results"][0]["status"] == 202
        assert client.post(url, json={"agree": False}).json() == {"isAgreed": False}
    assert stored(database) == []


def test_an_erased_contact_is_answered_410_without_consent_enforcement(
    make_app: AppFactory, database: Path
) -> None:
    token, _, channel = prepare(database)
    contact = uuid.uuid4()

    async def erase() -> None:
        async with ActivityStore(database) as store:
            await store.delete_contact(contact)

    asyncio.run(erase())
    with TestClient(make_app(headless_requires_consent=False)) as client:
        client.headers["authorization"] = f"Bearer {token}"
        activities = [{"type": "custom_loan_calculator", "value": "1"}]
        body = {"channel": channel, "contact": str(contact), "activities": activities}
        [result] = client.post(f"{P}/activities", json=body).json()["results"]
    assert result["status"] == 410 and result["error"] == "contact_erased"
    assert stored(database) == []


def test_bodies_that_are_not_json_objects_say_why(api: tuple[TestClient, str, str, str]) -> None:
    client, *_ = api
    deep = client.post(f"{P}/activities", content=b"[" * 100_000 + b"]" * 100_000)
    assert deep.status_code == 400 and deep.json()["error"] == "malformed_json"
    form = client.post(f"{P}/activities", data={"channel": "x"})
    assert form.status_code == 415
    assert "Content-Type: application/json" in form.json()["detail"]
