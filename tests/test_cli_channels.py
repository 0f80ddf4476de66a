from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from kxt_middleware import ActivityStore
from kxt_middleware.api_keys import authenticate

from .helpers import fails, run


def test_api_keys(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    created = run(database, "apikeys", "create", "--channel", "mobile_app")
    token = re.search(r"kxt_\w+_\S+", created)
    assert token and "not shown again" in created
    key_id = token.group().split("_")[1]

    async def channel() -> object:
        async with ActivityStore(database) as store:
            return await authenticate(store, token.group())

    assert getattr(asyncio.run(channel()), "name", None) == "mobile_app"
    assert key_id in run(database, "apikeys", "list")
    assert run(database, "apikeys", "revoke", key_id) == f"revoked API key {key_id}\n"
    assert asyncio.run(channel()) is None
    assert "no active API key" in fails(database, capsys, "apikeys", "revoke", key_id)
    assert run(database, "apikeys", "restore", key_id) == f"API key {key_id} works again\n"
    assert getattr(asyncio.run(channel()), "name", None) == "mobile_app"
    assert "no revoked API key" in fails(database, capsys, "apikeys", "restore", key_id)
    assert "not a valid code name" in fails(
        database, capsys, "apikeys", "create", "--channel", "bad name"
    )


def test_consents(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(database, "consents", "add", "tracking", "--name", "Tracking", "--short", "We track")
    assert run(database, "consents", "list") == "tracking  Tracking  We track\n"
    assert "already exists" in fails(database, capsys, "consents", "add", "tracking", "--name", "x")


def test_sites(database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(
        database, "sites", "add", "shop", "--name", "Shop", "--origin", "https://Shop.example/"
    ) == ("registered site shop (https://shop.example)\n")
    assert run(database, "sites", "list") == "shop  Shop  https://shop.example  enabled\n"
    assert run(database, "sites", "disable", "shop") == "shop is now disabled\n"
    assert run(database, "sites", "enable", "shop") == "shop is now enabled\n"
    snippet = run(database, "sites", "snippet", "shop", "--main-site", "https://www.example.com")
    assert "https://www.example.com/Kentico.Tracking/kxt-cs.js" in snippet
    assert "not an https origin" in fails(
        database, capsys, "sites", "add", "x", "--name", "X", "--origin", "http://x.example"
    )
    assert "already registered" in fails(
        database, capsys, "sites", "add", "shop", "--name", "S", "--origin", "https://s.example"
    )
    assert "no site 'nope'" in fails(database, capsys, "sites", "enable", "nope")
    assert "no site 'nope'" in fails(
        database, capsys, "sites", "snippet", "nope", "--main-site", "https://www.example.com"
    )
    assert "not an https origin" in fails(
        database, capsys, "sites", "snippet", "shop", "--main-site", "http://www.example.com"
    )


def test_set_up_commands_create_the_database_the_others_refuse_a_missing_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "kxt.sqlite3"
    created = run(database, "apikeys", "create", "--channel", "mobile_app")  # creates the file
    key_id = created.split()[2]
    typo = tmp_path / "kxt.sqlite"
    for args in (
        ["apikeys", "revoke", key_id],
        ["apikeys", "list"],
        ["consents", "list"],
        ["sites", "enable", "shop"],
        ["sites", "snippet", "shop", "--main-site", "https://www.example.com"],
    ):
        assert f"no database at {str(typo)!r}; check --database" in fails(typo, capsys, *args)
    assert not typo.exists()
    assert key_id in run(database, "apikeys", "list") and "  -\n" in run(
        database, "apikeys", "list"
    )
    run(typo, "consents", "add", "tracking", "--name", "Tracking")
    assert typo.exists()
