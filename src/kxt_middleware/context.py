"""The logger of the request being handled, in a contextvar other modules can import alone."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from .errors import NoRequestContextError

if TYPE_CHECKING:
    from .logger import ActivityLogger

current_logger: ContextVar[ActivityLogger | None] = ContextVar("kxt_logger", default=None)


def current_activity_logger() -> ActivityLogger:
    """The activity logger of the request being handled; NoRequestContextError elsewhere."""
    logger = current_logger.get()
    if logger is None or logger.finished:
        raise NoRequestContextError(
            "no request is being handled here, so there is no current contact to log for: "
            "current_activity_logger() works only while ActivityTrackingMiddleware handles a "
            "request (not in a worker thread, nor in a task that outlives the response). "
            "Log from the request handler, or pass the logger from get_activity_logger(request)."
        )
    return logger
