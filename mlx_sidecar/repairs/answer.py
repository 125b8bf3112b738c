"""What every repair rule works from: the answer's ``Answer`` (the tokenizer's added
strings, the thinking markers, the document), and the two cleanups both tags and
summaries need: leaked special strings, and markup."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..text import WordStems
from ..tokens import added_strings

# A model this size or larger may summarize in its own words; a smaller one's sentences
# stand only as the document's own words (repairs/support.copies_the_document). Published
# hallucination rates on news summaries (Vectara's HHEM leaderboard, 2025-10; see
# ../shared/notes/users-asks.md) run to 15-25% below two billion parameters (Qwen2.5-0.5B
# 25.2%, Llama-3.2-1B 20.7%, Qwen2.5-1.5B 15.8%) and 2.7-7.9% from three billion on. Of the
# bundled SmolLM2-135M's summary sentences that passed every check, seven blind reads found
# 29 of 87 supported where they were not one document sentence's words (in order, some
# left out), against 446 of 468 where they were.
OWN_WORDS_PARAMS = 2_000_000_000

THINK_BLOCK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)

# A special token the model spells itself, or stops half-way through: '<|im_end|>' written
# '<im_end|>' or '<|im_end>', or the answer ending on '<|im_en' or a lone '<'.
SPECIAL_TOKEN_SHAPE = re.compile(r"<\|[\w.-]*\|?>|<[\w.-]*\|>|<\|[\w.-]*$|<$")

LIST_ITEM = re.compile(r"^\s*(?:[-*•]\s+|\d+[.)]\s+|#{1,6}\s+|>\s*)")
ANSWER_MARKUP = (
    (re.compile(r"<!--.*?-->", re.DOTALL), " "),  # an HTML comment
    (re.compile(r"^\s*::\s*$", re.MULTILINE), ""),  # a reST literal-block marker
    (re.compile(r"!\[[^\]]*\](?:\([^)]*\)|\[[^\]]*\])"), " "),  # an image or badge
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # a Markdown link: its text stays
    (re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]{0,400})?/?>"), " "),  # an HTML element
    (re.compile(r"https?://\S+"), " "),  # a bare URL
    (re.compile(r"(?::\w+:)?`+([^`]*)`+"), r"\1"),  # `code` and reST roles (:mod:`json`)
    (re.compile(r"\*\*|__"), ""),  # **bold**
    (re.compile(r"(?<!\w)\*(\S[^*]*?)\*(?!\w)"), r"\1"),  # *emphasis*
    (re.compile(r"(?<!\w)_(\S[^_]*?)_(?!\w)"), r"\1"),  # _emphasis_
    (re.compile(r"(?<!\S)\*(?=\w)|(?<=\w)\*(?!\S)"), ""),  # a stray '*'
)


@dataclass
class Answer:
    """What the repair rules know besides the answer: the strings the tokenizer adds
    (and thinking markers), and the document the answer is about."""

    leaks: tuple[str, ...] = ()
    document: str = ""
    think: tuple[str, str] = ("<think>", "</think>")
    translated: bool = False  # asked in another language: its words are not the document's
    language: str | None = None  # the ISO 639-1 code asked; None: the document's language
    own_words: bool = True  # the model may say it in its own words (OWN_WORDS_PARAMS)
    _words: frozenset | None = None
    _stems: WordStems | None = None

    def words(self) -> frozenset:
        """The document's words, case-folded (for the name-and-number check)."""
        if self._words is None:
            folded = self.document.casefold()
            self._words = frozenset(re.findall(r"\w+", folded))
        return self._words

    def stems(self) -> WordStems:
        """The document's word stems (for the content-word check)."""
        if self._stems is None:
            self._stems = WordStems(self.document)
        return self._stems


def drop_leaks(text: str, answer: Answer) -> str:
    """Thinking blocks and the tokenizer's added strings: Qwen3 answers '</think>',
    '<tool_call>' or '<|fim_prefix|>', which are added tokens not marked special."""
    start, end = answer.think
    if end and end in text:
        text = text.rsplit(end, 1)[1]  # what came before the end marker was thinking
    if start:
        text = re.sub(re.escape(start) + r".*?(?:" + re.escape(end) + "|$)", " ", text, flags=re.S)
    for leak in answer.leaks:
        text = text.replace(leak, " ")
    return SPECIAL_TOKEN_SHAPE.sub(" ", drop_cut_leak(text.rstrip(), answer.leaks))


def drop_cut_leak(text: str, leaks: tuple[str, ...]) -> str:
    """The start of an added string the answer stopped in ('... the end.<tool_ca')."""
    for leak in leaks:
        for size in range(len(leak) - 1, 1, -1):
            if text.endswith(leak[:size]):
                return text[:-size]
    return text


def drop_markup(text: str, answer: Answer) -> str:
    """Markdown and HTML in the answer: links keep their text; images, URLs, tags,
    code marks and emphasis go."""
    for pattern, repl in ANSWER_MARKUP:
        text = pattern.sub(repl, text)
    return re.sub(r"[ \t]+", " ", text)


def answer_for(
    tokenizer: Any,
    document: str,
    translated: bool = False,
    language: str | None = None,
    param_count: int | None = None,
) -> Answer:
    """The repair rules' view of a model's tokenizer (mlx-lm's TokenizerWrapper): its
    added strings, special or not, and its thinking markers; ``language`` is the code of
    the language asked (None: the answer is to be in the document's); ``param_count``, the
    model's size, says whether it may summarize in its own words (None: it may)."""
    start = getattr(tokenizer, "think_start", None) or "<think>"
    end = getattr(tokenizer, "think_end", None) or "</think>"
    # Added strings that are ordinary words or whitespace would eat the answer's words.
    leaks = sorted(
        (t for t in added_strings(tokenizer) if t and len(t) >= 3 and re.search(r"[^\w\s]", t)),
        key=len,
        reverse=True,
    )
    own_words = param_count is None or param_count >= OWN_WORDS_PARAMS
    return Answer(tuple(leaks), document, (start, end), translated, language, own_words)
