"""Exceptions raised to Python callers; each message says what to do."""

from __future__ import annotations


class KxtError(Exception):
    """Base class of every error raised by kxt-middleware."""


class NoRequestContextError(KxtError, RuntimeError):
    """Raised when a request-scoped logger is asked for where no request is being handled."""


class MiddlewareNotInstalledError(KxtError, RuntimeError):
    """Raised when a request helper is used on an app without ActivityTrackingMiddleware."""


class UnknownActivityTypeError(KxtError, LookupError):
    """Raised when an activity type that does not exist is edited."""


class StoreError(KxtError):
    """Raised when the activity store cannot do what was asked (see the message)."""


class ContactErasedError(StoreError):
    """Raised when a consent is recorded for a contact that was erased: use a new contact."""


class StoreOverloadedError(StoreError):
    """Raised when the write queue is full: retry later, or raise ``max_pending``."""


class StoreClosedError(StoreError):
    """Raised when the activity store is used after it was closed."""
