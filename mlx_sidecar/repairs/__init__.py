"""Repairs: every rule that mends a model's answer, each with the case it fixes.

Two entry points, one per kind of answer:
    tags_from_answer(text, answer, limit)  -> the tags a person would accept
    summary_sentences(text, answer)        -> the summary's clean sentences
``answer`` (``answer_for(tokenizer, document)``) tells the rules the tokenizer's added
strings and the document. The rules repair a 135M model's mistakes and leave a good
model's answer unchanged; tests/test_answers.py holds both kinds of answers.
"""

from __future__ import annotations

from .answer import Answer, answer_for
from .summaries import summary_sentences
from .tags import ground_tags, keyword_tags, normalize_tags, parse_tags, tag_key, with_title_subject

__all__ = [
    "Answer",
    "answer_for",
    "ground_tags",
    "keyword_tags",
    "normalize_tags",
    "parse_tags",
    "summary_sentences",
    "tag_key",
    "tags_from_answer",
    "with_title_subject",
]


def tags_from_answer(text: str, answer: Answer, limit: int) -> list[str]:
    """A model's tags answer as at most ``limit`` tags: parsed, every tag rule applied,
    and kept only where the document supports them (topped up from its keywords)."""
    return ground_tags(normalize_tags(parse_tags(text, answer), limit), answer.document, limit)
