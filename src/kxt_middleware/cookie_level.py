"""Cookie levels: how much a visitor agreed to be tracked (the reference's values)."""

from __future__ import annotations

import re
from enum import IntEnum


class CookieLevel(IntEnum):
    """A visitor's cookie level; contacts are tracked only at VISITOR or ALL."""

    NONE = -1000
    SYSTEM = -100
    ESSENTIAL = 0
    EDITOR = 100
    VISITOR = 200
    ALL = 1000

    @property
    def allows_tracking(self) -> bool:
        """True when activities may be logged for a visitor at this level."""
        return self >= CookieLevel.VISITOR

    @classmethod
    def parse(cls, value: int | str | CookieLevel) -> CookieLevel:
        """Return the level for a number or a name (``"all"``, ``"1000"``); ValueError otherwise."""
        if isinstance(value, CookieLevel):
            return value
        if type(value) is str and value in _BY_TEXT:  # as cookies hold it: "1000"
            return _BY_TEXT[value]
        number: int | None = value if isinstance(value, int) else None
        if isinstance(value, str):
            text = value.strip()
            if text.upper() in cls.__members__:
                return cls[text.upper()]
            if re.fullmatch(r"-?\d{1,6}", text):
                number = int(text)
        if number is not None and number in cls._value2member_map_:
            return cls(number)
        choices = ", ".join(f"{m.name} ({m.value})" for m in cls)
        raise ValueError(f"{value!r} is not a cookie level; use one of {choices}")


# Each level's number as text (what the level cookie holds), read on every tracking request.
_BY_TEXT = {str(level.value): level for level in CookieLevel}
