"""What the app and its SQLite writer process say to each other over their two pipes: frames
of a 4-byte length and a pickle, a job pickled on its own (so that one job's error stays its
own), and "all logged" as an empty answer (the app knows the ids it sent)."""

from __future__ import annotations

import pickle
import struct
from typing import Any

LENGTH = struct.Struct("<I")
PICKLE = pickle.HIGHEST_PROTOCOL
ALL_LOGGED = b""  # the answer to activities that were all logged


def frame(message: Any) -> bytes:
    data = pickle.dumps(message, PICKLE)
    return LENGTH.pack(len(data)) + data


def frames(buffer: bytearray) -> list[Any]:
    """Take every complete frame off the front of ``buffer``."""
    messages, start, size = [], 0, len(buffer)
    while size - start >= 4:
        (length,) = LENGTH.unpack_from(buffer, start)
        if size - start - 4 < length:
            break
        messages.append(pickle.loads(buffer[start + 4 : start + 4 + length]))
        start += 4 + length
    del buffer[:start]
    return messages
