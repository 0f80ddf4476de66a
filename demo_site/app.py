"""The demo bank site: consent banner, loan calculator logged from server code, own activity log."""

from __future__ import annotations

import os
import secrets
from html import escape
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
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

LOAN_CALCULATOR = ActivityType(
    "custom_loan_calculator",
    "Loan calculator usage",
    "A visitor ran the loan calculator; the value is the loan size.",
)
CTA = ActivityType("custom_cta", "CTA click", "A visitor clicked a call-to-action button.")

STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1d2a3a;background:#f5f7fa}
header{background:#0b3d6e;color:#fff;padding:1rem 2rem}header a{color:#fff;margin-right:1rem}
main{max-width:48rem;margin:2rem auto;padding:0 1rem}
.card{background:#fff;border-radius:8px;padding:1.5rem;box-shadow:0 1px 3px #0002;margin:1rem 0}
.banner{background:#fff8e1;border:1px solid #f0c36d}button{padding:.5rem 1rem;cursor:pointer}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left}
"""


def page(request: Request, title: str, body: str) -> HTMLResponse:
    level = get_cookie_level(request)
    if level.allows_tracking:
        consent = (
            '<p class="card">You agreed to tracking. <form method="post" action="/consent">'
            '<button name="choice" value="revoke">Change my choice</button></form></p>'
        )
    else:
        consent = (
            '<div class="card banner" id="consent-banner"><p>We would like to remember what you '
            "do here to show you offers that fit. Is that OK?</p>"
            '<form method="post" action="/consent"><button name="choice" value="accept">'
            'Accept</button> <button name="choice" value="decline">Decline</button></form></div>'
        )
    html = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{escape(title)} · Demo Bank</title><style>{STYLE}</style></head><body>
<header><strong>Demo Bank</strong> &nbsp; <a href="/">Home</a><a href="/loans">Loan calculator</a>
<a href="/me">My activities</a></header><main>{consent}{body}</main></body></html>"""
    return HTMLResponse(html)


async def home(request: Request) -> Response:
    return page(
        request,
        "Home",
        '<div class="card"><h1>Welcome to Demo Bank</h1><p>Savings, loans and cards.</p>'
        '<p><a href="/loans">Try our loan calculator</a></p></div>',
    )


async def loans(request: Request) -> Response:
    result = ""
    if request.method == "POST":
        form = await request.form()
        try:
            amount = int(str(form.get("amount", "")))
            years = int(str(form.get("years", "")))
            if amount <= 0 or not 1 <= years <= 40:
                raise ValueError
        except ValueError:
            result = '<p role="alert">Enter a positive amount and a term of 1 to 40 years.</p>'
        else:
            monthly_rate = 0.05 / 12
            months = years * 12
            payment = amount * monthly_rate / (1 - (1 + monthly_rate) ** -months)
            await get_activity_logger(request).log(
                LOAN_CALCULATOR.code_name,
                CustomActivityData(title="Loan calculator usage", value=str(amount)),
            )
            result = (
                f'<p id="payment">Monthly payment: <strong>{payment:,.2f}</strong> '
                f"for {amount:,} over {years} years at 5%.</p>"
            )
    return page(
        request,
        "Loan calculator",
        '<div class="card"><h1>Loan calculator</h1><form method="post">'
        '<label>Amount <input name="amount" type="number" value="50000" min="1"></label> '
        '<label>Years <input name="years" type="number" value="10" min="1" max="40"></label> '
        f'<button type="submit">Calculate</button></form>{result}</div>',
    )


async def consent(request: Request) -> Response:
    choice = (await request.form()).get("choice")
    if choice == "accept":
        set_cookie_level(request, CookieLevel.ALL)
    elif choice in ("decline", "revoke"):
        set_cookie_level(request, CookieLevel.ESSENTIAL)
    return RedirectResponse(request.headers.get("referer") or "/", status_code=303)


async def my_activities(request: Request) -> Response:
    contact = get_current_contact(request)
    if contact is None:
        return page(request, "My activities", '<div class="card">Nothing is tracked.</div>')
    store = get_activity_logger(request).tracker.store
    rows = "".join(
        f"<tr><td>{escape(a.created.strftime('%Y-%m-%d %H:%M:%S'))}</td><td>{escape(a.type)}</td>"
        f"<td>{escape(a.title)}</td><td>{escape(a.value)}</td></tr>"
        for a in await store.activities(contact=contact.guid, limit=50)
    )
    return page(
        request,
        "My activities",
        f'<div class="card"><h1>My activities</h1><p>Contact {contact.guid}</p><table>'
        "<tr><th>When (UTC)</th><th>Type</th><th>Title</th><th>Value</th></tr>"
        f"{rows}</table></div>",
    )


def create_app(database: str | os.PathLike[str], secret_key: str | None = None) -> Starlette:
    """The demo site on ``database`` (an SQLite file, created when missing)."""
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    return Starlette(
        routes=[
            Route("/", home),
            Route("/loans", loans, methods=["GET", "POST"]),
            Route("/consent", consent, methods=["POST"]),
            Route("/me", my_activities),
        ],
        middleware=[
            Middleware(
                ActivityTrackingMiddleware,
                secret_key=secret_key or _secret_key(Path(database)),
                database=database,
                activity_types=[LOAN_CALCULATOR, CTA],
            )
        ],
    )


def _secret_key(database: Path) -> str:
    """A key kept beside the database, so cookies survive restarts of the demo."""
    key_file = database.with_suffix(".secret")
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()
