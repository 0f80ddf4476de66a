"""The admin's code-name suggestion in the browser agrees with code_name_from_display_name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kxt_middleware import code_name_from_display_name

# The same cases tests/js/code-name.test.js checks against js/src/code-name.js.
CASES = json.loads((Path(__file__).parent / "js" / "code-names.json").read_text("utf-8"))


@pytest.mark.parametrize(("name", "code"), CASES)
def test_the_browser_and_the_server_suggest_the_same_code_name(name: str, code: str) -> None:
    if code:
        assert code_name_from_display_name(name) == code
    else:
        with pytest.raises(ValueError, match="Enter a code name"):
            code_name_from_display_name(name)
