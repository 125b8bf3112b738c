"""Write tiny GGUF files for load-error tests (header layout per the GGUF v3 spec)."""

from __future__ import annotations

import struct
from pathlib import Path

GGUF_STRING = 8


def _string(value: str) -> bytes:
    data = value.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def write_gguf(path: Path, architecture: str, tensor_type: int, shape=(32, 4)) -> Path:
    """One metadata key (general.architecture) and one tensor of ``tensor_type``."""
    header = b"GGUF" + struct.pack("<IQQ", 3, 1, 1)
    header += _string("general.architecture") + struct.pack("<I", GGUF_STRING)
    header += _string(architecture)
    header += _string("token_embd.weight") + struct.pack("<I", len(shape))
    header += b"".join(struct.pack("<Q", d) for d in shape)
    header += struct.pack("<IQ", tensor_type, 0)
    header += b"\0" * (-len(header) % 32)
    n = 1
    for d in shape:
        n *= d
    data = b"\0" * (n * 4)  # generous: F32 size; enough bytes for any block type here
    path.write_bytes(header + data)
    return path
