"""The marketer admin: activity types, the activity log, contacts and contact groups."""

from ..operators import (
    Operator,
    UnknownOperatorError,
    create_operator,
    delete_operator,
    operator_exists,
    operators,
    set_operator_password,
)
from .app import AdminApp, admin_app

__all__ = [
    "AdminApp",
    "Operator",
    "UnknownOperatorError",
    "admin_app",
    "create_operator",
    "delete_operator",
    "operator_exists",
    "operators",
    "set_operator_password",
]
