"""Activity ids: UUIDv7 (RFC 9562), made one at a time or many at once."""

from __future__ import annotations

import os
import time


def new_activity_id() -> str:
    """A new activity id: a UUIDv7 (RFC 9562), so ids made later sort later.

    Time-ordered ids land at the end of the id index instead of at random places in it, which
    keeps inserts into a large table cheap. The 74 random bits come from os.urandom, read in
    blocks (and thrown away in a forked child, so two processes never share them); the random
    part of the next 256 ids is formatted at once, and the time part once per millisecond.
    """
    global _head
    stamp = time.time_ns() // 1_000_000
    head = _head
    if head[0] != stamp:
        head = _head = (stamp, _time_part(stamp))
    try:
        return head[1] + _TAILS.pop()
    except IndexError:  # none left: format the next block
        _TAILS.extend(_random_parts(256))
        return head[1] + _TAILS.pop()


def new_activity_ids(count: int) -> list[str]:
    """``count`` new activity ids made as :func:`new_activity_id` makes one (same millisecond)."""
    head = _time_part(time.time_ns() // 1_000_000)
    return [head + tail for tail in _random_parts(count)]


def _time_part(stamp: int) -> str:
    """The first 14 characters of an id: 48 bits of Unix milliseconds and two "-"."""
    text = f"{stamp:012x}"
    return f"{text[:8]}-{text[8:]}-"


def _random_parts(count: int) -> list[str]:
    """The last 22 characters of ``count`` ids: the version, 74 random bits and the variant."""
    size = 10 * count
    if len(_RANDOM) < size:
        _RANDOM.extend(os.urandom(max(size, 10 * 256)))
    start = len(_RANDOM) - size  # not -size: for no ids that would take the whole buffer
    random = bytes(_RANDOM[start:])
    del _RANDOM[start:]
    # 80 random bits per id, in two runs: 4 bytes each, where the version nibble (7) and the
    # variant's two bits (10) replace six of them, then 6 bytes each. That leaves 74 random bits.
    # Formatted with hex()'s separators and split(): a few C calls for all the ids at once.
    keep, mark = (int.from_bytes(pattern * count, "big") for pattern in (_KEEP, _MARK))
    marked = int.from_bytes(random[: 4 * count], "big") & keep | mark
    middles = iter(marked.to_bytes(4 * count, "big").hex(" ", 2).split())
    ends = random[4 * count :].hex(" ", 6).split()
    return list(map("-".join, zip(middles, middles, ends, strict=True)))


# Over an id's first 4 random bytes: the random bits kept, and the version and variant bits.
_KEEP = bytes.fromhex("0fff3fff")
_MARK = bytes.fromhex("70008000")
_RANDOM = bytearray()
_TAILS: list[str] = []  # random parts formatted ahead for new_activity_id, taken from the end
_head = (-1, "")  # the last millisecond an id was made in, and its time part


def _forget_random() -> None:
    _RANDOM.clear()
    _TAILS.clear()


os.register_at_fork(after_in_child=_forget_random)
