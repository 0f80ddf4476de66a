from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
import pytest
from fastapi import FastAPI
from fastapi import Request as FastAPIRequest
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from kxt_middleware import (
    ActivityCondition,
    ActivityStore,
    ActivityTrackingMiddleware,
    ContactGroup,
    CookieLevel,
    CustomActivityData,
    MiddlewareNotInstalledError,
    NoRequestContextError,
    StoreError,
    current_activity_logger,
    get_activity_logger,
    get_cookie_level,
    get_current_contact,
    has_chosen_cookie_level,
    is_in_contact_group,
    set_cookie_level,
)

from .helpers import LOAN, ROUTES, SECRET, every_activity, stored, stored_contacts

AppFactory = Callable[..., Starlette]


def cookie_values(client: TestClient) -> dict[str, str]:
    return {cookie.name: cookie.value or "" for cookie in client.cookies.jar}


def give_cookies(client: TestClient, values: dict[str, str]) -> None:
    for name, value in values.items():
        client.cookies.set(name, value, domain="testserver.local")


def set_cookies(response: httpx2.Response) -> dict[str, str]:
    found = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        found[name] = rest
    return found


def test_no_consent_no_cookie_no_contact(make_app: AppFactory, database: Path) -> None:
    with TestClient(make_app()) as client:
        response = client.post("/calculate")
        assert response.json() == {"status": "no_consent", "id": None, "contact": None}
        assert response.headers.get_list("set-cookie") == []
        assert client.get("/whoami").json() == {"level": 0, "contact": None}
    assert stored_contacts(database) == []
    assert stored(database) == []


def test_consent_then_log_creates_one_contact(make_app: AppFactory, database: Path) -> None:
    with TestClient(make_app()) as client:
        consent = client.post("/consent", json={"level": "ALL"})
        cookies = set_cookies(consent)
        assert list(cookies) == ["CMSCookieLevel"]  # no contact until something needs one
        assert (
            "HttpOnly" in cookies["CMSCookieLevel"] and "SameSite=Lax" in cookies["CMSCookieLevel"]
        )
        assert "Secure" not in cookies["CMSCookieLevel"]
        first = client.post("/calculate", headers={"referer": "http://testserver/loans"})
        assert first.json()["status"] == "logged"
        assert list(set_cookies(first)) == ["CurrentContact"]
        second = client.post("/calculate", json={"value": "7"})
        assert second.json()["contact"] == first.json()["contact"]
        assert set_cookies(second) == {}
    assert len(stored_contacts(database)) == 1
    assert stored(database, "type", "title", "value", "url", "referrer", "source") == [
        (
            "custom_loan_calculator",
            "Loan calculator usage",
            "50000",
            "http://testserver/calculate",
            "http://testserver/loans",
            "server",
        ),
        (
            "custom_loan_calculator",
            "Loan calculator usage",
            "7",
            "http://testserver/calculate",
            "",
            "server",
        ),
    ]


def test_results_say_why_nothing_was_logged(make_app: AppFactory) -> None:
    with TestClient(make_app()) as client:
        client.post("/consent", json={"level": "VISITOR"})
        assert client.post("/calculate", json={"type": "nobody_made"}).json()["status"] == (
            "type_unknown"
        )


def test_https_cookies_are_secure(make_app: AppFactory) -> None:
    with TestClient(make_app(), base_url="https://testserver") as client:
        client.post("/consent", json={})
        response = client.post("/calculate")
        assert all("; Secure" in value for value in set_cookies(response).values())


def test_same_site_none_requires_https_only(make_app: AppFactory) -> None:
    with pytest.raises(ValueError, match="https_only=True"):
        with TestClient(make_app(same_site="none")):
            pass
    with TestClient(make_app(same_site="none", https_only=True)) as client:
        cookie = set_cookies(client.post("/consent", json={}))["CMSCookieLevel"]
        assert "SameSite=None; Secure" in cookie


def test_tampered_cookies_read_as_absent(make_app: AppFactory) -> None:
    with TestClient(make_app()) as client:
        client.post("/consent", json={})
        contact = client.post("/calculate").json()["contact"]
        level_cookie = client.cookies["CMSCookieLevel"]
        contact_cookie = client.cookies["CurrentContact"]
    forged_level = "1000" + level_cookie[4:].replace("a", "b", 1)
    other = uuid.uuid4().hex
    forged_contact = other + contact_cookie[32:]
    with TestClient(make_app()) as client:
        client.cookies.set("CMSCookieLevel", forged_level)
        assert client.get("/whoami").json()["level"] == 0
        client.cookies.set("CMSCookieLevel", level_cookie)
        client.cookies.set("CurrentContact", forged_contact)
        fresh = client.post("/calculate").json()["contact"]
        assert fresh not in (contact, str(uuid.UUID(other)))


def test_cookies_of_another_secret_are_foreign(make_app: AppFactory) -> None:
    with TestClient(make_app(secret_key="another-site")) as client:
        client.post("/consent", json={})
        client.post("/calculate")
        foreign = cookie_values(client)
    with TestClient(make_app()) as client:
        give_cookies(client, foreign)
        assert client.get("/whoami").json() == {"level": 0, "contact": None}


def test_key_rotation_reissues_with_the_newest_key(make_app: AppFactory) -> None:
    with TestClient(make_app(secret_key="old")) as client:
        client.post("/consent", json={})
        contact = client.post("/calculate").json()["contact"]
        old_cookies = cookie_values(client)
    with TestClient(make_app(secret_key=["old", "new"])) as client:
        give_cookies(client, old_cookies)
        response = client.get("/whoami")
        assert response.json() == {"level": 1000, "contact": contact}
        assert sorted(set_cookies(response)) == ["CMSCookieLevel", "CurrentContact"]
        assert set_cookies(client.get("/whoami")) == {}  # re-issued once
        new_cookies = cookie_values(client)
    with TestClient(make_app(secret_key="new")) as client:
        give_cookies(client, new_cookies)
        assert client.get("/whoami").json() == {"level": 1000, "contact": contact}


def test_default_level_and_global_privacy_control(make_app: AppFactory) -> None:
    with TestClient(make_app(default_cookie_level=CookieLevel.ALL)) as client:
        assert client.post("/calculate").json()["status"] == "logged"
    with TestClient(make_app(default_cookie_level=CookieLevel.ALL)) as client:
        client.headers["Sec-GPC"] = "1"
        assert client.get("/level").json() == {"level": 0}
        assert client.post("/calculate").json()["status"] == "no_consent"
        client.post("/consent", json={"level": "ALL"})  # an explicit agreement wins
        assert client.post("/calculate").json()["status"] == "logged"
    with TestClient(
        make_app(default_cookie_level=CookieLevel.ALL, honor_global_privacy_control=False)
    ) as client:
        client.headers["Sec-GPC"] = "1"
        assert client.get("/level").json() == {"level": 1000}


def test_lowering_the_level_deletes_the_contact_cookie(make_app: AppFactory) -> None:
    with TestClient(make_app()) as client:
        client.post("/consent", json={"level": "ALL"})
        client.post("/calculate")
        assert "CurrentContact" in client.cookies
        response = client.post("/consent", json={"level": "ESSENTIAL"})
        cookies = set_cookies(response)
        assert (
            cookies["CurrentContact"].startswith('""') and "Max-Age=0" in cookies["CurrentContact"]
        )
        assert "CurrentContact" not in client.cookies
        assert client.post("/calculate").json()["status"] == "no_consent"


def test_a_contact_cookie_below_visitor_is_removed(make_app: AppFactory) -> None:
    with TestClient(make_app()) as client:
        client.post("/consent", json={})
        client.post("/calculate")
        del client.cookies["CMSCookieLevel"]
        response = client.get("/whoami")
        assert response.json() == {"level": 0, "contact": None}
        assert "Max-Age=0" in set_cookies(response)["CurrentContact"]


def test_bad_levels_raise(make_app: AppFactory) -> None:
    with pytest.raises(ValueError, match="not a cookie level"):
        with TestClient(make_app()) as client:
            client.post("/consent", json={"level": "PLENTY"})
    with pytest.raises(ValueError, match="not a cookie level"):
        make_app(default_cookie_level=7).build_middleware_stack()


def test_cookie_names_are_configurable(make_app: AppFactory) -> None:
    app = make_app(cookie_level_cookie="consent", contact_cookie="visitor")
    with TestClient(app) as client:
        client.post("/consent", json={})
        client.post("/calculate")
        assert sorted(client.cookies.keys()) == ["consent", "visitor"]


async def own_cookie(request: Request) -> Response:
    set_cookie_level(request, CookieLevel.ALL)
    response = PlainTextResponse("ok")
    response.set_cookie("theme", "dark")
    return response


def test_the_apps_own_cookies_are_kept(database: Path) -> None:
    app = Starlette(
        routes=[Route("/", own_cookie)],
        middleware=[Middleware(ActivityTrackingMiddleware, secret_key=SECRET, database=database)],
    )
    with TestClient(app) as client:
        assert sorted(set_cookies(client.get("/"))) == ["CMSCookieLevel", "theme"]


def test_fastapi_app(database: Path) -> None:
    app = FastAPI()
    app.add_middleware(
        ActivityTrackingMiddleware, secret_key=SECRET, database=database, activity_types=[LOAN]
    )

    @app.post("/consent")
    async def agree(request: FastAPIRequest) -> dict[str, int]:
        return {"level": set_cookie_level(request, CookieLevel.ALL)}

    @app.post("/calculate")
    async def calculate(amount: int) -> dict[str, str]:
        result = await current_activity_logger().log(
            "custom_loan_calculator", CustomActivityData(title="Loan", value=str(amount))
        )
        return {"status": result.status.value}

    with TestClient(app) as client:
        assert client.post("/calculate?amount=1").json() == {"status": "no_consent"}
        assert client.post("/consent").json() == {"level": 1000}
        assert client.post("/calculate?amount=50000").json() == {"status": "logged"}
    assert stored(database, "type", "value", "source") == [
        ("custom_loan_calculator", "50000", "server")
    ]


def test_current_logger_outside_a_request_says_why(make_app: AppFactory) -> None:
    with pytest.raises(NoRequestContextError, match="no request is being handled"):
        current_activity_logger()

    in_thread: list[object] = []
    later: list[asyncio.Task[object]] = []

    def attempt() -> object:
        try:
            return current_activity_logger()
        except NoRequestContextError as exc:
            return exc

    async def handler(request: Request) -> Response:
        assert current_activity_logger() is get_activity_logger(request)
        thread = threading.Thread(target=lambda: in_thread.append(attempt()))
        thread.start()
        thread.join()

        async def after_response() -> object:
            await asyncio.sleep(0.05)
            return attempt()

        later.append(asyncio.create_task(after_response()))
        return PlainTextResponse("ok")

    app = make_app()
    app.router.routes.append(Route("/spawn", handler))
    with TestClient(app) as client:
        client.get("/spawn")
        assert client.portal is not None
        outcome = client.portal.call(asyncio.wait_for, later[0], 5)
    assert isinstance(in_thread[0], NoRequestContextError)
    assert "worker thread" in str(in_thread[0])
    assert isinstance(outcome, NoRequestContextError)


def test_new_contact_after_the_response_started_is_refused(make_app: AppFactory) -> None:
    outcomes: list[object] = []

    async def log_later(request: Request) -> None:
        try:
            outcomes.append(await get_activity_logger(request).log("custom_loan_calculator"))
        except NoRequestContextError as exc:
            outcomes.append(exc)

    async def handler(request: Request) -> Response:
        if request.query_params.get("contact"):
            get_current_contact(request)
        return PlainTextResponse("ok", background=BackgroundTask(log_later, request))

    app = make_app()
    app.router.routes.append(Route("/later", handler))
    with TestClient(app) as client:
        client.post("/consent", json={})
        client.get("/later")
        client.get("/later?contact=1")
    assert isinstance(outcomes[0], NoRequestContextError)
    assert "response has already started" in str(outcomes[0])
    assert getattr(outcomes[1], "logged", False)


@pytest.mark.anyio
async def test_without_lifespan_the_store_opens_lazily(database: Path) -> None:
    store = ActivityStore(database, activity_types=[LOAN])
    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(ActivityTrackingMiddleware, secret_key=SECRET, store=store)],
    )
    transport = httpx2.ASGITransport(app=app)  # runs no lifespan
    async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await client.post("/consent", json={})
        assert (await client.post("/calculate")).json()["status"] == "logged"
    assert store.is_open
    await store.close()
    async with ActivityStore(database) as reopened:  # it was committed before the close
        [activity] = await every_activity(reopened)
    assert (activity.type, activity.value) == ("custom_loan_calculator", "50000")


def test_startup_fails_clearly_when_the_database_cannot_open(tmp_path: Path) -> None:
    app = Starlette(
        middleware=[
            Middleware(
                ActivityTrackingMiddleware,
                secret_key=SECRET,
                database=tmp_path / "missing" / "kxt.sqlite3",
            )
        ]
    )
    with pytest.raises(StoreError, match="does not exist; create it"):
        with TestClient(app):
            pass


def test_without_the_middleware_the_accessors_say_how_to_fix_it() -> None:
    async def handler(request: Request) -> Response:
        get_activity_logger(request)
        return PlainTextResponse("unreachable")

    with TestClient(Starlette(routes=[Route("/", handler)])) as client:
        with pytest.raises(
            MiddlewareNotInstalledError, match="ActivityTrackingMiddleware must be installed"
        ):
            client.get("/")


def test_websockets_see_the_visitor(make_app: AppFactory) -> None:
    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"level": int(get_cookie_level(websocket))})
        await websocket.close()

    app = make_app()
    app.router.routes.append(WebSocketRoute("/ws", socket))
    with TestClient(app) as client:
        client.post("/consent", json={})
        with client.websocket_connect("/ws") as connection:
            assert connection.receive_json() == {"level": 1000}


def test_invalid_input_from_python_raises(make_app: AppFactory) -> None:
    async def handler(request: Request) -> Response:
        logger = get_activity_logger(request)
        for code, data in (("bad code", None), ("custom_cta", CustomActivityData(value="x"))):
            try:
                await logger.log(code, data)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)})
        return JSONResponse({})

    app = make_app()
    app.router.routes.append(Route("/bad", handler))
    with TestClient(app) as client:
        assert "not a valid code name" in client.get("/bad").json()["error"]


def test_contact_groups_given_to_the_middleware_are_current_on_the_next_request(
    make_app: AppFactory,
) -> None:
    prospects = ContactGroup(
        "loan_prospects",
        "Loan prospects",
        conditions=(ActivityCondition("custom_loan_calculator", in_last_days=30),),
    )

    async def offer(request: Request) -> Response:
        return JSONResponse({"member": await is_in_contact_group(request, "loan_prospects")})

    app = make_app(contact_groups=[prospects])
    app.router.routes.append(Route("/offer", offer))
    with TestClient(app) as client:
        assert client.get("/offer").json() == {"member": False}
        client.post("/consent", json={})
        assert client.get("/offer").json() == {"member": False}
        client.post("/calculate")
        assert client.get("/offer").json() == {"member": True}
        client.post("/consent", json={"level": "ESSENTIAL"})
        assert client.get("/offer").json() == {"member": False}


def test_whether_the_visitor_chose_a_level(make_app: AppFactory) -> None:
    async def chosen(request: Request) -> Response:
        return JSONResponse({"chosen": has_chosen_cookie_level(request)})

    app = make_app()
    app.router.routes.append(Route("/chosen", chosen))
    with TestClient(app) as client:
        assert client.get("/chosen").json() == {"chosen": False}
        client.post("/consent", json={"level": "ESSENTIAL"})  # declined: still a choice
        assert client.get("/chosen").json() == {"chosen": True}
        client.cookies.set("CMSCookieLevel", "0.forged.signature", domain="testserver.local")
        assert client.get("/chosen").json() == {"chosen": False}


@pytest.mark.parametrize("opened_by_the_app", [False, True])
def test_activity_types_reach_a_shared_store(database: Path, opened_by_the_app: bool) -> None:
    store = ActivityStore(database)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if opened_by_the_app:  # e.g. the admin's store, opened before the middleware's turn
            await store.open()
        yield

    app = Starlette(
        routes=ROUTES,
        lifespan=lifespan,
        middleware=[
            Middleware(
                ActivityTrackingMiddleware, secret_key=SECRET, store=store, activity_types=[LOAN]
            )
        ],
    )
    with TestClient(app) as client:
        client.post("/consent", json={})
        assert client.post("/calculate").json()["status"] == "logged"
    assert not store.is_open


def test_current_logger_in_a_background_task_says_why(make_app: AppFactory) -> None:
    # A background task runs after the response, even for a visitor whose contact exists.
    outcomes: list[object] = []

    def attempt() -> None:
        try:
            outcomes.append(current_activity_logger())
        except NoRequestContextError as exc:
            outcomes.append(exc)

    async def handler(request: Request) -> Response:
        attempt()  # while handling: the logger of this request
        return PlainTextResponse("ok", background=BackgroundTask(attempt))

    app = make_app()
    app.router.routes.append(Route("/task", handler))
    with TestClient(app) as client:
        client.post("/consent", json={})
        client.post("/calculate")  # the contact exists
        client.get("/task")
    assert not isinstance(outcomes[0], Exception)
    assert isinstance(outcomes[1], NoRequestContextError)


def test_a_contact_deleted_while_the_visitor_consents_starts_anew(
    make_app: AppFactory, database: Path
) -> None:
    with TestClient(make_app()) as client:
        client.post("/consent", json={})
        first = client.post("/calculate").json()["contact"]
        assert client.portal is not None

        async def delete() -> None:  # as an operator would, from the admin or the CLI
            async with ActivityStore(database) as own:
                assert await own.delete_contact(uuid.UUID(first))

        client.portal.call(delete)
        erased = client.post("/calculate").json()
        # For the rest of that request there is no contact (its cookies may predate a revoke),
        # and the erased GUID's cookie is gone.
        assert erased == {"status": "contact_erased", "id": None, "contact": None}
        assert "CurrentContact" not in client.cookies
        again = client.post("/calculate").json()  # still consenting: a new contact
        assert again["status"] == "logged" and again["contact"] not in (None, first)
    assert len(stored(database)) == 1


def test_without_lifespan_every_request_loop_can_use_the_store(
    make_app: AppFactory, database: Path
) -> None:
    app = make_app()
    client = TestClient(app)  # no `with`: each request runs on a loop of its own
    client.post("/consent", json={})
    statuses = [client.post("/calculate").json()["status"] for _ in range(3)]
    assert statuses == ["logged"] * 3
    with TestClient(app) as managed:  # and a lifespan afterwards takes it over cleanly
        managed.cookies = client.cookies
        assert managed.post("/calculate").json()["status"] == "logged"
    assert len(stored(database)) == 4


def test_an_erased_contacts_cookie_is_removed(make_app: AppFactory, database: Path) -> None:
    async def log_only(request: Request) -> Response:
        result = await get_activity_logger(request).log("custom_loan_calculator")
        return JSONResponse({"status": result.status.value, "reason": result.reason})

    app = make_app()
    app.router.routes.append(Route("/log", log_only, methods=["POST"]))
    with TestClient(app) as client:
        client.post("/consent", json={})
        guid = uuid.UUID(client.post("/calculate").json()["contact"])

        async def delete() -> None:
            async with ActivityStore(database) as own:
                await own.delete_contact(guid)

        assert client.portal is not None
        client.portal.call(delete)
        response = client.post("/log")
        assert response.json()["status"] == "contact_erased"
        assert "continues as a new contact" in response.json()["reason"]
        assert "Max-Age=0" in set_cookies(response)["CurrentContact"]
        assert "CurrentContact" not in client.cookies


def test_a_request_sent_before_a_revoke_stores_nothing_after_it(
    make_app: AppFactory, database: Path
) -> None:
    async def log_twice(request: Request) -> Response:
        logger = get_activity_logger(request)
        first = await logger.log("custom_loan_calculator")
        second = await logger.log("custom_loan_calculator")
        contact = get_current_contact(request)
        return JSONResponse([first.status.value, second.status.value, contact is None])

    app = make_app()
    app.router.routes.append(Route("/twice", log_twice, methods=["POST"]))
    with TestClient(app) as client:
        client.post("/consent", json={})
        client.post("/calculate")
        before_revoke = cookie_values(client)
        client.post("/consent", json={"level": "ESSENTIAL"})  # revoke: the contact is erased
        give_cookies(client, before_revoke)  # a request that left before the revoke arrives
        late = client.post("/twice")
    assert late.json() == ["contact_erased", "contact_erased", True]
    assert "Max-Age=0" in set_cookies(late)["CurrentContact"]
    assert stored_contacts(database) == []
    assert stored(database) == []


def test_a_request_kept_past_its_response_says_to_pass_the_logger(make_app: AppFactory) -> None:
    kept: list[Request] = []
    outcomes: list[object] = []

    async def handler(request: Request) -> Response:
        kept.append(request)
        return PlainTextResponse("ok")

    async def later(request: Request) -> Response:
        try:
            get_activity_logger(kept[0])
        except NoRequestContextError as exc:
            outcomes.append(exc)
        return PlainTextResponse("ok")

    app = make_app()
    app.router.routes += [Route("/keep", handler), Route("/later", later)]
    with TestClient(app) as client:
        client.get("/keep")
        client.get("/later")
    [error] = outcomes
    assert "pass it to the work that runs later" in str(error)


def test_a_mounted_app_with_its_own_middleware_gives_the_outer_state_back(
    make_app: AppFactory,
) -> None:
    async def inner_level(request: Request) -> Response:
        return PlainTextResponse(str(int(get_cookie_level(request))))

    inner = Starlette(
        routes=[Route("/level", inner_level)],
        middleware=[Middleware(ActivityTrackingMiddleware, secret_key=SECRET, prefix="/inner-kxt")],
    )

    async def outer_after(request: Request) -> Response:
        await inner(request.scope, request.receive, lambda message: asyncio.sleep(0))
        return PlainTextResponse(str(int(get_cookie_level(request))))  # the outer state again

    app = make_app()
    app.router.routes.append(Route("/both", outer_after))
    with TestClient(app) as client:
        client.post("/consent", json={})
        assert client.get("/both").text == "1000"


@pytest.mark.parametrize("path", ["/level", "/calculate"])
def test_a_request_leaves_no_reference_cycle(make_app: AppFactory, path: str) -> None:
    # What a request allocates is freed when it ends, not left for the garbage collector.
    import gc

    with TestClient(make_app()) as client:
        client.post("/consent", json={})
        client.post(path) if path == "/calculate" else client.get(path)
        gc.collect()
        gc.disable()
        try:
            for _ in range(20):
                client.post(path) if path == "/calculate" else client.get(path)
            assert client.portal is not None
            leaked = client.portal.call(_garbage_of_this_middleware)
        finally:
            gc.enable()
    assert leaked == []


async def _garbage_of_this_middleware() -> list[str]:
    import gc

    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        ours = sorted(
            {
                type(thing).__qualname__
                for thing in gc.garbage
                if type(thing).__module__.startswith("kxt_middleware")
            }
        )
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
    return ours
