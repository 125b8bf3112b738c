"""One tags or summary command's work: the loaded model, the request's context, its
options, its progress lines, and the passes it ran (whose counts its response reports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..context import RequestContext
from ..generation import Generation, Generator
from ..grammar import TagGrammar
from ..language import Language
from ..models import Model
from ..prompts import summary_task, tags_task
from ..vocabulary import CANDIDATES_IN_PROMPT, KnownTags
from .notes import ChunkNotes


@dataclass
class Progress:
    """Opt-in progress lines: the share of passes done, only ever rising, ending at 100."""

    ctx: RequestContext
    enabled: bool = False
    done: int = 0
    total: int = 1  # passes expected; grows while a long summary is combined
    reported: float = 0.0

    def step(self) -> None:
        self.done += 1
        self.report(round(100.0 * min(self.done, self.total) / self.total, 1))

    def finish(self) -> None:
        self.report(100.0)

    def report(self, pct: float) -> None:
        if self.enabled and pct > self.reported:
            self.reported = pct
            chunk = min(self.done, self.total)
            self.ctx.emit(
                {
                    "type": "progress",
                    "command": self.ctx.command,
                    "progress": pct,
                    "chunk": chunk,
                    "chunks": self.total,
                }
            )


@dataclass
class Loaded:
    """A loaded model and everything kept for it while it stays loaded: its Generator
    (which holds the prompt cache), its tags grammar and the remembered chunk results."""

    model: Model
    generator: Generator
    grammar: TagGrammar
    notes: ChunkNotes = field(default_factory=ChunkNotes)

    @classmethod
    def of(cls, model: Model) -> Loaded:
        return cls(model, Generator(model), TagGrammar(model))


@dataclass
class Job:
    """A command's model work, pass by pass."""

    loaded: Loaded
    ctx: RequestContext
    max_tokens: int
    temperature: float
    progress: Progress
    language: Language | None = None  # `language`: None is "auto"
    known: KnownTags | None = None  # `known_tags`
    max_new: int | None = None  # `max_new_tags` (None without known_tags: all tags are new)
    passes: list[Generation] = field(default_factory=list)
    chunks: int = 1  # pieces the document was read in
    reused: int = 0  # chunk results taken from memory instead of the model

    @property
    def model(self) -> Model:
        return self.loaded.model

    @property
    def generator(self) -> Generator:
        return self.loaded.generator

    @property
    def grammar(self) -> TagGrammar:
        return self.loaded.grammar

    @property
    def notes(self) -> ChunkNotes:
        return self.loaded.notes

    @property
    def language_name(self) -> str | None:
        return self.language.name if self.language else None

    def translates(self, text: str) -> bool:
        """Whether the answers are asked in another language than ``text``'s."""
        return self.language is not None and self.language.differs_from(text)

    def tags_task(self, limit: int, mentioned: list[str] | None) -> str:
        candidates = mentioned[:CANDIDATES_IN_PROMPT] if mentioned is not None else None
        return tags_task(limit, self.language_name, candidates, self.max_new)

    def summary_task(self, sentences: str, subject: str = "") -> str:
        return summary_task(sentences, self.language_name, subject)

    def run(self, prompt: list[int], max_tokens: int | None = None, **kwargs: Any) -> Generation:
        """One model pass with this command's options (``max_tokens`` may differ)."""
        result = self.generator.generate(
            prompt,
            self.ctx,
            max_tokens=max_tokens or self.max_tokens,
            temperature=self.temperature,
            **kwargs,
        )
        self.passes.append(result)
        return result

    def stats(self) -> dict:
        """The response's counts: the first pass's speeds, every pass's tokens."""
        first = (
            self.passes[0].stats() if self.passes else {"prompt_tps": 0.0, "generation_tps": 0.0}
        )
        total = {
            k: sum(getattr(p, k) for p in self.passes)
            for k in ("prompt_tokens", "cached_tokens", "generation_tokens")
        }
        return {**first, **total, "passes": max(1, len(self.passes)), "chunks": self.chunks}
