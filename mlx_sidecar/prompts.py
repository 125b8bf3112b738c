"""Prompts: what the model is asked, and the chat prompt's token ids.

Every prompt is: system prompt, then the document, then the task. Tags and summary of the
same document therefore share a token prefix, which the prompt cache keeps (generation.py).
"""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

from .errors import SidecarError
from .tokens import encode_text

SYSTEM_PROMPT = "You are a helpful assistant that reads documents and describes them accurately."
# Templates that read the calendar (Llama 3.x: "Today Date: ..." from strftime_now or
# date_string) get this fixed date, so a document gives the same prompt, the same greedy
# answer and a prompt-cache hit on every day. 26 Jul 2024 is the date Llama 3.1's own
# template falls back to when it has no clock.
TEMPLATE_DATE = datetime.datetime(2024, 7, 26)
DOCUMENT_OPEN = "Here is a document.\n\n<document>\n"
DOCUMENT_CLOSE = "\n</document>\n\n"
TAGS_TASK = (
    "What are the main topics of this document? Answer with a JSON list of up to {n} "
    "keywords, each one to three words long."
)
SUMMARY_TASK = "Summarize this document in {sentences}."
SUBJECT_SUMMARY_TASK = "Summarize this document in {sentences} about {subject}."
KNOWN_TAGS_TASK = " Prefer these tags where they fit: {candidates}."
ONLY_KNOWN_TAGS = " Use only tags from that list."
SOME_NEW_TAGS = " You may add at most {n} other {tags}."
LANGUAGE_TASK = " Write your answer in {language}."


def tags_task(
    limit: int,
    language: str | None = None,
    candidates: list[str] | None = None,
    max_new: int | None = None,
) -> str:
    """What a tags pass asks: up to ``limit`` keywords; with the user's tags, the ones the
    document mentions as the tags to prefer; in ``language`` (an English name) if given."""
    task = TAGS_TASK.format(n=limit)
    if candidates:
        task += KNOWN_TAGS_TASK.format(candidates=json.dumps(candidates, ensure_ascii=False))
        if max_new == 0:
            task += ONLY_KNOWN_TAGS
        elif max_new is not None:
            task += SOME_NEW_TAGS.format(n=max_new, tags="tag" if max_new == 1 else "tags")
    return task + (LANGUAGE_TASK.format(language=language) if language else "")


def summary_task(sentences: str, language: str | None = None, subject: str = "") -> str:
    """What a summary pass asks: ``sentences`` ("two or three sentences"), about
    ``subject`` if given, in ``language`` if given."""
    task = SUBJECT_SUMMARY_TASK if subject else SUMMARY_TASK
    task = task.format(sentences=sentences, subject=subject)
    return task + (LANGUAGE_TASK.format(language=language) if language else "")


def encode_prompt(tokenizer: Any, content: str, task: str) -> list[int]:
    """Token ids of the chat prompt for ``task`` on ``content``.

    The template is rendered with a random sentinel in place of the document, then the
    document is tokenized with special tokens disabled: a document containing
    "<|im_end|>" stays text and cannot close the user turn or forge an assistant turn.
    """
    sentinel = f"\ue000{uuid.uuid4().hex}\ue000"
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": DOCUMENT_OPEN + sentinel + DOCUMENT_CLOSE + task},
    ]
    rendered = render_chat(tokenizer, messages)
    head, found, tail = rendered.partition(sentinel)
    if not found or sentinel in tail:
        raise SidecarError("The model's chat template dropped or repeated the document.")
    return (
        encode_text(tokenizer, head)
        + encode_text(tokenizer, content, literal=True)
        + encode_text(tokenizer, tail)
    )


def render_chat(tokenizer: Any, messages: list) -> str:
    """The chat template as text; thinking models are asked not to think, and templates
    that read the date see TEMPLATE_DATE."""
    if not getattr(tokenizer, "has_chat_template", False):
        turns = "\n\n".join(m["content"] for m in messages)
        return turns + "\n\nAnswer:\n"
    try:
        return _apply_template(tokenizer, messages)
    except Exception:  # templates without a system role
        merged = [{"role": "user", "content": "\n\n".join(m["content"] for m in messages)}]
        return _apply_template(tokenizer, merged)


def _apply_template(tokenizer: Any, messages: list) -> str:
    return tokenizer.apply_chat_template(
        messages,
        tokenize=False,
        add_generation_prompt=True,
        enable_thinking=False,
        # Template variables shadow the renderer's strftime_now global.
        strftime_now=TEMPLATE_DATE.strftime,
        date_string=TEMPLATE_DATE.strftime("%d %b %Y"),
    )
