"""The marketer admin: an overview, the activity log and its export, activity types, contacts,
contact groups, cross-site sites and API keys."""

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
