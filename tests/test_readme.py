"""The README's examples, run as written: the quick start (Starlette and FastAPI, tried with curl
and a cookie jar), the headless curl calls, and the script sizes it quotes."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from .helpers import free_port
from .test_script import served_sizes

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def block(language: str, containing: str) -> str:
    """The README's fenced ``language`` block that contains ``containing``."""
    for found in re.finditer(rf"```{language}\n(.*?)```", README, re.S):
        if containing in found[1]:
            return found[1]
    raise AssertionError(f"no {language} block with {containing!r} in README.md")


def json_values(text: str) -> list[object]:
    decoder, values, at = json.JSONDecoder(), [], 0
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        value, at = decoder.raw_decode(text, at)
        values.append(value)
    return values


def with_venv_path() -> dict[str, str]:
    """The environment, with this Python's scripts (uvicorn, kxt) first on the PATH."""
    bin_dir = Path(sys.executable).parent
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


@contextlib.contextmanager
def serving(app_dir: Path, env: dict[str, str]) -> Iterator[int]:
    """``uvicorn app:app`` in ``app_dir`` on a free port, as the README runs it; the port."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:app", "--port", str(port), "--log-level", "warning"],
        cwd=app_dir,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx2.get(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except httpx2.TransportError:
                assert server.poll() is None, "uvicorn exited"
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.05)
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        _, errors = server.communicate(timeout=30)
    assert "Traceback" not in errors, errors


@pytest.mark.parametrize(
    "framework", ["from starlette.applications import", "from fastapi import FastAPI"]
)
def test_the_quick_start_works_as_written(tmp_path: Path, framework: str) -> None:
    assert shutil.which("curl"), "curl is needed to run the README's curl examples"
    install = block("sh", "pip install kxt-middleware")
    assert "uvicorn" in install and "fastapi" in install  # what `uvicorn app:app` needs
    (tmp_path / "app.py").write_text(block("python", framework))
    env = with_venv_path()
    commands = block("sh", "curl -c cookies.txt -b cookies.txt").strip().splitlines()
    with serving(tmp_path, env) as port:

        def run(command: str) -> str:
            command = command.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
            done = subprocess.run(
                command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True
            )
            assert done.returncode == 0, done.stderr
            return done.stdout

        # Each command, then the answer the README shows for it.
        for command, answer in zip(commands[::2], commands[1::2], strict=True):
            assert answer.startswith("# ") and run(command) == answer[2:], command
        # Without the cookie jar the visitor has not consented, as the README says.
        calculate = commands[2].replace("-c cookies.txt -b cookies.txt ", "")
        assert run(calculate) == '{"status":"no_consent"}'
        # The consent endpoint refuses another site's form.
        cross_site = commands[0].replace("curl ", "curl -H 'Origin: https://evil.example' ", 1)
        assert json.loads(run(cross_site)) == {"error": "consent is given on this site only"}

    shown = block("sh", "kxt --database kxt.sqlite3 activities\n{").strip().splitlines()
    printed = run_kxt(shown[0], tmp_path, env).splitlines()
    assert len(printed) == 1
    logged, expected = json.loads(printed[0]), json.loads(shown[1])
    assert logged.keys() == expected.keys()
    varying = {"id", "contact", "created"}
    expected["url"] = expected["url"].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    assert {k: v for k, v in logged.items() if k not in varying} == {
        k: v for k, v in expected.items() if k not in varying
    }


def run_kxt(command: str, cwd: Path, env: dict[str, str]) -> str:
    """A ``kxt`` command line of the README, run in ``cwd``; what it printed."""
    return subprocess.run(
        command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, check=True
    ).stdout


def test_the_script_sizes_the_readme_quotes_are_the_served_ones() -> None:
    quoted = re.search(
        r"kxt\.js (\d[\d,]*) bytes \(budget [\d,]+\),\s+kxt-cs\.js (\d[\d,]*) bytes\s+"
        r"\(budget [\d,]+\), the\s+inline stub of a consenting visitor (\d+) bytes\s+\(budget\s+"
        r"[\d,]+; \d+ bytes without its send-on-leave part\), and kxt-handover\.js (\d+) bytes",
        README,
    )
    assert quoted is not None, "the README's script sizes moved"
    sizes = served_sizes()
    assert [int(x.replace(",", "")) for x in quoted.groups()] == [
        sizes[name][1] for name in ("kxt.js", "kxt-cs.js", "stub", "kxt-handover.js")
    ]


def test_headless_curl_examples_work_as_written(tmp_path: Path) -> None:
    assert shutil.which("curl"), "curl is needed to run the README's curl examples"
    (tmp_path / "app.py").write_text(block("python", "from starlette.applications import"))
    env = with_venv_path()
    set_up = block("sh", "kxt apikeys create").strip().splitlines()
    outputs = [
        subprocess.run(
            line.split("#")[0].replace("3f2a9c1d0b4e", "$ID"),
            shell=True,
            cwd=tmp_path,
            env=env | {"ID": ""},
            capture_output=True,
            text=True,
            check=False,
        )
        for line in set_up
        if "revoke" not in line  # it names an example key id
    ]
    assert [o.returncode for o in outputs] == [0] * len(outputs), [o.stderr for o in outputs]
    key = re.search(r"kxt_[0-9a-f]+_\S+", outputs[0].stdout)
    assert key is not None, outputs[0].stdout

    with serving(tmp_path, env) as port:
        calls = (
            block("sh", "KEY=kxt_")
            .replace("KEY=kxt_3f2a9c1d0b4e_…", f"KEY={key[0]}")
            .replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        )
        ran = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", calls],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert ran.returncode == 0, ran.stderr
    answers = json_values(ran.stdout)  # curl prints each body without a newline
    assert answers[0] == {"shortText": "We remember what you do.", "fullText": "…"}
    assert answers[1] == {"isAgreed": True}
    assert [r["status"] for r in answers[2]["results"]] == [202, 202]

    listed = subprocess.run(
        ["kxt", "--database", "kxt.sqlite3", "activities"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    logged = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(a["type"], a["value"], a["source"]) for a in logged] == [
        ("custom_loan_calculator", "5000", "headless"),
        ("pagevisit", "", "headless"),
    ]
