"""A summary as it is built: sentence by sentence, each sent on as a `partial` line when
streaming, so the partial lines always add up to the final summary; never empty."""

from __future__ import annotations

import re
from collections.abc import Callable

from ..repairs.answer import LIST_ITEM, Answer, drop_markup
from ..repairs.summaries import summary_sentences
from ..text import (
    CJK,
    CJK_STOPS,
    ENDS_SENTENCE,
    SENTENCE_STOPS,
    is_sentence,
    join_sentences,
    sentence_key,
    split_sentences,
)

MAX_SENTENCES = 5  # the `sentences` option on summarize: 1 to 5


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
        self.extractive = False

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
        """Whether generation can stop: the summary has its sentences, or the model said
        one again (it is looping). PartialStream finds both; this runs on every token."""
        return self.full or self.repeated

    def ensure_one(self, document: str) -> None:
        """Never empty: when the model gave nothing usable, a sentence of the document."""
        if not self.sentences:
            self.extractive = True
            self.add(extractive_sentence(document))


def extractive_sentence(document: str) -> str:
    """The document's first real sentence (six words or more, ending as a sentence), or
    failing that its first words."""
    candidates = []
    for para in re.split(r"\n\s*\n", document):
        para = " ".join(LIST_ITEM.sub("", line) for line in para.splitlines()).strip()
        candidates.extend(s for s in split_sentences(para) if is_sentence(s))
        if any(len(s.split()) >= 6 and ENDS_SENTENCE.search(s) for s in candidates):
            break
    full = [s for s in candidates if len(s.split()) >= 6 and ENDS_SENTENCE.search(s)]
    if full or candidates:
        return " ".join(drop_markup((full or candidates)[0], Answer()).split())
    words = " ".join(document.split()[:25]).rstrip(",;:")
    return words if not words or ENDS_SENTENCE.search(words) else words + "."


class PartialStream:
    """Feeds a Summary the sentences of an answer while it is generated: a sentence goes
    out (as a cleaned `partial` line) once the next one has begun."""

    def __init__(self, summary: Summary, answer: Answer) -> None:
        self.summary, self.answer = summary, answer
        self.raw: list[str] = []
        self.done = 0  # clean sentences already given to the summary
        self.pending = False  # a sentence-ending character arrived since the last look

    def __call__(self, piece: str) -> None:
        self.raw.append(piece)
        if SENTENCE_STOPS.intersection(piece):
            self.pending = True
        elif self.pending and piece.strip():
            self.pending = False  # the text after a sentence end has begun: look again
        else:
            return  # mid-sentence: nothing new to send (this runs on every token)
        ready = summary_sentences("".join(self.raw), self.answer, final=False)
        for sentence in ready[self.done :]:
            self.summary.add(sentence)
        self.done = max(self.done, len(ready))

    def finish(self) -> None:
        ready = summary_sentences("".join(self.raw), self.answer)
        for sentence in ready[self.done :]:
            if not self.summary.add(sentence):
                break


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
