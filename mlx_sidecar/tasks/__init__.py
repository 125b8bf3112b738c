"""Tasks: what the model is asked to do with a document or a conversation.

A task (tags, summary, chat, extract) is one object per request, made from the request's
fields by its ``parse`` at the protocol boundary, and it owns everything about its answer:
its options, defaults and limits; its prompt; its logits processors (grammar, penalties);
its streaming and stop rule; reading its raw output; its final repair. The schedulers in
answers/ (one pass, a long document's chunks, a batch) run any task's ``Ask`` without
knowing which task it is:

    ask = task.ask(job, text)          # prompt, max_tokens, processors
    ... generate, calling ask.heard(piece) per piece, stopping when ask.done() ...
    result = ask.read(text, finish_reason)

A new task is one module here (its options, its Ask, its response fields), a line in
commands.HANDLERS and its entries in protocol.schema.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..repairs.loops import LoopGuard


@dataclass
class Ask:
    """One answer asked of the model: what a scheduler needs to run it."""

    prompt: list[int]
    max_tokens: int
    processors: list = field(default_factory=list)
    temperature: float = 0.0

    def heard(self, piece: str) -> None:
        """A piece of the answer as it is generated (streaming, loop guards)."""

    def done(self) -> bool:
        """Whether the answer is complete before the model says so (a stop rule)."""
        return False

    def read(self, text: str, finish_reason: str | None) -> Any:
        """The task's result from the model's whole answer."""
        return text


class OverDocument:
    """What every task over a document shares, from its ``options`` (max_tokens,
    language): how many tokens its answer may take, and whether it is a translation."""

    options: Any

    @property
    def max_tokens(self) -> int:
        return self.options.max_tokens

    @property
    def language(self) -> str | None:
        """The English name of the language asked (None: the document's)."""
        return self.options.language.name if self.options.language else None

    def translates(self, text: str) -> bool:
        """Whether the answer is asked in another language than ``text``'s."""
        language = self.options.language
        return language is not None and language.differs_from(text)


class JsonAsk(Ask):
    """An answer held to JSON by its first processor (a grammar Constraint): when the
    answer loops (endless whitespace, one key nested in itself), the grammar closes what
    is open instead of the pass stopping mid-JSON."""

    def __init__(self, prompt: list[int], max_tokens: int, processors: list, temperature: float):
        super().__init__(prompt, max_tokens, processors, temperature)
        self.guard = LoopGuard()

    def heard(self, piece: str) -> None:
        self.guard(piece)
        if self.guard.looping:
            self.processors[0].close()
