"""Demo Bank: a small bank website built on kxt-middleware the way a user of the package builds it.

- a consent banner (Essential by default; Accept sets All, Decline keeps Essential; the
  "Cookie settings" page changes the choice later, and withdrawing consent erases the data);
- a loan calculator that logs ``custom_loan_calculator`` with the loan size from the server
  (the form posts) and from the browser ("Calculate instantly" calls ``kxt('customactivity')``);
- a "See our special offers!" CTA logging ``custom_cta`` through a renamed function
  (``customActivityTracker``) on a page whose legacy widget owns ``window.kxt``;
- the contact groups "Loan prospects" (a loan offer at 3.9 % on the home page for its members)
  and "Offer seekers";
- customer pages in a customer's words; each page's "How this demo works" panel says what was
  tracked there and how;
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
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from kxt_middleware import (
    Activity,
    ActivityCondition,
    ActivityStore,
    ActivityTrackingMiddleware,
    ActivityType,
    ContactGroup,
    CookieLevel,
    CustomActivityData,
    LogResult,
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

OFFER_SEEKERS = ContactGroup(
    "offer_seekers",
    "Offer seekers",
    "Contacts who clicked through to the special offers in the last 30 days.",
    conditions=[ActivityCondition(CTA.code_name, at_least=1, in_last_days=30)],
)

ADMIN_NAME = "demo"
ANNUAL_RATE = 0.05  # the calculator's interest rate
PERSONAL_RATE = 0.039  # the rate of the loan offer for "Loan prospects"
PERSONAL_OFFER = "personal"  # /loans?offer=personal: the calculator at the personal rate
MIN_AMOUNT = 1_000
MAX_AMOUNT = 10_000_000
MAX_YEARS = 40


def _visitor(request: Request) -> dict[str, Any]:
    """What every page's banner and footer need to know about the visitor's choice."""
    return {
        "tracking_on": get_cookie_level(request).allows_tracking,
        # declining keeps the default level (Essential), so ask whether the visitor chose
        "consent_chosen": has_chosen_cookie_level(request),
    }


def money(amount: float, cents: bool = False) -> str:
    """An amount in euros as the site shows it: whole euros without cents unless asked."""
    return f"€{amount:,.2f}" if cents or amount != int(amount) else f"€{amount:,.0f}"


def percent(rate: float) -> str:
    """A rate such as 0.039 as ``3.9 %`` (with a no-break space)."""
    return f"{rate * 100:.1f}".removesuffix(".0") + "\u00a0%"


templates = Jinja2Templates(directory=HERE / "templates", context_processors=[_visitor])
templates.env.filters.update(money=money, percent=percent)
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
    return templates.TemplateResponse(
        request,
        "home.html",
        {"page": "home", "rate": ANNUAL_RATE, "personal_rate": PERSONAL_RATE},
    )


@dataclass(frozen=True)
class Loan:
    amount: int
    years: int
    annual_rate: float = ANNUAL_RATE

    @property
    def monthly_payment(self) -> float:
        rate = self.annual_rate / 12
        return self.amount * rate / (1 - (1 + rate) ** -(self.years * 12))


def _loan(form: FormData, annual_rate: float) -> Loan | None:
    try:
        amount, years = int(str(form.get("amount", ""))), int(str(form.get("years", "")))
    except ValueError:
        return None
    if not MIN_AMOUNT <= amount <= MAX_AMOUNT or not 1 <= years <= MAX_YEARS:
        return None
    return Loan(amount, years, annual_rate)


async def _annual_rate(request: Request, offer: object) -> float:
    """The personal rate when the visitor asks for their offer and has it, else the usual one."""
    if offer == PERSONAL_OFFER and await is_in_contact_group(request, LOAN_PROSPECTS.code_name):
        return PERSONAL_RATE
    return ANNUAL_RATE


async def loans(request: Request) -> Response:
    form = await request.form() if request.method == "POST" else None
    offer = (form or request.query_params).get("offer")
    rate = await _annual_rate(request, offer)
    context: dict[str, Any] = {
        "page": "loans",
        "amount": 50_000,
        "years": 10,
        "rate": rate,
        "personal_rate": PERSONAL_RATE,
        "offer": offer if rate == PERSONAL_RATE else None,
        "example_payment": Loan(50_000, 10, rate).monthly_payment,
        "min_amount": MIN_AMOUNT,
        "max_amount": MAX_AMOUNT,
        "max_years": MAX_YEARS,
    }
    status = 200
    if form is not None:
        loan = _loan(form, rate)
        context.update(amount=form.get("amount", ""), years=form.get("years", ""))
        if loan is None:
            context["error"] = (
                f"Enter an amount of {money(MIN_AMOUNT)} to {money(MAX_AMOUNT)} and a term of 1 to "
                f"{MAX_YEARS} years."
            )
            status = 422
        else:
            # The server-side way: one call; without consent it is not logged, and the result
            # says so (the page tells the visitor what really happened).
            logged: LogResult = await get_activity_logger(request).log(
                LOAN_CALCULATOR.code_name,
                CustomActivityData(title="Loan calculator usage", value=str(loan.amount)),
            )
            context.update(loan=loan, logged=logged)
    return templates.TemplateResponse(request, "loans.html", context, status_code=status)


async def accounts(request: Request) -> Response:
    return templates.TemplateResponse(request, "accounts.html", {"page": "accounts"})


async def offers(request: Request) -> Response:
    # The other way to personalize: await the check in the endpoint.
    prospect = await is_in_contact_group(request, LOAN_PROSPECTS.code_name)
    return templates.TemplateResponse(
        request,
        "offers.html",
        {"page": "offers", "prospect": prospect, "personal_rate": PERSONAL_RATE},
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
            request,
            "me.html",
            {
                "page": "me",
                "contact": contact,
                "records": [(a, *described(a)) for a in activities],
            },
        )

    return my_data


_PAGE_NAMES = {
    "/": "Home",
    "/loans": "Loan calculator",
    "/accounts": "Accounts",
    "/offers": "Special offers",
    "/cookies": "Cookie settings",
    "/me": "Your data",
}


def described(activity: Activity) -> tuple[str, str]:
    """What a visitor reads on "Your data" for one of their activities: what, and details."""
    if activity.type == LOAN_CALCULATOR.code_name and activity.value.isdigit():
        return "Used the loan calculator", f"A loan of {money(int(activity.value))}"
    if activity.type == CTA.code_name:
        return "Opened the special offers", "From the accounts page"
    page = _PAGE_NAMES.get(_path(activity.url), _path(activity.url))
    if activity.type == "landingpage":
        return "Arrived on our site", page
    if activity.type == "pagevisit":
        return "Visited a page", page
    return activity.title or activity.type, activity.value


def _path(url: str) -> str:
    """The path of ``url`` (``/`` for an empty one)."""
    return urlsplit(url).path or "/"


async def not_found(request: Request, exc: Exception) -> Response:
    """Unknown pages: the site's own page, with a way back."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    return templates.TemplateResponse(
        request, "not-found.html", {"page": "not-found"}, status_code=status
    )


async def favicon(request: Request) -> Response:
    """Browsers ask for /favicon.ico without looking at the page: point them to the SVG."""
    return RedirectResponse("/static/favicon.svg", status_code=301)


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
            Route("/favicon.ico", favicon),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
            Mount("/admin", app=admin),
        ],
        middleware=[
            Middleware(
                ActivityTrackingMiddleware,
                secret_key=secret_key,
                store=store,
                contact_groups=[LOAN_PROSPECTS, OFFER_SEEKERS],  # created when absent
            )
        ],
        exception_handlers={404: not_found},
        lifespan=lifespan,
    )


def _derive(key: str, purpose: str) -> str:
    """A separate key for ``purpose``, so one secret file serves the site and the admin."""
    return hmac.new(key.encode(), purpose.encode(), hashlib.sha256).hexdigest()
