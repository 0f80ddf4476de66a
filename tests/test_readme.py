"""The README's examples, run as written: the Starlette quick start and the headless curl calls."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from .helpers import free_port

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


def test_quick_start_and_headless_curl_examples_work_as_written(tmp_path: Path) -> None:
    assert shutil.which("curl"), "curl is needed to run the README's curl examples"
    (tmp_path / "app.py").write_text(block("python", "from starlette.applications import"))
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
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

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:app", "--port", str(port), "--log-level", "warning"],
        cwd=tmp_path,
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
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.05)
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
    finally:
        server.send_signal(signal.SIGTERM)
        _, errors = server.communicate(timeout=30)
    assert ran.returncode == 0, ran.stderr
    answers = json_values(ran.stdout)  # curl prints each body without a newline
    assert answers[0] == {"shortText": "We remember what you do.", "fullText": "…"}
    assert answers[1] == {"isAgreed": True}
    assert [r["status"] for r in answers[2]["results"]] == [202, 202]
    assert "Traceback" not in errors

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
