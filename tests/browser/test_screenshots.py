"""``make screenshots``: the README's pictures come from the demo, with several visitors' data."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

from .conftest import REPO_ROOT

PICTURES = (
    "demo-calculator.png",
    "demo-home-offer.png",
    "admin-activities.png",
    "admin-overview.png",
)


def test_the_readme_pictures_are_taken_from_the_demo(tmp_path: Path) -> None:
    tracked = {name: (REPO_ROOT / "docs" / name).read_bytes() for name in PICTURES}
    done = subprocess.run(
        [sys.executable, "-m", "demo_site.screenshots", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    for name in PICTURES:
        picture = (tmp_path / name).read_bytes()
        assert picture[:8] == b"\x89PNG\r\n\x1a\n", name
        width, height = struct.unpack(">II", picture[16:24])
        assert (width, height) == (1280, 860), name
        assert 20_000 < len(picture) < 200_000, (name, len(picture))  # small enough for a README
        assert f"{name}: " in done.stdout
    # The README shows them, and running this wrote nothing over them.
    readme = (REPO_ROOT / "README.md").read_text()
    assert all(f"(docs/{name})" in readme for name in PICTURES)
    assert {name: (REPO_ROOT / "docs" / name).read_bytes() for name in PICTURES} == tracked
