"""Checks of request fields, one call per field, each raising InvalidParams that names the field.

content = require_str(req, "content", non_blank=True)
limit = optional_int(req, "max_tags", DEFAULT_MAX_TAGS, 1, MAX_TAGS_LIMIT)
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from .errors import InvalidParams, SidecarError

# Hugging Face repo ids: "owner/name", ASCII letters, digits, '-', '_', '.'; no '--' or '..',
# no part starting or ending with '-' or '.', at most 96 characters (huggingface_hub's
# validate_repo_id). Checked before the id reaches a URL or a local path.
REPO_PART = r"[A-Za-z0-9](?:[\w.-]*[A-Za-z0-9])?"
REPO_ID = re.compile(rf"(?!.*(?:--|\.\.)){REPO_PART}/{REPO_PART}", re.ASCII)
REPO_ID_MAX_CHARS = 96


def require_str(req: dict, key: str, *, non_blank: bool = False) -> str:
    value = req.get(key)
    if value is None:
        raise InvalidParams(f"'{key}' is required and must be a string.")
    if not isinstance(value, str):
        raise InvalidParams(f"'{key}' must be a string, not {json_type(value)}.")
    if non_blank and not value.strip():
        raise InvalidParams(f"'{key}' is empty or only whitespace; send some text.")
    return value


def optional_str(req: dict, key: str) -> str | None:
    return None if req.get(key) is None else require_str(req, key)


def optional_int(req: dict, key: str, default: int, lo: int, hi: int) -> int:
    value = req.get(key, default)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParams(f"'{key}' must be an integer, not {json_type(value)}.")
    if not lo <= value <= hi:
        raise InvalidParams(f"'{key}' must be between {lo} and {hi}; got {value}.")
    return value


def optional_count(req: dict, key: str, lo: int, hi: int) -> int | None:
    """An optional integer in range, or None when the field is absent or null."""
    return None if req.get(key) is None else optional_int(req, key, lo, lo, hi)


def optional_float(req: dict, key: str, default: float, lo: float, hi: float) -> float:
    value = req.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParams(f"'{key}' must be a number, not {json_type(value)}.")
    if not (math.isfinite(value) and lo <= value <= hi):
        raise InvalidParams(f"'{key}' must be between {lo} and {hi}; got {value}.")
    return float(value)


def optional_bool(req: dict, key: str) -> bool:
    value = req.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidParams(f"'{key}' must be true or false, not {json_type(value)}.")
    return value


def is_id(value: Any) -> bool:
    """What may name a request: a string or a finite number (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return False
    return not isinstance(value, float) or math.isfinite(value)


def json_type(value: Any) -> str:
    """A value's type as a JSON reader would name it, for error messages."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, bool):
        return names[bool]
    if isinstance(value, (int, float)):
        return "a number"
    return names.get(type(value), type(value).__name__)


def truncate(text: str | None, limit: int = 80) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def require_repo_id(req: dict, key: str = "repo_id") -> str:
    value = require_str(req, key, non_blank=True)
    if len(value) > REPO_ID_MAX_CHARS or not REPO_ID.fullmatch(value) or value.endswith(".git"):
        raise InvalidParams(
            f"'{key}' must look like 'owner/name' (letters, digits, '-', '_', '.'; at most "
            f"{REPO_ID_MAX_CHARS} characters), e.g. 'mlx-community/Qwen2.5-3B-Instruct-4bit'; "
            f"got '{truncate(value)}'."
        )
    return value


def require_folder(req: dict, key: str) -> Path:
    """An absolute folder path that may not exist yet; never an existing file or '/'.

    The path is resolved (symlinks, '..'), so later checks see where writes really land.
    """
    raw = require_str(req, key, non_blank=True)
    if "\x00" in raw:
        raise InvalidParams(f"'{key}' contains a NUL character.")
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise InvalidParams(f"'{key}' must be an absolute path; got '{truncate(raw)}'.")
    try:
        path = path.resolve()
        existing = next(p for p in (path, *path.parents) if p.exists())
    except OSError as e:  # a name too long, a loop of links, no permission
        raise InvalidParams(f"'{key}' is not a usable path: {e.strerror or e}.") from None
    if not existing.is_dir():
        raise SidecarError(
            f"'{key}': {existing} is a file, not a folder; it is left untouched.", "not_writable"
        )
    if path == Path(path.anchor):
        raise InvalidParams(f"'{key}' cannot be the filesystem root.")
    return path
