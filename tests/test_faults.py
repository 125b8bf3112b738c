"""Faults: signals, EOF and a closed stdout mid-generation, corrupt models, a soak."""

from __future__ import annotations

import io
import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from conftest import DOCUMENT, FINAL_TYPES, SERVER, Sidecar
from procstats import MIB, open_fds, rss

from mlx_sidecar import commands, errors, loop, wire
from mlx_sidecar.session import Session

LONG = {"command": "summarize", "content": DOCUMENT, "max_tokens": 4000, "stream": True}
EXIT_SECONDS = 5


# --- Signals, EOF and a closed stdout while generating -------------------------------


@pytest.fixture(scope="module")
def generating():
    """A loaded server for each way to end one, all four loading at once (much of a
    load is one Python thread: imports, GGUF parsing, the tokenizer).

    "pipe" is a bare process: its test closes the stdout the Sidecar client would read.
    """
    servers = {name: Sidecar() for name in ("SIGTERM", "SIGINT", "EOF")}
    pipe = subprocess.Popen(
        [sys.executable, str(SERVER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    pipe.stdin.write(b'{"command": "load-model"}\n')
    pipe.stdin.flush()
    for s in servers.values():
        s.send({"command": "load-model"})
    for s in servers.values():
        line = s.read(timeout=300)
        assert line["type"] == "response", line
    assert json.loads(pipe.stdout.readline())["type"] == "response"
    yield {**servers, "pipe": pipe}
    for s in servers.values():
        s.stop()
    if pipe.poll() is None:
        pipe.kill()
        pipe.wait()


def start_generating(s: Sidecar, req_id: str) -> None:
    s.send({**LONG, "id": req_id})
    first = s.read(timeout=120)
    assert first["type"] == "partial" and first["id"] == req_id, first


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_a_signal_mid_generation_answers_the_command_and_exits_within_5_s(generating, name):
    s = generating[name]
    start_generating(s, "long")
    started = time.monotonic()
    s.proc.send_signal(getattr(signal, name))
    code = s.proc.wait(timeout=30)
    elapsed = time.monotonic() - started
    assert elapsed < EXIT_SECONDS, f"exit took {elapsed:.1f} s"
    assert code == 128 + getattr(signal, name)
    finals = [json.loads(r) for r in s.raw_lines if json.loads(r)["type"] in FINAL_TYPES]
    assert finals[-1] == {
        "type": "error",
        "command": "summarize",
        "error": f"Stopped by {name} before the command finished.",
        "code": "interrupted",
        "id": "long",
    }
    stderr = s.stderr()
    assert "Traceback" not in stderr
    assert f"stopped by {name}; exiting" in stderr


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_signal_while_waiting_for_a_command_exits_at_once_without_a_line(name):
    s = Sidecar()
    try:
        s.ok({"command": "check-availability"})
        s.proc.send_signal(getattr(signal, name))
        assert s.proc.wait(timeout=EXIT_SECONDS) == 128 + getattr(signal, name)
        assert len(s.raw_lines) == 1
        assert s.stderr().strip().endswith(f"stopped by {name}; exiting")
    finally:
        s.stop()


def test_eof_on_stdin_mid_generation_finishes_the_command_then_exits_zero(generating):
    s = generating["EOF"]
    s.send({"command": "generate-tags", "content": DOCUMENT, "max_tokens": 24, "id": "last"})
    code = s.close_stdin()
    while (line := s.read(timeout=60))["type"] not in FINAL_TYPES:
        pass
    assert line["type"] == "response" and line["id"] == "last" and line["tags"]
    assert code == 0
    assert "Traceback" not in s.stderr()


def test_a_closed_stdout_mid_generation_ends_the_server_quietly(generating):
    proc = generating["pipe"]
    proc.stdin.write(json.dumps(LONG).encode() + b"\n")
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["type"] == "partial"
    proc.stdout.close()  # the app stops reading mid-stream
    started = time.monotonic()
    code = proc.wait(timeout=30)
    elapsed = time.monotonic() - started
    stderr = proc.stderr.read().decode()
    assert code == 0 and elapsed < EXIT_SECONDS, f"exit took {elapsed:.1f} s"
    assert "Traceback" not in stderr
    assert stderr.count("the app closed stdout; exiting") == 1
    assert len(stderr.strip().splitlines()) == 1, stderr


def test_a_closed_stdout_before_any_answer_exits_at_the_first_write():
    proc = subprocess.Popen(
        [sys.executable, str(SERVER)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()
    proc.stdin.write(b'{"command": "check-availability"}\n' * 3)
    proc.stdin.flush()
    assert proc.wait(timeout=30) == 0
    assert proc.stderr.read().decode().strip().endswith("the app closed stdout; exiting")


class TrickleStream(io.RawIOBase):
    """A pipe that takes three bytes per write, like a pipe write cut short by a signal."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:
        self.data += bytes(b[:3])
        return min(3, len(b))


def test_short_writes_still_put_whole_lines_on_stdout():
    stream = TrickleStream()
    wire.ProtocolWriter(stream).write({"type": "partial", "command": "summarize", "text": "é" * 9})
    assert json.loads(stream.data)["text"] == "é" * 9 and stream.data.endswith(b"\n")


def test_a_signal_during_a_write_waits_for_the_end_of_the_line():
    signals = wire.Signals()

    class SignalMidLine(TrickleStream):
        def write(self, b: bytes) -> int:
            if not self.data:
                signals.handle(signal.SIGTERM, None)  # as if SIGTERM landed here
            return super().write(b)

    stream = SignalMidLine()
    with pytest.raises(errors.Interrupted):
        wire.ProtocolWriter(stream, signals).write(
            {"type": "partial", "command": "summarize", "text": "x"}
        )
    assert json.loads(stream.data) == {"type": "partial", "command": "summarize", "text": "x"}


def test_a_closed_pipe_raises_client_gone_which_handlers_cannot_swallow():
    class Closed(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, b: bytes) -> int:
            raise BrokenPipeError

    writer = wire.ProtocolWriter(Closed())
    for _ in range(2):
        with pytest.raises(errors.ClientGone):
            writer.write({"type": "response", "command": "shutdown", "success": True})
    assert not issubclass(errors.ClientGone, Exception)


def test_an_answer_that_is_not_valid_json_is_an_internal_error_and_the_next_command_works(
    monkeypatch,
):
    nan_answer = lambda session, req, ctx: {"tps": float("nan")}  # noqa: E731
    monkeypatch.setitem(commands.HANDLERS, "model-info", commands.Command(nan_answer))
    out = io.BytesIO()
    lines = io.BytesIO(
        b'{"command": "model-info", "id": 7}\n{"command": "check-availability", "id": 8}\n'
    )
    loop.serve(Session(), lines, wire.ProtocolWriter(out))
    internal, after = (json.loads(x) for x in out.getvalue().splitlines())
    assert internal["type"] == "error" and internal["code"] == "internal" and internal["id"] == 7
    assert after["type"] == "response" and after["id"] == 8 and after["available"] is True


# --- Out of memory -------------------------------------------------------------------

BIG_MIB = 100  # the document that cannot be read in the memory left


def held_to(s: Sidecar, headroom: int) -> None:
    """Hold a running server to ``headroom`` bytes of address space more than it has now
    (RLIMIT_AS, set from outside with prlimit): past it, allocations fail."""
    process = psutil.Process(s.proc.pid)
    limit = process.memory_info().vms + headroom
    process.rlimit(psutil.RLIMIT_AS, (limit, limit))


def big_document() -> str:
    return "All work and no play makes Jack a dull boy. " * (BIG_MIB * MIB // 44)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prlimit is Linux's")
def test_a_command_that_runs_out_of_memory_answers_out_of_memory_and_the_next_one_works():
    """A 100 MiB document with 280 MiB of address space to spare: the reader parses its
    line (about twice its size) but reading the document (about four times) runs out, in
    Python, so the loop answers out_of_memory, frees it all and serves the next command.
    (With more room the document reaches the tokenizer, whose Rust allocator aborts the
    process when it runs out: no out_of_memory line can come from there.)"""
    s = Sidecar("--max-line-bytes", str(4 * BIG_MIB * MIB))
    try:
        s.ok({"command": "load-model"}, timeout=300)
        s.ok({"command": "summarize", "content": DOCUMENT, "max_tokens": 4})  # buffers exist
        held_to(s, int(2.8 * BIG_MIB * MIB))
        line = s.answer(
            {"command": "summarize", "content": big_document(), "max_tokens": 4, "id": "big"},
            timeout=300,
        )
        assert line["type"] == "error" and line["code"] == "out_of_memory", line
        assert line["command"] == "summarize" and line["id"] == "big"
        after = s.ok({"command": "summarize", "content": DOCUMENT, "max_tokens": 8}, timeout=120)
        assert after["summary"] and after["prompt_tokens"] > 50
        assert s.ok({"command": "check-availability"})["model_loaded"] is True
        assert "Traceback" not in s.stderr()
    finally:
        s.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prlimit is Linux's")
def test_a_line_too_big_to_parse_in_the_memory_left_answers_out_of_memory():
    s = Sidecar("--max-line-bytes", str(4 * BIG_MIB * MIB))
    try:
        s.ok({"command": "check-availability"})
        held_to(s, int(1.5 * BIG_MIB * MIB))  # the line fits, its decoded text does not
        line = s.answer({"command": "summarize", "content": big_document()}, timeout=120)
        assert line["code"] == "out_of_memory", line
        assert s.ok({"command": "check-availability"})["available"] is True
    finally:
        s.stop()


# --- Missing, truncated and corrupt models -------------------------------------------


def gguf_with_garbage_header(path: Path, source: Path) -> Path:
    with open(source, "rb") as f:
        head = f.read(4096)
    path.write_bytes(head[:24] + os.urandom(4096) + b"\0" * 100_000)
    return path


def mlx_variant(dest: Path, source: Path, **replace: bytes) -> Path:
    """A copy of an MLX folder (weights linked, not copied) with some files replaced."""
    dest.mkdir()
    for item in source.iterdir():
        if item.name not in replace:
            (dest / item.name).symlink_to(item)
    for name, data in replace.items():
        if data is not None:
            (dest / name).write_bytes(data)
    return dest


def safetensors_bytes(source: Path, cut: str) -> bytes:
    data = (source / "model.safetensors").read_bytes()
    size = struct.unpack("<Q", data[:8])[0]
    if cut == "bad-json":
        return data[:8] + b"{not json" + b" " * (size - 9) + data[8 + size :]
    if cut == "huge-header":
        return struct.pack("<Q", 2**62) + b"{}"
    return data[: len(data) // 2]


CORRUPT = {
    "missing gguf": lambda tmp, info, mlx: tmp / "nope.gguf",
    "truncated gguf": lambda tmp, info, mlx: (
        tmp / "cut.gguf",
        (tmp / "cut.gguf").write_bytes(Path(info["path"]).read_bytes()[:5_000_000]),
    )[0],
    "gguf with a garbage header": lambda tmp, info, mlx: gguf_with_garbage_header(
        tmp / "garbage.gguf", Path(info["path"])
    ),
    "empty .gguf": lambda tmp, info, mlx: (tmp / "empty.gguf", (tmp / "empty.gguf").touch())[0],
    "safetensors with a bad header": lambda tmp, info, mlx: mlx_variant(
        tmp / "m", mlx, **{"model.safetensors": safetensors_bytes(mlx, "bad-json")}
    ),
    "safetensors with an absurd header length": lambda tmp, info, mlx: mlx_variant(
        tmp / "m", mlx, **{"model.safetensors": safetensors_bytes(mlx, "huge-header")}
    ),
    "truncated safetensors": lambda tmp, info, mlx: mlx_variant(
        tmp / "m", mlx, **{"model.safetensors": safetensors_bytes(mlx, "truncated")}
    ),
    "config.json that is not JSON": lambda tmp, info, mlx: mlx_variant(
        tmp / "m", mlx, **{"config.json": b"{not json"}
    ),
    "config.json that is a list": lambda tmp, info, mlx: mlx_variant(
        tmp / "m", mlx, **{"config.json": b"[1, 2]"}
    ),
    "tokenizer.json that is not JSON": lambda tmp, info, mlx: mlx_variant(
        tmp / "m", mlx, **{"tokenizer.json": b"\x00\x01"}
    ),
    "empty folder": lambda tmp, info, mlx: (tmp / "m", (tmp / "m").mkdir())[0],
}


@pytest.mark.parametrize("case", CORRUPT)
def test_a_bad_model_gets_a_clear_error_and_the_previous_model_still_serves(
    loaded, mlx_folder, tmp_path, case
):
    before = loaded.ok({"command": "model-info"})
    path = CORRUPT[case](tmp_path, before, mlx_folder)
    line = loaded.answer({"command": "load-model", "model_path": str(path), "id": case})
    assert line["type"] == "error" and line["id"] == case
    assert line["code"] in ("not_found", "load_failed", "unsupported_model"), line
    assert str(path) in line["error"] and "Traceback" not in line["error"]
    assert loaded.ok({"command": "model-info"}) == before


def test_after_all_those_failed_loads_the_model_still_generates(loaded):
    assert loaded.ok({"command": "generate-tags", "content": DOCUMENT, "max_tokens": 8})["tags"]


# --- Soak -----------------------------------------------------------------------------


def soak_commands(n: int) -> list:
    """n mixed commands, one in twenty a short generation, the rest fast or invalid."""
    fast = [
        {"command": "check-availability"},
        {"command": "model-info", "id": "info"},
        b'{"command": "summarize", "content": ',
        {"command": "make-coffee"},
        {"command": "generate-tags", "content": "x", "max_tags": 99},
        b"\xff\xfe",
        {"command": "load-model", "model_path": "/no/such/model.gguf"},
        {"command": "summarize"},
        [1, 2, 3],
    ]
    out = []
    for i in range(n):
        if i % 20 == 19:
            kind = "generate-tags" if i % 40 == 19 else "summarize"
            out.append({"command": kind, "content": f"Note {i}. {DOCUMENT}", "max_tokens": 2})
        else:
            out.append(fast[i % len(fast)])
    return out


def run_soak(s: Sidecar, n: int, warmup: int = 40) -> dict:
    """Send n mixed commands after a warm-up; return RSS and fd figures."""
    for cmd in soak_commands(warmup):
        s.answer(cmd)
    pid = s.proc.pid
    rss0, fds0, started = rss(pid), open_fds(pid), time.monotonic()
    for cmd in soak_commands(n):
        s.answer(cmd)
    rss1, fds1 = rss(pid), open_fds(pid)
    return {
        "commands": n,
        "seconds": round(time.monotonic() - started, 1),
        "rss_start_mib": round(rss0 / MIB, 1),
        "rss_end_mib": round(rss1 / MIB, 1),
        "rss_growth_pct": round(100 * (rss1 - rss0) / rss0, 2),
        "fds_start": fds0,
        "fds_end": fds1,
    }


def test_soak_of_200_mixed_commands_keeps_memory_and_file_descriptors_flat(loaded):
    figures = run_soak(loaded, 200)
    print(f"\nsoak: {figures}")
    assert figures["rss_growth_pct"] < 10, figures
    assert figures["fds_end"] <= figures["fds_start"], figures
    assert loaded.ok({"command": "check-availability"})["model_loaded"] is True
