"""The sidecar's one piece of mutable state: the platform and the loaded model, with what
is kept for it (its prompt cache, its tags grammar, the remembered chunk results)."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field

from .errors import NoModel
from .generation import Generator
from .grammar import TagGrammar
from .models import Model
from .notes import ChunkNotes
from .platform import Platform, give_memory_back
from .vocabulary import KnownTags

VOCABULARIES_KEPT = 4  # tag lists kept worked out (an app usually has one)


@dataclass
class Loaded:
    """A loaded model and everything kept for it while it stays loaded: its Generator
    (which holds the prompt caches), its grammars and the remembered chunk results."""

    model: Model
    generator: Generator
    grammar: TagGrammar
    notes: ChunkNotes = field(default_factory=ChunkNotes)

    @classmethod
    def of(cls, model: Model) -> Loaded:
        return cls(model, Generator(model), TagGrammar(model))


@dataclass
class Session:
    """What lives as long as the process: the platform, the --weights choice, the model."""

    platform: Platform = field(default_factory=Platform)
    weights_request: str = "auto"  # --weights: auto, quantized, float32
    loaded: Loaded | None = None
    vocabularies: dict[str, KnownTags] = field(default_factory=dict)  # by the list's digest

    def known_tags(self, tags: list[str]) -> KnownTags:
        """The user's tag list as KnownTags, worked out once while the list is unchanged
        (an app sends the same list with every document)."""
        known = KnownTags.of(tags)
        kept = self.vocabularies.setdefault(known.key, known)
        while len(self.vocabularies) > VOCABULARIES_KEPT:
            self.vocabularies.pop(next(iter(self.vocabularies)))
        return kept

    def require_loaded(self) -> Loaded:
        if self.loaded is None:
            raise NoModel("No model is loaded; send load-model first.")
        return self.loaded

    def unload(self) -> dict | None:
        """Drop the model, its prompt cache and chunk results; give the memory back.
        Returns what was freed, or None if nothing was loaded."""
        loaded, self.loaded = self.loaded, None
        if loaded is None:
            return None
        freed = {
            "model_name": loaded.model.name,
            "weights_bytes": loaded.model.weights_bytes,
            "cached_tokens": loaded.generator.cached_tokens(),
            "chunk_results": len(loaded.notes),
        }
        del loaded
        gc.collect()
        give_memory_back()
        return freed
