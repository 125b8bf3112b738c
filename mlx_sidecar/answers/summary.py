"""A summary as it is built: sentence by sentence, each sent on as a `partial` line when
streaming, so the partial lines always add up to the final summary; never empty.

Which sentences a summary holds, and why:
- The model's sentences that the document supports (repairs/support.py) are kept as the
  model wrote them, once cleaned (repairs/summaries.py). Each is checked before it is
  streamed, so no line the app has shown is ever taken back; a capable model's faithful
  summary passes unchanged.
- The model's other sentences are dropped, and their places filled, once the model is
  done, with the document's own most central sentences (answers/extractive.py): for a
  model that cannot write faithfully, the document's words are better than invented
  prose. So when none of the model's sentences passes, the whole summary is extractive;
  `extractive` says that at least one sentence is the document's own.
- The model is stopped once it has written as many failed sentences as were asked
  (at least MAX_FAILED): its later sentences are rarely better, and decoding them costs
  time the document's own sentences do not.
- An answer asked in another language than the document's keeps the model's sentences
  alone when any passed: the document's sentences would be in the wrong language.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..repairs.answer import Answer
from ..repairs.summaries import judged_sentences, summary_sentences
from ..text import (
    CJK,
    CJK_STOPS,
    ENDS_SENTENCE,
    SENTENCE_STOPS,
    join_sentences,
    sentence_key,
)
from .extractive import extractive_sentences, fallback_sentence

MAX_FAILED = 2  # the model stops after this many sentences failed (or as many as asked)
# What a rejected sentence is, when it does not count as one the model failed to write:
# a list number or a word or two, cut by max_tokens.
NOT_TRIED = ("", "not_a_sentence")
# A cut answer's end right after a digit and a full stop: maybe a number's point ("1." of "1.46.5").
CUT_NUMBER = re.compile(r"\d\.\s*$")


def sentence_target(max_words: int | None, sentences: int | None = None) -> int:
    if sentences is not None:
        return sentences
    return 1 if max_words is not None and max_words < 40 else 3


def summary_length(max_words: int | None, sentences: int | None = None) -> str:
    if sentences is not None:
        count = "one sentence" if sentences == 1 else f"{sentences} sentences"
        return count if max_words is None else f"{count} of at most {max_words} words in all"
    if max_words is not None and max_words < 40:
        return f"one sentence of at most {max_words} words"
    return "two or three sentences" if max_words is None else f"at most {max_words} words"


class Summary:
    """A summary built sentence by sentence, each sent on as a `partial` line when
    streaming, so the partial lines always add up to the final summary."""

    def __init__(
        self,
        max_words: int | None = None,
        sentences: int | None = None,
        emit: Callable[[str], None] | None = None,
    ) -> None:
        self.max_words, self.limit, self.emit = max_words, sentences, emit
        self.sentences: list[str] = []
        self.full = False
        self.repeated = False  # the model said a sentence again: it is looping
        self.failed = 0  # the model's sentences dropped so far (see PartialStream)
        self.translated = False  # asked in another language than the document's
        self.extractive = False  # at least one sentence is the document's own

    def add(self, sentence: str) -> bool:
        """Take one more sentence; False once the summary has all it can hold."""
        if self.full or not sentence.strip():
            return not self.full
        if sentence_key(sentence) in {sentence_key(s) for s in self.sentences}:
            self.repeated = True
            return False
        words = sum(len(s.split()) for s in self.sentences)
        if self.max_words is not None and words + len(sentence.split()) > self.max_words:
            if self.sentences:
                self.full = True
                return False
            sentence = " ".join(sentence.split()[: self.max_words]).rstrip(",;:")
            sentence += "" if ENDS_SENTENCE.search(sentence) or CJK.search(sentence[-1]) else "."
            self.full = True
        if self.emit:
            self.emit(self.joint() + sentence)
        self.sentences.append(sentence)
        if self.limit is not None and len(self.sentences) >= self.limit:
            self.full = True
        return not self.full

    def add_answer(self, text: str, answer: Answer) -> None:
        for sentence in summary_sentences(text, answer):
            if not self.add(sentence):
                break

    def joint(self) -> str:
        """What goes before the next sentence: a space, none after a CJK full stop."""
        if not self.sentences:
            return ""
        return "" if self.sentences[-1][-1] in CJK_STOPS else " "

    def text(self) -> str:
        return join_sentences(self.sentences)

    def done(self) -> bool:
        """Whether generation can stop: the summary has its sentences, the model said one
        again (it is looping), or it has failed as many as it was asked for (at least
        MAX_FAILED). PartialStream finds all three; this runs on every token."""
        return self.full or self.repeated or self.failed >= max(MAX_FAILED, self.limit or 1)

    def words(self) -> int:
        return sum(len(s.split()) for s in self.sentences)

    def ensure_one(self, document: str, language: str | None = None) -> None:
        """Never empty, and as many sentences as asked where the document has them: the
        places the model's sentences left (dropped, or never written) are filled with
        the document's own (see the module docstring). ``language`` is the document's,
        when known (answers/extractive.py guesses it otherwise)."""
        if self.sentences and (self.full or self.translated):
            return
        want = max(1, self.limit or 1) - len(self.sentences)
        words_left = None if self.max_words is None else self.max_words - self.words()
        found = extractive_sentences(document, want, language, words_left, self.sentences)
        if not found and not self.sentences:
            found = [fallback_sentence(document, self.max_words)]
        for sentence in found:
            before = len(self.sentences)
            more = self.add(sentence)
            self.extractive = self.extractive or len(self.sentences) > before
            if not more:
                break


class PartialStream:
    """Feeds a Summary the sentences of an answer while it is generated: a sentence goes
    out (as a cleaned `partial` line) once the next one has begun."""

    def __init__(self, summary: Summary, answer: Answer) -> None:
        self.summary, self.answer = summary, answer
        self.raw: list[str] = []
        self.done = 0  # clean sentences already given to the summary
        self.failed = 0  # the model's sentences dropped so far
        self.pending = False  # a sentence-ending character arrived since the last look
        summary.translated = summary.translated or answer.translated

    def __call__(self, piece: str) -> None:
        self.raw.append(piece)
        if SENTENCE_STOPS.intersection(piece):
            self.pending = True
        elif self.pending and piece.strip():
            self.pending = False  # the text after a sentence end has begun: look again
        else:
            return  # mid-sentence: nothing new to send (this runs on every token)
        self.take(final=False)

    def finish(self, cut: bool = False) -> None:
        """The answer is whole. When generation was ``cut`` (the model looped, had failed
        enough, ran out of tokens) right after a digit and a full stop, the stop may be a
        number's point ("... e2fsprogs 1." of "1.46.5"): that last sentence is left out."""
        self.take(final=not (cut and CUT_NUMBER.search("".join(self.raw))))

    def take(self, final: bool) -> None:
        """Give the summary the sentences that passed and are not yet in it; count the
        ones that failed."""
        judged = judged_sentences("".join(self.raw), self.answer, final=final)
        ready = [sentence for sentence, rule in judged if not rule]
        failed = sum(rule not in NOT_TRIED for _, rule in judged)
        self.summary.failed += max(0, failed - self.failed)
        self.failed = max(self.failed, failed)
        for sentence in ready[self.done :]:
            if not self.summary.add(sentence) and final:
                break
        self.done = max(self.done, len(ready))


def clean_summary(
    text: str,
    answer: Answer | None = None,
    max_words: int | None = None,
    sentences: int | None = None,
) -> str:
    """Plain prose from a model's answer: at most ``sentences`` sentences and
    ``max_words`` words (may be empty; see Summary for the never-empty rule)."""
    summary = Summary(max_words, sentences)
    for sentence in summary_sentences(text, answer or Answer()):
        if not summary.add(sentence):
            break
    return summary.text()
