"""The tags grammar: llguidance keeps a tags answer a JSON array of short strings.

A ``TagGrammar`` belongs to one loaded model: llguidance's view of its tokenizer is built
once (about a second), and each request gets a fresh matcher as a logits processor.
llguidance's MLX bitmask kernel needs Metal, so the mask is applied with plain array ops,
which works on every backend.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from .errors import InvalidParams
from .models import Model
from .vocabulary import KnownTags

log = logging.getLogger(__name__)

TAG_MAX_CHARS = 40
CLOSING_WINDOW = 8  # the last tokens of max_tokens go to closing the JSON array
# No quotes, markup, URLs or paths; no CJK sentence punctuation, which made tags of whole
# Japanese sentences. '#' and '/' inside a tag ("C#", "TCP/IP", "I/O"), and a leading dot
# before a capital (".NET"), are names.
TAG_PATTERN = (
    r"^(?:[^\s\"\\#<>{}\[\]|*`~/:=()@.,-]|\.[A-Z])[^\"\\\n\r\t<>{}\[\]|*`~:=()@。、！？]*$"
)


# A new tag in the grammar of known tags: a JSON string TAG_PATTERN allows, 2-40 characters.
NEW_TAG = (
    r'/"(?:[^\s"\\#<>{}\[\]|*`~\/:=()@.,-]|\.[A-Z])[^"\\\n\r\t<>{}\[\]|*`~:=()@。、！？]{1,39}"/'
)
GRAMMARS_KEPT = 8  # grammars of known-tag lists kept for reuse (one per list and limits)
# Vocabulary pieces that are whitespace: byte-level BPE writes a space, newline, tab and
# carriage return as these; SentencePiece writes a space as "▁" and bytes as <0xNN>.
BLANK_PIECES = frozenset(" \n\t\rĠĊĉč▁")
BLANK_BYTE_TOKENS = frozenset({"<0x20>", "<0x0A>", "<0x09>", "<0x0D>"})


def tags_schema(limit: int) -> dict:
    """A JSON array of 1..limit strings of 2..TAG_MAX_CHARS characters, ", "-separated."""
    return {
        "type": "array",
        "items": {
            "type": "string",
            "minLength": 2,
            "maxLength": TAG_MAX_CHARS,
            "pattern": TAG_PATTERN,
        },
        "minItems": 1,
        "maxItems": limit,
        "x-guidance": {"whitespace_flexible": False, "item_separator": ", "},
    }


def llguidance_installed() -> bool:
    """Whether llguidance can be imported; if not, the log says tags go unconstrained."""
    try:
        import llguidance  # noqa: F401
    except ImportError:
        log.warning("llguidance is not installed; tags are generated unconstrained")
        return False
    return True


class TagGrammar:
    """Logits processors that hold a model's tags answer to ``tags_schema``."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._tokenizer: Any = None  # llguidance's LLTokenizer, built on first use
        self._closing: Any = None  # tokens made only of '"' and ']': they end a tags array
        self._known: dict[tuple, str] = {}  # grammars of known-tag lists, newest last
        self._schemas: dict[str, str] = {}  # grammars of JSON Schemas, newest last

    def processor(
        self, limit: int, max_tokens: int, known: KnownTags | None = None, max_new: int = 0
    ) -> Constraint | None:
        """A logits processor for one answer of at most ``limit`` tags in ``max_tokens``
        tokens; with ``known``, tags from that list and at most ``max_new`` others. None if
        llguidance is not installed.

        In the last CLOSING_WINDOW tokens, a token that closes the string or the array is
        taken as soon as the grammar allows one: a grammar alone keeps the output a prefix
        of valid JSON, and Japanese tags (several tokens a character) ran out of tokens
        mid-array.
        """
        if not llguidance_installed():
            return None
        if known is None:
            import llguidance

            grammar = llguidance.LLMatcher.grammar_from_json_schema(tags_schema(limit))
        else:
            grammar = self.known_tags_grammar(known, limit, max_new)
        return self.constraint(grammar, max_tokens)

    def candidates_processor(
        self, candidates: list[str], limit: int, max_tokens: int, max_new: int
    ) -> Constraint | None:
        """A tags answer chosen among the document's key phrases (keyphrases.py): up to
        ``limit`` of ``candidates``, each exactly as written and one of them first, then at
        most ``max_new`` others; the plain tags grammar when there are none. The known-tags
        grammar serves, built for each document and not kept: a score of phrases builds in
        a millisecond, and the users' lists stay in their cache."""
        if not candidates:
            return self.processor(limit, max_tokens)
        if not llguidance_installed():
            return None
        grammar = known_tags_grammar(list(dict.fromkeys(candidates)), limit, max_new, False)
        return self.constraint(grammar, max_tokens)

    def schema_processor(self, schema: dict, max_tokens: int) -> Constraint:
        """A logits processor holding an answer to the JSON Schema ``schema`` (chat's
        `format`, extract's `schema`); its grammar is compiled once per schema content."""
        key = json.dumps(schema, ensure_ascii=False)  # its order is the answer's order
        if key not in self._schemas:
            self._schemas[key] = schema_grammar(schema)
            while len(self._schemas) > GRAMMARS_KEPT:
                self._schemas.pop(next(iter(self._schemas)))
        return self.constraint(self._schemas[key], max_tokens)

    def constraint(self, grammar: str, max_tokens: int) -> Constraint:
        import llguidance

        tokenizer = self.tokenizer()
        matcher = llguidance.LLMatcher(tokenizer, grammar)
        return Constraint(matcher, tokenizer, max_tokens, self.closing_tokens())

    def known_tags_grammar(self, known: KnownTags, limit: int, max_new: int) -> str:
        """A Lark grammar (llguidance's syntax) of a JSON array of 1..limit tags: known
        tags first, then at most ``max_new`` new ones. Built once for a list and kept under
        its digest while the list is unchanged (it takes ~0.1 s at 10,000 tags)."""
        key = (known.key, limit, max_new)
        if key not in self._known:
            self._known[key] = known_tags_grammar(known.tags, limit, max_new)
            while len(self._known) > GRAMMARS_KEPT:
                self._known.pop(next(iter(self._known)))
        return self._known[key]

    def tokenizer(self) -> Any:
        """llguidance's tokenizer, from the model's own `tokenizers` backend (serialized
        to JSON, as llguidance.hf does), ending answers on the chat turn's end."""
        if self._tokenizer is None:
            import copy

            import llguidance

            backend = copy.copy(self.model.tokenizer.backend_tokenizer)
            backend.no_padding()
            backend.no_truncation()
            self._tokenizer = llguidance.LLTokenizer(
                backend.to_str(), eos_token=self.model.end_of_answer()
            )
        return self._tokenizer

    def closing_tokens(self) -> tuple[Any, Any, Any]:
        """Three masks of the vocabulary (built once): tokens that end the string they are
        in (made only of '"', ']' and '}', and starting with '"'), tokens that close arrays
        and objects (made only of ']' and '}'), and tokens that are not only whitespace."""
        import numpy as np

        if self._closing is None:
            vocab = self.model.tokenizer.get_vocab()
            size = max(vocab.values()) + 1
            in_string, outside = np.zeros(size, dtype=bool), np.zeros(size, dtype=bool)
            blank = np.zeros(size, dtype=bool)
            for token, i in vocab.items():
                if token and set(token) <= {'"', "]", "}"}:
                    in_string[i] = token[0] == '"'
                    outside[i] = '"' not in token
                blank[i] = bool(token) and (
                    set(token) <= BLANK_PIECES or token in BLANK_BYTE_TOKENS
                )
            self._closing = (in_string, outside, ~blank)
        return self._closing


class Constraint:
    """A logits processor that holds one answer to a grammar (llguidance's matcher).

    Near the end of ``max_tokens`` (CLOSING_WINDOW tokens, more the deeper the answer's
    JSON is nested), or once ``close()`` was called, a token that closes what is open (the
    string, else arrays and objects) is taken as soon as the grammar allows one, so a JSON
    answer closes before it runs out of tokens where it can.
    """

    def __init__(self, matcher: Any, tokenizer: Any, max_tokens: int, closing: Any) -> None:
        from llguidance.numpy import allocate_token_bitmask

        self.matcher, self.tokenizer = matcher, tokenizer
        self.max_tokens, self.closing = max_tokens, closing
        self.bitmask = allocate_token_bitmask(1, tokenizer.vocab_size)
        self.prompt_length: int | None = None  # set at the first call
        self.depth = JsonDepth()
        self.closing_now = False  # set by close(): close the JSON as soon as it can

    def close(self) -> None:
        """Close the answer's JSON from now on, as soon as the grammar allows (a loop)."""
        self.closing_now = True

    def __call__(self, tokens: Any, logits: Any) -> Any:
        import mlx.core as mx
        import numpy as np
        from llguidance.numpy import fill_next_token_bitmask

        if self.prompt_length is None:
            self.prompt_length = tokens.size
        else:
            token = int(tokens[-1].item())
            self.matcher.consume_token(token)
            self.depth.feed(self.tokenizer.decode_str([token]))
        fill_next_token_bitmask(self.matcher, self.bitmask)
        vocab = logits.shape[-1]
        allowed = np.unpackbits(self.bitmask.view(np.uint8), bitorder="little")[:vocab]
        allowed = np.pad(allowed, (0, vocab - allowed.size)).astype(bool)
        left = self.max_tokens - (tokens.size - self.prompt_length)
        if self.closing_now or left <= CLOSING_WINDOW + self.depth.depth:
            allowed = self.toward_closing(allowed)
        return mx.where(mx.array(allowed), logits, -mx.inf)

    def toward_closing(self, allowed: Any) -> Any:
        """What the grammar allows, narrowed to the tokens that close what is open; where
        none of those is allowed yet (a required field still to write), to the tokens
        that are not only whitespace."""
        import numpy as np

        closes = self.closing[0] if self.depth.in_string else self.closing[1]
        for mask in (closes, self.closing[2]):
            wanted = np.zeros_like(allowed)
            n = min(allowed.size, mask.size)
            wanted[:n] = mask[:n]
            if (allowed & wanted).any():
                return allowed & wanted
        return allowed


class JsonDepth:
    """How deep the JSON read so far is nested: open brackets outside strings."""

    def __init__(self) -> None:
        self.depth, self.in_string, self.escaped = 0, False, False

    def feed(self, text: str) -> None:
        for ch in text:
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif ch == "\\":
                    self.escaped = True
                elif ch == '"':
                    self.in_string = False
            elif ch == '"':
                self.in_string = True
            elif ch in "[{":
                self.depth += 1
            elif ch in "]}":
                self.depth -= 1


def schema_grammar(schema: dict) -> str:
    """llguidance's grammar for a JSON Schema, whitespace as the model writes it (asked to
    write compact JSON, SmolLM2 answered an array of strings with "[]"; endless whitespace,
    ollama #18567, is a loop the Constraint closes); InvalidParams naming what llguidance
    cannot take."""
    import llguidance

    grammar = llguidance.LLMatcher.grammar_from_json_schema(schema)
    problem = llguidance.LLMatcher.validate_grammar(grammar)
    if problem:
        raise InvalidParams(f"The JSON Schema cannot be used: {one_line_of(problem)}.")
    return grammar


def one_line_of(text: str) -> str:
    return " ".join(str(text).split())[:300]


def known_tags_grammar(tags: list[str], limit: int, max_new: int, new_alone: bool = True) -> str:
    """A JSON array of a known tags and b new ones, a >= 0, 0 <= b <= max_new, 1 <= a + b
    <= limit, the known ones first; each known tag exactly as the list spells it. Without
    ``new_alone``, a >= 1: an answer opens with a known tag."""
    alternatives = []
    for new in range(min(max_new, limit) + 1):
        known_more = limit - 1 - new  # known tags after the first one
        if known_more < 0:
            break
        alternatives.append(
            "KNOWN" + _more("KNOWN", 0, known_more) + (f' (", " NEW){{{new}}}' if new else "")
        )
    if max_new and new_alone:
        alternatives.append("NEW" + _more("NEW", 0, min(max_new, limit) - 1))
    literals = " | ".join(
        json.dumps(json.dumps(t, ensure_ascii=False), ensure_ascii=False) for t in tags
    )
    return f'start: "[" ({" | ".join(alternatives)}) "]"\nKNOWN: {literals}\nNEW: {NEW_TAG}\n'


def _more(item: str, least: int, most: int) -> str:
    """ ", item" repeated least..most times, in llguidance's Lark syntax."""
    return f' (", " {item}){{{least},{most}}}' if most > 0 else ""
