"""One intake for every entry point: the per-source rules table, the overload answer, CORS."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from kxt_middleware import (
    ActivitySource,
    ActivityTrackingMiddleware,
    ActivityType,
    StoreOverloadedError,
    get_activity_logger,
)
from kxt_middleware.activity_types import BUILT_IN_TYPES
from kxt_middleware.api_keys import create_api_key
from kxt_middleware.consents import Consent, add_consent, set_agreement
from kxt_middleware.intake import RULES, read_activity
from kxt_middleware.sites import Site, add_site
from kxt_middleware.storage import open_store
from kxt_middleware.tracking import ActivityTracker

from .helpers import SECRET

P = "/Kentico.Tracking"
CTA = ActivityType("custom_cta", "CTA")
SHOP = Site("shop", "Our shop", "https://shop.example")
BUILT_IN = sorted(t.code_name for t in BUILT_IN_TYPES)
# The sources that take activities over HTTP, and how each is reached.
HTTP_SOURCES = [ActivitySource.BROWSER, ActivitySource.CROSS_SITE, ActivitySource.HEADLESS]


def test_every_source_has_rules_and_custom_types_pass_everywhere() -> None:
    assert set(RULES) == set(ActivitySource)
    for source in ActivitySource:
        read = read_activity(
            {"type": "custom_cta", "value": "v", "id": str(uuid.uuid4())}, source, site="s"
        )
        assert read.type == "custom_cta" and read.source is source


@pytest.mark.parametrize("source", list(ActivitySource))
@pytest.mark.parametrize("code", BUILT_IN)
def test_built_in_types_follow_the_table(source: ActivitySource, code: str) -> None:
    rules = RULES[source]
    item = {"type": code.upper(), "value": "v", "url": "https://x/", "id": str(uuid.uuid4())}
    if code in rules.built_in:
        assert read_activity(item, source).type == code  # built-in code names: lower case
        needed = rules.built_in[code]
        if needed:
            with pytest.raises(ValueError, match=f"a {code} activity needs a {needed}"):
                read_activity({**item, needed: ""}, source)
    else:
        with pytest.raises(ValueError, match=f"the built-in type {code} cannot be sent"):
            read_activity(item, source)


def test_key_casing_nulls_and_ids_follow_the_table() -> None:
    headless, browser = ActivitySource.HEADLESS, ActivitySource.BROWSER
    capitalized = {"Type": "custom_cta", "Value": None}
    assert read_activity(capitalized, headless).value == ""  # any case, null is ""
    with pytest.raises(ValueError, match="value must be a string"):
        read_activity({"type": "custom_cta", "value": None, "id": str(uuid.uuid4())}, browser)
    with pytest.raises(ValueError, match="id must be a UUID string"):
        read_activity({"type": "custom_cta"}, browser)
    # Capitalized names are not the browser's: its type is missing, so it is not a code name.
    with pytest.raises(ValueError, match="is not a valid code name"):
        read_activity({"Type": "custom_cta", "id": str(uuid.uuid4())}, browser)
    kept = str(uuid.uuid4())
    assert read_activity({"type": "custom_cta", "id": kept}, browser).id == kept
    assert read_activity({"type": "custom_cta", "id": kept}, headless).id != kept  # server's


# -- the same rules over HTTP, for every source -----------------------------------------------


class Endpoints:
    """A site with every entry point, a consenting visitor and a headless contact."""

    def __init__(self, database: Path) -> None:
        self.token, self.contact = asyncio.run(self._set_up(database))
        app = Starlette(
            routes=[Route("/log", _log_in_route)],
            middleware=[
                Middleware(
                    ActivityTrackingMiddleware,
                    secret_key=SECRET,
                    database=database,
                    activity_types=[CTA],
                    same_site="none",
                    https_only=True,
                    cross_site_tracking=True,
                    headless_origins=["https://app.example"],
                    max_pending=5,
                )
            ],
        )
        self.client = TestClient(app, base_url="https://main.example")

    @staticmethod
    async def _set_up(database: Path) -> tuple[str, str]:
        async with open_store(database) as store:
            token, _ = await create_api_key(store, "app")
            await add_consent(store, Consent("tracking", "Tracking"))
            contact = uuid.uuid4()
            await set_agreement(store, contact, "tracking", True)
            await add_site(store, SHOP)
        return token, str(contact)

    def send(self, source: ActivitySource, activities: list[dict[str, Any]]) -> Any:
        if source is ActivitySource.HEADLESS:
            body = {"channel": "app", "contact": self.contact, "activities": activities}
            return self.client.post(
                f"{P}/activities",
                content=json.dumps(body),
                headers={"authorization": f"Bearer {self.token}", "origin": "https://app.example"},
            )
        path = "browser/activities" if source is ActivitySource.BROWSER else "cross-site/activities"
        origin = "https://main.example" if source is ActivitySource.BROWSER else SHOP.origin
        ids = [{"id": str(uuid.uuid4()), **activity} for activity in activities]
        return self.client.post(
            f"{P}/{path}",
            content=json.dumps({"activities": ids}),
            headers={"origin": origin, "content-type": "text/plain"},
        )

    @staticmethod
    def refused(source: ActivitySource, result: dict[str, Any]) -> bool:
        if source is ActivitySource.HEADLESS:
            return result["status"] == 400 and result["error"] == "invalid_activity"
        return result["status"] == "invalid"


async def _log_in_route(request: Request) -> Response:
    result = await get_activity_logger(request).log("custom_cta")
    return PlainTextResponse(result.status.value)


@pytest.fixture
def endpoints(database: Path) -> Any:
    site = Endpoints(database)
    with site.client:
        site.client.post(
            f"{P}/browser/consent",
            content='{"agree": true}',
            headers={"content-type": "text/plain"},
        )
        yield site


@pytest.mark.parametrize("source", HTTP_SOURCES)
def test_each_endpoint_answers_built_in_types_as_the_table_says(
    endpoints: Endpoints, source: ActivitySource
) -> None:
    sent = [{"type": code, "value": "v", "url": "https://x/"} for code in BUILT_IN]
    answer = endpoints.send(source, sent)
    assert answer.status_code in (200, 207), answer.text
    for code, result in zip(BUILT_IN, answer.json()["results"], strict=True):
        assert endpoints.refused(source, result) == (code not in RULES[source].built_in), result


@pytest.mark.parametrize("source", HTTP_SOURCES)
def test_each_endpoint_takes_at_most_its_limit(
    endpoints: Endpoints, source: ActivitySource
) -> None:
    limit = RULES[source].max_activities
    answer = endpoints.send(source, [{"type": "custom_cta"}] * (limit + 1))
    assert answer.status_code == 413 and answer.json()["error"] == "too_many_activities"


@pytest.mark.parametrize("source", HTTP_SOURCES)
def test_lone_surrogates_anywhere_are_answered_never_500(
    endpoints: Endpoints, source: ActivitySource
) -> None:
    for field in ("type", "value", "title", "url", "referrer", "id"):
        answer = endpoints.send(source, [{"type": "custom_cta", field: "\ud800"}])
        assert answer.status_code in (200, 207), (field, answer.text)
        [result] = answer.json()["results"]
        assert endpoints.refused(source, result) or result.get("status") in ("logged", 202)


@pytest.mark.parametrize("source", HTTP_SOURCES)
def test_an_overloaded_store_answers_503_with_retry_after_everywhere(
    endpoints: Endpoints, source: ActivitySource, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def full(*args: object, **kwargs: object) -> None:
        raise StoreOverloadedError("5 writes are already waiting for the database")

    monkeypatch.setattr(ActivityTracker, "log", full)
    answer = endpoints.send(source, [{"type": "custom_cta"}])
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert answer.json() == {
        "error": "overloaded",
        "detail": "5 writes are already waiting for the database",
    }
    # A browser on another origin can read why and when to retry.
    if source is not ActivitySource.BROWSER:
        assert "retry-after" in answer.headers["access-control-expose-headers"]


def test_a_sites_own_route_under_overload_answers_like_the_endpoints(
    database: Path, caplog: pytest.LogCaptureFixture
) -> None:
    site = Endpoints(database)  # max_pending=5

    async def crowd() -> list[Any]:
        import httpx2

        transport = httpx2.ASGITransport(app=site.client.app)
        async with httpx2.AsyncClient(transport=transport, base_url="https://main.example") as c:
            await c.post(f"{P}/browser/consent", content='{"agree": true}')
            await c.get("/log")  # the contact exists
            return await asyncio.gather(*(c.get("/log") for _ in range(50)))

    answers = asyncio.run(crowd())
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {200, 503} and 503 in statuses and 200 in statuses
    for answer in answers:
        if answer.status_code == 503:
            assert answer.headers["retry-after"] == "1"
            assert answer.json()["error"] == "overloaded"
    assert not [r for r in caplog.records if r.exc_info]  # a log line, never a traceback


def test_cors_for_the_headless_api_and_cross_site(endpoints: Endpoints) -> None:
    client = endpoints.client
    for path, origin, credentials in (
        ("activities", "https://app.example", False),
        ("cross-site/activities", SHOP.origin, True),
    ):
        preflight = client.options(
            f"{P}/{path}",
            headers={"origin": origin, "access-control-request-method": "POST"},
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == origin
        assert preflight.headers["access-control-max-age"] == "600"
        assert ("access-control-allow-credentials" in preflight.headers) is credentials
        assert "Origin" in preflight.headers["vary"]
        other = client.options(f"{P}/{path}", headers={"origin": "https://evil.example"})
        assert other.status_code == 403
        assert "access-control-allow-origin" not in other.headers


Factory = Callable[..., Starlette]
