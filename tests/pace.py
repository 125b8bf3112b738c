"""How fast this machine runs the bundled model, measured through the server.

Timing tests size their work and place their cancels and deadlines by these figures, not
by this 2-core CPU's: "a document whose prefill takes 6 s" is ~950 tokens here, and on a
GPU that prefills tens of thousands of tokens a second it is long enough that the server
reads it in chunks (so it is sized by total work: every chunk adds its passes).

    pace = measure(server)          # ~10 s here: a warm-up, a probe, a short command, a read
    doc = work_document(pace, 6)    # at least 6 s of prefill on this machine
    pace.stop_within()              # how soon a cancel or a deadline must end a command

Every cancel and deadline test holds a stop to ``stop_within(step_s)``, the one timing
policy: one step of the work being stopped, at the rate measured on this machine (a
prefill step here; a decode step of a batch, a MiB of a download elsewhere), and slack.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from conftest import DOCUMENT, ROOT, Sidecar

PROSE = (ROOT / "bench" / "corpus" / "06-persuasion-ch1-11.txt").read_text(encoding="utf-8")
PARAGRAPHS = [p for p in PROSE.split("\n\n") if p.strip()]
PROBE_CHARS = 3000  # ~900 tokens: one pass, a few seconds of prefill on this CPU
ROOM_TOKENS = 1024  # what a one-pass document leaves of the context: template, task, answer
STOP_SLACK_S = 0.5  # beyond the work itself: the pipe, the reader thread, the scheduler


def fresh(text: str) -> str:
    """The text behind a unique first line: no prompt cache of an earlier command helps it."""
    return f"Note {uuid.uuid4().hex}.\n\n{text}"


def prose(chars: int) -> str:
    """At least ``chars`` characters of English prose (Persuasion). Past its end the novel is
    read again with each paragraph numbered, so no chunk of a long document repeats an
    earlier one (the server would reuse a repeated chunk's results instead of working)."""
    parts: list[str] = []
    total, reading = 0, 0
    while total < chars:
        for paragraph in PARAGRAPHS:
            text = paragraph if reading == 0 else f"({reading + 1}.{len(parts)}) {paragraph}"
            parts.append(text)
            total += len(text) + 2
            if total >= chars:
                break
        reading += 1
    return "\n\n".join(parts)


def stop_within(step_s: float) -> float:
    """How soon a cancel or a deadline must end a running command whose work goes in steps
    of ``step_s`` seconds here: within one step (the server checks between steps), half a
    step more for slower steps and other work on the machine, and STOP_SLACK_S."""
    return 1.5 * step_s + STOP_SLACK_S


@dataclass(frozen=True)
class Pace:
    """This machine's speeds on the bundled model, as the server reported them."""

    backend: str
    prompt_tps: float  # prefill tokens a second on a ~900-token prompt
    generation_tps: float
    chars_per_token: float  # of the prose above, as the server read and tokenized it
    template_tokens: int  # the prompt's tokens around a one-character document
    head_tokens: int  # prompt tokens two unrelated documents share (the cache reuses them)
    context_tokens: int  # the model's context (model-info)
    step_tokens: int  # the prefill step the server takes on the probe (its largest steps)
    short_s: float  # wall seconds of a short command: generate-tags, DOCUMENT, 40 tokens
    read_s: float  # before the first prefill step of a one-pass document (read_before_prefill)

    @property
    def step_s(self) -> float:
        """One prefill step's time: a cancel or a deadline lands between steps."""
        return self.step_tokens / self.prompt_tps

    def stop_within(self) -> float:
        """How soon a cancel or a deadline must end a command of the bundled model: within
        a prefill step at the measured rate (stop_within; a token is sooner). About 3 s on
        this shared 2-core CPU, under a second on a GPU."""
        return stop_within(self.step_s)

    def chars_for(self, seconds: float) -> int:
        """Characters of prose whose prefill alone takes at least ``seconds`` here (on CPU a
        longer prompt prefills more slowly per token, so longer documents take longer)."""
        return int(seconds * self.prompt_tps * self.chars_per_token * 1.1)

    def one_pass_chars(self) -> int:
        """The most prose the server reads in one pass (the context, less room)."""
        return int((self.context_tokens - ROOM_TOKENS) * self.chars_per_token)

    def prefill_s(self, chars: int) -> float:
        """About how long the prefill of ``chars`` characters of prose takes here."""
        return chars / self.chars_per_token / self.prompt_tps


def work_document(pace: Pace, seconds: float) -> str:
    """A fresh document whose prefill alone takes at least ``seconds`` here, however long
    that makes it (the server reads a document longer than one pass in chunks)."""
    return fresh(prose(pace.chars_for(seconds)))


def one_pass_document(pace: Pace, seconds: float) -> tuple[str, float]:
    """A fresh document read in one pass, with prefill of about ``seconds`` where the
    machine is slow enough, else as long as one pass may be; and its estimated prefill."""
    chars = min(pace.chars_for(seconds), pace.one_pass_chars())
    return fresh(prose(chars)), pace.prefill_s(chars)


def read_before_prefill(s: Sidecar, document: str) -> float:
    """Seconds the server spends on ``document`` before its first prefill step: reading and
    tokenizing it, which no stop interrupts (a GPU prefills a one-pass document in about
    the time this takes). Measured as how long a deadline of 20 ms takes to end it: 20 ms
    lets the main thread take the command first (a deadline that passes while a command
    is queued answers it unread)."""
    started = time.monotonic()
    line = s.answer({"command": "summarize", "content": fresh(document), "timeout_s": 0.02})
    assert line["code"] == "timeout", line
    return time.monotonic() - started


def measure(s: Sidecar) -> Pace:
    """Measure through a server that has the bundled model loaded."""
    from mlx_sidecar.generation import prefill_step_size

    tiny = s.ok({"command": "generate-tags", "content": "x", "max_tokens": 1})  # warm-up too
    probe = s.ok(
        {"command": "generate-tags", "content": fresh(PROSE[:PROBE_CHARS]), "max_tokens": 1}
    )
    started = time.monotonic()
    short = s.ok({"command": "generate-tags", "content": DOCUMENT, "max_tokens": 40})
    short_s = time.monotonic() - started
    info = s.ok({"command": "model-info"})
    template = tiny["prompt_tokens"] - 1
    chars_per_token = probe["read_chars"] / (probe["prompt_tokens"] - template)
    one_pass = prose(int((info["context_length"] - ROOM_TOKENS) * chars_per_token))
    pace = Pace(
        backend=info["backend"],
        prompt_tps=probe["prompt_tps"],
        generation_tps=short["generation_tps"],
        chars_per_token=chars_per_token,
        template_tokens=template,
        head_tokens=short["cached_tokens"],
        context_tokens=info["context_length"],
        step_tokens=prefill_step_size(probe["prompt_tokens"]),
        short_s=short_s,
        read_s=read_before_prefill(s, one_pass),
    )
    print(f"\n{pace}: one step {pace.step_s:.2f} s, stop within {pace.stop_within():.2f} s")
    return pace
