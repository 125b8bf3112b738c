"""Chat transcripts: IRC and meeting logs, exported chats ("[10:32] <alice> hi",
"10:32 alice: hi", "[01/05/2024, 10:32:11] Alice: hi", "Alice: hi").

What a person reads: who said what, in order. Timestamps give no words; joins, parts,
nick changes and mode lines ("* alice has joined #debian") are not what was said.
"""

from __future__ import annotations

import re

# A timestamp at the start of a line: "[10:32]", "10:32:11", "[2024-05-01 10:32]",
# "[01/05/2024, 10:32:11]", "01.05.24, 10:32 -".
TIMESTAMP = (  # a logger may put the channel and day first: "#ubuntu 2010-11-09 [12:58]"
    r"(?:(?:[#&]?[\w.-]+\s+\d{4}-\d{2}-\d{2}\s+)?"
    r"\[?(?:\d{4}-\d{2}-\d{2}[ T]|\d{1,2}[./]\d{1,2}[./]\d{2,4},? )?"
    r"\d{1,2}:\d{2}(?::\d{2})?(?:\s?[AaPp][Mm])?\]?\s*(?:-\s)?)"
)
SPEAKER = r"(?:<[@+%~&]?(?P<nick>[^<>\s]{1,32})>|(?P<name>[^\s:<>\[\]][^:<>\[\]\n]{0,40}?):)"
MESSAGE = re.compile(rf"^\s*(?P<ts>{TIMESTAMP})?\s*{SPEAKER}\s+(?P<text>\S.*)$")
# Lines about the channel, not things said: "* alice has joined", "-!- bob left", "*** quits".
EVENT = re.compile(rf"^\s*(?:{TIMESTAMP})?\s*(?:\*{{1,3}}|-!-|--|<--|-->)\s*\S+.*$")
MIN_LINES = 5
MIN_SHARE = 0.6  # of the non-empty lines: messages or events
MAX_SPEAKERS_SHARE = 0.5  # "Name: text" lines by as many names as lines are a list, not a chat


def looks_like_chat(head: str) -> bool:
    """Most lines are messages by a few speakers who speak more than once, or events."""
    lines = [ln for ln in head.splitlines()[:300] if ln.strip()]
    if len(lines) < MIN_LINES:
        return False
    said = [MESSAGE.match(ln) for ln in lines]
    speakers = [speaker(m) for m in said if m]
    stamped = sum(1 for m in said if m and m["ts"])
    events = sum(1 for ln, m in zip(lines, said, strict=True) if not m and EVENT.match(ln))
    if (len(speakers) + events) < MIN_SHARE * len(lines) or len(speakers) < MIN_LINES:
        return False
    repeat_talkers = len(set(speakers)) <= MAX_SPEAKERS_SHARE * len(speakers)
    return repeat_talkers and (stamped >= MIN_SHARE * len(speakers) or len(set(speakers)) >= 2)


def speaker(match: re.Match) -> str:
    return (match["nick"] or match["name"]).strip()


def read_chat(content: str) -> str:
    """Each message as "speaker: text", a speaker's consecutive lines joined; other lines
    (a topic, a pasted paragraph) as they are; events and timestamps dropped."""
    out: list[str] = []
    last = None
    for line in content.splitlines():
        message = MESSAGE.match(line)
        if message:
            who, text = speaker(message), message["text"].strip()
            if who == last and out:
                out[-1] += " " + text
            else:
                out.append(f"{who}: {text}")
            last = who
        elif EVENT.match(line) or not line.strip():
            last = None if not line.strip() else last
        else:
            out.append(line.strip())
            last = None
    return "\n".join(out)
