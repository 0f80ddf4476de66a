"""The storage contract suite runs once per backend: every test gets a fresh, empty database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kxt_middleware.storage import Store, open_store

from ..helpers import MakeStore

# Each backend the suite runs against. A backend's entry gives the database URL (or path) of a
# fresh, empty database for one test.
BACKENDS = ["sqlite"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> str:
    """A fresh, empty database of the backend under test."""
    if backend == "sqlite":
        return str(tmp_path / "kxt.sqlite3")
    raise AssertionError(f"no database for backend {backend!r}")


@pytest.fixture
def make_store(database_url: str) -> MakeStore:
    """``make_store(**options)``: a store (not opened) on this test's database."""

    def make(**options: Any) -> Store:
        return open_store(database_url, **options)

    return make
