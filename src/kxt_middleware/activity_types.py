"""Activity types: what marketers define (code name, display name, description, enabled)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

CODE_NAME_MAX = 100
DISPLAY_NAME_MAX = 250
DESCRIPTION_MAX = 2000

# A letter or underscore first, then letters, digits, "_", "." or "-": safe in URLs, CSV and JS.
_CODE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


def validate_code_name(code_name: str) -> str:
    """Return ``code_name`` if it follows the code name rules; ValueError saying them if not."""
    if code_name in _VALID_CODE_NAMES:  # the same few types are logged over and over
        return code_name
    if not isinstance(code_name, str):
        raise TypeError(f"a code name must be a str, not {type(code_name).__name__}")
    if not code_name or len(code_name) > CODE_NAME_MAX or not _CODE_NAME.fullmatch(code_name):
        raise ValueError(
            f"{code_name!r} is not a valid code name: use 1 to {CODE_NAME_MAX} characters, "
            "letters A-Z, digits, '_', '.' or '-', starting with a letter or '_' "
            "(for example 'custom_loan_calculator')"
        )
    if len(_VALID_CODE_NAMES) < 10_000:
        _VALID_CODE_NAMES.add(code_name)
    return code_name


_VALID_CODE_NAMES: set[str] = set()


# Latin letters that NFKD does not split into an ASCII letter and accents.
_LATIN = str.maketrans(
    {"ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "ł": "l",
     "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH", "ı": "i"}
)  # fmt: skip


def code_name_from_display_name(display_name: str) -> str:
    """Suggest a code name: "Loan calculator usage" -> "loan_calculator_usage".

    Accents are dropped ("Über Café" -> "uber_cafe"); a name with no letter A-Z or digit left
    (e.g. "Займ") raises ValueError asking for a code name rather than inventing one.
    """
    ascii_name = (
        unicodedata.normalize("NFKD", display_name.translate(_LATIN))
        .encode("ascii", "ignore")
        .decode("ascii")
    )
    slug = re.sub(r"[^A-Za-z0-9]+", "_", ascii_name).strip("_").lower()
    if not slug:
        raise ValueError(
            f"no code name can be made from the name {display_name!r}: it has no letters A-Z "
            "or digits. Enter a code name: letters A-Z, digits, '_', '.' or '-', starting "
            "with a letter or '_' (for example 'custom_loan')"
        )
    if not slug[0].isalpha():
        slug = f"_{slug}"
    return slug[:CODE_NAME_MAX].rstrip("_")


def check_text(field: str, value: str, maximum: int, *, required: bool = False) -> str:
    """Return ``value`` if it is a str of at most ``maximum`` characters; ValueError otherwise."""
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str, not {type(value).__name__}")
    if required and not value.strip():
        raise ValueError(f"{field} must not be empty")
    if len(value) > maximum:
        raise ValueError(
            f"{field} is {len(value)} characters long; at most {maximum} are allowed "
            "(it is never cut silently: shorten it before logging)"
        )
    if "\x00" in value:  # PostgreSQL's text cannot hold it
        raise ValueError(
            f"{field} holds a NUL character (\\x00) at position {value.index(chr(0))}, which "
            "cannot be stored; remove it before logging"
        )
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"{field} holds {value[exc.start]!r} at position {exc.start}, a lone UTF-16 "
                "surrogate that is not a character and cannot be stored; send valid Unicode "
                "text (a surrogate pair must be complete)"
            ) from None
    return value


@dataclass(frozen=True)
class ActivityType:
    """A kind of activity a contact can perform, e.g. ``custom_loan_calculator``."""

    code_name: str
    display_name: str
    description: str = ""
    enabled: bool = True
    built_in: bool = False

    def __post_init__(self) -> None:
        validate_code_name(self.code_name)
        check_text("display_name", self.display_name, DISPLAY_NAME_MAX, required=True)
        check_text("description", self.description, DESCRIPTION_MAX)

    @property
    def key(self) -> str:
        """The case-insensitive identity of the type (code names are unique ignoring case)."""
        return self.code_name.lower()


BUILT_IN_TYPES: tuple[ActivityType, ...] = (
    ActivityType("pagevisit", "Page visit", "A visitor viewed a page.", built_in=True),
    ActivityType(
        "landingpage", "Landing page", "The first page a visitor viewed in a visit.", built_in=True
    ),
    ActivityType("click", "Click", "A visitor clicked a tracked element.", built_in=True),
    ActivityType("datainput", "Data input", "A visitor entered data in a form.", built_in=True),
)
