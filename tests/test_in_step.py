"""Never out of step with the app: cancel, deadlines and shutdown while a command runs.

stdin is read on its own thread, so these commands reach a server that is busy
generating. Every test drives a real `python server.py` on the bundled SmolLM2.

No figure here is this 2-core CPU's: the module first measures the machine through the
server (tests/pace.py), then sizes each document by the work it must take on this
machine, and places every cancel and deadline by that work: after what the server does
before the first prefill step (reading and tokenizing, ``pace.read_s``), a share into the
prefill. A stop must land within `pace.stop_within()`: one prefill step at the measured
rate and some slack (about 3 s on this shared CPU, under a second on a GPU). Where a test
needs a command still running when its cancel arrives it waits for a line that proves it
(a partial line), or gives it work many times longer than the wait.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import time

import pytest
from conftest import DOCUMENT, SERVER, Sidecar
from pace import PROSE, Pace, fresh, measure, one_pass_document, prose, work_document

WORK_S = 6.0  # the prefill a "long" command takes on any machine: many stops fit inside


@pytest.fixture(scope="module")
def pace(loaded) -> Pace:
    return measure(loaded)


def until_final(s: Sidecar, rid: object, timeout: float = 300) -> tuple[list[dict], dict]:
    """Lines up to and including the final line of request ``rid``."""
    seen = []
    while True:
        line = s.read(timeout)
        seen.append(line)
        if line.get("id") == rid and line["type"] in ("response", "error"):
            return seen, line


def cancel_and_time(s: Sidecar, rid: object) -> tuple[float, list[dict], dict]:
    started = time.monotonic()
    s.send({"command": "cancel", "request_id": rid, "id": f"cancel-{rid}"})
    seen, final = until_final(s, rid)
    return time.monotonic() - started, seen, final


def test_cancel_during_prefill_ends_the_command_within_a_step_and_keeps_the_kv_cache(loaded, pace):
    doc, prefill_s = one_pass_document(pace, WORK_S)
    loaded.send({"command": "summarize", "id": "p", "content": doc, "stream": True})
    time.sleep(pace.read_s + prefill_s / 4)  # a quarter into its prefill, at this machine's rate
    latency, seen, final = cancel_and_time(loaded, "p")
    assert final["type"] == "error" and final["code"] == "cancelled", final
    answer = next(x for x in seen if x.get("id") == "cancel-p")
    assert answer == {"type": "response", "command": "cancel", "cancelled": True, "id": "cancel-p"}
    assert seen.index(answer) < seen.index(final)  # the cancel's answer comes first
    assert not [x for x in seen if x["type"] == "partial"], "it was already decoding"
    assert latency < pace.stop_within(), f"cancelled after {latency:.2f} s"
    again = loaded.ok({"command": "summarize", "content": doc, "max_tokens": 4})
    # The prefill steps done before the cancel are reused: more than the prompt opening
    # two unrelated documents share, and less than the whole prompt (it was cut short).
    assert pace.head_tokens < again["cached_tokens"] < again["prompt_tokens"] - 1, again
    print(f"\ncancel mid-prefill: {latency:.2f} s; retry reused {again['cached_tokens']} tokens")


def start_decoding(server: Sidecar, request_id: str) -> None:
    """Send a streamed summary of five sentences and return once its first partial line
    shows it decoding, with more decoding left."""
    server.send(
        {
            "command": "summarize",
            "id": request_id,
            "content": fresh(PROSE[:3000]),
            "stream": True,
            "sentences": 5,
            "max_tokens": 400,
        }
    )
    while (line := server.read())["type"] != "partial":
        assert line["type"] == "progress", line


def test_cancel_during_decode_ends_the_command_within_a_step(loaded, pace):
    start_decoding(loaded, "d")
    latency, seen, final = cancel_and_time(loaded, "d")
    assert final["code"] == "cancelled" and final["command"] == "summarize"
    assert seen[-1] is final  # no partial line after the error
    assert latency < pace.stop_within(), f"cancelled after {latency:.2f} s"
    assert loaded.ok({"command": "check-availability"})["model_loaded"] is True


def test_cancel_of_a_queued_command_answers_it_at_once_while_another_runs(loaded, pace):
    loaded.send({"command": "summarize", "id": "running", "content": work_document(pace, WORK_S)})
    loaded.send({"command": "generate-tags", "id": "queued", "content": DOCUMENT})
    started = time.monotonic()
    loaded.send({"command": "cancel", "request_id": "queued", "id": "c1"})
    answer, error = loaded.read(10), loaded.read(10)
    assert time.monotonic() - started < pace.stop_within()
    assert answer == {"type": "response", "command": "cancel", "cancelled": True, "id": "c1"}
    assert error["id"] == "queued" and error["code"] == "cancelled"
    assert error["command"] == "generate-tags"
    latency, _, final = cancel_and_time(loaded, "running")  # the one that was running
    assert final["code"] == "cancelled" and latency < pace.stop_within()


def test_cancel_of_an_unknown_or_finished_id_says_false(loaded):
    done = loaded.ok({"command": "model-info", "id": "finished"})
    assert done["command"] == "model-info"
    for rid in ("finished", "never-sent", 12345, 1.5):
        line = loaded.ok({"command": "cancel", "request_id": rid})
        assert line == {"type": "response", "command": "cancel", "cancelled": False}


@pytest.mark.parametrize(
    ("sent", "other_type", "same_value"),
    [(1, "1", 1.0), (1.0, "1", 1), ("7", 7, "7")],
    ids=["int", "float", "string"],
)
def test_cancel_matches_ids_as_json_values_1_and_1_0_but_never_the_string_1(
    loaded, pace, sent, other_type, same_value
):
    loaded.send({"command": "summarize", "id": sent, "content": work_document(pace, WORK_S)})
    refused = loaded.ok({"command": "cancel", "request_id": other_type, "id": "wrong-type"})
    assert refused["cancelled"] is False, refused
    matched = loaded.ok({"command": "cancel", "request_id": same_value, "id": "same-value"})
    assert matched["cancelled"] is True, matched
    _, final = until_final(loaded, sent)
    assert final["code"] == "cancelled" and final["id"] == sent
    assert type(final["id"]) is type(sent)  # echoed as it was sent


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


def test_timeout_s_keeps_the_work_done_so_the_same_command_finishes_sooner(loaded, pace):
    doc, prefill_s = one_pass_document(pace, WORK_S)
    deadline = round(pace.read_s + prefill_s / 3, 2)  # a third into its prefill on this machine
    started = time.monotonic()
    line = loaded.answer({"command": "generate-tags", "content": doc, "timeout_s": deadline})
    elapsed = time.monotonic() - started
    assert line["code"] == "timeout" and f"{deadline:g} s" in line["error"], line
    assert deadline <= elapsed < deadline + pace.stop_within(), f"answered after {elapsed:.2f} s"
    again = loaded.ok({"command": "generate-tags", "content": doc})
    # A fresh document shares only the prompt's opening with the cache; the prefill done
    # before the deadline is reused on top of it.
    assert again["cached_tokens"] > pace.head_tokens and again["tags"], again
    print(
        f"\ntimeout at {elapsed:.2f} s; the retry reused {again['cached_tokens']} of "
        f"{again['prompt_tokens']} prompt tokens"
    )


def test_timeout_s_ends_a_document_read_in_chunks_within_a_step_of_its_deadline(loaded, pace):
    # Longer than one pass (so it is read in chunks), and many times the later deadline.
    deadlines = (round(WORK_S / 3, 2), WORK_S)
    chars = max(2 * pace.one_pass_chars(), pace.chars_for(4 * deadlines[-1]))
    for seconds in deadlines:
        doc = fresh(prose(chars))
        started = time.monotonic()
        line = loaded.answer(
            {"command": "summarize", "content": doc, "timeout_s": seconds, "max_tokens": 24}
        )
        elapsed = time.monotonic() - started
        assert line["code"] == "timeout", line
        assert seconds <= elapsed < seconds + pace.stop_within(), f"answered after {elapsed:.2f} s"


def test_a_timeout_of_a_queued_command_is_answered_at_its_deadline_even_one_passed_at_once(
    loaded, pace
):
    """A deadline's timer starts once its command is queued (da4ad7b): before, a timer
    that fired between its start and the queueing found nothing to stop, and the command
    ran later with no deadline at all. Twenty deadlines that pass at once try that."""
    loaded.send({"command": "summarize", "id": "busy", "content": work_document(pace, WORK_S)})
    deadline = round(WORK_S / 4, 2)  # well inside the busy command's work
    started = time.monotonic()
    loaded.send({"command": "model-info", "id": "late", "timeout_s": deadline})
    at_once = [f"at-once-{i}" for i in range(20)]
    for rid in at_once:
        loaded.send({"command": "model-info", "id": rid, "timeout_s": 1e-6})
    answered = [loaded.read(timeout=pace.stop_within()) for _ in at_once]  # while busy runs
    assert sorted(x["id"] for x in answered) == sorted(at_once)
    assert all(x["code"] == "timeout" for x in answered), answered
    line = loaded.read(timeout=deadline + pace.stop_within() + 30)
    elapsed = time.monotonic() - started
    assert line["id"] == "late" and line["code"] == "timeout", line
    assert deadline <= elapsed < deadline + pace.stop_within()
    started = time.monotonic()  # it was running all along: the client's cancel() ends it
    assert loaded.cancel("busy") == {"type": "response", "command": "cancel", "cancelled": True}
    assert loaded.wait_for("busy")[1]["code"] == "cancelled"
    assert time.monotonic() - started < pace.stop_within()


# --- load-model: a cancel or a deadline keeps the model that serves -------------------


@pytest.fixture(scope="module")
def load_s(loaded, mlx_folder) -> float:
    """How long loading the MLX folder takes here (the load of the other model: the tests
    below stop such a load); the bundled model is loaded again afterwards."""
    seconds = loaded.ok({"command": "load-model", "model_path": str(mlx_folder)})["load_time_s"]
    loaded.ok({"command": "load-model"})
    return seconds


def test_a_load_model_past_its_timeout_s_keeps_the_previous_model_serving(
    loaded, mlx_folder, load_s
):
    before = loaded.ok({"command": "model-info"})
    deadline = round(max(load_s / 3, 0.02), 3)  # a third into the load, on this machine
    line = loaded.answer(
        {"command": "load-model", "model_path": str(mlx_folder), "timeout_s": deadline}
    )
    assert line["code"] == "timeout" and line["command"] == "load-model", line
    assert loaded.ok({"command": "model-info"}) == before
    assert loaded.ok({"command": "generate-tags", "content": DOCUMENT, "max_tokens": 8})["tags"]


def test_a_cancelled_load_model_keeps_the_previous_model_serving(loaded, mlx_folder, load_s):
    before = loaded.ok({"command": "model-info"})
    loaded.send({"command": "load-model", "model_path": str(mlx_folder), "id": "swap"})
    time.sleep(load_s / 3)  # a third into the load, on this machine
    answer = loaded.ok({"command": "cancel", "request_id": "swap", "id": "stop-swap"})
    assert answer["cancelled"] is True
    _, final = until_final(loaded, "swap")
    assert final["code"] == "cancelled" and final["command"] == "load-model", final
    assert loaded.ok({"command": "model-info"}) == before
    assert loaded.ok({"command": "generate-tags", "content": DOCUMENT, "max_tokens": 8})["tags"]


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


def default_deadline(pace: Pace) -> float:
    """--request-timeout for the app-like client: twice a short command here (so short
    commands finish), at least 2 s longer than one. 5 s on this CPU, as the app's N-5."""
    return round(max(2 * pace.short_s, pace.short_s + 2), 1)


@pytest.fixture(scope="module")
def with_deadline(pace):
    """A server whose long commands have the default deadline, set through the environment
    (MLX_SIDECAR_REQUEST_TIMEOUT, what --request-timeout sets too: test_protocol.py)."""
    s = Sidecar(env={"MLX_SIDECAR_REQUEST_TIMEOUT": str(default_deadline(pace))})
    s.ok({"command": "load-model"}, timeout=300)
    # Warm, as the measured server was: the first tags command builds the grammar's view
    # of the vocabulary, which a short command here must not pay for.
    s.ok({"command": "generate-tags", "content": "x", "max_tokens": 1}, timeout=300)
    yield s
    s.stop()


def test_an_app_that_gives_up_stays_in_step_with_a_deadline_below_its_patience(with_deadline, pace):
    deadline = default_deadline(pace)
    patience = deadline + pace.stop_within() + 1  # the app's 60 s against its N-5 deadline
    client = GivingUpClient(with_deadline, patience=patience)
    doc = work_document(pace, 2 * deadline)
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
        with_deadline.read(timeout=pace.stop_within())
    print(
        f"\ndeadline {deadline} s, patience {patience:.1f} s: "
        + ", ".join(
            f"{c['command']}: {a.get('code', 'ok')}" for c, a in zip(commands, answers, strict=True)
        )
    )


def test_an_explicit_timeout_s_overrides_the_default_deadline_which_bounds_a_batch_too(
    with_deadline, pace
):
    deadline = default_deadline(pace)
    doc = work_document(pace, 1.5 * deadline)  # past the default deadline on this machine
    started = time.monotonic()
    with_deadline.send(
        {
            "command": "generate-tags",
            "id": "explicit",
            "content": doc,
            "max_tokens": 8,
            "timeout_s": 30 * deadline,
        }
    )
    # A batch has the default deadline too: queued behind that work, it ends at it.
    with_deadline.send(
        {"command": "batch", "id": "batch", "documents": [{"id": 1, "content": DOCUMENT}]}
    )
    batch = with_deadline.read(timeout=deadline + pace.stop_within() + 30)
    batch_s = time.monotonic() - started
    assert batch["id"] == "batch" and batch["code"] == "timeout", batch
    assert deadline <= batch_s < deadline + pace.stop_within(), f"answered after {batch_s:.2f} s"
    _, line = until_final(with_deadline, "explicit")
    elapsed = time.monotonic() - started
    assert line["type"] == "response" and line["tags"], line
    assert elapsed > deadline, f"done in {elapsed:.2f} s: the default deadline was never at stake"


# --- Shutdown and EOF -------------------------------------------------------------------


def test_shutdown_mid_command_cancels_it_and_the_queued_ones_answers_and_exits_zero(pace):
    s = Sidecar()
    try:
        s.ok({"command": "load-model"}, timeout=300)
        start_decoding(s, "running")
        s.send({"command": "generate-tags", "id": "queued-1", "content": DOCUMENT})
        s.send({"command": "model-info", "id": "queued-2"})
        started = time.monotonic()
        s.send({"command": "shutdown", "id": "bye"})
        seen, _ = until_final(s, "running")
        latency = time.monotonic() - started
        seen.extend(until_final(s, "bye")[0])
        finals = [x for x in seen if x["type"] in ("response", "error")]
        assert finals[-1] == {
            "type": "response",
            "command": "shutdown",
            "success": True,
            "id": "bye",
        }
        cancelled = {x["id"]: x for x in finals[:-1] if x.get("code") == "cancelled"}
        assert set(cancelled) == {"running", "queued-1", "queued-2"}, finals
        assert all("shutting down" in x["error"] for x in cancelled.values())
        assert latency < pace.stop_within(), f"the running command ended {latency:.2f} s later"
        assert s.proc.wait(timeout=60) == 0  # however long the interpreter takes to exit
    finally:
        s.stop()


def test_eof_finishes_what_was_received_then_exits_zero():
    """`echo ... | python server.py` keeps working: every line is answered, commands in
    the order they came; the unknown command is answered at once, by the reader."""
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
    answers = [json.loads(x) for x in done.stdout.splitlines()]  # as received
    ids = [a["id"] for a in answers]
    assert sorted(ids) == [1, 2, 3], answers  # each line answered exactly once
    # 3 is read after 2 was answered, and runs after 1: it comes last. 1 and 2 may come in
    # either order (the reader answers 2 while the main thread may still run 1).
    assert ids[-1] == 3, ids
    by_id = {a["id"]: a for a in answers}
    assert [by_id[i].get("code") for i in (1, 2, 3)] == [None, "unknown_command", "no_model"]
