"""Demo Bank: a small bank website built on kxt-middleware the way a user of the package builds it.

- a consent banner (Essential by default; Accept sets All, Decline keeps Essential; the
  "Cookie settings" page changes the choice later, and withdrawing consent erases the data);
- a loan calculator that logs ``custom_loan_calculator`` with the loan size from the server
  (the form posts) and from the browser ("Calculate instantly" calls ``kxt('customactivity')``);
- a "See our special offers!" CTA logging ``custom_cta`` through a renamed function
  (``customActivityTracker``) on a page whose legacy widget owns ``window.kxt``;
- the contact group "Loan prospects" and a loan offer on the home page for its members;
- the marketer admin at ``/admin``, with a demo operator created at first start.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from kxt_middleware import (
    ActivityCondition,
    ActivityStore,
    ActivityTrackingMiddleware,
    ActivityType,
    ContactGroup,
    CookieLevel,
    CustomActivityData,
    add_to_templates,
    contact_groups,
    get_activity_logger,
    get_cookie_level,
    get_current_contact,
    has_chosen_cookie_level,
    is_cross_site_request,
    is_in_contact_group,
    register_personalization,
    set_cookie_level,
)
from kxt_middleware.admin import (
    admin_app,
    create_operator,
    operator_exists,
    set_operator_password,
)

HERE = Path(__file__).resolve().parent
DEFAULT_DATABASE = HERE / "data" / "demo.sqlite3"

LOAN_CALCULATOR = ActivityType(
    "custom_loan_calculator",
    "Loan calculator usage",
    "A visitor ran the loan calculator; the value is the loan size.",
)
CTA = ActivityType("custom_cta", "Custom CTA click", "A visitor clicked a call-to-action button.")
LOAN_PROSPECTS = ContactGroup(
    "loan_prospects",
    "Loan prospects",
    "Contacts who used the loan calculator in the last 30 days.",
    conditions=[ActivityCondition(LOAN_CALCULATOR.code_name, at_least=1, in_last_days=30)],
)

ADMIN_NAME = "demo"
ANNUAL_RATE = 0.05  # the calculator's interest rate
MAX_AMOUNT = 10_000_000
MAX_YEARS = 40


def _visitor(request: Request) -> dict[str, Any]:
    """What every page's banner and footer need to know about the visitor's choice."""
    return {
        "tracking_on": get_cookie_level(request).allows_tracking,
        # declining keeps the default level (Essential), so ask whether the visitor chose
        "consent_chosen": has_chosen_cookie_level(request),
    }


templates = Jinja2Templates(directory=HERE / "templates", context_processors=[_visitor])
add_to_templates(templates)  # {{ activity_logging_script(request) }} in the layout
register_personalization(templates)  # {% if is_in_contact_group('loan_prospects') %}


@dataclass
class DemoFiles:
    """The files of one demo installation, all beside its SQLite database."""

    database: Path
    password_created: bool = False  # set when admin_password() wrote a new password file

    @property
    def secret_file(self) -> Path:
        """The random signing key, so cookies and admin sessions survive restarts."""
        return self.database.with_name(self.database.name + ".secret")

    @property
    def password_file(self) -> Path:
        """The demo operator's password (the operator is named ``demo``)."""
        return self.database.with_name(self.database.name + ".admin-password")

    def secret_key(self) -> str:
        return _read_or_create(self.secret_file, lambda: secrets.token_urlsafe(32))[0]

    def admin_password(self) -> str:
        password, created = _read_or_create(self.password_file, lambda: secrets.token_urlsafe(12))
        self.password_created = self.password_created or created
        return password


def _read_or_create(path: Path, make: Callable[[], str]) -> tuple[str, bool]:
    """The text kept in ``path`` (first written, readable by its owner only, when missing) and
    whether it was written now."""
    created = False
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(make() + "\n")
        created = True
    return path.read_text().strip(), created


# -- pages --------------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    # Templates render synchronously: load the visitor's groups for the template globals first.
    await contact_groups(request)
    return templates.TemplateResponse(request, "home.html", {"page": "home"})


@dataclass(frozen=True)
class Loan:
    amount: int
    years: int

    @property
    def monthly_payment(self) -> float:
        rate = ANNUAL_RATE / 12
        return self.amount * rate / (1 - (1 + rate) ** -(self.years * 12))


def _loan(form: FormData) -> Loan | None:
    try:
        loan = Loan(int(str(form.get("amount", ""))), int(str(form.get("years", ""))))
    except ValueError:
        return None
    if not 1 <= loan.amount <= MAX_AMOUNT or not 1 <= loan.years <= MAX_YEARS:
        return None
    return loan


async def loans(request: Request) -> Response:
    context: dict[str, Any] = {"page": "loans", "amount": 50_000, "years": 10}
    status = 200
    if request.method == "POST":
        form = await request.form()
        loan = _loan(form)
        context.update(amount=form.get("amount", ""), years=form.get("years", ""))
        if loan is None:
            context["error"] = (
                f"Enter an amount of 1 to {MAX_AMOUNT:,} and a term of 1 to {MAX_YEARS} years."
            )
            status = 422
        else:
            # The server-side way: one call; without consent it is simply not logged.
            await get_activity_logger(request).log(
                LOAN_CALCULATOR.code_name,
                CustomActivityData(title="Loan calculator usage", value=str(loan.amount)),
            )
            context["loan"] = loan
    context.update(rate=ANNUAL_RATE, max_amount=MAX_AMOUNT, max_years=MAX_YEARS)
    return templates.TemplateResponse(request, "loans.html", context, status_code=status)


async def accounts(request: Request) -> Response:
    return templates.TemplateResponse(request, "accounts.html", {"page": "accounts"})


async def offers(request: Request) -> Response:
    # The other way to personalize: await the check in the endpoint.
    prospect = await is_in_contact_group(request, LOAN_PROSPECTS.code_name)
    return templates.TemplateResponse(
        request, "offers.html", {"page": "offers", "prospect": prospect}
    )


async def cookie_settings(request: Request) -> Response:
    return templates.TemplateResponse(request, "cookies.html", {"page": "cookies"})


async def consent(request: Request) -> Response:
    """The banner's and the settings page's forms: POST, then back where the visitor was."""
    if is_cross_site_request(request):
        # Only the visitor, on this site, may give consent: never a form on another site.
        return Response("consent is given on this site only", status_code=403)
    form = await request.form()
    choice = form.get("choice")
    if choice == "accept":
        set_cookie_level(request, CookieLevel.ALL)
    elif choice in ("decline", "revoke"):
        # Below Visitor: the contact cookie goes, and (erase_on_revoke) so does its data.
        set_cookie_level(request, CookieLevel.ESSENTIAL)
    else:
        return Response("choice must be accept, decline or revoke", status_code=400)
    return RedirectResponse(_local_path(form.get("next")), status_code=303)


def _local_path(target: object) -> str:
    """``target`` if it is a path on this site, else ``/`` (never an open redirect)."""
    if isinstance(target, str) and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def my_data_page(store: ActivityStore) -> Callable[[Request], Any]:
    async def my_data(request: Request) -> Response:
        contact = get_current_contact(request)
        activities = [] if contact is None else await store.activities(contact=contact.guid)
        return templates.TemplateResponse(
            request, "me.html", {"page": "me", "contact": contact, "activities": activities}
        )

    return my_data


# -- the application ----------------------------------------------------------------------------


def create_app(
    database: str | os.PathLike[str] = DEFAULT_DATABASE,
    *,
    on_ready: Callable[[], None] | None = None,
) -> Starlette:
    """The demo site on ``database`` (an SQLite file, created when missing).

    The signing key and the demo operator's password are kept in files beside the database, so
    a restart on the same database keeps visitors' cookies and the admin sign-in. ``on_ready``
    runs once the store is open and the demo operator exists.
    """
    files = DemoFiles(Path(database))
    files.database.parent.mkdir(parents=True, exist_ok=True)
    secret_key = files.secret_key()
    password = files.admin_password()
    # One store for the site and the admin; it creates the site's types when it opens (the
    # middleware's activity_types= would do the same for a store it is given).
    store = ActivityStore(files.database, activity_types=[LOAN_CALCULATOR, CTA])
    admin = admin_app(secret_key=_derive(secret_key, "admin sessions"), store=store)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()  # the middleware would open it after start-up; the operator needs it now
        if not await operator_exists(store, ADMIN_NAME):
            await create_operator(store, ADMIN_NAME, password)
        elif files.password_created:  # the password file was deleted: the new one applies
            await set_operator_password(store, ADMIN_NAME, password)
        if on_ready is not None:
            on_ready()
        try:
            yield
        finally:
            await admin.close()

    return Starlette(
        routes=[
            Route("/", home),
            Route("/loans", loans, methods=["GET", "POST"]),
            Route("/accounts", accounts),
            Route("/offers", offers),
            Route("/cookies", cookie_settings),
            Route("/consent", consent, methods=["POST"]),
            Route("/me", my_data_page(store)),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
            Mount("/admin", app=admin),
        ],
        middleware=[
            Middleware(
                ActivityTrackingMiddleware,
                secret_key=secret_key,
                store=store,
                contact_groups=[LOAN_PROSPECTS],  # created at first start when absent
            )
        ],
        lifespan=lifespan,
    )


def _derive(key: str, purpose: str) -> str:
    """A separate key for ``purpose``, so one secret file serves the site and the admin."""
    return hmac.new(key.encode(), purpose.encode(), hashlib.sha256).hexdigest()
