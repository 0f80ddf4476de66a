"""The URL recorded with an activity logged from server code is Starlette's request.url."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import HTTPConnection

from kxt_middleware.logger import request_url


def scope(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "http",
        "scheme": "http",
        "server": ("example.test", 8000),
        "path": "/loans/calculator",
        "query_string": b"amount=5000",
        "headers": [(b"host", b"bank.example")],
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"headers": []},  # no Host header: the server's address
        {"headers": [], "server": ["example.test", 80]},  # ASGI allows a list; default port
        {"headers": [], "server": ("::1", 8443), "scheme": "https"},
        {"headers": [(b"host", b"bank.example:notaport")]},  # an invalid Host: the server's
        {"headers": [], "server": None},
        {"query_string": b""},
        {"path": "/caf\u00e9 & more?"},
        {"scheme": "https", "headers": [(b"host", b"bank.example:443")]},
    ],
)
def test_it_is_what_starlette_builds(changes: dict[str, Any]) -> None:
    given = scope(**changes)
    assert request_url(given) == str(HTTPConnection(given).url)
    assert request_url(given) == str(HTTPConnection(given).url)  # remembered, still the same


def test_requests_that_differ_in_any_part_get_their_own_url() -> None:
    seen = {
        request_url(scope(**changes))
        for changes in (
            {},
            {"scheme": "https"},
            {"headers": [(b"host", b"other.example")]},
            {"path": "/other"},
            {"query_string": b"amount=6000"},
        )
    }
    assert len(seen) == 5
