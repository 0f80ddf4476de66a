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
from kxt_middleware.script import (
    TrackingScript,
    built_script,
    fill,
    js_string,
    stub,
    validate_function_name,
)

AppFactory = Callable[..., Starlette]
ROOT = Path(__file__).resolve().parents[1]
# Served sizes, gzipped (budgets of issue 13): the scripts, and the inline stub as a consenting
# visitor gets it (with its send-on-leave part), for the default name and prefix.
BUDGETS = {"kxt.js": 1024, "kxt-cs.js": 1200, "kxt-handover.js": 300, "stub": 400}


def served_sizes() -> dict[str, tuple[int, int]]:
    """Bytes as built and gzipped, per script and for the largest inline stub."""
    sources = {
        "kxt.js": TrackingScript.from_source().minified,
        "kxt-cs.js": TrackingScript.from_source(name="kxt-cs.js").minified,
        "kxt-handover.js": TrackingScript.from_source(name="kxt-handover.js").minified,
        "stub": stub("kxt", send_on_leave="/Kentico.Tracking/browser").encode(),
    }
    return {name: (len(raw), len(gzip.compress(raw, 9, mtime=0))) for name, raw in sources.items()}


def test_served_scripts_are_within_their_size_budgets(capsys: pytest.CaptureFixture[str]) -> None:
    sizes = served_sizes()
    with capsys.disabled():  # `make test` shows them
        print()
        for name, (raw, gzipped) in sizes.items():
            print(f"{name}: {raw} bytes minified, {gzipped} bytes gzipped (budget {BUDGETS[name]})")
    assert {name: gzipped for name, (_, gzipped) in sizes.items() if gzipped > BUDGETS[name]} == {}
    script = TrackingScript.from_source()
    assert len(script.gzipped) == sizes["kxt.js"][1]
    assert gzip.decompress(script.gzipped) == script.minified


def test_the_served_files_are_the_built_ones() -> None:
    # Nothing is minified at run time: the bytes served are js/dist's, as js/build.mjs wrote them.
    for name in ("kxt.js", "kxt-cs.js"):
        built = (ROOT / "js" / "dist" / name).read_bytes()
        assert TrackingScript.from_source(name=name).minified == built
    with pytest.raises(FileNotFoundError, match="nope.js is missing"):
        built_script("nope.js")


def test_version_follows_content() -> None:
    one, two = TrackingScript.from_source("var a=1;"), TrackingScript.from_source("var a=2;")
    assert one.version != two.version and one.filename == f"kxt.{one.version}.js"
    assert TrackingScript.from_source("var a = 1; // c").minified == b"var a = 1; // c"
    assert one.integrity.startswith("sha384-")


def test_placeholders_are_filled_with_safe_strings() -> None:
    template = "f(KXT_FUNCTION_NAME,KXT_ENDPOINT);\n"
    assert fill(template, FUNCTION_NAME="kxt", ENDPOINT="/a") == 'f("kxt","/a");'
    assert fill(template, FUNCTION_NAME="k", ENDPOINT="</script><!--") == (
        'f("k","\\u003c/script>\\u003c!--");'
    )
    with pytest.raises(ValueError, match="takes \\['KXT_ENDPOINT', 'KXT_FUNCTION_NAME'\\]"):
        fill(template, FUNCTION_NAME="kxt")
    with pytest.raises(ValueError, match="not \\['KXT_ENDPOINT', 'KXT_FUNCTION_NAME', 'KXT_X'\\]"):
        fill(template, FUNCTION_NAME="kxt", ENDPOINT="/a", X="x")


@pytest.mark.parametrize("name", ["kxt", "customActivityTracker", "_t", "$kxt", "a1"])
def test_function_names(name: str) -> None:
    assert validate_function_name(name) == name
    assert js_string(name) in stub(name) and "KXT_" not in stub(name)


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
        assert f"<script>{stub('kxt')}</script>" in html
        assert (
            f'<script async src="/Kentico.Tracking/{script.filename}" data-fn="kxt" '
            'data-endpoint="/Kentico.Tracking/browser" data-level="0" data-pv="1" data-ca="1">'
            "</script>"
        ) in html
        renamed = client.get("/renamed").text
        assert f'<script nonce="n0nce">{stub("customActivityTracker")}</script>' in renamed
        assert '"kxt"' not in renamed
        assert 'data-fn="customActivityTracker"' in renamed and 'nonce="n0nce"' in renamed
        assert f'integrity="{script.integrity}" crossorigin="anonymous"' in renamed
        assert 'data-pv="0" data-ca="0"' in renamed
        external = client.get("/external").text
        assert "<script>" not in external and "<script async" not in external
        assert f'<script src="/Kentico.Tracking/{script.filename}"' in external
        assert "pagehide" not in html  # below Visitor the stub never sends anything
        client.post("/consent", json={"level": "ALL"})
        consenting = client.get("/default").text
        assert 'data-level="1000"' in consenting
        # For a consenting visitor, the stub sends what waits in its queue if the page is left
        # before kxt.js ran; not when custom activities are turned off.
        leave = stub("kxt", send_on_leave="/Kentico.Tracking/browser")
        assert 'addEventListener("pagehide"' in leave and f"<script>{leave}</script>" in consenting
        assert "pagehide" not in client.get("/renamed").text
        assert "pagehide" not in client.get("/external").text


def test_the_stub_keeps_its_endpoint_inside_the_script_element() -> None:
    with_leave = stub("kxt", send_on_leave="/a</script><b>/browser")
    assert "</script>" not in with_leave and '"/a\\u003c/script>\\u003cb>/browser"' in with_leave
    assert stub("kxt") == built_script("stub.js").strip().replace("KXT_FUNCTION_NAME", '"kxt"')


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
    assert f"<script>{stub('t')}</script>" in html and "&lt;script" not in html


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
    built = [
        "kxt.js",
        "kxt-cs.js",
        "kxt-handover.js",
        "stub.js",
        "stub-leave.js",
        "cross-site-snippet.js",
    ]
    with zipfile.ZipFile(wheel) as archive:
        packaged = {name: archive.read(f"kxt_middleware/static/{name}") for name in built}
        types = archive.read("kxt_middleware/static/kxt.d.ts")
        assert "kxt_middleware/py.typed" in archive.namelist()
        assert "kxt_middleware/admin/static/admin.js" in archive.namelist()
    assert packaged == {name: (ROOT / "js" / "dist" / name).read_bytes() for name in built}
    assert types == (ROOT / "js" / "kxt.d.ts").read_bytes()
