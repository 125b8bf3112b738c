"""What was learned from the chunks of long documents, kept while the model stays loaded.

The app asks for tags, then a summary, of the same document. A long document is read in
chunks, and reading a chunk yields both its tags and a short summary of it; both are kept
here under everything that changes them, so the second command over the document skips
every chunk's prefill (the costly part on CPU) and runs only its final combining pass.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

NOTES_LIMIT = 512  # remembered chunk results (a few KB each)


@dataclass
class ChunkNote:
    """What one chunk of a long document says: its text, and each chunk task's result
    (its tags, a short summary, ...) by the task's name."""

    text: str
    results: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChunkNotes:
    """Chunk results by key, oldest dropped first past NOTES_LIMIT."""

    entries: dict = field(default_factory=dict)

    @staticmethod
    def key(kind: str, task: str, chunk: str, max_tokens: int, temperature: float) -> tuple:
        """Everything that changes a chunk's result: the task (its wording holds the tag
        limit and language), the text, the tokens allowed and the temperature."""
        digest = hashlib.sha256(f"{task}\0{chunk}".encode("utf-8", "surrogatepass")).hexdigest()
        return (kind, max_tokens, temperature, digest)

    def recall(self, key: tuple) -> Any:
        return self.entries.get(key)

    def remember(self, key: tuple, value: Any) -> None:
        self.entries[key] = value
        while len(self.entries) > NOTES_LIMIT:
            self.entries.pop(next(iter(self.entries)))

    def __len__(self) -> int:
        return len(self.entries)
