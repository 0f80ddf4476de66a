"""kxt.js in a real Chromium against real uvicorn: what a visitor's browser logs, and what not.

Each test builds a small site as a user would (``ActivityTrackingMiddleware`` plus pages that
render ``activity_logging_script(request, ...)``), drives it with Playwright and reads what was
stored from the SQLite file.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import Route as PlaywrightRoute
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from kxt_middleware import activity_logging_script

from .pages import (
    ACTIVITIES,
    CONSENT,
    COUNT_JSON_READS,
    CSP_HEADER,
    CTA_CALL,
    PREFIX,
    RECORD_SENDS,
    Watch,
    document,
    html_page,
    pump_until,
    recorded_sends,
    settle,
    stored,
    tracking_app,
    wait_for_stored,
)

Serve = Callable[[ASGIApp], str]


# A CTA whose clicks log the values c1, c2, c3, ...
COUNTING_CTA = (
    "<script>var n = 0</script><button id=cta "
    "onclick=\"kxt('customactivity',{type:'custom_cta',value:'c'+(++n)})\">go</button>"
)


def consenting_cta_page(
    page: Page, serve: Serve, database: Path, init_script: str | None = None
) -> Watch:
    """The CTA page (no page visit) opened by a visitor who agreed; its requests watched."""
    base = serve(tracking_app(database, [Route("/", html_page(CTA_BUTTON, log_page_visit=False))]))
    if init_script is not None:
        page.add_init_script(init_script)
    watch = Watch.attach(page)
    page.goto(base + "/agree")
    page.goto(base + "/")
    return watch


CTA_BUTTON = f'<button id="cta" onclick="{CTA_CALL}">Get a loan</button>'
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def test_cta_click_logs_one_activity(
    page: Page, serve: Serve, tmp_path: Path, artifacts_dir: Path
) -> None:
    database = tmp_path / "kxt.sqlite3"
    base = serve(
        tracking_app(
            database,
            [Route("/cta", html_page(f"<h1>Loans</h1>{CTA_BUTTON}", log_page_visit=False))],
        )
    )
    watch = Watch.attach(page)
    page.goto(base + "/agree")
    page.goto(base + "/cta")
    expect(page.locator("#cta")).to_be_visible()
    assert page.evaluate("typeof kxt === 'function' && kxt.q === undefined")

    page.click("#cta")
    [row] = wait_for_stored(database, 1)
    assert (row.type, row.value, row.title, row.source) == (
        "custom_cta",
        "btnCTA",
        "Custom CTA click",
        "browser",
    )
    assert row.url == base + "/cta"
    assert row.referrer == ""  # typed in the address bar: no referrer
    assert UUID4.fullmatch(row.id)
    settle(page, watch)
    assert stored(database) == [row]

    # One CORS-simple request: text/plain JSON, answered with the result and the level.
    [request] = watch.sent()
    assert request.method == "POST"
    assert request.headers["content-type"] == "text/plain;charset=UTF-8"
    body = json.loads(request.post_data or "")
    assert body == {
        "activities": [
            {
                "id": row.id,
                "type": "custom_cta",
                "value": "btnCTA",
                "title": "Custom CTA click",
                "url": base + "/cta",
                "referrer": "",
            }
        ]
    }
    [response] = [r for r in watch.responses if r.url.endswith(ACTIVITIES)]
    assert response.status == 200
    assert response.json() == {"results": [{"id": row.id, "status": "logged"}], "level": 1000}
    assert watch.errors == []

    shot = artifacts_dir / "cta.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0


FOREIGN_KXT = (
    "<script>window.kxt = function () { window.__foreignCalls = (window.__foreignCalls || 0) + 1 };"
    " window.kxt.mine = true;</script>"
)


def test_renamed_function_leaves_a_foreign_kxt_alone(
    page: Page, serve: Serve, tmp_path: Path
) -> None:
    database = tmp_path / "kxt.sqlite3"
    button = CTA_BUTTON.replace("kxt(", "customActivityTracker(")
    endpoint = html_page(
        button,
        head=FOREIGN_KXT,
        log_page_visit=False,
        logging_function_name="customActivityTracker",
    )
    base = serve(tracking_app(database, [Route("/", endpoint)]))
    page.goto(base + "/agree")
    page.goto(base + "/")

    page.click("#cta")
    [row] = wait_for_stored(database, 1)
    assert (row.type, row.value, row.title) == ("custom_cta", "btnCTA", "Custom CTA click")
    state = page.evaluate(
        "[window.kxt.mine, window.__foreignCalls, window.kxt.q,"
        " typeof customActivityTracker, window.kxt === window.customActivityTracker]"
    )
    assert state == [True, None, None, "function", False]


def test_two_tags_with_different_names_both_log(page: Page, serve: Serve, tmp_path: Path) -> None:
    database = tmp_path / "kxt.sqlite3"

    async def endpoint(request: Request) -> Response:
        second = activity_logging_script(
            request, log_page_visit=False, logging_function_name="customActivityTracker"
        )
        body = (
            "<button id=one onclick=\"kxt('customactivity',{type:'custom_cta',value:'one'})\">"
            "1</button><button id=two onclick=\"customActivityTracker('customactivity',"
            "{type:'custom_cta',value:'two'})\">2</button>"
        )
        return HTMLResponse(document(request, body, after=str(second), log_page_visit=False))

    base = serve(tracking_app(database, [Route("/", endpoint)]))
    watch = Watch.attach(page)
    page.goto(base + "/agree")
    page.goto(base + "/")
    assert page.evaluate("typeof kxt + typeof customActivityTracker") == "functionfunction"

    page.click("#one")
    page.click("#two")
    rows = wait_for_stored(database, 2)
    assert sorted(row.value for row in rows) == ["one", "two"]
    assert {row.type for row in rows} == {"custom_cta"}
    settle(page, watch)
    assert sorted(watch.sent_values()) == ["one", "two"]
    assert watch.errors == []


def test_calls_before_the_script_loads_are_queued_then_replayed(
    page: Page, serve: Serve, tmp_path: Path
) -> None:
    database = tmp_path / "kxt.sqlite3"
    inline = (
        "<script>kxt('customactivity',{type:'custom_cta',value:'early',title:'In head'});"
        "window.__stubbed = Array.isArray(kxt.q);</script>"
    )
    button = "<button id=cta onclick=\"kxt('customactivity',{type:'custom_cta',value:'click'})\">"
    endpoint = html_page(button + "go</button>", after=inline, log_page_visit=True)
    base = serve(tracking_app(database, [Route("/", endpoint)]))
    watch = Watch.attach(page)
    page.goto(base + "/agree")

    # Hold kxt.js back until the page has queued calls on the stub.
    held: list[PlaywrightRoute] = []
    page.route(f"**{PREFIX}/kxt.*.js", lambda route: held.append(route))
    page.goto(base + "/", wait_until="domcontentloaded")
    page.click("#cta")
    assert page.evaluate("[window.__stubbed, kxt.q.length]") == [True, 2]
    pump_until(page, lambda: bool(held))
    assert stored(database) == []

    held[0].continue_()
    rows = wait_for_stored(database, 4)
    # The page visit (and the visit's landing page) first, then the queued calls in order.
    assert [(row.type, row.value) for row in rows] == [
        ("pagevisit", ""),
        ("landingpage", ""),
        ("custom_cta", "early"),
        ("custom_cta", "click"),
    ]
    assert rows[2].title == "In head"
    assert page.evaluate("kxt.q === undefined && typeof kxt")
    # Calls made together go out together, in one request.
    settle(page, watch)
    [request] = watch.sent()
    assert [a["type"] for a in request.post_data_json["activities"]] == ["pagevisit"] + [
        "custom_cta"
    ] * 2


def test_links_that_navigate_away_log_every_click(page: Page, serve: Serve, tmp_path: Path) -> None:
    database = tmp_path / "kxt.sqlite3"
    clicks = 50

    async def links(request: Request) -> Response:
        n = int(request.path_params["n"])
        link = (
            f'<a id="go" href="/links/{n + 1}" '
            f"onclick=\"kxt('customactivity',{{type:'custom_cta',value:'link{n}'}})\">next</a>"
        )
        return HTMLResponse(document(request, link, log_page_visit=False))

    base = serve(tracking_app(database, [Route("/links/{n:int}", links)]))
    page.add_init_script(RECORD_SENDS)
    page.goto(base + "/agree")
    page.goto(base + "/links/0")
    for n in range(clicks):
        page.click("#go")
        page.wait_for_url(f"{base}/links/{n + 1}")  # waits for load: kxt.js has run

    rows = wait_for_stored(database, clicks, timeout=10)
    assert sorted(row.value for row in rows) == sorted(f"link{n}" for n in range(clicks))
    assert len({row.id for row in rows}) == clicks
    for row in rows:
        n = int(row.value.removeprefix("link"))
        assert row.url == f"{base}/links/{n}"
    # Each click went out in a request that may outlive its page: fetch with keepalive (or a
    # beacon). Without keepalive a navigation may cancel the request; this must not pass by luck.
    # (A fetch the navigation cut off is retried as a beacon with the same id: stored once.)
    sends = recorded_sends(page)
    assert {
        activity["id"] for send in sends for activity in json.loads(send["body"])["activities"]
    } == {row.id for row in rows}
    assert [send for send in sends if not (send["how"] == "beacon" or send["keepalive"])] == []


def test_a_click_before_the_script_loaded_is_sent_when_the_page_is_left(
    page: Page, serve: Serve, tmp_path: Path
) -> None:
    database = tmp_path / "kxt.sqlite3"
    link = (
        '<a id="go" href="/next" '
        "onclick=\"kxt('customactivity',{type:'custom_cta',value:'early',title:'Early'})\">go</a>"
    )
    routes = [
        Route("/early", html_page(link, log_page_visit=False)),
        Route("/next", html_page("next page", log_page_visit=False)),
        Route("/held", html_page(link, log_page_visit=False)),
    ]
    base = serve(tracking_app(database, routes))
    page.add_init_script(RECORD_SENDS)
    held: list[PlaywrightRoute] = []
    page.route("**/kxt.*.js", lambda route: held.append(route))  # kxt.js never arrives
    try:
        page.goto(base + "/held", wait_until="domcontentloaded")
        page.click("#go")  # no consent yet: the stub sends nothing
        page.wait_for_url(base + "/next", wait_until="domcontentloaded")
        page.goto(base + "/agree", wait_until="domcontentloaded")
        page.goto(base + "/early", wait_until="domcontentloaded")
        page.click("#go")
        page.wait_for_url(base + "/next", wait_until="domcontentloaded")
        rows = wait_for_stored(database, 1)
    finally:
        page.unroute("**/kxt.*.js")
    assert [(r.type, r.value, r.title, r.url, r.source) for r in rows] == [
        ("custom_cta", "early", "Early", base + "/early", "browser")
    ]
    # Sent once: the page records each send before it goes (kxt.js never arrived to send more).
    sends = recorded_sends(page)
    assert [send["how"] for send in sends] == ["beacon"]
    assert len(stored(database)) == 1


def test_a_revoke_queued_before_the_script_loaded_wins_when_the_page_is_left(
    page: Page, serve: Serve, tmp_path: Path
) -> None:
    database = tmp_path / "kxt.sqlite3"
    calls = (
        "kxt('customactivity',{type:'custom_cta',value:'before'});kxt('consentrevoke');"
        "kxt('customactivity',{type:'custom_cta',value:'after'})"
    )
    routes = [
        Route("/early", html_page(f'<a id="go" href="/next" onclick="{calls}">go</a>')),
        Route("/next", html_page("next page", log_page_visit=False)),
    ]
    base = serve(tracking_app(database, routes))
    page.goto(base + "/agree")
    page.goto(base + "/next")  # kxt.js runs here
    page.evaluate("kxt('customactivity', {type: 'custom_cta', value: 'earlier'})")
    assert [row.value for row in wait_for_stored(database, 1)] == ["earlier"]
    page.add_init_script(RECORD_SENDS)
    held: list[PlaywrightRoute] = []
    page.route("**/kxt.*.js", lambda route: held.append(route))  # kxt.js never arrives
    try:
        page.goto(base + "/early", wait_until="domcontentloaded")
        page.click("#go")
        page.wait_for_url(base + "/next", wait_until="domcontentloaded")
        pump_until(page, lambda: not stored(database))  # the revocation erased "earlier"
    finally:
        page.unroute("**/kxt.*.js")
    # Only the revocation went out: the contact and its activities are erased, nothing else
    # was stored, and the level cookie is below Visitor.
    assert stored(database) == []
    assert [json.loads(send["body"]) for send in recorded_sends(page)] == []
    levels = [c for c in page.context.cookies() if c["name"] == "CMSCookieLevel"]
    assert levels and all(c["value"].startswith("0.") for c in levels)


def test_without_consent_nothing_is_sent_until_the_visitor_agrees(
    page: Page, serve: Serve, tmp_path: Path
) -> None:
    database = tmp_path / "kxt.sqlite3"
    endpoint = html_page(COUNTING_CTA, title="Held", log_page_visit=True)
    base = serve(tracking_app(database, [Route("/held", endpoint)]))
    watch = Watch.attach(page)
    page.goto(base + "/held")
    assert page.evaluate("document.querySelector('script[data-fn]').dataset.level") == "0"

    held = 25  # more than the server takes in one request (20)
    for _ in range(held):
        page.click("#cta")
    settle(page, watch)
    assert watch.sent() == []
    assert stored(database) == []

    with page.expect_response(lambda r: r.url.endswith(CONSENT)) as consent:
        page.evaluate("kxt('consentagree')")
    assert consent.value.json() == {"level": 1000}
    assert json.loads(consent.value.request.post_data or "") == {"agree": True}

    rows = wait_for_stored(database, held + 2)
    assert [(row.type, row.value) for row in rows[:2]] == [("pagevisit", ""), ("landingpage", "")]
    assert rows[0].title == "Held"
    assert [row.value for row in rows[2:]] == [f"c{n}" for n in range(1, held + 1)]
    # 20 activities at most per request (the server's limit), one batch after the other.
    settle(page, watch)
    assert [len(r.post_data_json["activities"]) for r in watch.sent()] == [20, held + 1 - 20]
    assert watch.requests[0].url.endswith(CONSENT)  # nothing went out before consent

    # Consent given: a click is now sent at once.
    page.click("#cta")
    assert wait_for_stored(database, held + 3)[-1].value == f"c{held + 1}"
    assert watch.errors == []


def test_batches_stay_under_the_keepalive_limit_with_long_urls(
    page: Page, serve: Serve, tmp_path: Path
) -> None:
    database = tmp_path / "kxt.sqlite3"
    endpoint = html_page(COUNTING_CTA, log_page_visit=True)
    base = serve(tracking_app(database, [Route("/held", endpoint)]))
    watch = Watch.attach(page)
    long_url = f"{base}/held?q={'u' * 4000}"  # 20 such activities: over 80 KB of JSON
    page.goto(long_url)
    held = 25
    for _ in range(held):
        page.click("#cta")
    page.evaluate("window.__errors = []; kxt('onerror', (name, d) => __errors.push([name, d]))")
    page.evaluate("kxt('consentagree')")

    rows = wait_for_stored(database, held + 2)
    assert [row.value for row in rows[2:]] == [f"c{n}" for n in range(1, held + 1)]
    assert {row.url for row in rows} == {long_url}
    settle(page, watch)
    sizes = [len((r.post_data or "").encode()) for r in watch.sent()]
    counts = [len(json.loads(r.post_data or "")["activities"]) for r in watch.sent()]
    assert all(size < 60_000 for size in sizes), sizes
    assert sum(counts) == held + 1 and len(counts) == 2 and max(counts) < 20, counts
    assert {response.status for response in watch.responses} == {200}
    assert page.evaluate("__errors") == []


def test_a_failed_batch_does_not_stop_the_next_ones(
    page: Page, serve: Serve, tmp_path: Path
) -> None:
    database = tmp_path / "kxt.sqlite3"
    endpoint = html_page(COUNTING_CTA, log_page_visit=False)
    base = serve(tracking_app(database, [Route("/held", endpoint)]))
    watch = Watch.attach(page)
    page.goto(base + "/held")
    held = 25
    for _ in range(held):
        page.click("#cta")
    page.evaluate("window.__errors = []; kxt('onerror', (name, d) => __errors.push([name, d]))")
    failed: list[str] = []

    def fail_first(route: PlaywrightRoute) -> None:
        if failed:
            route.continue_()
        else:
            failed.append(route.request.post_data or "")
            route.fulfill(status=500, json={"error": "internal", "detail": "down for a moment"})

    page.route(f"**{ACTIVITIES}", fail_first)
    page.evaluate("kxt('consentagree')")

    pump_until(page, lambda: len(stored(database)) >= held - 20)
    rows = stored(database)
    assert [row.value for row in rows] == [f"c{n}" for n in range(21, held + 1)]
    page.wait_for_function("__errors.length > 0")
    [[name, detail]] = page.evaluate("__errors")
    assert name == "error_bad_response"
    assert detail == {"status": 500, "body": {"error": "internal", "detail": "down for a moment"}}
    assert len(json.loads(failed[0])["activities"]) == 20
    settle(page, watch)
    assert len(watch.sent()) == 2 and len(stored(database)) == held - 20


def test_a_late_answer_does_not_switch_tracking_back_on_after_a_revoke(
    page: Page, serve: Serve, tmp_path: Path
) -> None:
    database = tmp_path / "kxt.sqlite3"
    watch = consenting_cta_page(page, serve, database, COUNT_JSON_READS)
    late: list[tuple[PlaywrightRoute, Any]] = []

    def answer_late(route: PlaywrightRoute) -> None:
        # The server takes the request now (the cookie still says All); the page hears later.
        late.append((route, route.fetch()))

    page.route(f"**{ACTIVITIES}", answer_late)
    page.click("#cta")
    pump_until(page, lambda: bool(late))
    with page.expect_response(lambda r: r.url.endswith(CONSENT)) as revoke:
        page.evaluate("kxt('consentrevoke')")
    assert revoke.value.json()["level"] < 200
    page.wait_for_function("window.__jsonReads >= 1")

    [(route, answer)] = late
    assert answer.json()["level"] == 1000  # the late answer says tracking is on
    route.fulfill(response=answer)
    page.wait_for_function("window.__jsonReads >= 2")  # kxt.js has read it

    page.click("#cta")  # after the revoke: held in the page, not sent
    settle(page, watch)
    assert len(watch.sent()) == 1
    page.unroute(f"**{ACTIVITIES}")
    assert stored(database) == []  # the revoke erased the contact and its activity


def test_revoking_consent_drops_held_calls(page: Page, serve: Serve, tmp_path: Path) -> None:
    database = tmp_path / "kxt.sqlite3"
    endpoint = html_page(CTA_BUTTON, log_page_visit=True)
    base = serve(tracking_app(database, [Route("/", endpoint)]))
    watch = Watch.attach(page)
    page.goto(base + "/")
    page.click("#cta")  # held, with the page visit

    with page.expect_response(lambda r: r.url.endswith(CONSENT)) as revoke:
        page.evaluate("kxt('consentrevoke')")
    assert revoke.value.json()["level"] < 200
    with page.expect_response(lambda r: r.url.endswith(CONSENT)) as agree:
        page.evaluate("kxt('consentagree')")
    assert agree.value.json() == {"level": 1000}
    settle(page, watch)
    assert watch.sent() == []  # what was held before the revocation is gone

    page.evaluate("kxt('customactivity', {type: 'custom_cta', value: 'after'})")
    [row] = wait_for_stored(database, 1)
    assert (row.type, row.value) == ("custom_cta", "after")
    settle(page, watch)
    assert watch.sent_values() == ["after"]
    assert len(stored(database)) == 1


def test_page_visits_and_the_landing_page(page: Page, serve: Serve, tmp_path: Path) -> None:
    database = tmp_path / "kxt.sqlite3"
    routes = [
        Route("/first", html_page('<a id="next" href="/second">next</a>', title="First")),
        Route("/second", html_page("second", title="Second")),
    ]
    base = serve(tracking_app(database, routes))
    watch = Watch.attach(page)
    page.goto(base + "/agree")
    page.goto(base + "/first")
    rows = wait_for_stored(database, 2)
    assert [(row.type, row.title, row.url) for row in rows] == [
        ("pagevisit", "First", base + "/first"),
        ("landingpage", "First", base + "/first"),
    ]

    page.click("#next")
    page.wait_for_url(base + "/second")
    rows = wait_for_stored(database, 3)
    assert [(row.type, row.title) for row in rows] == [
        ("pagevisit", "First"),
        ("landingpage", "First"),
        ("pagevisit", "Second"),
    ]
    assert rows[2].referrer == base + "/first"
    assert {row.source for row in rows} == {"browser"}
    assert len({row.contact for row in rows}) == 1
    settle(page, watch)
    assert len(stored(database)) == 3


def test_no_page_visit_when_turned_off(page: Page, serve: Serve, tmp_path: Path) -> None:
    database = tmp_path / "kxt.sqlite3"
    watch = consenting_cta_page(page, serve, database)
    page.click("#cta")
    rows = wait_for_stored(database, 1)
    settle(page, watch)
    assert [row.type for row in stored(database)] == ["custom_cta"] == [r.type for r in rows]
    assert len(watch.sent()) == 1


def test_custom_activities_turned_off_are_a_no_op(page: Page, serve: Serve, tmp_path: Path) -> None:
    database = tmp_path / "kxt.sqlite3"
    endpoint = html_page(CTA_BUTTON, log_page_visit=True, log_custom_activity=False)
    base = serve(tracking_app(database, [Route("/", endpoint)]))
    watch = Watch.attach(page)
    page.goto(base + "/agree")
    page.goto(base + "/")
    wait_for_stored(database, 1, type="pagevisit")

    page.click("#cta")
    page.evaluate("kxt('pagevisit')")  # a marker sent after the click
    wait_for_stored(database, 2, type="pagevisit")
    settle(page, watch)
    assert [row.type for row in stored(database)] == ["pagevisit", "landingpage", "pagevisit"]
    assert [a["type"] for r in watch.sent() for a in r.post_data_json["activities"]] == [
        "pagevisit",
        "pagevisit",
    ]


ATTACK = """
async (target) => {
  const body = JSON.stringify({activities: [{id: crypto.randomUUID(), type: 'custom_cta',
      value: 'forged', title: 'forged', url: target, referrer: ''}]});
  await fetch(target, {method: 'POST', body, credentials: 'include', mode: 'no-cors'});
  let cors = 'sent';
  try {
    await fetch(target, {method: 'POST', body, credentials: 'include',
        headers: {'Content-Type': 'text/plain'}});
  } catch (e) { cors = 'blocked'; }
  return cors;
}
"""

# A form sends text/plain JSON too: the name holds the JSON, "=" and the value close it.
FORGED_FORM = """
<form id="json" method="post" enctype="text/plain" action="{target}">
  <input type="hidden" name='{{"activities":[{{"id":"{id}","type":"custom_cta","value":"form",
"title":"forged"}}],"pad":"' value='"}}'>
</form>
<form id="plain" method="post" action="{target}">
  <input type="hidden" name="activities" value="x">
</form>
"""


def test_pages_of_another_origin_cannot_log(page: Page, serve: Serve, tmp_path: Path) -> None:
    database = tmp_path / "kxt.sqlite3"
    site = serve(tracking_app(database, [Route("/", html_page(CTA_BUTTON, log_page_visit=False))]))
    target = site + ACTIVITIES

    async def attack(request: Request) -> Response:
        form = FORGED_FORM.format(target=target, id=uuid.uuid4())
        return HTMLResponse(f"<!doctype html><title>evil</title>{form}")

    evil = serve(Starlette(routes=[Route("/", attack)]))
    assert evil.rsplit(":", 1)[0] == site.rsplit(":", 1)[0]  # same site, other origin
    page.goto(site + "/agree")  # the visitor consented on the real site

    page.goto(evil + "/")
    assert page.evaluate(ATTACK, target) == "blocked"
    for form in ("json", "plain"):
        page.goto(evil + "/")
        with page.expect_navigation() as navigation:
            page.evaluate(f"document.getElementById('{form}').submit()")
        response = navigation.value
        assert response is not None and response.status == 403
    assert stored(database) == []

    # The visitor's own clicks on the site still count (so the cookie was there all along).
    page.goto(site + "/")
    page.click("#cta")
    [row] = wait_for_stored(database, 1)
    assert row.value == "btnCTA"


APP_JS = """
document.addEventListener('DOMContentLoaded', function () {
  document.getElementById('cta').addEventListener('click', function () {
    kxt('customactivity', {type: 'custom_cta', value: 'strict', title: 'Strict CSP'});
  });
  document.getElementById('state').textContent = 'ready';
});
"""


def test_no_inline_mode_under_a_strict_csp(page: Page, serve: Serve, tmp_path: Path) -> None:
    database = tmp_path / "kxt.sqlite3"
    csp = "script-src 'self'"

    async def app_js(request: Request) -> Response:
        return PlainTextResponse(APP_JS, media_type="text/javascript")

    body = '<button id="cta">Go</button><p id="state">loading</p>'
    routes = [
        Route(
            "/strict",
            html_page(
                body,
                after='<script src="/app.js"></script>',
                csp=csp,
                inline=False,
                integrity=True,
                title="Strict",
            ),
        ),
        Route(
            "/control",
            html_page(
                "<script>window.__inline = true</script>",
                csp=csp,
                inline=False,
                log_page_visit=False,
            ),
        ),
        Route("/app.js", app_js),
    ]
    base = serve(tracking_app(database, routes))
    page.add_init_script(COUNT_JSON_READS)
    watch = Watch.attach(page)
    page.goto(base + "/agree")

    # The listeners do see a violation when there is one.
    page.goto(base + "/control")
    page.wait_for_function("window.__violations.length > 0")
    assert page.evaluate("window.__inline") is None
    assert watch.csp_violations()
    watch.console.clear()

    response = page.goto(base + "/strict")
    assert response is not None and response.headers[CSP_HEADER] == csp
    html = page.content()
    assert "<script>" not in html and " async" not in html and "integrity=" in html
    expect(page.locator("#state")).to_have_text("ready")
    wait_for_stored(database, 2)  # the page visit and landing page, then the click
    page.click("#cta")
    rows = wait_for_stored(database, 3)
    assert [(row.type, row.value) for row in rows] == [
        ("pagevisit", ""),
        ("landingpage", ""),
        ("custom_cta", "strict"),
    ]
    assert rows[0].title == "Strict"
    assert page.evaluate("window.__violations") == []
    settle(page, watch)
    assert watch.csp_violations() == []
    assert watch.errors == []


def test_nonce_mode_under_a_nonce_csp(page: Page, serve: Serve, tmp_path: Path) -> None:
    database = tmp_path / "kxt.sqlite3"
    csp = "script-src 'nonce-XYZ'"
    own = (
        '<script nonce="XYZ">document.getElementById("cta").addEventListener("click", '
        "() => kxt('customactivity', {type: 'custom_cta', value: 'nonce'}));</script>"
    )
    endpoint = html_page(f'<button id="cta">Go</button>{own}', csp=csp, nonce="XYZ")
    base = serve(tracking_app(database, [Route("/", endpoint)]))
    page.add_init_script(COUNT_JSON_READS)
    watch = Watch.attach(page)
    page.goto(base + "/agree")
    response = page.goto(base + "/")
    assert response is not None and response.headers[CSP_HEADER] == csp
    assert response.text().count('nonce="XYZ"') == 3  # the stub, kxt.js and the page's own
    wait_for_stored(database, 2)  # the page visit and landing page, then the click
    page.click("#cta")
    rows = wait_for_stored(database, 3)
    assert [(row.type, row.value) for row in rows] == [
        ("pagevisit", ""),
        ("landingpage", ""),
        ("custom_cta", "nonce"),
    ]
    assert page.evaluate("window.__violations") == []
    settle(page, watch)
    assert watch.csp_violations() == []
    assert watch.errors == []


def test_onerror_hears_what_was_not_logged(page: Page, serve: Serve, tmp_path: Path) -> None:
    database = tmp_path / "kxt.sqlite3"
    base = serve(tracking_app(database, [Route("/", html_page("errors", log_page_visit=False))]))
    page.add_init_script(COUNT_JSON_READS)
    page.goto(base + "/agree")
    page.goto(base + "/")

    def log(activity: str, reads: int) -> None:
        page.evaluate(f"kxt('customactivity', {activity})")
        page.wait_for_function(f"window.__jsonReads >= {reads}")

    # An error before any handler is registered is kept for the first handler.
    log("{type: 'custom_disabled', value: 'off'}", 1)
    page.evaluate(
        "window.__errors = []; kxt('onerror', (name, detail) => __errors.push([name, detail]))"
    )
    [[name, detail]] = page.evaluate("__errors")
    assert name == "error_not_logged"
    assert detail["status"] == "type_disabled" and UUID4.fullmatch(detail["id"])

    log("{type: 'custom_unknown', value: 'nope'}", 2)
    # One bad call among good ones made together (one request): only the bad one fails.
    page.evaluate(
        f"kxt('customactivity', {{type: 'custom_cta', value: 'before'}});"
        f"kxt('customactivity', {{type: 'custom_cta', value: '{'x' * 251}'}});"
        f"kxt('customactivity', {{type: 'custom_cta', value: 'after'}})"
    )
    page.wait_for_function("window.__jsonReads >= 3")
    errors = page.evaluate("__errors")
    assert [e[0] for e in errors] == ["error_not_logged"] * 3
    assert errors[1][1]["status"] == "type_unknown"
    assert errors[2][1]["status"] == "invalid"
    assert errors[2][1]["reason"].startswith("value is 251 characters long")
    assert [row.value for row in stored(database)] == ["before", "after"]

    page.evaluate("kxt('nonsense')")
    assert page.evaluate("__errors")[-1][0] == "error_other"
    assert len(stored(database)) == 2


def test_a_network_failure_is_reported_as_error_other(
    page: Page, serve: Serve, tmp_path: Path
) -> None:
    database = tmp_path / "kxt.sqlite3"
    watch = consenting_cta_page(page, serve, database)
    page.evaluate("window.__errors = []; kxt('onerror', (name) => __errors.push(name))")
    page.route(f"**{ACTIVITIES}", lambda route: route.abort())  # the server stops answering

    page.click("#cta")
    page.wait_for_function("__errors.length > 0")
    assert page.evaluate("__errors") == ["error_other"]
    # the beacon retry still went out (and failed too: nothing answers)
    settle(page, watch)
    assert [request.resource_type for request in watch.sent()] == ["fetch", "ping"]
    assert stored(database) == []

    page.unroute(f"**{ACTIVITIES}")  # answering again: the next click arrives, without error
    page.click("#cta")
    wait_for_stored(database, 1)
    settle(page, watch)
    assert page.evaluate("__errors") == ["error_other"]


FETCH_REJECTS_ONCE = """
(() => {
  const real = window.fetch;
  window.__rejected = 0;
  window.fetch = function (url, options) {
    const sent = real.apply(this, arguments);
    if (String(url).endsWith('/browser/activities') && !window.__rejected++) {
      return sent.then(() => { throw new TypeError('Failed to fetch'); });
    }
    return sent;
  };
})();
"""


def test_a_failed_fetch_is_retried_once_as_a_beacon(
    page: Page, serve: Serve, tmp_path: Path
) -> None:
    database = tmp_path / "kxt.sqlite3"
    watch = consenting_cta_page(page, serve, database, FETCH_REJECTS_ONCE)
    page.click("#cta")

    settle(page, watch)
    fetched, beacon = watch.sent()
    assert fetched.resource_type == "fetch" and beacon.resource_type == "ping"
    assert beacon.post_data == fetched.post_data  # same activity id
    assert beacon.headers["content-type"] == "text/plain;charset=UTF-8"
    pump_until(page, lambda: len(watch.responses) >= 2)  # the beacon's answer too
    [row] = stored(database)  # the server stored the id once
    assert row.value == "btnCTA"


def test_without_fetch_or_random_uuid_beacons_carry_the_activity(
    browser: Browser, serve: Serve, tmp_path: Path
) -> None:
    database = tmp_path / "kxt.sqlite3"
    base = serve(tracking_app(database, [Route("/", html_page(CTA_BUTTON, log_page_visit=False))]))
    context = browser.new_context()
    try:
        context.add_init_script("delete window.fetch; delete Crypto.prototype.randomUUID;")
        page = context.new_page()
        page.goto(base + "/agree")
        page.goto(base + "/")
        assert page.evaluate("typeof fetch + typeof crypto.randomUUID") == "undefinedundefined"
        page.click("#cta")
        page.click("#cta")
        rows = wait_for_stored(database, 2)
        assert [row.value for row in rows] == ["btnCTA", "btnCTA"]
        assert all(UUID4.fullmatch(row.id) for row in rows)
        assert rows[0].id != rows[1].id
    finally:
        context.close()
