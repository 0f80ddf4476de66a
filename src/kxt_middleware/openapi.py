"""The OpenAPI document of the headless tracking API, served at ``{prefix}/openapi.json``."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "description": "The request was refused; `error` is a code, `detail` says why.",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error", "detail"],
                "properties": {"error": {"type": "string"}, "detail": {}},
            }
        }
    },
}
_GUID = {"type": "string", "format": "uuid"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): _ERROR for status in statuses} | {"default": _ERROR}


_AGREEMENT = _json(
    {
        "type": "object",
        "required": ["isAgreed"],
        "properties": {"isAgreed": {"type": "boolean"}},
    },
    "Whether the contact agrees to the consent.",
)
# Activities are checked one by one: an invalid one fails only its own result (status 400), so
# the request schema accepts any item and describes the rules.
_ACTIVITY = {
    "description": "An activity object: type (pagevisit needs url; click and datainput need "
    "value; or an enabled custom type), value and title (at most 250 characters each), url and "
    "referrer (at most 8,192). Property names are matched ignoring case.",
    "example": {"type": "custom_loan_calculator", "value": "5000"},
}
_RESULT = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"type": "integer", "enum": [202, 400, 403, 404, 410, 422]},
        "id": {"type": "string"},
        "error": {"type": "string"},
        "detail": {"type": "string"},
    },
}


def openapi_document(prefix: str) -> dict[str, Any]:
    """The OpenAPI 3.0 document for the API mounted under ``prefix``."""
    contact = {"name": "contact", "in": "path", "required": True, "schema": _GUID}
    consent = {"name": "consent", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "kxt-middleware headless tracking API",
            "version": "1",
            "description": "Contacts, consents and activities for apps and headless front ends. "
            "Property names are matched ignoring case.",
        },
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"apiKey": []}],
        "paths": {
            f"{prefix}/contacts": {
                "post": {
                    "summary": "Create a contact",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["contact"],
                                "properties": {"contact": _GUID},
                            },
                            "The new contact's GUID.",
                        ),
                        **_errors(401),
                    },
                }
            },
            f"{prefix}/contacts/{{contact}}/consents/{{consent}}": {
                "parameters": [contact, consent],
                "get": {
                    "summary": "Whether the contact agreed to the consent",
                    "responses": {"200": _AGREEMENT, **_errors(401, 404, 422)},
                },
                "post": {
                    "summary": "Agree to or revoke the consent",
                    "description": (
                        "Revoking the tracking consent erases the contact (with erase_on_revoke, "
                        "the default); an erased contact answers 410 and stays erased."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["agree"],
                                    "properties": {"agree": {"type": "boolean"}},
                                }
                            }
                        },
                    },
                    "responses": {"200": _AGREEMENT, **_errors(400, 401, 404, 410, 413, 415, 422)},
                },
            },
            f"{prefix}/consents/{{consent}}": {
                "parameters": [consent],
                "get": {
                    "summary": "The consent's texts",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["shortText", "fullText"],
                                "properties": {
                                    "shortText": {"type": "string"},
                                    "fullText": {"type": "string"},
                                },
                            },
                            "The texts to show.",
                        ),
                        **_errors(401, 404),
                    },
                },
            },
            f"{prefix}/activities": {
                "post": {
                    "summary": "Log activities of one contact",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["channel", "contact", "activities"],
                                    "properties": {
                                        "channel": {"type": "string"},
                                        "contact": _GUID,
                                        "activities": {
                                            "type": "array",
                                            "minItems": 1,
                                            "maxItems": 100,
                                            "items": _ACTIVITY,
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "207": _json(
                            {
                                "type": "object",
                                "required": ["results"],
                                "properties": {"results": {"type": "array", "items": _RESULT}},
                            },
                            "One result per activity, in order.",
                        ),
                        **_errors(400, 401, 403, 413, 415, 422, 503),
                    },
                }
            },
        },
    }
