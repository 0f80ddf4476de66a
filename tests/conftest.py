"""Shared fixtures: a database file per test, and apps built the way a user builds them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware

from kxt_middleware import ActivityTrackingMiddleware

from .helpers import LOAN, ROUTES, SECRET


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "kxt.sqlite3"


@pytest.fixture
def make_app(database: Path) -> Callable[..., Starlette]:
    def build(**options: Any) -> Starlette:
        options.setdefault("secret_key", SECRET)
        options.setdefault("database", database)
        options.setdefault("activity_types", [LOAN])
        return Starlette(
            routes=ROUTES, middleware=[Middleware(ActivityTrackingMiddleware, **options)]
        )

    return build
