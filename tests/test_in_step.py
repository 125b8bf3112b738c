"""Never out of step with the app: cancel, deadlines and shutdown while a command runs.

stdin is read on its own thread, so these commands reach a server that is busy
generating. Every test drives a real `python server.py` on the bundled SmolLM2.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import time
import uuid

import pytest
from conftest import DOCUMENT, ROOT, SERVER, Sidecar

# About 2,000 tokens of prose: several prefill steps, one pass.
PROSE = (ROOT / "bench" / "corpus" / "06-persuasion-ch1-11.txt").read_text(encoding="utf-8")
LONG = PROSE[:7500]
SHORT = PROSE[:3000]  # ~700 tokens: a prefill of a few seconds
LATENCY_S = 2.0  # the bound on this 2-core CPU: a cancel or deadline ends a command


def fresh(text: str) -> str:
    """The text behind a unique first line: no prompt cache from an earlier test helps it."""
    return f"Note {uuid.uuid4().hex}.\n\n{text}"


def until_final(s: Sidecar, rid: str, timeout: float = 300) -> tuple[list[dict], dict]:
    """Lines up to and including the final line of request ``rid``."""
    seen = []
    while True:
        line = s.read(timeout)
        seen.append(line)
        if line.get("id") == rid and line["type"] in ("response", "error"):
            return seen, line


def cancel_and_time(s: Sidecar, rid: str) -> tuple[float, list[dict], dict]:
    started = time.monotonic()
    s.send({"command": "cancel", "request_id": rid, "id": f"cancel-{rid}"})
    seen, final = until_final(s, rid)
    return time.monotonic() - started, seen, final


def test_cancel_during_prefill_ends_the_command_within_2_s_and_keeps_the_kv_cache(loaded):
    doc = fresh(LONG)
    loaded.send({"command": "summarize", "id": "p", "content": doc, "stream": True})
    time.sleep(2.5)  # a prefill step or two (256-512 tokens) is done by then
    latency, seen, final = cancel_and_time(loaded, "p")
    assert final["type"] == "error" and final["code"] == "cancelled", final
    answer = next(x for x in seen if x.get("id") == "cancel-p")
    assert answer == {"type": "response", "command": "cancel", "cancelled": True, "id": "cancel-p"}
    assert seen.index(answer) < seen.index(final)  # the cancel's answer comes first
    assert not [x for x in seen if x["type"] == "partial"], "it was already decoding"
    assert latency < LATENCY_S, f"cancelled after {latency:.2f} s"
    again = loaded.ok({"command": "summarize", "content": doc, "max_tokens": 4})
    assert again["cached_tokens"] >= 256, again  # the prefill steps done before the cancel
    print(f"\ncancel mid-prefill: {latency:.2f} s; retry reused {again['cached_tokens']} tokens")


def test_cancel_during_decode_ends_the_command_within_2_s(loaded):
    # Five sentences: seconds of decoding are left after the first partial.
    loaded.send(
        {
            "command": "summarize",
            "id": "d",
            "content": fresh(SHORT),
            "stream": True,
            "sentences": 5,
            "max_tokens": 400,
        }
    )
    while (line := loaded.read())["type"] != "partial":
        assert line["type"] == "progress", line
    latency, seen, final = cancel_and_time(loaded, "d")
    assert final["code"] == "cancelled" and final["command"] == "summarize"
    assert seen[-1] is final  # no partial line after the error
    assert latency < LATENCY_S, f"cancelled after {latency:.2f} s"
    assert loaded.ok({"command": "check-availability"})["model_loaded"] is True


def test_cancel_of_a_queued_command_answers_it_at_once_while_another_runs(loaded):
    loaded.send({"command": "summarize", "id": "running", "content": fresh(LONG)})
    loaded.send({"command": "generate-tags", "id": "queued", "content": DOCUMENT})
    time.sleep(0.5)
    started = time.monotonic()
    loaded.send({"command": "cancel", "request_id": "queued", "id": "c1"})
    answer, error = loaded.read(10), loaded.read(10)
    assert time.monotonic() - started < LATENCY_S
    assert answer == {"type": "response", "command": "cancel", "cancelled": True, "id": "c1"}
    assert error["id"] == "queued" and error["code"] == "cancelled"
    assert error["command"] == "generate-tags"
    latency, _, final = cancel_and_time(loaded, "running")  # the one that was running
    assert final["code"] == "cancelled" and latency < LATENCY_S


def test_cancel_of_an_unknown_or_finished_id_says_false(loaded):
    done = loaded.ok({"command": "model-info", "id": "finished"})
    assert done["command"] == "model-info"
    for rid in ("finished", "never-sent", 12345, 1.5):
        line = loaded.ok({"command": "cancel", "request_id": rid})
        assert line == {"type": "response", "command": "cancel", "cancelled": False}


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"request_id": None},
        {"request_id": True},
        {"request_id": ["a"]},
        {"request_id": {"id": 1}},
    ],
)
def test_cancel_without_a_usable_request_id_is_invalid_params(loaded, fields):
    line = loaded.answer({"command": "cancel", **fields})
    assert line["code"] == "invalid_params" and "request_id" in line["error"]


@pytest.mark.parametrize("value", [0, -1, "10", True, [5], 1e308])
def test_a_bad_timeout_s_is_invalid_params(loaded, value):
    line = loaded.answer({"command": "summarize", "content": DOCUMENT, "timeout_s": value})
    assert line["code"] == "invalid_params" and "timeout_s" in line["error"]


def test_timeout_s_keeps_the_work_done_so_the_same_command_finishes_sooner(loaded):
    doc = fresh(LONG)
    started = time.monotonic()
    line = loaded.answer({"command": "generate-tags", "content": doc, "timeout_s": 5})
    elapsed = time.monotonic() - started
    assert line["code"] == "timeout" and "5 s" in line["error"], line
    assert 5 <= elapsed < 5 + LATENCY_S, f"answered after {elapsed:.2f} s"
    again = loaded.ok({"command": "generate-tags", "content": doc})
    # A fresh document shares only the prompt's opening (~40 tokens) with the cache.
    assert again["cached_tokens"] >= 256 and again["tags"], again
    print(
        f"\ntimeout at {elapsed:.2f} s; the retry reused {again['cached_tokens']} of "
        f"{again['prompt_tokens']} prompt tokens"
    )


def test_timeout_s_ends_a_long_document_between_or_inside_its_chunks(loaded):
    doc = fresh(PROSE[:40000])  # ~10,000 tokens: read in 2,048-token chunks on CPU
    for seconds in (3, 9):
        started = time.monotonic()
        line = loaded.answer(
            {"command": "summarize", "content": doc, "timeout_s": seconds, "max_tokens": 24}
        )
        elapsed = time.monotonic() - started
        assert line["code"] == "timeout", line
        assert seconds <= elapsed < seconds + LATENCY_S, f"answered after {elapsed:.2f} s"


def test_a_timeout_of_a_queued_command_is_answered_at_its_deadline(loaded):
    loaded.send({"command": "summarize", "id": "busy", "content": fresh(LONG)})
    started = time.monotonic()
    loaded.send({"command": "model-info", "id": "late", "timeout_s": 1})
    line = loaded.read(10)
    elapsed = time.monotonic() - started
    assert line["id"] == "late" and line["code"] == "timeout", line
    assert 1 <= elapsed < 1 + LATENCY_S
    latency, _, final = cancel_and_time(loaded, "busy")  # it was running all along
    assert final["code"] == "cancelled" and latency < LATENCY_S


# --- An app-like client: one command in flight, one line read per command, no ids -------


class GivingUpClient:
    """Reads exactly one line per command and gives up after ``patience`` seconds,
    telling the sidecar nothing, like the app's own client."""

    def __init__(self, s: Sidecar, patience: float) -> None:
        self.s, self.patience = s, patience

    def ask(self, command: dict) -> dict | None:
        self.s.send(command)
        try:
            return self.s.read(timeout=self.patience)
        except queue.Empty:
            return None  # gave up; a late answer would be read as the next command's


@pytest.fixture(scope="module")
def with_deadline():
    s = Sidecar("--request-timeout", "5")
    s.ok({"command": "load-model"}, timeout=300)
    yield s
    s.stop()


def test_an_app_that_gives_up_after_8_s_stays_in_step_with_a_5_s_deadline(with_deadline):
    client = GivingUpClient(with_deadline, patience=8)
    doc = fresh(PROSE[:12000])
    commands = [
        {"command": "summarize", "content": doc},
        {"command": "check-availability"},
        {"command": "generate-tags", "content": DOCUMENT, "max_tokens": 40},
        {"command": "summarize", "content": doc},  # sooner now: its prefill so far is kept
        {"command": "model-info"},
        {"command": "generate-tags", "content": fresh(PROSE[20000:30000])},
        {"command": "check-availability"},
    ]
    answers = [client.ask(c) for c in commands]
    for command, answer in zip(commands, answers, strict=True):
        assert answer is not None, f"the client gave up on {command['command']}"
        assert answer["command"] == command["command"], (command["command"], answer)
    assert answers[0]["code"] == "timeout"
    assert answers[1]["type"] == answers[2]["type"] == answers[4]["type"] == "response"
    assert answers[6]["type"] == "response"
    with pytest.raises(queue.Empty):  # nothing late is left to be misread
        with_deadline.read(timeout=2)
    print(
        "\n"
        + ", ".join(
            f"{c['command']}: {a.get('code', 'ok')}" for c, a in zip(commands, answers, strict=True)
        )
    )


def test_an_explicit_timeout_s_overrides_the_default_deadline(with_deadline):
    line = with_deadline.ok({"command": "generate-tags", "content": DOCUMENT, "timeout_s": 120})
    assert line["tags"]


def test_shutdown_mid_command_cancels_it_answers_and_exits_zero_within_2_s(with_deadline):
    s = with_deadline
    s.send({"command": "summarize", "id": "long", "content": fresh(LONG), "timeout_s": 300})
    time.sleep(1.0)
    started = time.monotonic()
    s.send({"command": "shutdown", "id": "bye"})
    cancelled, answer = s.read(10), s.read(10)
    assert cancelled["id"] == "long" and cancelled["code"] == "cancelled"
    assert answer == {"type": "response", "command": "shutdown", "success": True, "id": "bye"}
    assert s.proc.wait(timeout=10) == 0
    elapsed = time.monotonic() - started
    assert elapsed < LATENCY_S, f"exited {elapsed:.2f} s after shutdown"


def test_eof_finishes_what_was_received_then_exits_zero():
    """`echo ... | python server.py` keeps working: every line is answered, in order."""
    lines = "\n".join(
        [
            '{"command": "check-availability", "id": 1}',
            '{"command": "nonsense", "id": 2}',
            '{"command": "model-info", "id": 3}',
        ]
    )
    done = subprocess.run(
        [sys.executable, str(SERVER)], input=lines.encode(), capture_output=True, timeout=60
    )
    assert done.returncode == 0
    answers = sorted((json.loads(x) for x in done.stdout.splitlines()), key=lambda a: a["id"])
    assert [a["id"] for a in answers] == [1, 2, 3]  # the unknown command is answered at once
    assert [a.get("code") for a in answers] == [None, "unknown_command", "no_model"]
