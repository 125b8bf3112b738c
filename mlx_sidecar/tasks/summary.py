"""summary: a short plain-prose summary of a document (summarize, batch).

The model's sentences go into a ``Summary`` as they are generated (answers/summary.py):
each is checked against the document before it is kept or streamed, and the places of
those that fail are filled with the document's own sentences. A long document's chunks
are summarized in a sentence or two each, then combined part by part, in order.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..answers.extractive import extractive_sentences
from ..answers.summary import PartialStream, Summary, sentence_target, summary_length
from ..chunking import chunk_token_limit, content_budget, split_into_chunks
from ..language import Language, require_language
from ..processors import RepetitionPenalty, document_bias
from ..prompts import (
    TRANSLATE_TASK,
    encode_prompt,
    summary_task,
)
from ..reading import Reading
from ..repairs import Answer, answer_for
from ..repairs.loops import LoopGuard
from ..text import guess_language, identify_language, same_language, sentence_key, split_sentences
from ..tokens import count_tokens
from ..validate import optional_bool, optional_count
from . import Ask, OverDocument
from .options import max_tokens_option, temperature_option
from .tags import TagsOptions, TagsTask

if TYPE_CHECKING:
    from ..job import Job
    from ..models import Model
    from ..notes import ChunkNote

DEFAULT_SUMMARY_TOKENS = 160  # ~3 sentences; SmolLM2 copies the text when given more room
MAX_SENTENCES = 5  # the `sentences` option: 1 to 5
MAX_WORDS_RANGE = (5, 2000)
MAX_SUMMARY_PARTS = 3  # a long document's summary: a sentence or more per third
CHUNK_SENTENCES = "one or two sentences"  # what each chunk of a long document is asked
# The second pass when a summary came back in another language than `language` asked (see
# in_asked_language): the model translates the summary. bench/language.py compared four
# (the system prompt saying the language too, the language named in its own words, the
# answer begun with that name, and this one; 23 cases in 10 languages, 2026-12-07): none
# got either of SmolLM2's two misses into the language asked, and this one costs least
# (its prompt is the summary, not the document: 91 s for the run against 105-109 s).


@dataclass(frozen=True)
class SummaryOptions:
    """What summarize (and batch) asks of a summary, checked."""

    max_words: int | None = None
    sentences: int | None = None
    stream: bool = False
    max_tokens: int = DEFAULT_SUMMARY_TOKENS
    temperature: float = 0.0
    language: Language | None = None

    @classmethod
    def parse(cls, req: dict) -> SummaryOptions:
        return cls(
            max_words=optional_count(req, "max_words", *MAX_WORDS_RANGE),
            sentences=optional_count(req, "sentences", 1, MAX_SENTENCES),
            stream=optional_bool(req, "stream"),
            max_tokens=max_tokens_option(req, DEFAULT_SUMMARY_TOKENS),
            temperature=temperature_option(req),
            language=require_language(req),
        )


@dataclass
class SummaryTask(OverDocument):
    """A summary of one document; ``emit`` streams its sentences as `partial` lines."""

    options: SummaryOptions = field(default_factory=SummaryOptions)
    emit: Callable[[str], None] | None = None
    length: str = ""  # the wording of its length ("two or three sentences"); from options
    target: int = 0  # sentences wanted; from options
    name = "summary"

    def __post_init__(self) -> None:
        o = self.options
        self.length = self.length or summary_length(o.max_words, o.sentences)
        self.target = self.target or sentence_target(o.max_words, o.sentences)

    @classmethod
    def of_chunks(
        cls, language: Language | None, temperature: float, max_tokens: int = 0
    ) -> SummaryTask:
        """What each chunk of a long document is asked: one or two sentences."""
        options = SummaryOptions(
            max_tokens=max_tokens or DEFAULT_SUMMARY_TOKENS,
            temperature=temperature,
            language=language,
        )
        return cls(options, length=CHUNK_SENTENCES, target=2)

    def instruction(self, subject: str = "", length: str = "") -> str:
        return summary_task(length or self.length, self.language, subject)

    def widest_instruction(self) -> str:
        return self.chunk_tags().widest_instruction()

    def key(self) -> str:
        return self.instruction()

    def new_summary(self, streamed: bool = True) -> Summary:
        """An empty summary of this task's length; its sentences stream as partial lines
        when the task streams and ``streamed`` (a second pass's never do)."""
        o = self.options
        summary = Summary(o.max_words, o.sentences, self.emit if streamed else None)
        summary.limit = self.target
        return summary

    def ask(
        self,
        job: Job,
        text: str,
        into: Summary | None = None,
        instruction: str = "",
    ) -> SummaryAsk:
        """A summary answer: a mild repetition penalty, the document's own tokens favoured
        (unless it is asked in another language); its clean sentences go into ``into`` (a
        new Summary of this task's length if none)."""
        summary = into if into is not None else self.new_summary()
        tokenizer = job.model.tokenizer
        answer = self.answer_about(job.model, text)
        prompt = encode_prompt(tokenizer, text, instruction or self.instruction())
        processors = [RepetitionPenalty(prompt)]
        if not answer.translated:
            processors.append(document_bias(tokenizer, text))
        feed = PartialStream(summary, answer)
        return SummaryAsk(
            prompt, self.max_tokens, processors, self.options.temperature, summary, feed
        )

    def answer_about(self, model: Model, text: str) -> Answer:
        """What the repairs know of an answer about ``text``: whether it is asked in
        another language than the document's, and which; whether the model is large enough
        to say it in its own words."""
        asked = self.options.language
        return answer_for(
            model.tokenizer, text, self.translates(text), asked and asked.code, model.param_count
        )

    def chunk_tags(self) -> TagsTask:
        """generate-tags' defaults, in this task's temperature and language."""
        o = self.options
        options = TagsOptions(temperature=o.temperature, language=o.language)
        return TagsTask(offer_phrases=False, options=options)

    def chunk_tasks(self) -> list:
        """Each chunk is asked for a short summary, and its tags (which name the subject
        of each part when the parts are combined, and serve generate-tags)."""
        o = self.options
        return [SummaryTask.of_chunks(o.language, o.temperature, o.max_tokens), self.chunk_tags()]

    def combine_passes(self) -> int:
        """Combining passes after the chunks: one per part (see combine_in_order)."""
        return min(self.target, MAX_SUMMARY_PARTS)

    def combine(self, job: Job, notes: list[ChunkNote]) -> Summary:
        summary = self.new_summary()
        combine_in_order(job, self, notes, self.combine_passes(), summary)
        return summary

    def finish(self, job: Job, reading: Reading, summary: Summary) -> dict:
        """The response's fields: never empty (the document's own sentences fill what the
        model could not write), in the language asked where a second pass gets it there,
        and the language the summary is in."""
        summary.ensure_one(reading.text)
        summary = self.in_asked_language(job, reading.text, summary)
        fields: dict = {"summary": summary.text()}
        if summary.extractive:
            fields["extractive"] = True
        fields["answer_language"] = self.answer_language(summary, reading.text)
        if job.reused:
            fields["reused_chunks"] = job.reused
        return fields

    def in_asked_language(self, job: Job, text: str, first: Summary) -> Summary:
        """``first``, or a second pass's summary (retry_as_translation) when ``first`` is in another
        language than asked and the second one is in the language asked. ``first`` may be
        the document's own sentences: the model's, in another language than asked, were
        dropped (repairs/summaries.in_another_language), and translating what the
        document says beats translating what the model made up. No second pass for a
        summary too short to name, a streamed one (its lines are out) or a long document
        (its combined summary is many passes' work)."""
        asked, found = self.options.language, identify_language(first.text())
        if asked is None or found is None or same_language(found, asked.code):
            return first
        if self.emit or job.chunks > 1:
            return first
        again = job.answer(retry_as_translation(self, job, text, first))
        return again if same_language(identify_language(again.text()), asked.code) else first

    def answer_language(self, summary: Summary, document: str) -> str:
        """The ISO 639-1 code of the summary's language: as identified from its text; for
        a summary too short to name, the document's language when its words are held to
        the document's (its own sentences, or no other language asked), else the one
        asked (the model's sentence was asked in it, its names and numbers checked)."""
        asked = self.options.language
        found = identify_language(summary.text())
        if found is None and asked and not summary.extractive and self.translates(document):
            found = asked.code
        return found or guess_language(document)


# --- A second pass in the language asked -------------------------------------------


def retry_as_translation(task: SummaryTask, job: Job, text: str, first: Summary) -> SummaryAsk:
    """The model translates the first summary (the prompt's document): its own sentences or
    the document's. There is no text to hold a translation to but the document, so its
    sentences are checked against the document as any answer in another language is: its
    names, numbers and identifiers."""
    tokenizer, language = job.model.tokenizer, task.options.language
    prompt = encode_prompt(tokenizer, first.text(), TRANSLATE_TASK.format(language=language.name))
    summary = task.new_summary(streamed=False)
    feed = PartialStream(summary, task.answer_about(job.model, text))
    return SummaryAsk(prompt, task.max_tokens, [], task.options.temperature, summary, feed)


@dataclass
class SummaryAsk(Ask):
    """One summary answer asked of the model: its clean sentences go into ``summary`` as
    they are generated; it is done when the summary is full or the model loops."""

    summary: Any = None
    feed: Any = None
    guard: LoopGuard = field(default_factory=LoopGuard)
    stopped: bool = False  # generation was stopped here, not ended by the model

    def heard(self, piece: str) -> None:
        self.feed(piece)
        self.guard(piece)

    def done(self) -> bool:
        """Asked after each piece while the model has not ended its answer."""
        self.stopped = self.summary.done() or self.guard.looping
        return self.stopped

    def read(self, text: str, finish_reason: str | None) -> Summary:
        self.feed.finish(cut=self.stopped or finish_reason == "length")
        return self.summary


def combine_in_order(
    job: Job, task: SummaryTask, notes: list[ChunkNote], groups: int, summary: Summary
) -> None:
    """The summary of a long document: sentences for each part of it (thirds, or
    fewer parts when fewer sentences are asked for), in order.

    One combining pass over all partial summaries favoured the last parts (a 135M model
    reads the end of its prompt best) and dropped the beginning; a sentence per third
    keeps the beginning, middle and end in the summary. Each sentence is asked to be
    about its part's subjects (see part_subjects): asked only for "one sentence", SmolLM2
    called a third about chess "a popular board game", which a reader searching for chess
    never finds.
    """
    tokenizer, target = job.model.tokenizer, task.target
    partials = unique_sentences([chunk_summary(note) for note in notes])
    n = len(notes)
    subjects: list[str] = []
    for g in range(groups):
        part = range(g * n // groups, (g + 1) * n // groups)
        want = target // groups + (g < target % groups)
        named = part_subjects([notes[i] for i in part], subjects)
        subjects.extend(named)
        joined = "\n\n".join(naming_first([partials[i] for i in part if partials[i]], named))
        if not joined:
            job.progress.step()
            continue
        length = "one sentence" if want == 1 else f"{want} sentences"
        instruction = task.instruction(" and ".join(named), length)
        budget = content_budget(job.model, instruction, task.max_tokens)
        while count_tokens(tokenizer, joined) > budget:  # shrink a part that does not fit
            limit = min(budget, chunk_token_limit(job.model))
            pieces = split_into_chunks(tokenizer, joined, limit)
            job.progress.total += len(pieces)
            joined = "\n\n".join(combining_pass(job, task, p, instruction, 2) for p in pieces)
        for sentence in split_sentences(combining_pass(job, task, joined, instruction, want)):
            if not summary.add(sentence):
                return


def chunk_summary(note: ChunkNote) -> str:
    """A chunk's short summary: the model's, or where it kept none, the chunk's own most
    central sentence (a model held to the document's words keeps few: SmolLM2 kept none
    of a part about chess, and the summary of the whole left chess out)."""
    return note.results["summary"].text() or " ".join(extractive_sentences(note.text, 1))


def combining_pass(job: Job, task: SummaryTask, text: str, instruction: str, target: int) -> str:
    """One combining pass, counted as a progress step; its summary's text, the places the
    model left filled with the part's own sentences: a model held to the document's words
    (repairs/answer.OWN_WORDS_PARAMS) that wrote "chess is a board game" of a part about
    chess kept nothing, and the part went unsaid."""
    into = Summary(sentences=target)
    job.answer(task.ask(job, text, into, instruction))
    job.progress.step()
    into.ensure_one(text)
    return into.text()


def naming_first(partials: list[str], subjects: list[str]) -> list[str]:
    """A part's partial summaries, those that name a subject it is asked about first: a
    middle third that ran from the last volcano chunk into chess was asked about chess,
    and a model held to the document's words copied the volcano sentence it read first."""
    folded = [s.casefold() for s in subjects]
    naming = [p for p in partials if any(s in p.casefold() for s in folded)]
    return naming + [p for p in partials if p not in naming]


def part_subjects(notes: list[ChunkNote], taken: list[str]) -> list[str]:
    """The subjects of a part's first and last chunk, each once: a part that runs from a
    chunk about chess to one about honeybees is asked about both (asked only about the
    one its text names more, SmolLM2 left the other out)."""
    named: list[str] = []
    for note in notes[:1] + notes[1:][-1:]:
        subject = main_subject([note], taken)
        if subject and subject.casefold() not in {n.casefold() for n in named}:
            named.append(subject)
    return named


def main_subject(notes: list[ChunkNote], taken: list[str]) -> str:
    """The tag of these chunks that their text names most often; one an earlier third
    already took is passed over when there is another. Empty when there are no tags."""
    counts: dict[str, int] = {}
    shown: dict[str, str] = {}
    for note in notes:
        folded_text = note.text.casefold()
        for tag in note.results["tags"].tags:
            key = tag.casefold()
            shown.setdefault(key, tag)
            pattern = r"(?<!\w)" + re.escape(key) + r"(?!\w)"
            counts[key] = counts.get(key, 0) + len(re.findall(pattern, folded_text))
    ranked = sorted(counts, key=lambda k: -counts[k])  # stable: the first seen wins a tie
    taken_keys = {t.casefold() for t in taken}
    fresh = [k for k in ranked if k not in taken_keys]
    return shown.get((fresh or ranked or [""])[0], "")


def unique_sentences(partials: list[str]) -> list[str]:
    """Each partial summary without sentences an earlier one already said ("" if none
    are left), in the same positions."""
    seen: set[str] = set()
    kept = []
    for partial in partials:
        fresh = [x for x in split_sentences(partial) if sentence_key(x) not in seen]
        seen.update(sentence_key(x) for x in fresh)
        kept.append(" ".join(fresh))
    return kept
