from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from starlette.testclient import TestClient

from kxt_middleware import ActivityStore, ActivityTrackingMiddleware
from kxt_middleware.groups import ActivityCondition, ContactGroup, install_contact_groups
from kxt_middleware.personalization import (
    contact_groups,
    is_in_all_contact_groups,
    is_in_any_contact_group,
    is_in_contact_group,
    register_personalization,
)

from .helpers import LOAN, ROUTES, SECRET

PROSPECTS = ContactGroup(
    "loan_prospects", "Loan prospects", conditions=[ActivityCondition(LOAN.code_name, 2)]
)
VISITORS = ContactGroup(
    "calculator_users", "Calculator users", conditions=[ActivityCondition(LOAN.code_name)]
)

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.DictLoader(
            {
                "offer.html": "{% if is_in_contact_group('Loan_Prospects') %}<b>Low rates</b>"
                "{% else %}Welcome{% endif %}"
                "|{{ is_in_any_contact_group('x', 'calculator_users') }}"
                "|{{ is_in_all_contact_groups('calculator_users', 'loan_prospects') }}"
                "|{{ 'loan_prospects' in groups }}",
                "forgot.html": "{{ is_in_contact_group('loan_prospects') }}",
            }
        ),
        autoescape=True,
    )
)
register_personalization(templates)


async def offer(request: Request) -> Response:
    return JSONResponse(
        {
            "one": await is_in_contact_group(request, "LOAN_PROSPECTS"),
            "any": await is_in_any_contact_group(request, "nope", "calculator_users"),
            "all": await is_in_all_contact_groups(request, "calculator_users", "loan_prospects"),
        }
    )


async def page(request: Request) -> Response:
    groups = await contact_groups(request)
    return templates.TemplateResponse(request, "offer.html", {"groups": groups})


async def forgot(request: Request) -> Response:
    return templates.TemplateResponse(request, "forgot.html")


def build(database: Path) -> Starlette:
    store = ActivityStore(database, activity_types=[LOAN])
    install_contact_groups(store, [PROSPECTS, VISITORS])
    return Starlette(
        routes=[
            *ROUTES,
            Route("/offer", offer),
            Route("/page", page),
            Route("/forgot", forgot),
        ],
        middleware=[Middleware(ActivityTrackingMiddleware, secret_key=SECRET, store=store)],
    )


def test_membership_is_current_at_the_next_request(database: Path) -> None:
    with TestClient(build(database)) as client:
        nobody = {"one": False, "any": False, "all": False}
        assert client.get("/offer").json() == nobody  # no consent: False, no contact created
        assert "currentcontact" not in {name.lower() for name in client.cookies}
        client.post("/consent", json={"level": "ALL"})
        assert client.get("/offer").json() == nobody
        assert client.post("/calculate").json()["status"] == "logged"
        assert client.get("/offer").json() == {"one": False, "any": True, "all": False}
        assert client.get("/page").text == "Welcome|True|False|False"
        client.post("/calculate")
        assert client.get("/offer").json() == {"one": True, "any": True, "all": True}
        assert client.get("/page").text == "<b>Low rates</b>|True|True|True"
        # Revoking consent: below Visitor level every check is False again.
        client.post("/consent", json={"level": "ESSENTIAL"})
        assert client.get("/offer").json() == nobody


def test_template_without_loaded_groups_says_how_to_fix(database: Path) -> None:
    with TestClient(build(database)) as client:
        with pytest.raises(RuntimeError, match=r"await contact_groups\(request\)"):
            client.get("/forgot")
