"""The language of the answers: `language` on generate-tags and summarize.

"auto" (the default) asks for nothing, so a model answers in the document's language
where it can. Any ISO 639-1 code ("de") or its English name ("German"), as Babel's CLDR
data names the 184 of them, asks for the answers in that language. The document's own
language is identified by text.identify_language (fastText's model).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from .errors import InvalidParams
from .text import identify_language, same_language
from .validate import json_type

AUTO = "auto"


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1
    name: str  # its English name: what the prompt asks for ("German")

    def differs_from(self, document: str) -> bool:
        """Whether answering in this language translates the document (then the answer's
        words cannot be found in it): its language is identified, and it is another one. A
        document too short to tell is held to its words like any other."""
        found = identify_language(document)
        return found is not None and not same_language(found, self.code)


@functools.cache
def iso_639_1() -> dict[str, str]:
    """Code -> English name of every ISO 639-1 language, from Babel's CLDR data."""
    from babel import Locale

    return {code: name for code, name in Locale("en").languages.items() if len(code) == 2}


def require_language(req: dict) -> Language | None:
    """The request's `language`: None for "auto" (or absent), else the Language named."""
    value = req.get("language", AUTO)
    if value is None or value == AUTO:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidParams(_how_to_name(f"not {json_type(value)}"))
    wanted = value.strip().casefold()
    for code, name in iso_639_1().items():
        if wanted in (code, name.casefold()):
            return Language(code, name)
    raise InvalidParams(_how_to_name(f"{value!r} is no ISO 639-1 language"))


def _how_to_name(problem: str) -> str:
    return (
        f"'language' must be \"auto\" or a language named by its ISO 639-1 code or English "
        f'name, such as "de" or "German"; {problem}.'
    )
