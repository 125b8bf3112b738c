"""Hostile input: every non-blank line gets exactly one response or error, and the loop lives.

Hypothesis sends random byte lines and random JSON objects to ONE shared server process.
After each line a probe (check-availability with a fresh id) must be the next answer:
so the line got exactly the one answer it was owed, and the server still works.
"""

from __future__ import annotations

import io
import itertools
import json
import math

import pytest
from conftest import DOCUMENT, FINAL_TYPES, Sidecar
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from procstats import MIB, PeakRSS

from mlx_sidecar import commands, loop, wire
from mlx_sidecar.session import Session

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROBES = itertools.count()
DEEP = 200_000


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("fuzz-home")


@pytest.fixture(scope="module")
def fuzzed(sandbox):
    """A server without a model, offline, whose home and working folder are a temp folder."""
    env = {
        "HOME": str(sandbox),
        "HF_HOME": str(sandbox / "hf"),
        "HF_HUB_OFFLINE": "1",
        "HF_ENDPOINT": "http://127.0.0.1:9",  # the discard port: nothing listens there
    }
    s = Sidecar(env=env, cwd=str(sandbox))
    yield s
    s.stop()


def answers_to(s: Sidecar, line: bytes, timeout: float = 120) -> list[dict]:
    """Send a line, then a probe; the final lines that came before the probe's answer."""
    probe = f"probe-{next(PROBES)}-\u2603"
    s.send(line)
    s.send({"command": "check-availability", "id": probe})
    finals = []
    while True:
        out = s.read(timeout)
        if out.get("id") == probe:
            assert out["type"] == "response" and out["available"] is True, out
            return finals
        if out["type"] in FINAL_TYPES:
            finals.append(out)


def assert_answered_once(s: Sidecar, line: bytes) -> dict | None:
    finals = answers_to(s, line)
    if not line.strip():
        assert finals == [], (line, finals)
        return None
    assert len(finals) == 1, (line[:200], finals)
    return finals[0]


# --- Random bytes ---------------------------------------------------------------------

PREFIXES = st.sampled_from(
    [
        b"",
        b"{",
        b'{"command":',
        b'{"command": "check-availability"',
        b"\xef\xbb\xbf",
        b'{"command": "summarize", "content": "',
        b"[",
        b"\x00",
        b"  \t",
        b'"',
        b"\\u",
    ]
)
BYTE_LINES = st.tuples(PREFIXES, st.binary(max_size=300)).map(
    lambda parts: b"".join(parts).replace(b"\n", b"")
)


@FUZZ
@given(BYTE_LINES)
@example(b"\xff\xfe\xfd")
@example(b'{"command": "check-availability", "id": "\xed\xa0\x80"}')  # UTF-8-encoded surrogate
@example(b"\r")
@example(b" \x0b\x0c ")
def test_random_byte_lines_each_get_one_answer(fuzzed, line):
    final = assert_answered_once(fuzzed, line)
    if final is not None:
        assert final["type"] == "error" or final["command"] == "check-availability"


# --- Random JSON objects --------------------------------------------------------------

COMMANDS = [c for c in commands.HANDLERS if c != "shutdown"]
FIELDS = [
    "id",
    "content",
    "max_tags",
    "max_tokens",
    "temperature",
    "max_words",
    "progress",
    "stream",
    "model_path",
    "weights",
    "repo_id",
    "destination",
    "revision",
    "allow_patterns",
]
TEXT = st.text(
    alphabet=st.characters() | st.characters(categories=["Cs"]) | st.sampled_from('<|>\\"\n'),
    max_size=40,
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([0, -1, 2**31, 2**63, -(2**63) - 1, 10**30, 10**4000])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([math.nan, math.inf, -math.inf, 1e308, 5e-324, -0.0])
    | TEXT
    | st.sampled_from(["", " ", "\x00", "<|im_end|>", "../../etc/passwd", "/", "~", "."])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
MISSING = object()


@st.composite
def json_requests(draw: st.DrawFn) -> dict:
    obj = draw(st.dictionaries(st.sampled_from(FIELDS) | TEXT, VALUES, max_size=6))
    command = draw(st.sampled_from(COMMANDS) | st.just(MISSING) | VALUES)
    if command is not MISSING:
        obj["command"] = command
    else:
        obj.pop("command", None)
    return obj


def tame(obj: dict, sandbox) -> dict:
    """Keep a random request fast and harmless; its shape stays random.

    load-model without a path would load the bundled model (seconds); a download must not
    write outside the sandbox.
    """
    if obj.get("command") == "shutdown":
        obj["command"] = "shut down"
    if obj.get("command") == "load-model" and obj.get("model_path") is None:
        obj["model_path"] = str(sandbox / "no-such-model.gguf")
    if obj.get("command") == "download-model" and isinstance(obj.get("destination"), str):
        obj["destination"] = str(sandbox / "downloads" / str(abs(hash(obj["destination"]))))
    return obj


def id_is_echoable(obj: dict) -> bool:
    rid = obj.get("id")
    if isinstance(rid, bool) or not isinstance(rid, (str, int, float)):
        return False
    if isinstance(rid, float) and not math.isfinite(rid):
        return False
    return not (isinstance(rid, str) and wire.LONE_SURROGATE.search(rid))


@FUZZ
@given(json_requests())
@example({"command": "summarize", "content": "x", "max_tokens": 10**4000})
@example({"command": "generate-tags", "content": ["x"] * 1000})
@example({"command": "load-model", "model_path": "a" * 5000})
@example({"command": "load-model", "model_path": "\ud800.gguf"})
@example({"command": "check-availability", "id": "\udfff"})
@example({"command": "summarize", "content": "", "id": 1})
@example({"command": "", "id": "empty"})
@example({"command": "download-model", "repo_id": "../../etc", "destination": "x"})
def test_random_json_objects_each_get_one_answer(fuzzed, sandbox, obj):
    obj = tame(obj, sandbox)
    line = json.dumps(obj).encode("utf-8")  # NaN and Infinity go out as bare literals
    final = assert_answered_once(fuzzed, line)
    assert final is not None
    if final["type"] == "response":
        assert final["command"] == obj["command"] in ("check-availability",)
    valid_json = all(t not in line for t in (b"NaN", b"Infinity"))
    if valid_json and id_is_echoable(obj) and not wire.has_lone_surrogate(obj):
        assert final.get("id") == obj["id"]
    elif "id" in final:
        assert final["id"] == obj.get("id")


@pytest.mark.parametrize(
    "line",
    [
        b"[" * DEEP + b"]" * DEEP,
        b'{"a":' * DEEP + b"1" + b"}" * DEEP,
        b'{"command": "summarize", "content": ' + b"[" * DEEP + b"]" * DEEP + b"}",
        b'{"command": "check-availability", "id": ' + b"[" * DEEP + b"]" * DEEP + b"}",
        b"[" * DEEP,
    ],
    ids=["arrays", "objects", "as-content", "as-id", "unclosed"],
)
def test_json_nested_200000_deep_gets_an_error_and_the_loop_continues(fuzzed, line):
    final = assert_answered_once(fuzzed, line)
    assert final["type"] == "error" and final["code"] in ("invalid_json", "invalid_request")


def test_the_server_still_loads_and_generates_after_the_fuzz(fuzzed):
    """On the process the fuzz tests above used (when the module runs whole)."""
    fuzzed.ok({"command": "load-model"}, timeout=300)
    line = fuzzed.ok({"command": "generate-tags", "content": DOCUMENT, "max_tokens": 8})
    assert line["tags"]


@pytest.fixture(scope="module")
def fuzzed_with_model(fuzzed):
    """The fuzzed server with the bundled model loaded (whatever the fuzz sent before)."""
    fuzzed.ok({"command": "load-model"}, timeout=300)
    return fuzzed


SPECIAL_TEXT = (
    st.lists(
        st.sampled_from(
            ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "assistant", "\n", "[", '"']
        )
        | st.text(max_size=20),
        min_size=1,
        max_size=8,
    )
    .map("".join)
    .filter(str.strip)
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SPECIAL_TEXT, st.sampled_from(["generate-tags", "summarize"]), st.booleans())
def test_random_content_reaches_the_model_and_gets_an_answer(
    fuzzed_with_model, content, command, stream
):
    """Any text is just text to tag or summarize."""
    req = {"command": command, "content": content, "max_tokens": 1, "stream": stream}
    if command == "generate-tags":
        del req["stream"]
    line = fuzzed_with_model.ok(req, timeout=120)
    assert ("tags" in line) if command == "generate-tags" else ("summary" in line)


# --- Line limit -----------------------------------------------------------------------


def test_a_line_over_the_limit_costs_about_its_size_in_memory_not_several_copies():
    s = Sidecar()  # default limit, 32 MiB
    try:
        s.ok({"command": "check-availability"})
        line = b'{"command": "summarize", "content": "' + b"a" * (40 * MIB) + b'"}'
        with PeakRSS(s.proc.pid) as over:
            error = s.answer(line, timeout=120)
        assert error["code"] == "line_too_long" and str(len(line) + 1) in error["error"]
        limit = wire.MAX_LINE_BYTES
        assert over.growth < 1.5 * limit, f"peak grew {over.growth / MIB:.0f} MiB"

        under = b'{"command": "summarize", "content": "' + b"a" * (30 * MIB) + b'"}'
        with PeakRSS(s.proc.pid) as accepted:
            assert s.answer(under, timeout=120)["code"] == "no_model"
        # Parsing holds the decoded text and the parsed string, never the raw bytes as well.
        assert accepted.growth < 2.5 * len(under), f"peak grew {accepted.growth / MIB:.0f} MiB"
        assert s.ok({"command": "check-availability"})["available"] is True
        print(
            f"\nline limit: 40 MiB line over a 32 MiB limit -> peak +{over.growth / MIB:.1f} MiB; "
            f"30 MiB line parsed -> peak +{accepted.growth / MIB:.1f} MiB"
        )
    finally:
        s.stop()


def test_a_line_of_exactly_the_limit_is_read_and_one_more_byte_is_not():
    for size, code in ((64, "invalid_json"), (65, "line_too_long")):
        stream = io.BytesIO(b"x" * size + b"\n" + b'{"command": "shutdown"}\n')
        out = io.BytesIO()
        assert loop.serve(Session(), stream, wire.ProtocolWriter(out), max_line=64) == 0
        first, second = (json.loads(x) for x in out.getvalue().splitlines())
        assert first["code"] == code and second["command"] == "shutdown"


def test_long_lines_are_read_in_chunks_and_their_tail_skipped():
    data = b"a" * 100 + b"\n" + b"b" * 10 + b"\r\n" + b"tail-without-newline"
    lines = list(wire.read_lines(io.BytesIO(data), limit=50, chunk=7))
    assert isinstance(lines[0], wire.LineTooLong) and lines[0].size == 101
    assert lines[1:] == [bytearray(b"b" * 10), bytearray(b"tail-without-newline")]
