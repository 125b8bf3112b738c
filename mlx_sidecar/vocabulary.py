"""The user's own tags (`known_tags` on generate-tags): reuse them, spelled their way.

A bookmark manager's user ended with 10,000 tags for 2,000 bookmarks, 99% used once,
because every document could add a new spelling of a topic already there. With
`known_tags` the tags grammar allows the list's items (and at most `max_new_tags` others),
a model's variant of a known tag ("Web-Scraping", "node.js") comes back as the list spells
it, and the prompt shows the model only the known tags the document's words match: the
candidates, most mentioned first; it never carries thousands of tags.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field

from .errors import InvalidParams
from .text import CJK, guess_language, stem, stopwords
from .validate import json_type, optional_int

MAX_KNOWN_TAGS = 10_000
MAX_KNOWN_TAG_CHARS = 100
CANDIDATES_IN_PROMPT = 30  # the known tags the prompt shows, most mentioned first
DEFAULT_MAX_NEW_TAGS = 1  # with known_tags: one new topic a document may bring
WORD = re.compile(r"[^\W_]+")
SEPARATORS = re.compile(r"[\s_\-]+")


def require_known_tags(req: dict) -> list[str] | None:
    """`known_tags`: a list of 1 to MAX_KNOWN_TAGS non-empty strings, each at most
    MAX_KNOWN_TAG_CHARS characters; None when absent."""
    value = req.get("known_tags")
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise InvalidParams(
            f"'known_tags' must be a non-empty list of strings (your existing tags), not "
            f"{json_type(value) if value != [] else 'an empty list'}."
        )
    if len(value) > MAX_KNOWN_TAGS:
        raise InvalidParams(f"'known_tags' holds {len(value):,} tags; at most {MAX_KNOWN_TAGS:,}.")
    for i, tag in enumerate(value):
        if not isinstance(tag, str) or not tag.strip():
            raise InvalidParams(
                f"'known_tags'[{i}] must be a non-empty string, not {json_type(tag)}."
            )
        if len(tag) > MAX_KNOWN_TAG_CHARS:
            raise InvalidParams(
                f"'known_tags'[{i}] is {len(tag)} characters; a tag may have at most "
                f"{MAX_KNOWN_TAG_CHARS}."
            )
    return value


def require_max_new_tags(req: dict, limit: int, known: list[str] | None) -> int | None:
    """`max_new_tags`: 0..max_tags tags outside known_tags (DEFAULT_MAX_NEW_TAGS when
    known_tags is given); None without known_tags, where every tag is new."""
    if known is None:
        if req.get("max_new_tags") is not None:
            optional_int(req, "max_new_tags", 0, 0, limit)  # still a bad value is named
        return None
    return optional_int(req, "max_new_tags", min(DEFAULT_MAX_NEW_TAGS, limit), 0, limit)


def variant_key(tag: str) -> str:
    """What makes two spellings one tag: case, hyphens, underscores and spaces, a plural
    last word, a leading article ("The Web-Scrapers" is "web scraper")."""
    words = SEPARATORS.sub(" ", tag.casefold()).split()
    if len(words) > 1 and words[0] in ("the", "a", "an"):
        words = words[1:]
    if not words:
        return ""
    last = words[-1]
    if len(last) > 4 and last.endswith("ies"):
        last = last[:-3] + "y"
    elif len(last) > 3 and last.endswith("s") and not last.endswith(("ss", "us", "is")):
        last = last[:-1]
    return " ".join([*words[:-1], last])


@dataclass
class KnownTags:
    """One list of the user's tags, with what is worked out once for it."""

    tags: list[str]
    key: str = ""  # a digest of the list: the grammar built for it is kept under it
    _spelling: dict[str, str] = field(default_factory=dict)
    _by_language: dict[str, list] = field(default_factory=dict)  # see _matchers

    @classmethod
    def of(cls, tags: list[str]) -> KnownTags:
        unique = list(dict.fromkeys(t.strip() for t in tags))
        digest = hashlib.sha256("\0".join(unique).encode("utf-8", "surrogatepass")).hexdigest()
        known = cls(unique, digest)
        for tag in unique:
            known._spelling.setdefault(variant_key(tag), tag)
        return known

    def spelling(self, tag: str) -> str | None:
        """The user's spelling of ``tag`` when it is one of the known tags, else None."""
        return self._spelling.get(variant_key(tag))

    def candidates(self, document: str, limit: int = CANDIDATES_IN_PROMPT) -> list[str]:
        """The known tags the document names, most mentioned first: the tag as written
        (case aside), or every word of it by stem in the document's language."""
        folded, language = document.casefold(), guess_language(document)
        counts = Counter(WORD.findall(folded))
        stems: Counter = Counter()
        for word, n in counts.items():
            stems[stem(word, language)] += n
        scored = []
        for position, (tag, words) in enumerate(self._matchers(language)):
            score = min(stems[w] for w in words) if words else folded.count(tag.casefold())
            if score:
                scored.append((-score, position, tag))
        return [tag for _, _, tag in sorted(scored)[:limit]]

    def _matchers(self, language: str) -> list[tuple[str, list[str]]]:
        """Each tag with the stems its words must all have in a document; no stems for a
        tag found only as written ("C#", "Node.js", "日本語"). Worked out once a language."""
        if language not in self._by_language:
            matchers = []
            for tag in self.tags:
                phrase = tag.casefold()
                if CJK.search(phrase) or not WORD.fullmatch(SEPARATORS.sub("", phrase) or "-"):
                    matchers.append((tag, []))
                    continue
                words = [w for w in WORD.findall(phrase) if w not in stopwords()]
                matchers.append((tag, [stem(w, language) for w in words or WORD.findall(phrase)]))
            self._by_language[language] = matchers
        return self._by_language[language]
