"""tags: 1 to `max_tags` short topic tags of a document (generate-tags, batch).

The answer is held to a JSON array of short strings by the grammar; with the user's own
tags (`known_tags`), to the list's tags and at most `max_new_tags` others. The raw answer
is repaired (repairs/), kept where the document supports it, and the subject the title
names leads. A long document's chunk tags are merged: tags found in several chunks first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..grammar import TAG_MAX_CHARS
from ..keyphrases import KEY_PHRASES, key_phrases
from ..language import Language, require_language
from ..prompts import candidate_tags_task, encode_prompt, tags_task
from ..reading import Reading
from ..repairs import (
    answer_for,
    keyword_tags,
    new_tags,
    normalize_tags,
    tag_key,
    tags_from_answer,
    with_known_tags,
    with_title_subject,
)
from ..repairs.answer import THINK_BLOCK
from ..repairs.tags import names_same_thing
from ..validate import optional_int
from ..vocabulary import CANDIDATES_IN_PROMPT, KnownTags, require_known_tags, require_max_new_tags
from . import Ask, OverDocument
from .options import max_tokens_option, temperature_option

if TYPE_CHECKING:
    from ..job import Job
    from ..notes import ChunkNote

DEFAULT_MAX_TAGS = 5  # the seed's example shows a handful; the app shows them as chips
MAX_TAGS_LIMIT = 20
# Without the user's tags, the model chooses among the document's key phrases (keyphrases.py)
# and may add this many of its own: SmolLM2 picks the phrases, where its free tags were its
# senders' names and its footers' words (issue 25); a capable model may still name a topic
# the phrases miss.
CANDIDATE_NEW_TAGS = 1
# Key phrases are whole literals the grammar cannot cut: with fewer tokens than this, the
# plain tags grammar, which can close a tag anywhere (a 5-token budget still parses).
CANDIDATE_MIN_TOKENS = 32
DEFAULT_TAG_TOKENS = 64  # five tags of <= 4 words in a JSON array fit in ~50 tokens
TOKENS_PER_TAG = 12  # room for each tag beyond the five


@dataclass(frozen=True)
class TagsOptions:
    """What generate-tags (and batch) asks of tags, checked."""

    limit: int = DEFAULT_MAX_TAGS  # max_tags
    known_tags: tuple[str, ...] | None = None
    max_new: int | None = None  # max_new_tags; None without known_tags: all tags are new
    max_tokens: int = DEFAULT_TAG_TOKENS + TOKENS_PER_TAG * DEFAULT_MAX_TAGS
    temperature: float = 0.0
    language: Language | None = None

    @classmethod
    def parse(cls, req: dict) -> TagsOptions:
        limit = optional_int(req, "max_tags", DEFAULT_MAX_TAGS, 1, MAX_TAGS_LIMIT)
        known = require_known_tags(req)
        return cls(
            limit=limit,
            known_tags=tuple(known) if known is not None else None,
            max_new=require_max_new_tags(req, limit, known),
            max_tokens=max_tokens_option(req, tag_tokens(limit)),
            temperature=temperature_option(req),
            language=require_language(req),
        )


def tag_tokens(limit: int) -> int:
    """The default answer length for ``limit`` tags."""
    return DEFAULT_TAG_TOKENS + TOKENS_PER_TAG * limit


@dataclass
class TagsFound:
    """A document's tags, whether the model's raw answers parsed, and whether the
    summaries of a long document's chunks were prepared on the way."""

    tags: list[str]
    parsed: bool
    summary_prepared: bool = False


@dataclass
class TagsTask(OverDocument):
    """Tags of one document; ``known`` is the user's list, worked out by the session."""

    options: TagsOptions = field(default_factory=TagsOptions)
    known: KnownTags | None = None
    offer_phrases: bool = True  # the whole document's key phrases as candidates (see ask)
    name = "tags"

    def instruction(self, mentioned: list[str] | None = None, limit: int | None = None) -> str:
        """What the model is asked after the document: with the user's tags, the ones it
        mentions (at most CANDIDATES_IN_PROMPT) as the tags to prefer."""
        o = self.options
        candidates = mentioned[:CANDIDATES_IN_PROMPT] if mentioned is not None else None
        return tags_task(limit or o.limit, self.language, candidates, o.max_new)

    def widest_instruction(self) -> str:
        """The longest instruction a chunk of a long document may carry (MAX_TAGS_LIMIT
        tags, every listed tag or KEY_PHRASES phrases of the longest), so that chunk sizes
        do not depend on the command."""
        if self.known is None:
            longest = ["x" * TAG_MAX_CHARS] * KEY_PHRASES
            return candidate_tags_task(MAX_TAGS_LIMIT, longest, MAX_TAGS_LIMIT, self.language)
        return self.instruction(list(self.known.tags), MAX_TAGS_LIMIT)

    def key(self) -> str:
        """Everything that changes this task's answer on a chunk (ChunkNotes)."""
        return self.instruction() + (f"\0{self.known.key}" if self.known else "")

    def ask(self, job: Job, text: str) -> TagsAsk:
        """A tags answer under the tags grammar. With the user's tags, the prompt shows the
        ones ``text`` mentions, and the grammar allows the list's tags and at most
        ``max_new`` others; without them, the same for the text's key phrases (unless the
        answer is asked in another language than the text's)."""
        o = self.options
        offered = self.offer_phrases and o.max_tokens >= CANDIDATE_MIN_TOKENS
        phrases = []
        if offered and not self.known and not self.translates(text):
            phrases = key_phrases(Reading("text", text))
        if phrases:
            task = candidate_tags_task(o.limit, phrases, CANDIDATE_NEW_TAGS, self.language)
            prompt = encode_prompt(job.model.tokenizer, text, task)
            processor = job.grammar.candidates_processor(
                phrases, o.limit, o.max_tokens, CANDIDATE_NEW_TAGS
            )
            processors = [processor] if processor else []
            return TagsAsk(prompt, o.max_tokens, processors, o.temperature, self, job, text)
        mentioned = self.known.candidates(text, limit=None) if self.known else None
        prompt = encode_prompt(job.model.tokenizer, text, self.instruction(mentioned))
        processor = job.grammar.processor(o.limit, o.max_tokens, self.known, o.max_new or 0)
        processors = [processor] if processor else []
        return TagsAsk(prompt, o.max_tokens, processors, o.temperature, self, job, text, mentioned)

    def chunk_tasks(self) -> list:
        """What each chunk of a long document is asked: its tags, and the short summary
        that summarize needs (the app asks for both; the chunk's prefill serves both)."""
        from .summary import SummaryTask

        own = replace(self, offer_phrases=False)  # a chunk's phrases are not the document's
        return [own, SummaryTask.of_chunks(self.options.language, self.options.temperature)]

    def combine_passes(self) -> int:
        return 0  # chunk tags are merged without the model

    def combine(self, job: Job, notes: list[ChunkNote]) -> TagsFound:
        per_chunk = [note.results[self.name] for note in notes]
        tags = merge_chunk_tags([found.tags for found in per_chunk], self.options.limit)
        return TagsFound(tags, all(f.parsed for f in per_chunk), summary_prepared=True)

    def finish(self, job: Job, reading: Reading, found: TagsFound) -> dict:
        """The response's fields: never empty (the document's keywords stand in), the
        subject its title names first; with the user's list, settled against it."""
        tags = self.final_tags(found.tags, reading)
        fields: dict = {"tags": tags, "raw_output_parsed": found.parsed}
        if found.summary_prepared:
            fields["summary_prepared"] = True
        if self.known is not None:
            fields["new_tags"] = new_tags(tags, self.known)
        return fields

    def final_tags(self, tags: list[str], reading: Reading) -> list[str]:
        limit = self.options.limit
        if self.known is not None:
            return self.settle_known_tags(tags, reading)
        return with_title_subject(tags or keyword_tags(reading.text, limit), reading, limit)

    def settle_known_tags(self, tags: list[str], reading: Reading) -> list[str]:
        """Merged chunk tags in the user's spelling again, no more new tags than allowed,
        and the subject the title names first when it is a known tag (or a new one is
        still allowed)."""
        known, limit, max_new = self.known, self.options.limit, self.options.max_new or 0
        mentioned = known.candidates(reading.text, limit=None)
        translated = self.translates(reading.text)
        tags = with_known_tags(tags, reading.text, limit, known, max_new, mentioned, translated)
        subject = with_title_subject([], reading, 1)  # [] when the title names nothing
        if subject and not any(names_same_thing(tag, subject[0]) for tag in tags):
            spelled = known.spelling(subject[0])
            if spelled is not None or len(new_tags(tags, known)) < max_new:
                tags = [spelled or subject[0], *tags][:limit]
        return tags


@dataclass
class TagsAsk(Ask):
    """One tags answer asked of the model, and how to read it."""

    task: Any = None
    job: Any = None
    text: str = ""
    mentioned: list[str] | None = None  # the user's tags the text mentions (known_tags)

    def read(self, text: str, finish_reason: str | None) -> TagsFound:
        """The repaired tags of the raw answer, and whether it parsed as JSON."""
        task, o = self.task, self.task.options
        translated = task.translates(self.text)
        answer = answer_for(self.job.model.tokenizer, self.text, translated=translated)
        found = tags_from_answer(text, answer, o.limit, task.known, o.max_new, self.mentioned)
        return TagsFound(found, is_json_list(text))


def is_json_list(text: str) -> bool:
    try:
        return isinstance(json.loads(THINK_BLOCK.sub("", text)), list)
    except ValueError:
        return False


def merge_chunk_tags(per_chunk: list[list[str]], limit: int) -> list[str]:
    """A long document's tags from its chunks': tags found in several chunks first (they
    name what the whole is about), but at most half the limit of them, so that every part
    of the document still gets its say; then the best tag of each chunk no tag yet speaks
    for, spread over the text (first, last, middle...); then each chunk's next best.

    Repeated tags alone once filled all five places with the volcano and honeybee parts of
    a document whose middle third is about chess ("Etna in Sicily", "Mount Etna",
    "Honeybees", "honeybee dances", ...)."""
    counts: dict[str, int] = {}
    for tags in per_chunk:
        for tag in {tag_key(t) for t in tags}:
            counts[tag] = counts.get(tag, 0) + 1
    repeated = [t for tags in per_chunk for t in tags if counts[tag_key(t)] > 1]
    repeated = normalize_tags(sorted(repeated, key=lambda t: -counts[tag_key(t)]), limit // 2)
    taken = {tag_key(t) for t in repeated}
    order = spread_order(len(per_chunk))
    unheard = [
        per_chunk[c][0]
        for c in order
        if per_chunk[c] and not taken & {tag_key(t) for t in per_chunk[c]}
    ]
    by_rank = [
        per_chunk[c][rank]
        for rank in range(max((len(t) for t in per_chunk), default=0))
        for c in order
        if rank < len(per_chunk[c])
    ]
    return normalize_tags(repeated + unheard + by_rank, limit)


def spread_order(n: int) -> list[int]:
    """Chunk indices in an order that covers the document evenly: first, last, middle..."""
    order: list[int] = []
    for i in [0, n - 1] + [round(n * k / 8) for k in (4, 2, 6, 1, 3, 5, 7)] + list(range(n)):
        if 0 <= i < n and i not in order:
            order.append(i)
    return order
