"""Repairs: every rule that mends a model's answer, each with the case it fixes.

Two entry points, one per kind of answer:
    tags_from_answer(text, answer, limit)  -> the tags a person would accept
    summary_sentences(text, answer)        -> the summary's clean sentences
``answer`` (``answer_for(tokenizer, document)``) tells the rules the tokenizer's added
strings and the document. The rules repair a 135M model's mistakes and leave a good
model's answer unchanged; tests/test_answers.py holds both kinds of answers.
"""

from __future__ import annotations

from ..vocabulary import KnownTags
from .answer import Answer, answer_for
from .known_tags import new_tags, with_known_tags
from .summaries import summary_sentences
from .tags import ground_tags, keyword_tags, normalize_tags, parse_tags, tag_key, with_title_subject

__all__ = [
    "Answer",
    "answer_for",
    "ground_tags",
    "keyword_tags",
    "new_tags",
    "normalize_tags",
    "parse_tags",
    "summary_sentences",
    "tag_key",
    "tags_from_answer",
    "with_known_tags",
    "with_title_subject",
]


def tags_from_answer(
    text: str,
    answer: Answer,
    limit: int,
    known: KnownTags | None = None,
    max_new: int | None = None,
    mentioned: list[str] | None = None,
) -> list[str]:
    """A model's tags answer as at most ``limit`` tags: parsed, every tag rule applied,
    and kept only where the document supports them (topped up from its keywords). With
    the user's tags (``known``), their spellings and at most ``max_new`` new tags (see
    known_tags.py). An answer in another language than the document's is not grounded
    in the document's words."""
    items = parse_tags(text, answer)
    if known is not None:
        return with_known_tags(
            items, answer.document, limit, known, max_new or 0, mentioned or [], answer.translated
        )
    tags = normalize_tags(items, limit)
    if answer.translated:
        return tags or keyword_tags(answer.document, limit)
    return ground_tags(tags, answer.document, limit)
