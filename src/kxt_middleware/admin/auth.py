"""Admin sign-in: operator sessions, CSRF tokens on every form, throttled wrong passwords."""

from __future__ import annotations

import asyncio
import functools
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..operators import operator_exists

Endpoint = Callable[[Request], Awaitable[Response]]
CSRF_FIELD = "csrf_token"


def csrf_token(request: Request) -> str:
    """This session's CSRF token (created on first use); every form posts it back."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def checked_form(request: Request) -> FormData:
    """The posted form, or 403 when its CSRF token is missing or not this session's."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str):
        raise HTTPException(403, "The form has no valid security token: reload the page and retry.")
    if not secrets.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(
            403, "The form's security token is not this session's: reload and retry."
        )
    return form


def sign_in_url(request: Request) -> str:
    """Where the sign-in page is, under the admin's mount path."""
    root: str = request.scope.get("root_path", "")
    return root + "/sign-in"


def signed_in(endpoint: Endpoint) -> Endpoint:
    """Let only a signed-in operator (who still exists) reach ``endpoint``."""

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        operator = request.session.get("operator")
        if isinstance(operator, str) and await operator_exists(
            request.app.state.admin.store, operator
        ):
            return await endpoint(request)
        request.session.pop("operator", None)
        return RedirectResponse(sign_in_url(request), status_code=303)

    return guarded


@dataclass
class SignInThrottle:
    """Refuses sign-ins after ``max_failures`` wrong passwords within ``window`` seconds.

    Counted per operator name and per client address, so neither guessing one name from many
    places nor many names from one place gets far; each failure also costs ``delay`` seconds.
    An attempt counts as a failure from the moment it is let through (until it succeeds), so
    concurrent attempts cannot all pass the check while the first ones are still verified.
    """

    max_failures: int = 5
    window: float = 900.0
    delay: float = 1.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    @staticmethod
    def _keys(name: str, address: str) -> tuple[str, str]:
        return f"name:{name.lower()}", f"ip:{address}"

    def _recent(self, key: str) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        cutoff = self.clock() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return deque()
        return failures

    def retry_after(self, name: str, address: str) -> float:
        """Seconds until another attempt is allowed (0: allowed now)."""
        waits = [
            failures[0] + self.window - self.clock()
            for failures in map(self._recent, self._keys(name, address))
            if len(failures) >= self.max_failures
        ]
        return max(waits, default=0.0)

    def attempt(self, name: str, address: str) -> float:
        """Count an attempt as failed before its password is checked; 0 if it may go on.

        Otherwise nothing is counted and the result is the seconds until the next attempt is
        allowed. A successful attempt is taken back with :meth:`succeeded`.
        """
        wait = self.retry_after(name, address)
        if wait:
            return wait
        now = self.clock()
        for key in self._keys(name, address):
            self._failures.setdefault(key, deque()).append(now)
        return 0.0

    async def failed(self) -> None:
        """Make the caller of a wrong password wait (the attempt is already counted)."""
        if self.delay:
            await asyncio.sleep(self.delay)

    def succeeded(self, name: str, address: str) -> None:
        """Forget the wrong passwords typed for this name, and this attempt from the address."""
        name_key, address_key = self._keys(name, address)
        self._failures.pop(name_key, None)
        failures = self._recent(address_key)
        if failures:
            failures.pop()  # one of the attempts from this address, all counted alike
            if not failures:
                del self._failures[address_key]
