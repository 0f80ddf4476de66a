"""Contract: every backend implements the whole seam; a store's life cycle; activity types."""

from __future__ import annotations

import inspect
import uuid
from typing import Any

import pytest

from kxt_middleware import ActivityStore, ActivityType, LogStatus, Store, UnknownActivityTypeError
from kxt_middleware.activities import NewActivity

from ..helpers import CTA, MakeStore, log

pytestmark = pytest.mark.anyio

BUILT_IN = [("click", True), ("datainput", True), ("landingpage", True), ("pagevisit", True)]


def is_part_of_the_seam(member: Any) -> bool:
    """True for a method (or property) of Store that every backend must implement."""
    function = member.fget if isinstance(member, property) else member
    code = getattr(function, "__code__", None)
    return code is not None and "NotImplementedError" in code.co_names


def test_the_backend_implements_every_method_of_the_seam(make_store: MakeStore) -> None:
    members: dict[str, Any] = {}
    for part in reversed(Store.__mro__[:-1]):  # Store and the classes it is made of
        members.update(vars(part))
    seam = {name for name, member in members.items() if is_part_of_the_seam(member)}
    # The introspection finds the seam, from the life cycle to the operators, and leaves out
    # the conveniences the seam builds on its own methods.
    assert {"is_open", "open", "insert_activities", "purge_activities_before"} <= seam
    assert {"sites", "add_operator", "operator_password_hash"} <= seam
    assert not {"activities", "iter_activities", "__aenter__"} & seam
    store = make_store()
    backend = type(store)
    assert isinstance(store, Store) and backend is not Store and ActivityStore is Store
    missing = sorted(
        name for name in seam if inspect.getattr_static(backend, name) is members[name]
    )
    assert missing == [], f"{backend.__name__} does not implement {missing}"


async def test_open_close_and_reopen_keep_the_data(make_store: MakeStore) -> None:
    store = make_store(activity_types=[CTA])
    assert not store.is_open
    contact = uuid.uuid4()
    async with store as opened:
        assert opened is store and store.is_open
        await store.open()  # a second open changes nothing
        version = await store.schema_version()
        assert isinstance(version, int) and version >= 1
        await log(store, contact, CTA.code_name)
    assert not store.is_open
    await store.close()  # and so does a second close
    async with store:
        assert await store.schema_version() == version
        assert [a.contact for a in await store.activities()] == [contact]
    async with make_store() as another:  # another store object on the same database
        assert await another.count_activities() == 1


async def test_a_new_database_has_the_built_in_types_then_the_configured_ones(
    make_store: MakeStore,
) -> None:
    configured = [ActivityType("zeta", "Z"), ActivityType("custom_cta", "CTA click")]
    store = make_store(activity_types=configured[:1])
    assert store.include_activity_types(configured[1:]) == (CTA,)
    async with store:
        listed = [(t.code_name, t.built_in) for t in await store.activity_types()]
        assert listed == [*BUILT_IN, ("custom_cta", False), ("zeta", False)]
        assert await store.activity_type("CUSTOM_cta") == CTA
        assert await store.activity_type("nobody_defined_this") is None
        assert (await store.activity_type("click")) == ActivityType(
            "click", "Click", "A visitor clicked a tracked element.", built_in=True
        )


async def test_configured_types_never_overwrite_a_marketers_edits(make_store: MakeStore) -> None:
    async with make_store(activity_types=[CTA]) as store:
        edited = await store.update_activity_type(
            "custom_cta", display_name="Edited", enabled=False
        )
        assert edited == ActivityType("custom_cta", "Edited", enabled=False)
    async with make_store(activity_types=[CTA]) as store:
        assert await store.activity_type("custom_cta") == edited
        assert await store.ensure_activity_types([CTA, ActivityType("new", "New")]) == 1
        assert await store.ensure_activity_types([ActivityType("NEW", "Again")]) == 0
        assert await store.activity_type("new") == ActivityType("new", "New")


async def test_adding_and_updating_types(make_store: MakeStore) -> None:
    async with make_store() as store:
        await store.add_activity_type(CTA)
        with pytest.raises(ValueError, match="already exists"):
            await store.add_activity_type(ActivityType("Custom_CTA", "Again"))
        assert await store.activity_type("custom_cta") == CTA
        renamed = await store.update_activity_type("CUSTOM_CTA", display_name="Renamed")
        assert renamed == ActivityType("custom_cta", "Renamed")
        described = await store.update_activity_type("custom_cta", description="What it is")
        assert described == ActivityType("custom_cta", "Renamed", "What it is")
        assert await store.activity_type("custom_cta") == described
        built_in = await store.update_activity_type("click", enabled=False)
        assert built_in.built_in and not built_in.enabled
        with pytest.raises(UnknownActivityTypeError, match="kxt types list"):
            await store.update_activity_type("missing", enabled=False)
        with pytest.raises(ValueError, match="display_name is 251"):
            await store.update_activity_type("custom_cta", display_name="x" * 251)
        assert await store.activity_type("custom_cta") == described


async def test_each_activity_is_logged_by_its_type(make_store: MakeStore) -> None:
    contact = uuid.uuid4()
    async with make_store(activity_types=[CTA]) as store:
        await store.add_activity_type(ActivityType("off", "Off", enabled=False))
        results = await store.insert_activities(
            contact,
            [
                NewActivity("custom_cta", value="btnCTA", title="Custom CTA click"),
                NewActivity("off"),
                NewActivity("nobody_defined_this"),
                NewActivity("CUSTOM_CTA", value="any case"),
            ],
        )
        assert [r.status for r in results] == [
            LogStatus.LOGGED,
            LogStatus.TYPE_DISABLED,
            LogStatus.TYPE_UNKNOWN,
            LogStatus.LOGGED,
        ]
        assert [r.activity_id is not None for r in results] == [True, False, False, True]
        stored = await store.activities(contact=contact, newest_first=False)
        # stored with the type's own spelling of its code name
        assert [(a.id, a.type, a.value) for a in stored] == [
            (results[0].activity_id, "custom_cta", "btnCTA"),
            (results[3].activity_id, "custom_cta", "any case"),
        ]
        await store.update_activity_type("custom_cta", enabled=False)  # at the next commit
        [refused] = await store.insert_activities(contact, [NewActivity("custom_cta")])
        assert refused.status is LogStatus.TYPE_DISABLED and refused.activity_id is None
        await store.update_activity_type("custom_cta", enabled=True)
        await log(store, contact, "custom_cta")
        assert await store.count_activities() == 3


async def test_a_type_changed_through_another_store_applies_at_the_next_commit(
    make_store: MakeStore,
) -> None:
    contact = uuid.uuid4()
    # two store objects on one database: a server, and the CLI or another process
    async with make_store(activity_types=[CTA]) as server, make_store() as other:
        await log(server, contact, "custom_cta")
        await other.update_activity_type("custom_cta", enabled=False)
        await other.add_activity_type(ActivityType("late", "Added later"))
        results = await server.insert_activities(
            contact, [NewActivity("custom_cta"), NewActivity("late")]
        )
        assert [r.status for r in results] == [LogStatus.TYPE_DISABLED, LogStatus.LOGGED]
        await other.update_activity_type("custom_cta", enabled=True)
        await log(server, contact, "custom_cta")
        assert await other.count_activities() == 3
