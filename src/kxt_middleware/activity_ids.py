"""Activity ids: UUIDv7 (RFC 9562), made one at a time or many at once."""

from __future__ import annotations

import os
import time


def new_activity_id() -> str:
    """A new activity id: a UUIDv7 (RFC 9562), so ids made later sort later.

    Time-ordered ids land at the end of the id index instead of at random places in it, which
    keeps inserts into a large table cheap. The 74 random bits come from os.urandom, read in
    blocks (and thrown away in a forked child, so two processes never share them).
    """
    if len(_RANDOM) < 10:
        _RANDOM.extend(os.urandom(10 * 256))
    # 48 bits of Unix milliseconds, then 80 random bits; the version nibble (7) and the
    # variant's two bits (10) replace six of them, which leaves 74 random bits.
    text = ((time.time_ns() // 1_000_000).to_bytes(6, "big") + _RANDOM[-10:]).hex()
    del _RANDOM[-10:]
    variant = _VARIANT[int(text[16], 16) & 3]
    return f"{text[:8]}-{text[8:12]}-7{text[13:16]}-{variant}{text[17:20]}-{text[20:]}"


_VARIANT = "89ab"  # the hex digits whose top two bits are 10
_RANDOM = bytearray()
os.register_at_fork(after_in_child=_RANDOM.clear)
# A random hex digit's two low bits, as the variant's hex digit (for many ids at once).
_VARIANT_OF = str.maketrans({digit: _VARIANT[int(digit, 16) & 3] for digit in "0123456789abcdef"})


def new_activity_ids(count: int) -> list[str]:
    """``count`` new activity ids made as :func:`new_activity_id` makes one (same millisecond)."""
    size = 10 * count
    if len(_RANDOM) < size:
        _RANDOM.extend(os.urandom(max(size, 10 * 256)))
    start = len(_RANDOM) - size  # not -size: for no ids that would take the whole buffer
    text = _RANDOM[start:].hex()
    del _RANDOM[start:]
    stamp = (time.time_ns() // 1_000_000).to_bytes(6, "big").hex()
    head = f"{stamp[:8]}-{stamp[8:]}-7"
    # Each id's 20 random hex digits r: 7 r[1:4] - variant(r[4]) r[5:8] - r[8:20] (r[0] unused).
    variants = text[4::20].translate(_VARIANT_OF)
    return [
        f"{head}{text[at + 1 : at + 4]}-{variant}{text[at + 5 : at + 8]}-{text[at + 8 : at + 20]}"
        for at, variant in zip(range(0, 20 * count, 20), variants, strict=True)
    ]
