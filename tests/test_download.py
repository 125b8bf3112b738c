"""download-model against a local fake Hub: byte-identical, resumable, never half-done.

Every server here is a real `python server.py` with HF_ENDPOINT pointed at a FakeHub on
127.0.0.1, HF_HOME in a temp folder and no token unless a test sets one.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import time
from pathlib import Path

import pytest
from conftest import DOCUMENT, Sidecar
from hub_server import FakeHub
from pace import stop_within

MB = 1_000_000
BIG_SIZE = 50 * MB
MARKER = ".mlx-sidecar-download.json"
PARTIAL_DIR = ".mlx-sidecar-partial"
CHUNK = 1024 * 1024  # the sidecar's read size: the most a cut can lose
SECRET = "hf_sEcReTtOkEn0123456789abcdefghijklmnop"

SMALL_FILES = {
    "config.json": b'{"model_type": "llama", "hidden_size": 64}',
    "tokenizer.json": b'{"version": "1.0", "model": {}}',
    "tokenizer_config.json": b'{"bos_token": "<s>"}',
    "generation_config.json": b'{"do_sample": false}',
    "chat_template.jinja": b"{% for m in messages %}{{ m.content }}{% endfor %}",
    "model.safetensors.index.json": b'{"weight_map": {}}',
}
SKIPPED_FILES = {
    "pytorch_model.bin": b"pickled weights",
    "model.pt": b"pt",
    "model.pth": b"pth",
    "model-q4.gguf": b"GGUF",
    "onnx/model.onnx": b"onnx",
    "consolidated.safetensors": b"a duplicate of the weights",
    "README.md": b"# a model card",
}


def random_bytes(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


@pytest.fixture(scope="module")
def big() -> bytes:
    return random_bytes(BIG_SIZE, seed=1)


@pytest.fixture(scope="module")
def hub(big: bytes):
    """One fake Hub for the module, with the repos the tests download."""
    hub = FakeHub()
    weights = random_bytes(12 * MB, seed=2)  # over the LFS threshold: checked by sha256
    hub.add_repo("org/small", {**SMALL_FILES, **SKIPPED_FILES, "model.safetensors": weights})
    hub.add_repo("org/small", {**SMALL_FILES, "model.safetensors": b"v2"}, revision="v2")
    hub.add_repo("org/big", {"config.json": SMALL_FILES["config.json"], "model.safetensors": big})
    gated = {"config.json": SMALL_FILES["config.json"], "model.safetensors": b"gated weights"}
    hub.add_repo("org/gated", gated, gated=True)
    hub.add_repo("org/pickles", {"config.json": b"{}", "pytorch_model.bin": b"x"})
    huge = {"config.json": b"{}", "model.safetensors": b"small on the server"}
    hub.add_repo("org/huge", huge)
    # The listing claims a petabyte: the free-space check must refuse before any byte.
    hub._repos["org/huge"].branches["main"][1]["model.safetensors"].size = 10**15
    tampered = {"config.json": b"{}", "model.safetensors": random_bytes(11 * MB, seed=3)}
    hub.add_repo("org/tampered", tampered)
    # The listing advertises another sha256 than the bytes served: a corrupted transfer.
    hub._repos["org/tampered"].branches["main"][1]["model.safetensors"].sha256 = "0" * 64
    hub.start()
    yield hub
    hub.stop()


@pytest.fixture(autouse=True)
def fresh_hub(hub: FakeHub) -> None:
    hub.throttle_bps = hub.cut_after_bytes = hub.required_token = hub.fail_status = None
    hub.fail_message, hub.fail_on = "", "api"
    hub.cut_once = hub.cut_reset = False
    hub.bytes_sent = 0
    hub.requests.clear()


def hub_url(hub: FakeHub) -> str:
    return f"http://127.0.0.1:{hub._server.server_address[1]}"


def start_server(hub_endpoint: str, home: Path, *args: str, **env: str) -> Sidecar:
    base = {
        "HF_ENDPOINT": hub_endpoint,
        "HF_HOME": str(home),
        "HF_TOKEN": "",
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    return Sidecar(*args, env={**base, **env})


@pytest.fixture(scope="module")
def server(hub: FakeHub, tmp_path_factory: pytest.TempPathFactory):
    s = start_server(hub_url(hub), tmp_path_factory.mktemp("hf-home"))
    yield s
    s.stop()


def download(repo_id: str, dest: Path, **fields: object) -> dict:
    return {"command": "download-model", "repo_id": repo_id, "destination": str(dest), **fields}


def timed_request(s: Sidecar, obj: dict) -> tuple[list[tuple[float, dict]], dict]:
    """Like Sidecar.request, with the time each progress line arrived."""
    s.send(obj)
    events = []
    while (line := s.read(timeout=120))["type"] == "progress":
        events.append((time.monotonic(), line))
    return events, line


def assert_monotonic(events: list[dict]) -> None:
    for key in ("progress", "downloaded_mb"):
        values = [e[key] for e in events]
        assert values == sorted(values), f"{key} went backwards: {values}"


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


# --- A whole download -------------------------------------------------------------------


def test_a_download_is_byte_identical_and_takes_only_what_mlx_needs(server, hub, tmp_path):
    dest = tmp_path / "new" / "folder"  # created if missing
    events, line = server.request(download("org/small", dest, id="dl-1"))
    assert line["type"] == "response", line
    expected = {*SMALL_FILES, "model.safetensors"}
    assert line["success"] is True and line["mlx_ready"] is True and line["id"] == "dl-1"
    assert set(line["files"]) == expected and files_under(dest) == expected
    assert line["destination"] == str(dest) and re.fullmatch(r"[0-9a-f]{40}", line["commit"])
    assert line["total_mb"] == pytest.approx(12.0, abs=0.1)
    for name, data in SMALL_FILES.items():
        assert (dest / name).read_bytes() == data
    assert (dest / "model.safetensors").read_bytes() == random_bytes(12 * MB, seed=2)
    fetched = {path.rsplit("/", 1)[-1] for method, path, _ in hub.requests if "/resolve/" in path}
    assert not fetched & {Path(p).name for p in SKIPPED_FILES}, fetched
    assert events and events[-1]["progress"] == 100 and all(e["id"] == "dl-1" for e in events)
    assert_monotonic(events)


def test_files_already_complete_count_as_downloaded_at_once(server, hub, tmp_path):
    dest = tmp_path / "model"
    server.ok(download("org/small", dest))
    hub.bytes_sent = 0
    events, line = server.request(download("org/small", dest))
    assert line["success"] is True and hub.bytes_sent == 0
    assert events[0]["progress"] == 100 and events[0]["total_mb"] == line["total_mb"]


def test_allow_patterns_replace_the_defaults(server, tmp_path):
    line = server.ok(download("org/small", tmp_path / "m", allow_patterns=["*.bin", "*.gguf"]))
    assert sorted(line["files"]) == ["model-q4.gguf", "pytorch_model.bin"]
    assert line["mlx_ready"] is False
    one = server.ok(download("org/small", tmp_path / "one", allow_patterns="config.json"))
    assert one["files"] == ["config.json"]


def test_a_revision_is_downloaded_as_one_commit(server, hub, tmp_path):
    line = server.ok(download("org/small", tmp_path / "v2", revision="v2"))
    assert (tmp_path / "v2" / "model.safetensors").read_bytes() == b"v2"
    resolves = [path for _, path, _ in hub.requests if "/resolve/" in path]
    assert resolves and all(f"/resolve/{line['commit']}/" in path for path in resolves)


# --- Progress ---------------------------------------------------------------------------


def test_progress_rises_smoothly_from_0_to_100_on_a_throttled_50_mb_file(server, hub, tmp_path):
    hub.throttle_bps = 12 * MB  # about four seconds
    started = time.monotonic()
    timed, line = timed_request(server, download("org/big", tmp_path / "big"))
    elapsed = time.monotonic() - started
    events = [e for _, e in timed]
    assert line["type"] == "response" and line["total_mb"] == 50.0
    assert len(events) >= 10, events
    assert events[0]["progress"] == 0 and events[0]["downloaded_mb"] == 0
    assert all(e["total_mb"] == 50.0 for e in events)  # known before the first byte
    assert_monotonic(events)
    assert events[-1]["progress"] == 100 and events[-1]["downloaded_mb"] == 50.0
    assert [e["progress"] for e in events].count(100) <= 2
    assert {e.get("file") for e in events[1:-1]} <= {"config.json", "model.safetensors"}
    assert len(events) <= elapsed * 4 + 3, f"{len(events)} events in {elapsed:.1f}s"
    print(f"\n{len(events)} progress events in {elapsed:.1f}s")


# --- Resume and never half-done ---------------------------------------------------------


def test_a_killed_download_resumes_from_what_is_on_disk(hub, big, tmp_path):
    dest = tmp_path / "big"
    first = start_server(hub_url(hub), tmp_path / "home")
    hub.throttle_bps = 10 * MB
    first.send(download("org/big", dest))
    while (line := first.read(timeout=60))["progress"] < 60:
        assert line["type"] == "progress", line
    first.proc.kill()  # SIGKILL: no chance to clean up
    first.proc.wait()
    first.stop()
    time.sleep(0.3)  # let the hub notice the dead connection
    partial = dest / PARTIAL_DIR / "model.safetensors.part"
    on_disk = partial.stat().st_size
    assert (dest / MARKER).exists() and on_disk > BIG_SIZE // 2

    second = start_server(hub_url(hub), tmp_path / "home")
    try:
        refused = second.answer({"command": "load-model", "model_path": str(dest)})
        assert refused["code"] == "incomplete_model" and "incomplete" in refused["error"]
        hub.throttle_bps, hub.bytes_sent = None, 0
        hub.requests.clear()
        events, line = second.request(download("org/big", dest))
        assert line["type"] == "response" and line["success"] is True, line
    finally:
        second.stop()
    resent = hub.bytes_sent
    print(f"\nresume: {on_disk} bytes kept, {resent} of {BIG_SIZE} re-sent")
    assert resent < BIG_SIZE / 2 and resent <= BIG_SIZE - on_disk + CHUNK
    assert any(h.get("Range") == f"bytes={on_disk}-" for _, _, h in hub.requests)
    assert (dest / "model.safetensors").read_bytes() == big
    assert not (dest / MARKER).exists() and not (dest / PARTIAL_DIR).exists()
    assert events[0]["progress"] < events[-1]["progress"] == 100
    assert_monotonic(events)


def test_a_cut_connection_is_an_error_and_the_retry_resumes(server, hub, big, tmp_path):
    dest = tmp_path / "big"
    hub.cut_after_bytes, hub.cut_once, hub.cut_reset = 35 * MB, True, True
    events, line = server.request(download("org/big", dest))
    assert line["type"] == "error" and line["code"] == "network_error", line
    assert "again" in line["error"] and (dest / MARKER).exists()
    assert events and events[-1]["progress"] < 100
    assert not (dest / "model.safetensors").exists()
    first_bytes = hub.bytes_sent
    hub.bytes_sent = 0
    line = server.ok(download("org/big", dest))
    print(f"\ncut: {first_bytes} bytes sent before the cut, {hub.bytes_sent} re-sent")
    assert hub.bytes_sent < BIG_SIZE / 2
    assert (dest / "model.safetensors").read_bytes() == big and line["mlx_ready"] is True


def test_a_dropped_connection_is_resumed_within_the_call(server, hub, big, tmp_path):
    hub.cut_after_bytes, hub.cut_once = 20 * MB, True  # a FIN: http_get retries with Range
    line = server.ok(download("org/big", tmp_path / "big"))
    assert line["success"] is True
    assert (tmp_path / "big" / "model.safetensors").read_bytes() == big
    assert any("Range" in h for _, _, h in hub.requests)
    assert hub.bytes_sent <= BIG_SIZE + CHUNK + 100


def test_a_corrupt_partial_file_is_downloaded_again(server, hub, tmp_path):
    dest = tmp_path / "m"
    part = dest / PARTIAL_DIR / "model.safetensors.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * (4 * MB))  # not the start of these weights
    line = server.ok(download("org/small", dest))
    assert line["success"] is True
    assert (dest / "model.safetensors").read_bytes() == random_bytes(12 * MB, seed=2)


def test_a_file_that_arrives_corrupted_is_removed_and_reported(server, tmp_path):
    dest = tmp_path / "m"
    line = server.answer(download("org/tampered", dest))
    assert line["code"] == "checksum_mismatch" and "model.safetensors" in line["error"]
    assert not (dest / "model.safetensors").exists()
    assert not (dest / PARTIAL_DIR / "model.safetensors.part").exists()
    assert (dest / MARKER).exists()


# --- Errors: one clear sentence, a code, and the loop goes on ----------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"repo_id": None},
        {"repo_id": 42},
        {"repo_id": "  "},
        {"repo_id": "a/b/c"},
        {"repo_id": "org/--model"},
        {"repo_id": "../etc/passwd"},
        {"repo_id": "org/model.git"},
        {"repo_id": "org/small", "destination": ""},
        {"repo_id": "org/small", "destination": None},
        {"repo_id": "org/small", "allow_patterns": []},
        {"repo_id": "org/small", "allow_patterns": ["*.json", 3]},
        {"repo_id": "org/small", "revision": ""},
    ],
)
def test_bad_parameters_are_refused_before_any_network_call(server, hub, tmp_path, fields):
    req = {"command": "download-model", "destination": str(tmp_path / "m"), **fields}
    line = server.answer(req)
    assert line["type"] == "error" and line["code"] == "invalid_params", line
    assert line["error"].endswith(".") and "\n" not in line["error"]
    assert hub.requests == [] and not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    ("fields", "code", "words"),
    [
        ({"repo_id": "org/missing"}, "repo_not_found", "org/missing was not found"),
        ({"repo_id": "org/small", "revision": "nope"}, "revision_not_found", "'nope'"),
        ({"repo_id": "org/gated"}, "gated", "HF_TOKEN"),
        ({"repo_id": "org/pickles"}, "not_mlx_model", "mlx-community"),
        ({"repo_id": "org/small", "allow_patterns": ["*.h5"]}, "no_matching_files", "*.h5"),
    ],
)
def test_hub_errors_have_a_code_and_the_loop_goes_on(server, tmp_path, fields, code, words):
    line = server.answer(download(dest=tmp_path / "m", **fields))
    assert line["type"] == "error" and line["code"] == code, line
    assert words in line["error"]
    assert server.ok({"command": "check-availability"})["available"] is True


@pytest.mark.parametrize(
    ("status", "message", "code"),
    [
        (401, "Invalid credentials in Authorization header", "unauthorized"),
        (403, "Forbidden: this token cannot read the repository", "unauthorized"),
        (500, "Internal Error", "hub_error"),
        (502, "Bad Gateway", "hub_error"),
    ],
)
def test_an_http_error_from_the_hub_has_its_code_and_touches_nothing(
    server, hub, tmp_path, status, message, code
):
    hub.fail_status, hub.fail_message = status, message
    dest = tmp_path / "m"
    line = server.answer(download("org/small", dest))
    assert line["type"] == "error" and line["code"] == code, line
    assert f"HTTP {status}" in line["error"] and "org/small" in line["error"]
    assert not dest.exists()  # refused before anything was written
    hub.fail_status = None
    assert server.ok(download("org/small", dest))["mlx_ready"] is True  # the loop goes on


def test_a_server_error_on_a_file_is_a_hub_error_and_the_retry_finishes(server, hub, tmp_path):
    hub.fail_status, hub.fail_on = 500, "file"
    dest = tmp_path / "m"
    line = server.answer(download("org/small", dest))
    assert line["code"] == "hub_error" and "HTTP 500" in line["error"], line
    assert (dest / MARKER).exists() and not (dest / "model.safetensors").exists()
    hub.fail_status = None
    assert server.ok(download("org/small", dest))["mlx_ready"] is True
    assert files_under(dest) == {*SMALL_FILES, "model.safetensors"}


@pytest.mark.parametrize("unsafe", ["../evil.json", "a/../../evil.json"])
def test_a_listed_path_that_climbs_out_of_the_folder_is_refused_and_nothing_is_written(
    server, hub, tmp_path, unsafe
):
    """A hostile or broken Hub lists a file whose path leaves the destination."""
    repo = {"config.json": b"{}", "model.safetensors": b"weights", unsafe: b'{"evil": true}'}
    hub.add_repo("org/climbing", repo)
    outside = tmp_path / "outside"
    dest = outside / "inside" / "model"
    dest.parent.mkdir(parents=True)
    line = server.answer(download("org/climbing", dest))
    assert line["type"] == "error" and line["code"] == "hub_error", line
    assert "unsafe" in line["error"] and unsafe in line["error"]
    assert files_under(tmp_path) == set(), files_under(tmp_path)  # not even a marker
    assert not [path for _, path, _ in hub.requests if "/resolve/" in path]  # no file fetched


def test_an_unreachable_hub_is_a_network_error(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = start_server(f"http://127.0.0.1:{port}", tmp_path / "home")
    try:
        line = s.answer(download("org/small", tmp_path / "m"))
        assert line["code"] == "network_error" and f"127.0.0.1:{port}" in line["error"]
        assert not (tmp_path / "m").exists()
        assert s.ok({"command": "check-availability"})["available"] is True
    finally:
        s.stop()


def test_a_destination_that_is_a_file_is_refused(server, hub, tmp_path):
    target = tmp_path / "a-file"
    target.write_text("not a folder")
    line = server.answer(download("org/small", target))
    assert line["code"] == "not_writable" and "is a file" in line["error"]
    assert hub.requests == []


def test_a_destination_that_cannot_be_written_is_refused(server, tmp_path):
    if os.geteuid() == 0:  # root writes through any mode bits; sysfs refuses even root
        dest = Path("/sys/mlx-sidecar-test-model")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        dest = locked / "model"
    line = server.answer(download("org/small", dest))
    assert line["code"] == "not_writable" and str(dest) in line["error"], line


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_disk_that_fills_up_mid_way_is_disk_full(server, tmp_path):
    """The weights' .part file is a link to /dev/full, where every write fails with ENOSPC."""
    dest = tmp_path / "m"
    part = dest / PARTIAL_DIR / "model.safetensors.part"
    part.parent.mkdir(parents=True)
    part.symlink_to("/dev/full")
    line = server.answer(download("org/small", dest))
    assert line["code"] == "disk_full" and "full" in line["error"], line
    assert (dest / MARKER).exists() and not (dest / "model.safetensors").exists()
    part.unlink()
    assert server.ok(download("org/small", dest))["mlx_ready"] is True


def test_not_enough_free_space_is_refused_before_any_byte(server, hub, tmp_path):
    line = server.answer(download("org/huge", tmp_path / "m"))
    assert line["code"] == "insufficient_space", line
    needed, free = (
        float(n) * {"GB": 1e9, "MB": 1e6}[unit]
        for n, unit in re.findall(r"(\d+\.\d) ([GM]B)", line["error"])
    )
    assert needed == 10**15 and free < needed
    assert hub.bytes_sent == 0 and not (tmp_path / "m" / MARKER).exists()


def test_the_token_is_sent_but_never_shown(hub, tmp_path):
    s = start_server(hub_url(hub), tmp_path / "home", "--log-level", "DEBUG", HF_TOKEN=SECRET)
    try:
        hub.required_token = SECRET
        line = s.ok(download("org/gated", tmp_path / "ok"))
        assert line["success"] is True
        assert (tmp_path / "ok" / "model.safetensors").read_bytes() == b"gated weights"
        assert any(h.get("Authorization") == f"Bearer {SECRET}" for _, _, h in hub.requests)
        hub.required_token = "hf_a_different_account"
        refused = s.answer(download("org/gated", tmp_path / "refused"))
        assert refused["code"] == "gated" and "HF_TOKEN" in refused["error"]
        assert s.answer(download("org/missing", tmp_path / "missing"))["code"] == "repo_not_found"
        s.ok({"command": "shutdown"})
        s.proc.wait(timeout=30)
        log = s.stderr()
    finally:
        s.stop()
    assert not any(SECRET.encode() in raw for raw in s.raw_lines) and SECRET not in log


def test_offline_mode_uses_a_complete_folder_and_refuses_to_download(server, hub, tmp_path):
    complete = tmp_path / "complete"
    server.ok(download("org/small", complete))
    hub.requests.clear()
    s = start_server(hub_url(hub), tmp_path / "home", HF_HUB_OFFLINE="1")
    try:
        line = s.ok(download("org/small", complete))
        assert line["mlx_ready"] is True and "config.json" in line["files"]
        assert line["commit"] is None  # nothing could be asked of the Hub
        refused = s.answer(download("org/small", tmp_path / "empty"))
        assert refused["code"] == "offline" and "HF_HUB_OFFLINE" in refused["error"]
    finally:
        s.stop()
    assert hub.requests == []


# --- Cancel, deadlines and one download per folder ---------------------------------------
#
# A download checks for a stop at every MiB it writes (CHUNK), so a cancel or a deadline
# lands within one MiB at the rate the download runs here: stop_within (tests/pace.py),
# the timing policy of every cancel and deadline test, with that MiB as its step.


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under the folder with its size and mtime, .part files aside (they grow)."""
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file() and not p.name.endswith(".part")
    }


def mib_seconds(timed: list[tuple[float, dict]]) -> float:
    """How long one MiB took, from the progress lines' arrival times and byte counts."""
    (t0, first), (t1, last) = timed[0], timed[-1]
    assert t1 > t0 and last["downloaded_mb"] > first["downloaded_mb"], timed
    bytes_per_s = (last["downloaded_mb"] - first["downloaded_mb"]) * MB / (t1 - t0)
    return CHUNK / bytes_per_s


def progress_until(s: Sidecar, percent: float) -> list[tuple[float, dict]]:
    """The progress lines of the running download, with their arrival times, up to and
    including the first at ``percent`` or more."""
    timed = []
    while not timed or timed[-1][1]["progress"] < percent:
        line = s.read(timeout=60)
        assert line["type"] == "progress", line
        timed.append((time.monotonic(), line))
    return timed


def test_a_cancelled_download_keeps_its_part_and_the_next_one_resumes(server, hub, big, tmp_path):
    dest = tmp_path / "big"
    hub.throttle_bps = 10 * MB
    server.send(download("org/big", dest, id="dl"))
    step_s = mib_seconds(progress_until(server, 20))
    started = time.monotonic()
    server.send({"command": "cancel", "request_id": "dl"})
    assert server.read(10) == {"type": "response", "command": "cancel", "cancelled": True}
    while (line := server.read(10))["type"] == "progress":
        pass
    latency = time.monotonic() - started
    assert latency < stop_within(step_s), f"stopped {latency:.2f} s later; a MiB: {step_s:.2f} s"
    assert line["code"] == "cancelled" and line["id"] == "dl", line
    on_disk = (dest / PARTIAL_DIR / "model.safetensors.part").stat().st_size
    assert (dest / MARKER).exists() and BIG_SIZE // 10 < on_disk < BIG_SIZE
    hub.throttle_bps, hub.bytes_sent = None, 0
    hub.requests.clear()
    done = server.ok(download("org/big", dest))
    assert done["mlx_ready"] is True and (dest / "model.safetensors").read_bytes() == big
    assert hub.bytes_sent <= BIG_SIZE - on_disk + CHUNK, (hub.bytes_sent, on_disk)
    assert files_under(dest) == {"config.json", "model.safetensors"}  # no lock, no partials
    print(f"\ncancel: {on_disk} bytes kept, {hub.bytes_sent} re-sent")


def test_a_download_past_its_timeout_s_stops_and_resumes_like_a_cancel(server, hub, tmp_path):
    dest = tmp_path / "big"
    hub.throttle_bps = 10 * MB  # five seconds for the whole file: the deadline falls inside
    deadline = 1.5
    started = time.monotonic()
    timed, line = timed_request(server, download("org/big", dest, timeout_s=deadline))
    elapsed = time.monotonic() - started
    assert line["code"] == "timeout", line
    assert deadline <= elapsed < deadline + stop_within(mib_seconds(timed)), elapsed
    assert (dest / PARTIAL_DIR / "model.safetensors.part").exists()


def test_a_second_process_downloading_into_the_same_folder_is_busy_and_touches_nothing(
    server, hub, big, tmp_path
):
    dest = tmp_path / "shared"
    hub.throttle_bps = 2 * MB  # 25 s for the whole file: the second process is refused inside
    server.send(download("org/big", dest, id="first"))
    progress_until(server, 4)
    second = start_server(hub_url(hub), tmp_path / "home2")
    try:
        before = snapshot(dest)
        requests_before = len(hub.requests)
        refused = second.answer(download("org/big", dest))
        assert refused["code"] == "busy" and str(dest) in refused["error"], refused
        # At once: the first download is still running, and nothing of it was touched.
        assert (dest / MARKER).exists() and not (dest / "model.safetensors").exists()
        assert snapshot(dest) == before and len(hub.requests) == requests_before
    finally:
        second.stop()
    hub.throttle_bps = None  # the first one may now finish quickly
    _, first = until_final_line(server)
    assert first["type"] == "response" and first["id"] == "first", first
    assert (dest / "model.safetensors").read_bytes() == big
    assert files_under(dest) == {"config.json", "model.safetensors"}


def until_final_line(s: Sidecar) -> tuple[list[dict], dict]:
    events = []
    while (line := s.read(timeout=120))["type"] == "progress":
        events.append(line)
    return events, line


def test_eof_right_after_one_download_line_still_downloads_then_exits_zero(hub, tmp_path):
    """The app's download process: one line, stdin closed at once, progress read to the end."""
    s = start_server(hub_url(hub), tmp_path / "home")
    try:
        s.send(download("org/small", tmp_path / "m"))
        s.proc.stdin.close()
        events, line = until_final_line(s)
        assert line["type"] == "response" and line["mlx_ready"] is True, line
        assert events and events[-1]["progress"] == 100
        assert s.proc.wait(timeout=30) == 0
    finally:
        s.stop()


# --- End to end -------------------------------------------------------------------------


def test_a_downloaded_smollm2_loads_and_tags(hub, server, mlx_folder, tmp_path):
    files = {p.name: p for p in mlx_folder.iterdir() if p.is_file()}
    hub.add_repo("HuggingFaceTB/SmolLM2-135M-Instruct-mlx", files)
    dest = tmp_path / "smollm2"
    events, line = server.request(download("HuggingFaceTB/SmolLM2-135M-Instruct-mlx", dest))
    assert line["type"] == "response" and line["mlx_ready"] is True, line
    assert sorted(line["files"]) == sorted(files)
    for name, source in files.items():
        assert (dest / name).read_bytes() == source.read_bytes(), name
    print(f"\nSmolLM2: {line['total_mb']} MB, {len(events)} progress events")
    loaded = server.ok({"command": "load-model", "model_path": str(dest)}, timeout=300)
    assert loaded["format"] == "mlx" and loaded["model_name"] == "smollm2"
    tags = server.ok({"command": "generate-tags", "content": DOCUMENT}, timeout=300)["tags"]
    assert 1 <= len(tags) <= 5 and all(isinstance(t, str) and t for t in tags)
    shutil.rmtree(dest)
