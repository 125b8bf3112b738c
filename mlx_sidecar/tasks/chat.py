"""chat: a conversation answered in the model's chat template.

The app sends it for a project's research topics ("Return ONLY a JSON array of strings"),
a synthesis across saved documents, and a chatbot that re-sends the whole conversation
each turn. Every message's content is tokenized as literal text, so a forged turn marker
in a message stays text; thinking is off and the template's date fixed, as for tags.

``format`` ("json" or a JSON Schema) holds the answer to the schema with llguidance, so
``response`` always parses and validates; an answer cut off by ``max_tokens`` before its
JSON is whole is an error, never a half answer. A last message from the assistant is an
answer already begun: the model continues it, and ``response`` is the continuation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..context import RequestContext
from ..errors import InvalidParams, SidecarError, one_line
from ..models import Model
from ..models.memory import memory_token_limit
from ..processors import RepetitionPenalty
from ..prompts import encode_messages, new_sentinel
from ..validate import json_type, optional_bool
from . import JsonAsk
from .options import max_tokens_option, temperature_option

DEFAULT_CHAT_TOKENS = 512  # the app's own sidecar answers chat in up to 512 tokens
ROLES = ("system", "user", "assistant")
ANY_JSON: dict = {}  # `format: "json"`: any JSON value


@dataclass(frozen=True)
class ChatOptions:
    """A chat request's fields, checked."""

    messages: tuple[dict, ...]
    max_tokens: int
    temperature: float
    stream: bool
    schema: dict | None  # `format`: the JSON Schema the answer must follow; None: prose

    @classmethod
    def parse(cls, req: dict) -> ChatOptions:
        return cls(
            messages=require_messages(req),
            max_tokens=max_tokens_option(req, DEFAULT_CHAT_TOKENS),
            temperature=temperature_option(req),
            stream=optional_bool(req, "stream"),
            schema=require_answer_format(req),
        )


def require_messages(req: dict) -> tuple[dict, ...]:
    """`messages`: a non-empty list of {"role": system|user|assistant, "content": text}."""
    value = req.get("messages")
    if not isinstance(value, list) or not value:
        shown = "missing" if value is None else f"{json_type(value)}" if value != [] else "empty"
        raise InvalidParams(
            "'messages' must be a non-empty list of messages such as "
            f'{{"role": "user", "content": "Hello"}}; it is {shown}.'
        )
    messages = []
    for i, message in enumerate(value):
        where = f"'messages'[{i}]"
        if not isinstance(message, dict):
            raise InvalidParams(f"{where} must be an object, not {json_type(message)}.")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            got = "missing" if role is None else json.dumps(role, ensure_ascii=False)[:40]
            raise InvalidParams(f"{where}.role must be one of {', '.join(ROLES)}; it is {got}.")
        if not isinstance(content, str):
            got = "missing" if content is None else json_type(content)
            raise InvalidParams(f"{where}.content must be a string; it is {got}.")
        messages.append({"role": role, "content": content})
    return tuple(messages)


def require_answer_format(req: dict) -> dict | None:
    """`format`: "json" (any JSON value) or a JSON Schema object; None for prose. Whether
    llguidance can take the schema is checked when its grammar is built."""
    value = req.get("format")
    if value is None:
        return None
    if value == "json":
        return ANY_JSON
    if isinstance(value, dict):
        return value
    raise InvalidParams(
        f"'format' must be \"json\" or a JSON Schema object, not {json_type(value)}."
    )


@dataclass
class ChatAnswer:
    text: str
    finish_reason: str


class ChatAsk(JsonAsk):
    """The answer to a conversation: streamed piece by piece when asked; prose stops when
    it loops, and JSON (with a format) closes, whole, or is an error."""

    def __init__(
        self, prompt: list[int], options: ChatOptions, processors: list, ctx: RequestContext
    ):
        super().__init__(prompt, options.max_tokens, processors, options.temperature)
        self.options, self.ctx = options, ctx

    def heard(self, piece: str) -> None:
        if self.options.schema is not None:
            super().heard(piece)  # a looping JSON answer closes instead of stopping
        else:
            self.guard(piece)
        if self.options.stream:
            self.ctx.partial(piece)

    def done(self) -> bool:
        return self.guard.looping and self.options.schema is None

    def read(self, text: str, finish_reason: str | None) -> ChatAnswer:
        if self.options.schema is not None and not parses(text):
            raise SidecarError(
                f"The answer's JSON was not finished within max_tokens ({self.options.max_tokens}); "
                "send the command again with a larger max_tokens.",
                "answer_too_long",
            )
        return ChatAnswer(text, "length" if finish_reason == "length" else "stop")


def chat_ask(model: Model, grammar: Any, options: ChatOptions, ctx: RequestContext) -> ChatAsk:
    """The conversation as a prompt that fits (context_too_long otherwise), with the
    grammar of its format, or a mild repetition penalty for prose."""
    prompt = encode_conversation(model.tokenizer, options.messages)
    require_room(model, len(prompt), options.max_tokens)
    if options.schema is not None:
        processors = [grammar.schema_processor(options.schema, options.max_tokens)]
    else:
        processors = [RepetitionPenalty(prompt)]
    return ChatAsk(prompt, options, processors, ctx)


def encode_conversation(tokenizer: Any, messages: tuple[dict, ...]) -> list[int]:
    """The chat prompt of ``messages``, each content literal text; a last assistant
    message is continued."""
    literals: dict[str, str] = {}
    with_sentinels = []
    for message in messages:
        sentinel = new_sentinel()
        literals[sentinel] = message["content"]
        with_sentinels.append({"role": message["role"], "content": sentinel})
    answer_started = messages[-1]["role"] == "assistant"
    try:
        return encode_messages(tokenizer, with_sentinels, literals, answer_started=answer_started)
    except SidecarError:
        raise
    except Exception as e:  # the template refuses this conversation (roles out of turn)
        raise InvalidParams(f"The model's chat template refused 'messages': {one_line(e)}") from e


def require_room(model: Model, prompt_tokens: int, max_tokens: int) -> None:
    """A conversation and its answer must fit the model's context and the KV cache this
    device's memory allows; never cut silently."""
    context = model.context_length or 4096
    limit = min(context, memory_token_limit(model))
    if prompt_tokens + max_tokens > limit:
        why = (
            "its context length" if limit == context else "the KV cache this device's memory allows"
        )
        raise SidecarError(
            f"The conversation is {prompt_tokens:,} tokens and its answer may take {max_tokens:,} "
            f"(max_tokens): {prompt_tokens + max_tokens:,} in all, over the {limit:,} tokens "
            f"this model can hold ({why}). Send fewer or shorter messages.",
            "context_too_long",
        )


def parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def chat_fields(answer: ChatAnswer) -> dict:
    return {"response": answer.text, "finish_reason": answer.finish_reason}
