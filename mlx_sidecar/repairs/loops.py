"""Loops: a model stuck repeating itself ("微信群微信群微信群...", "년년년...", "de
l'utilisateur de l'utilisateur de l'utilisateur ...") gives no answer.

Small quantized models (and random-weight ones) fall into a loop and would fill
max_tokens with it. ``LoopGuard`` watches the text as it is generated and says when to
stop; the repair rules then drop what looped, and an empty summary falls back to a
sentence of the document, as for any empty answer.
"""

from __future__ import annotations

import re

LOOP_UNIT_CHARS = 12  # a unit of 1-12 characters...
LOOP_REPEATS = 6  # ...said this many times in a row is a loop;
PHRASE_CHARS = 40  # so is a phrase of up to 40 ("de l'utilisateur de l'utilisateur ...")...
PHRASE_REPEATS = 3  # ...said three times in a row
BLANK_RUN_CHARS = 64  # endless whitespace ("\n\n\n...") is a loop too
TAIL_CHARS = PHRASE_CHARS * PHRASE_REPEATS + BLANK_RUN_CHARS
LOOP = re.compile(
    rf"(.{{1,{LOOP_UNIT_CHARS}}}?)\1{{{LOOP_REPEATS - 1},}}"
    rf"|(.{{{LOOP_UNIT_CHARS + 1},{PHRASE_CHARS}}}?)\2{{{PHRASE_REPEATS - 1},}}",
    re.S,
)
LOOP_AT_END = re.compile(rf"(?:{LOOP.pattern})$", re.S)
BLANK_RUN = re.compile(rf"\s{{{BLANK_RUN_CHARS},}}$")
HAS_LETTER = re.compile(r"[^\W\d_]")


def is_loop_unit(unit: str) -> bool:
    """A unit whose repeats make a loop: it has a letter ("ha", "年") or a dot (".0" in
    "3.0.0.0.0.0.0..."); ",000" in a large number or "---" in a rule is not one."""
    return bool(HAS_LETTER.search(unit)) or "." in unit


def has_loop(text: str) -> bool:
    """A unit of 1-12 characters with a letter six times or more in a row, or a phrase of
    13-40 characters three times."""
    return any(is_loop_unit(m.group(1) or m.group(2)) for m in LOOP.finditer(text))


class LoopGuard:
    """Fed each piece of an answer as it is generated; ``looping`` once the text ends in a
    loop. It looks only at the tail, so it costs the same on every token."""

    def __init__(self) -> None:
        self.tail = ""
        self.looping = False

    def __call__(self, piece: str) -> None:
        self.tail = (self.tail + piece)[-TAIL_CHARS:]
        match = LOOP_AT_END.search(self.tail)
        if (match and is_loop_unit(match.group(1) or match.group(2))) or BLANK_RUN.search(
            self.tail
        ):
            self.looping = True
