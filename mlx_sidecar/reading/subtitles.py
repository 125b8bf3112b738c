"""Subtitles and captions: SubRip (.srt, read by `srt`) and WebVTT (.vtt, by `webvtt-py`).

What a person reads: the words spoken, in order, with the speaker where a cue names one.
Cue numbers, timestamps, styling and notes give no words; the same line shown again
(captions that roll up) is said once; a pause of PARAGRAPH_GAP_S or a new speaker starts
a paragraph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TIMING = re.compile(r"^\s*\d{1,2}:\d{2}:\d{2}[,.]\d{3}\s+-->\s+\d{1,2}:\d{2}:\d{2}[,.]\d{3}", re.M)
WEBVTT = re.compile(r"^\ufeff?WEBVTT(?:[ \t].*)?$", re.M)
TAG = re.compile(r"<[^>]{1,80}>|\{\\[^}]{1,40}\}")  # <i>, <c.loud>, <00:00:01.000>, {\an8}
PARAGRAPH_GAP_S = 2.0
MIN_CUES = 3


@dataclass
class Cue:
    start: float  # seconds
    end: float
    text: str
    speaker: str = ""


def looks_like_subtitles(head: str) -> bool:
    """A WebVTT header, or several "00:00:01,000 --> 00:00:04,000" cue timings from the
    first cue on: a README that shows a few cues as an example opens with its prose."""
    if WEBVTT.match(head.lstrip()[:20]):
        return True
    first = TIMING.search(head)
    opening = [ln for ln in head[: first.start()].splitlines() if ln.strip()] if first else []
    return bool(first) and len(opening) <= 1 and len(TIMING.findall(head)) >= MIN_CUES


def read_subtitles(content: str) -> str:
    cues = webvtt_cues(content) if WEBVTT.match(content.lstrip()[:20]) else srt_cues(content)
    return cues_text(cues)


def srt_cues(content: str) -> list[Cue]:
    import srt

    return [
        Cue(s.start.total_seconds(), s.end.total_seconds(), s.content)
        for s in srt.parse(content, ignore_errors=True)
    ]


def webvtt_cues(content: str) -> list[Cue]:
    import webvtt

    return [
        Cue(c.start_in_seconds, c.end_in_seconds, c.text, c.voice or "")
        for c in webvtt.from_string(content.lstrip("\ufeff")).captions
    ]


def cues_text(cues: list[Cue]) -> str:
    """The cues' words as paragraphs; a line shown again is said once."""
    paragraphs: list[list[str]] = []
    last_end, last_speaker, seen = None, None, ""
    for cue in cues:
        lines = [" ".join(TAG.sub("", ln).split()) for ln in cue.text.splitlines()]
        lines = [ln for ln in lines if ln and ln != seen]
        if not lines:
            continue
        gap = last_end is not None and cue.start - last_end >= PARAGRAPH_GAP_S
        new_speaker = bool(cue.speaker) and cue.speaker != last_speaker
        if not paragraphs or gap or new_speaker:
            paragraphs.append([f"{cue.speaker}:"] if cue.speaker else [])
        paragraphs[-1].extend(lines)
        last_end, last_speaker, seen = cue.end, cue.speaker or last_speaker, lines[-1]
    return "\n\n".join(" ".join(p) for p in paragraphs if p)
