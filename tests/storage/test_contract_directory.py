"""Contract: what operators configure: consents and agreements, API keys, sites, operators."""

from __future__ import annotations

import uuid

import pytest

from kxt_middleware.api_keys import UnknownApiKeyError
from kxt_middleware.consents import Consent
from kxt_middleware.operators import Operator, UnknownOperatorError
from kxt_middleware.sites import Site, UnknownSiteError

from ..helpers import START, Clock, MakeStore

pytestmark = pytest.mark.anyio
TRACKING = Consent("tracking", "Tracking", "We track what you do.", "The whole policy.")
NEWSLETTER = Consent("newsletter", "Newsletter")


async def test_consents(make_store: MakeStore) -> None:
    async with make_store() as store:
        assert await store.consents() == [] and await store.consent("tracking") is None
        await store.add_consent(TRACKING)
        await store.add_consent(NEWSLETTER)
        with pytest.raises(ValueError, match="already exists"):
            await store.add_consent(Consent("TRACKING", "Again"))
        assert await store.consents() == [NEWSLETTER, TRACKING]
        assert await store.consent("Tracking") == TRACKING


async def test_agreements_follow_the_latest_answer(make_store: MakeStore) -> None:
    jane, joe = uuid.uuid4(), uuid.uuid4()
    async with make_store() as store:
        await store.add_consent(TRACKING)
        await store.add_consent(NEWSLETTER)
        assert not await store.has_agreed(jane, "tracking")
        await store.set_agreement(jane, "tracking", True)
        assert await store.has_agreed(jane, "tracking")
        assert not await store.has_agreed(jane, "newsletter")
        assert not await store.has_agreed(joe, "tracking")
        await store.set_agreement(jane, "tracking", False)
        assert not await store.has_agreed(jane, "tracking")
        await store.set_agreement(jane, "tracking", True)
        await store.set_agreement(jane, "newsletter", True)
        assert await store.has_agreed(jane, "tracking") and await store.has_agreed(
            jane, "newsletter"
        )
        await store.set_agreement(joe, "newsletter", False)  # a first answer may be a refusal
        assert await store.contact_exists(joe) and not await store.has_agreed(joe, "newsletter")


async def test_api_keys(make_store: MakeStore) -> None:
    clock = Clock()
    async with make_store(clock=clock) as store:
        assert await store.api_keys() == [] and await store.active_api_key("k1") is None
        app = await store.add_api_key("mobile_app", "k1", "hash-one")
        assert app.name == "mobile_app" and isinstance(app.guid, uuid.UUID)
        clock.advance(minutes=1)
        assert await store.add_api_key("mobile_app", "k2", "hash-two") == app  # the same channel
        kiosk = await store.add_api_key("kiosk", "k3", "hash-three")
        assert kiosk.guid != app.guid
        assert await store.active_api_key("k1") == ("hash-one", app)
        assert await store.active_api_key("k3") == ("hash-three", kiosk)
        listed = await store.api_keys()
        assert [(k.key_id, k.channel, k.revoked) for k in listed] == [
            ("k1", app, None),
            ("k2", app, None),
            ("k3", kiosk, None),
        ]
        a_minute_later = START.replace(minute=1)
        assert [k.created for k in listed] == [START, a_minute_later, a_minute_later]
        clock.advance(minutes=1)
        await store.revoke_api_key("k1")
        assert await store.active_api_key("k1") is None
        assert await store.active_api_key("k2") == ("hash-two", app)
        assert [k.revoked for k in await store.api_keys()] == [
            START.replace(minute=2),
            None,
            None,
        ]
        for key_id in ("k1", "nope"):
            with pytest.raises(UnknownApiKeyError, match="kxt apikeys list"):
                await store.revoke_api_key(key_id)
        # A key revoked by mistake works again once restored; only a revoked key can be.
        await store.restore_api_key("k1")
        assert await store.active_api_key("k1") == ("hash-one", app)
        assert [k.revoked for k in await store.api_keys()] == [None, None, None]
        for key_id in ("k1", "nope"):
            with pytest.raises(UnknownApiKeyError, match="no revoked API key"):
                await store.restore_api_key(key_id)


async def test_sites(make_store: MakeStore) -> None:
    shop = Site("shop", "Our shop", "https://shop.example")
    blog = Site("blog", "Blog", "https://blog.example:8443", enabled=False)
    async with make_store() as store:
        assert await store.sites() == [] and await store.site("shop") is None
        await store.add_site(shop)
        await store.add_site(blog)
        for taken in (Site("shop", "Other", "https://other.example"), Site("x", "X", shop.origin)):
            with pytest.raises(ValueError, match="already registered"):
                await store.add_site(taken)
        assert await store.sites() == [blog, shop]
        assert await store.site("shop") == shop and await store.site("other") is None
        assert await store.enabled_site_for_origin("https://shop.example") == shop
        assert await store.enabled_site_for_origin("https://blog.example:8443") is None
        assert await store.enabled_site_for_origin("https://other.example") is None
        disabled = await store.set_site_enabled("shop", False)
        assert disabled == Site("shop", "Our shop", "https://shop.example", enabled=False)
        assert await store.enabled_site_for_origin("https://shop.example") is None
        assert await store.set_site_enabled("blog", True) == Site(
            "blog", "Blog", "https://blog.example:8443"
        )
        assert await store.enabled_site_for_origin("https://blog.example:8443") is not None
        with pytest.raises(UnknownSiteError, match="kxt sites list"):
            await store.set_site_enabled("nope", True)
        assert await store.site("nope") is None


async def test_operators(make_store: MakeStore) -> None:
    async with make_store() as store:
        assert await store.operators() == [] and await store.operator_password_hash("x") is None
        jane = await store.add_operator("jane", "hash-j")
        assert isinstance(jane, Operator) and jane.name == "jane"
        await store.add_operator("Bob", "hash-b")
        await store.add_operator("carl", "hash-c")
        with pytest.raises(ValueError, match="already exists"):
            await store.add_operator("JANE", "hash-x")
        assert [o.name for o in await store.operators()] == ["Bob", "carl", "jane"]
        assert jane in await store.operators()
        # looked up ignoring case, answered with the name as stored
        assert await store.operator_password_hash("JaNe") == ("jane", "hash-j")
        assert await store.operator_password_hash("bob") == ("Bob", "hash-b")
        await store.set_operator_password_hash("JANE", "hash-j2")
        assert await store.operator_password_hash("jane") == ("jane", "hash-j2")
        await store.delete_operator("BOB")
        assert await store.operator_password_hash("bob") is None
        assert [o.name for o in await store.operators()] == ["carl", "jane"]
        with pytest.raises(UnknownOperatorError, match="kxt users create nobody"):
            await store.set_operator_password_hash("nobody", "hash")
        with pytest.raises(UnknownOperatorError, match="kxt users list"):
            await store.delete_operator("bob")
