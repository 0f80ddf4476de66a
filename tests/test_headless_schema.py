"""schemathesis against the served OpenAPI document: no 5xx, every answer matches the schema."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from starlette.applications import Starlette
from starlette.middleware import Middleware

from kxt_middleware import ActivityStore, ActivityTrackingMiddleware, ActivityType
from kxt_middleware.api_keys import create_api_key
from kxt_middleware.consents import Consent, add_consent

_FOLDER = tempfile.mkdtemp(prefix="kxt-schemathesis-")
DATABASE = Path(_FOLDER) / "kxt.sqlite3"


async def _prepare() -> str:
    async with ActivityStore(
        DATABASE, activity_types=[ActivityType("custom_loan_calculator", "Loan")]
    ) as store:
        token, _ = await create_api_key(store, "mobile_app")
        await add_consent(store, Consent("tracking", "Tracking", "short", "full"))
    return token


TOKEN = asyncio.run(_prepare())
APP = Starlette(
    middleware=[
        Middleware(
            ActivityTrackingMiddleware,
            secret_key="schemathesis",
            database=DATABASE,
            synchronous="NORMAL",  # speed only; durability is tested elsewhere
        )
    ]
)
schema = schemathesis.openapi.from_asgi("/Kentico.Tracking/openapi.json", APP)


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("KXT_SCHEMATHESIS_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_headless_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})
