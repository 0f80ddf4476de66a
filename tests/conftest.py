"""Shared fixtures: a real SQLite file per test, and apps built the way a user builds them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kxt_middleware import (
    ActivityTrackingMiddleware,
    ActivityType,
    CookieLevel,
    CustomActivityData,
    get_activity_logger,
    get_cookie_level,
    get_current_contact,
    set_cookie_level,
)

SECRET = "test-secret-key"
LOAN = ActivityType("custom_loan_calculator", "Loan calculator usage")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "kxt.sqlite3"


async def consent(request: Request) -> Response:
    level = (await request.json()).get("level", "ALL")
    return JSONResponse({"level": int(set_cookie_level(request, level))})


async def calculate(request: Request) -> Response:
    body = await request.json() if await request.body() else {}
    result = await get_activity_logger(request).log(
        body.get("type", LOAN.code_name),
        CustomActivityData(title="Loan calculator usage", value=str(body.get("value", "50000"))),
    )
    contact = get_current_contact(request)
    return JSONResponse(
        {
            "status": result.status.value,
            "id": result.activity_id,
            "contact": str(contact.guid) if contact else None,
        }
    )


async def whoami(request: Request) -> Response:
    contact = get_current_contact(request)
    return JSONResponse(
        {
            "level": int(get_cookie_level(request)),
            "contact": str(contact.guid) if contact else None,
        }
    )


async def level_only(request: Request) -> Response:
    return JSONResponse({"level": int(get_cookie_level(request))})


ROUTES = [
    Route("/consent", consent, methods=["POST"]),
    Route("/calculate", calculate, methods=["POST"]),
    Route("/whoami", whoami),
    Route("/level", level_only),
]


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


__all__ = ["CookieLevel", "LOAN", "ROUTES", "SECRET"]
