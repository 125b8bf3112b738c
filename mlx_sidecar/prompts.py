"""Prompts: what the model is asked, and the chat prompt's token ids.

Every prompt is: system prompt, then the document, then the task. Tags and summary of the
same document therefore share a token prefix, which the prompt cache keeps (generation.py).
"""

from __future__ import annotations

import datetime
import json
import re
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
# The tags task with the document's key phrases offered (keyphrases.py): the model chooses.
CANDIDATE_TAGS_TASK = (
    "What are the main topics of this document? Choose up to {n} tags from these phrases "
    "of the document: {candidates}. Answer with a JSON list."
)
KNOWN_TAGS_TASK = " Prefer these tags where they fit: {candidates}."
ONLY_KNOWN_TAGS = " Use only tags from that list."
SOME_NEW_TAGS = " You may add at most {n} other {tags}."
LANGUAGE_TASK = " Write your answer in {language}."
# The retries when a summary came back in another language than asked (tasks/summary.py):
TRANSLATE_TASK = "Translate this text into {language}."


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


def candidate_tags_task(
    limit: int, candidates: list[str], max_new: int, language: str | None = None
) -> str:
    """What a tags pass asks when it offers the document's key phrases: up to ``limit``
    of them, at most ``max_new`` others, in ``language`` (an English name) if given."""
    task = CANDIDATE_TAGS_TASK.format(
        n=limit, candidates=json.dumps(candidates, ensure_ascii=False)
    )
    if max_new:
        task += SOME_NEW_TAGS.format(n=max_new, tags="tag" if max_new == 1 else "tags")
    return task + (LANGUAGE_TASK.format(language=language) if language else "")


def summary_task(sentences: str, language: str | None = None, subject: str = "") -> str:
    """What a summary pass asks: ``sentences`` ("two or three sentences"), about
    ``subject`` if given, in ``language`` if given."""
    task = SUBJECT_SUMMARY_TASK if subject else SUMMARY_TASK
    task = task.format(sentences=sentences, subject=subject)
    return task + (LANGUAGE_TASK.format(language=language) if language else "")


def encode_prompt(tokenizer: Any, content: str, task: str) -> list[int]:
    """Token ids of the chat prompt for ``task`` on ``content``: the system prompt, then
    the document (as literal text, see encode_messages), then the task."""
    sentinel = new_sentinel()
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": DOCUMENT_OPEN + sentinel + DOCUMENT_CLOSE + task},
    ]
    return encode_messages(tokenizer, messages, {sentinel: content})


def encode_messages(
    tokenizer: Any, messages: list[dict], literals: dict[str, str], *, answer_started: bool = False
) -> list[int]:
    """Token ids of a chat prompt whose messages hold sentinels (``literals``' keys).

    The template is rendered with the sentinels, then each sentinel's text is tokenized
    with special tokens disabled: a document or a message containing "<|im_end|>" stays
    text and cannot close its turn or forge another one. With ``answer_started`` the last
    message is the assistant's answer so far, which the model continues.
    """
    rendered = render_chat(tokenizer, messages, answer_started=answer_started)
    pattern = "(" + "|".join(re.escape(s) for s in literals) + ")"
    pieces = re.split(pattern, rendered) if literals else [rendered]
    if sorted(p for p in pieces if p in literals) != sorted(literals):
        raise SidecarError("The model's chat template dropped or repeated a message.")
    ids: list[int] = []
    for piece in pieces:
        ids += (
            encode_text(tokenizer, literals[piece], literal=True)
            if piece in literals
            else (encode_text(tokenizer, piece))
        )
    return ids


def new_sentinel() -> str:
    """A string no document holds, to stand for one in a rendered template."""
    return f"\ue000{uuid.uuid4().hex}\ue000"


def render_chat(tokenizer: Any, messages: list, *, answer_started: bool = False) -> str:
    """The chat template as text; thinking models are asked not to think, and templates
    that read the date see TEMPLATE_DATE. ``answer_started``: the last message is an
    assistant answer to continue, so no new turn is opened after it."""
    if not getattr(tokenizer, "has_chat_template", False):
        turns = "\n\n".join(m["content"] for m in messages)
        return turns if answer_started else turns + "\n\nAnswer:\n"
    try:
        return _apply_template(tokenizer, messages, answer_started)
    except Exception:  # templates without a system role
        if messages[0]["role"] != "system" or answer_started:
            raise
        merged = {
            "role": "user",
            "content": messages[0]["content"] + "\n\n" + messages[1]["content"],
        }
        return _apply_template(tokenizer, [merged, *messages[2:]], answer_started)


def _apply_template(tokenizer: Any, messages: list, answer_started: bool = False) -> str:
    return tokenizer.apply_chat_template(
        messages,
        tokenize=False,
        add_generation_prompt=not answer_started,
        continue_final_message=answer_started,
        enable_thinking=False,
        # Template variables shadow the renderer's strftime_now global.
        strftime_now=TEMPLATE_DATE.strftime,
        date_string=TEMPLATE_DATE.strftime("%d %b %Y"),
    )
