"""The storage contract suite runs once per backend: every test gets a fresh, empty database.

PostgreSQL: a throwaway server from the machine's binaries (see postgres_server.py), or the
server ``KXT_TEST_POSTGRES_URL`` names; a fresh database per test, copied from a template.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kxt_middleware.storage import Store, open_store

from ..helpers import MakeStore
from .postgres_server import URL_VARIABLE, Databases, throwaway_server

# Each backend the suite runs against. A backend's entry gives the database URL (or path) of a
# fresh, empty database for one test. SQLite runs twice: with its default writer (a process of
# its own) and with the writer thread (writer="thread").
BACKENDS = ["sqlite", "sqlite-thread", "postgresql"]


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[Databases]:
    """Fresh databases on the server of KXT_TEST_POSTGRES_URL, or on a throwaway server."""
    given = os.environ.get(URL_VARIABLE)
    if given:
        databases = Databases(given)
        try:
            yield databases
        finally:
            databases.close()
        return
    with throwaway_server() as server:
        databases = Databases(server)
        try:
            yield databases
        finally:
            databases.close()


@pytest.fixture
def postgres_url(postgres_databases: Databases) -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database (dropped after the test)."""
    url = postgres_databases.fresh()
    yield url
    postgres_databases.drop(url)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database of the backend under test."""
    if backend.startswith("sqlite"):
        return str(tmp_path / "kxt.sqlite3")
    if backend == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    raise AssertionError(f"no database for backend {backend!r}")


@pytest.fixture
def make_store(backend: str, database_url: str) -> MakeStore:
    """``make_store(**options)``: a store (not opened) on this test's database."""
    chosen = {"writer": "thread"} if backend == "sqlite-thread" else {}

    def make(**options: Any) -> Store:
        return open_store(database_url, **{**chosen, **options})

    return make
