from __future__ import annotations

import gzip
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from starlette.testclient import TestClient

from kxt_middleware import activity_logging_script, add_to_templates
from kxt_middleware.script import TrackingScript, stub, validate_function_name

AppFactory = Callable[..., Starlette]
ROOT = Path(__file__).resolve().parents[1]
BUDGET = 1024


def test_served_script_is_within_the_size_budget() -> None:
    script = TrackingScript.from_source()
    size = len(gzip.compress(script.minified, 9))
    print(
        f"\nkxt.js: {len(script.minified)} bytes minified, {size} bytes gzipped (budget {BUDGET})"
    )
    assert size <= BUDGET
    assert len(script.gzipped) <= BUDGET
    assert gzip.decompress(script.gzipped) == script.minified


def test_version_follows_content() -> None:
    one, two = TrackingScript.from_source("var a=1;"), TrackingScript.from_source("var a=2;")
    assert one.version != two.version and one.filename == f"kxt.{one.version}.js"
    assert TrackingScript.from_source("var a = 1; // c").minified == b"var a=1;"
    assert one.integrity.startswith("sha384-")


@pytest.mark.parametrize("name", ["kxt", "customActivityTracker", "_t", "$kxt", "a1"])
def test_function_names(name: str) -> None:
    assert validate_function_name(name) == name
    assert stub(name).startswith(f"window.{name}=window.{name}||function(){{")


@pytest.mark.parametrize(
    "name", ["", "1abc", "my-tracker", "a.b", "class", "window'", "x" * 65, "eval", "kx t"]
)
def test_invalid_function_names_raise(name: str) -> None:
    with pytest.raises(ValueError, match="not a usable JavaScript identifier"):
        validate_function_name(name)


@pytest.mark.parametrize(
    "name",
    "fetch location top document name self parent window history navigator alert open close "
    "print status length origin crypto JSON Promise onerror".split(),
)
def test_browser_globals_are_refused_as_function_names(name: str) -> None:
    with pytest.raises(ValueError, match="is a property of window .* choose another name"):
        validate_function_name(name)
    with pytest.raises(ValueError, match="property of window"):
        stub(name)


def test_a_refused_name_never_reaches_a_page(make_app: AppFactory) -> None:
    app = make_app()
    app.router.routes.append(Route("/", page(logging_function_name="location")))
    with TestClient(app) as client, pytest.raises(ValueError, match="'location' is a property"):
        client.get("/")


def page(**options: object) -> Callable[[Request], Response]:
    async def endpoint(request: Request) -> Response:
        tags = activity_logging_script(request, **options)  # type: ignore[arg-type]
        return HTMLResponse(f"<html><head>{tags}</head><body></body></html>")

    return endpoint


def test_tag_defaults_and_options(make_app: AppFactory) -> None:
    app = make_app()
    app.router.routes.extend(
        [
            Route("/default", page()),
            Route(
                "/renamed",
                page(
                    logging_function_name="customActivityTracker",
                    nonce="n0nce",
                    integrity=True,
                    log_page_visit=False,
                    log_custom_activity=False,
                ),
            ),
            Route("/external", page(inline=False)),
        ]
    )
    script = TrackingScript.from_source()
    with TestClient(app) as client:
        html = client.get("/default").text
        assert (
            "<script>window.kxt=window.kxt||function(){(window.kxt.q=window.kxt.q||[]).push("
            "arguments)};</script>"
        ) in html
        assert (
            f'<script async src="/Kentico.Tracking/{script.filename}" data-fn="kxt" '
            'data-endpoint="/Kentico.Tracking/browser" data-level="0" data-pv="1" data-ca="1">'
            "</script>"
        ) in html
        renamed = client.get("/renamed").text
        assert '<script nonce="n0nce">window.customActivityTracker=' in renamed
        assert "window.kxt" not in renamed
        assert 'data-fn="customActivityTracker"' in renamed and 'nonce="n0nce"' in renamed
        assert f'integrity="{script.integrity}" crossorigin="anonymous"' in renamed
        assert 'data-pv="0" data-ca="0"' in renamed
        external = client.get("/external").text
        assert "window.kxt" not in external and "<script async" not in external
        assert f'<script src="/Kentico.Tracking/{script.filename}"' in external
        assert "pagehide" not in html  # below Visitor the stub never sends anything
        client.post("/consent", json={"level": "ALL"})
        consenting = client.get("/default").text
        assert 'data-level="1000"' in consenting
        # For a consenting visitor, the stub sends what waits in its queue if the page is left
        # before kxt.js ran; not when custom activities are turned off.
        assert 'addEventListener("pagehide"' in consenting
        assert 'sendBeacon("/Kentico.Tracking/browser"+"/activities"' in consenting
        assert "pagehide" not in client.get("/renamed").text
        assert "pagehide" not in client.get("/external").text


def test_the_stub_keeps_its_endpoint_inside_the_script_element() -> None:
    with_leave = stub("kxt", send_on_leave="/a</script><b>/browser")
    assert "</script>" not in with_leave and '"/a<\\/script><b>/browser"' in with_leave
    assert stub("kxt").endswith("push(arguments)};")


def test_nonce_is_escaped_and_prefix_and_root_path_are_used(make_app: AppFactory) -> None:
    app = make_app(prefix="/track")
    app.router.routes.append(Route("/p", page(nonce='"><script>')))
    with TestClient(app, root_path="/site") as client:
        html = client.get("/site/p").text
        assert 'nonce="&#34;&gt;&lt;script&gt;"' in html
        assert 'src="/site/track/kxt.' in html and 'data-endpoint="/site/track/browser"' in html
        assert client.get(f"/site/track/{TrackingScript.from_source().filename}").status_code == 200


def test_bad_prefix_is_refused(make_app: AppFactory) -> None:
    for prefix in ("track", "/track/"):
        with pytest.raises(ValueError, match="must start with '/'"):
            make_app(prefix=prefix).build_middleware_stack()


def test_registered_as_a_jinja2_global(make_app: AppFactory, tmp_path: Path) -> None:
    (tmp_path / "layout.html").write_text(
        "<head>{{ activity_logging_script(request, logging_function_name='t') }}</head>"
    )
    templates = Jinja2Templates(directory=tmp_path)
    add_to_templates(templates)

    async def endpoint(request: Request) -> Response:
        return templates.TemplateResponse(request, "layout.html")

    app = make_app()
    app.router.routes.append(Route("/", endpoint))
    with TestClient(app) as client:
        html = client.get("/").text
    assert "window.t=window.t||" in html and "&lt;script" not in html


def test_a_built_wheel_carries_the_script(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(tmp_path),
        ],
        check=True,
        timeout=120,
    )
    [wheel] = tmp_path.glob("kxt_middleware-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packaged = archive.read("kxt_middleware/static/kxt.js").decode()
        assert "kxt_middleware/py.typed" in archive.namelist()
    assert packaged == (ROOT / "js" / "kxt.js").read_text()
