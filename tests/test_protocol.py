"""The NDJSON loop: every line answered once, stdout kept pure, the loop kept alive."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DOCUMENT, ROOT, SERVER, VALIDATOR, Sidecar

from mlx_sidecar import cli
from mlx_sidecar.client import SidecarClient, SidecarError

SEED_ERROR_KEYS = {"type", "command", "error"}


def test_check_availability_reports_backend_and_versions(sidecar):
    line = sidecar.ok({"command": "check-availability"})
    assert line["command"] == "check-availability"
    assert line["available"] is True
    assert line["backend"] in ("cpu", "metal", "cuda")
    assert line["mlx_version"] and line["mlx_lm_version"]
    assert line["protocol_version"]
    assert line["model_loaded"] is False


def test_an_id_is_echoed_on_responses_and_errors(sidecar):
    assert sidecar.ok({"command": "check-availability", "id": "req-7"})["id"] == "req-7"
    assert sidecar.answer({"command": "nope", "id": 42})["id"] == 42
    assert sidecar.answer({"command": "model-info", "id": 3.5})["id"] == 3.5


def test_a_request_without_id_gets_no_id(sidecar):
    assert "id" not in sidecar.ok({"command": "check-availability"})


def test_an_id_of_the_wrong_type_is_an_invalid_request(sidecar):
    line = sidecar.answer({"command": "check-availability", "id": {"nested": 1}})
    assert line["type"] == "error" and line["code"] == "invalid_request"
    assert "id" not in line


def test_invalid_json_gets_an_error_and_the_loop_continues(sidecar):
    line = sidecar.answer(b'{"command": "check-availability"')
    assert line.keys() >= SEED_ERROR_KEYS
    assert line["command"] is None and line["code"] == "invalid_json"
    assert sidecar.ok({"command": "check-availability"})["available"] is True


def test_non_utf8_bytes_get_an_error_line_and_the_loop_continues(sidecar):
    line = sidecar.answer(b'{"command": "\xff\xfe"}')
    assert line["code"] == "invalid_json" and "UTF-8" in line["error"]
    assert sidecar.ok({"command": "check-availability"})["available"] is True


def test_nan_and_infinity_literals_are_rejected(sidecar):
    assert sidecar.answer(b'{"command": "check-availability", "id": NaN}')["code"] == "invalid_json"
    line = sidecar.answer(b'{"command": "check-availability", "id": 1e999}')
    assert line["code"] == "invalid_request"


def test_json_that_is_not_an_object_is_an_invalid_request(sidecar):
    for raw in (b"[1, 2]", b'"check-availability"', b"42", b"null"):
        line = sidecar.answer(raw)
        assert line["type"] == "error" and line["code"] == "invalid_request", raw


def test_missing_or_mistyped_command_is_an_invalid_request(sidecar):
    assert sidecar.answer({"content": "x"})["code"] == "invalid_request"
    line = sidecar.answer({"command": ["summarize"]})
    assert line["code"] == "invalid_request" and line["command"] is None


def test_unknown_command_names_the_command(sidecar):
    line = sidecar.answer({"command": "make-coffee"})
    assert line == {
        "type": "error",
        "command": "make-coffee",
        "error": line["error"],
        "code": "unknown_command",
    }
    assert "make-coffee" in line["error"] and "summarize" in line["error"]


def test_commands_that_need_a_model_say_so(sidecar):
    for cmd in ("model-info", "generate-tags", "summarize"):
        line = sidecar.answer({"command": cmd, "content": "Some text."})
        assert line["type"] == "error" and line["code"] == "no_model", line
        assert line["command"] == cmd and "load-model" in line["error"]


def test_missing_or_blank_content_is_invalid_params_before_the_model_is_needed(sidecar):
    for req in (
        {"command": "summarize"},
        {"command": "summarize", "content": 12},
        {"command": "generate-tags", "content": "   \n\t "},
        {"command": "generate-tags", "content": "x", "max_tags": 0},
        {"command": "generate-tags", "content": "x", "max_tags": "5"},
        {"command": "summarize", "content": "x", "temperature": -1},
        {"command": "summarize", "content": "x", "temperature": 2.01},
        {"command": "generate-tags", "content": "x", "temperature": 5},
        {"command": "summarize", "content": "x", "max_tokens": 10**9},
        {"command": "summarize", "content": "x", "stream": "yes"},
        {"command": "summarize", "content": "x", "max_words": 4},
        {"command": "summarize", "content": "x", "max_words": 2001},
        {"command": "summarize", "content": "x", "max_words": "ten"},
        {"command": "generate-tags", "content": "x", "max_tags": 21},
    ):
        line = sidecar.answer(req)
        assert line["code"] == "invalid_params", (req, line)
        named = [k for k in req if k not in ("command", "content")]
        assert all(f"'{k}'" in line["error"] for k in named), (req, line)


def test_blank_lines_are_ignored(sidecar):
    sidecar.send(b"")
    sidecar.send(b"   ")
    line = sidecar.ok({"command": "check-availability", "id": "after-blanks"})
    assert line["id"] == "after-blanks"


def test_a_line_over_the_limit_gets_one_error_and_the_loop_continues():
    s = Sidecar("--max-line-bytes", "1000")
    try:
        line = s.answer(b'{"command": "summarize", "content": "' + b"a" * 5000 + b'"}')
        assert line["code"] == "line_too_long" and "1000" in line["error"]
        assert s.ok({"command": "check-availability"})["available"] is True
    finally:
        s.stop()


def test_eof_on_stdin_exits_zero():
    s = Sidecar()
    s.ok({"command": "check-availability"})
    assert s.close_stdin() == 0


def test_shutdown_answers_then_exits_zero_and_reads_no_line_after_it():
    s = Sidecar()
    s.send(
        b'{"command": "shutdown", "id": "bye"}\n'
        b'{"command": "check-availability", "id": 2}\n'
        b"not even JSON"
    )
    line = s.read()
    assert line == {"type": "response", "command": "shutdown", "success": True, "id": "bye"}
    assert s.proc.wait(timeout=30) == 0
    with pytest.raises(EOFError):
        s.read(timeout=30)  # the two lines after it were never answered


def test_check_availability_does_not_import_mlx_lm_or_transformers():
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", str(SERVER)],
        input=b'{"command":"check-availability"}\n',
        capture_output=True,
        timeout=60,
    )
    assert json.loads(proc.stdout)["available"] is True
    imported = {ln.split("|")[-1].strip() for ln in proc.stderr.decode().splitlines() if "|" in ln}
    assert "mlx.core" in imported
    assert not any(m.startswith(("mlx_lm", "transformers", "huggingface_hub")) for m in imported)


def test_help_explains_the_protocol():
    out = subprocess.run(
        [sys.executable, str(SERVER), "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    words = (
        "stdin",
        "stdout",
        "--log-level",
        "load-model",
        "--blas",
        "cancel",
        "request_id",
        "timeout_s",
        "--request-timeout",
        "cancelled",
        "timeout",
        "busy",
    )
    for word in words:
        assert word in out, word


def test_blas_off_loads_no_blas_and_the_server_works():
    s = Sidecar("--blas", "off")
    try:
        line = s.ok({"command": "check-availability"})
        assert line["available"] is True and line["blas"] is None
        assert "BLAS" not in s.stderr()
    finally:
        s.stop()


def test_a_blas_path_that_cannot_be_loaded_is_a_warning_and_the_server_still_works(tmp_path):
    """Named in the environment this time: MLX_SIDECAR_BLAS is what --blas sets too."""
    missing = tmp_path / "libnoblas.so"
    s = Sidecar(env={"MLX_SIDECAR_BLAS": str(missing)})
    try:
        line = s.ok({"command": "check-availability"})
        assert line["available"] is True and line["blas"] is None
        if sys.platform.startswith("linux"):  # the preload is Linux-only
            assert f"could not use BLAS library {missing}" in s.stderr()
    finally:
        s.stop()


def test_the_default_deadline_comes_from_the_flag_or_else_the_environment(monkeypatch):
    """Read as the server starts (cli.parse_args); tests/test_in_step.py serves with it."""
    monkeypatch.setenv("MLX_SIDECAR_REQUEST_TIMEOUT", "55")
    assert cli.parse_args([]).request_timeout == 55.0
    assert cli.parse_args(["--request-timeout", "7.5"]).request_timeout == 7.5
    monkeypatch.setenv("MLX_SIDECAR_REQUEST_TIMEOUT", " ")
    assert cli.parse_args([]).request_timeout is None  # unset or blank: no deadline


def test_a_bad_request_timeout_in_the_environment_is_refused_at_start():
    proc = subprocess.run(
        [sys.executable, str(SERVER)],
        input=b"",
        capture_output=True,
        timeout=60,
        env={**os.environ, "MLX_SIDECAR_REQUEST_TIMEOUT": "soon"},
    )
    assert proc.returncode != 0 and b"MLX_SIDECAR_REQUEST_TIMEOUT" in proc.stderr
    assert proc.stdout == b""


def test_stdout_carries_only_protocol_lines_over_a_whole_session():
    """Every byte a server writes, over a session of good, bad and odd lines and a failed
    load (which wakes mlx-lm, transformers and their warnings), is a JSON line."""
    s = Sidecar("--log-level", "DEBUG")
    try:
        for line in (
            {"command": "check-availability", "id": 1},
            b'{"command": "check-availability"',
            b"\xff\xfe",
            {"command": "make-coffee"},
            {"command": "load-model", "model_path": str(ROOT / "README.md")},
            {"command": "summarize", "content": "x"},
            {"command": "cancel", "request_id": 99},
        ):
            s.send(b"   ")  # blank: no answer
            s.answer(line)
        s.ok({"command": "shutdown"})
        assert s.proc.wait(timeout=30) == 0
    finally:
        s.stop()
    assert len(s.raw_lines) == 8  # one line per non-blank line
    for raw in s.raw_lines:
        assert raw.endswith(b"\n")
        assert json.loads(raw)["type"] in ("response", "error", "progress", "partial")
    assert len(s.raw_lines) == len(s.lines)


# --- Where MLX cannot run -------------------------------------------------------------


@pytest.fixture
def broken_mlx(tmp_path) -> dict:
    """An environment where `import mlx.core` fails as it does when the wheel's native
    library is missing: a package named mlx ahead of the installed one on the path."""
    package = tmp_path / "shadow" / "mlx"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "core.py").write_text(
        'raise ImportError("libmlx.so: cannot open shared object file: No such file or directory")'
    )
    return {"PYTHONPATH": str(package.parent)}


def test_without_a_usable_mlx_the_sidecar_says_why_and_keeps_serving(broken_mlx):
    s = Sidecar(env=broken_mlx)
    try:
        line = s.ok({"command": "check-availability"})
        assert line["available"] is False and line["backend"] is None
        assert "libmlx.so" in line["reason"] and line["protocol_version"]
        load = s.answer({"command": "load-model"})
        assert load["code"] == "mlx_unavailable" and "libmlx.so" in load["error"], load
        assert "pip install" in load["error"]  # what to do about it
        assert s.answer({"command": "summarize", "content": DOCUMENT})["code"] == "no_model"
        s.ok({"command": "shutdown"})
        assert s.proc.wait(timeout=30) == 0
    finally:
        s.stop()


# --- The Python client (mlx_sidecar.client) ----------------------------------------------


def test_the_client_numbers_commands_matches_answers_and_raises_on_error_lines():
    with SidecarClient(on_line=VALIDATOR.validate) as client:
        first = client.send({"command": "check-availability"})
        second = client.send({"command": "model-info"})
        assert (first, second) == (1, 2)
        _, info = client.wait_for(second)  # asked for out of order: the first one is kept
        assert info["id"] == 2 and info["code"] == "no_model"
        assert client.wait_for(first)[1]["available"] is True
        assert client.send({"command": "check-availability", "id": "mine"}) == "mine"
        assert client.wait_for("mine")[1]["id"] == "mine"
        # call(): the response, or SidecarError carrying the error line.
        assert client.call({"command": "check-availability"})["available"] is True
        with pytest.raises(SidecarError) as raised:
            client.call({"command": "model-info"})
        assert raised.value.code == "no_model" and raised.value.line["command"] == "model-info"
        assert "no_model" in str(raised.value)
        # cancel(): the sidecar's answer (tests/test_in_step.py cancels a running command).
        assert client.cancel("never-sent")["cancelled"] is False
    assert client.proc.returncode == 0  # leaving the block shut the sidecar down


# --- Entry points: the app spawns server.py by path; apps may ship the bundle ---------

SMOKE = (  # then EOF: what was received is answered, then the process exits 0
    b'{"command": "check-availability", "id": 1}\n'
    b'{"command": "make-coffee", "id": 2}\n'
    b'{"command": "model-info", "id": 3}\n'
)


def smoke(argv: list[str], cwd: Path) -> list[dict]:
    """The lines a fresh process answers the smoke commands with, run from ``cwd``."""
    proc = subprocess.run(argv, input=SMOKE, capture_output=True, cwd=cwd, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    by_id = {line["id"]: line for line in lines}
    assert by_id[1]["available"] is True and by_id[1]["protocol_version"]
    assert by_id[2]["code"] == "unknown_command"
    assert by_id[3]["code"] == "no_model"
    return lines


def test_server_py_by_absolute_path_answers_from_another_folder(tmp_path):
    smoke([sys.executable, str(SERVER.resolve())], cwd=tmp_path)


def test_python_dash_m_runs_the_package(tmp_path):
    env_root = str(SERVER.resolve().parent)
    argv = [
        sys.executable,
        "-c",
        f"import sys; sys.path.insert(0, {env_root!r}); "
        "import runpy; runpy.run_module('mlx_sidecar', run_name='__main__')",
    ]
    smoke(argv, cwd=tmp_path)


def test_the_one_file_bundle_answers_from_another_folder(tmp_path):
    build = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "build_bundle.py"),
            "--out",
            str(tmp_path / "b.pyz"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    smoke([sys.executable, str(tmp_path / "b.pyz")], cwd=elsewhere)


def test_the_demo_runs_to_completion_and_prints_the_answer_to_each_command(tmp_path):
    """examples/demo.py: load the bundled model, tag and summarize a file, shut down. A
    short file keeps it quick; run from another folder, as its docstring promises."""
    text = tmp_path / "apollo.txt"
    text.write_text(DOCUMENT, encoding="utf-8")
    demo = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py"), str(text)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert demo.returncode == 0, demo.stderr[-2000:]
    out = demo.stdout.splitlines()
    sent = [json.loads(x[3:]) for x in out if x.startswith(">> ")]
    answers = [json.loads(x) for x in out if x.startswith("{")]
    assert [c["command"] for c in sent] == [
        "check-availability",
        "load-model",
        "generate-tags",
        "summarize",
        "shutdown",
    ]
    finals = [a for a in answers if a["type"] in ("response", "error")]
    assert [a["id"] for a in finals] == [c["id"] for c in sent]  # one answer each, in order
    assert all(a["type"] == "response" for a in finals), finals
    by_command = {a["command"]: a for a in finals}
    assert by_command["generate-tags"]["tags"] and by_command["summarize"]["summary"]
    assert len(out) == len(sent) + len(answers)  # nothing else on its stdout


def test_export_mlx_converts_the_gguf_that_model_names(tmp_path):
    """The session's MLX folder is the bundled GGUF exported with --model (conftest.py);
    here --model names a file that is no GGUF: it is refused by name, nothing written."""
    notes = tmp_path / "notes.gguf"
    notes.write_text("not a model", encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(SERVER), "--export-mlx", str(out), "--model", str(notes)],
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode != 0 and str(notes) in proc.stderr.decode()
    assert proc.stdout == b"" and not (out.exists() and any(out.iterdir()))


def test_the_installed_console_script_serves(tmp_path):
    """`pip install .` makes `mlx-sidecar`; installed (into a folder, from a copy of the
    sources, so the checkout stays clean) it answers like server.py."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "server.py"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "mlx_sidecar", source / "mlx_sidecar", ignore=shutil.ignore_patterns("__pycache__")
    )
    target = tmp_path / "installed"
    pip = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--target",
        str(target),
        str(source),
    ]
    installed = subprocess.run(pip, capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-2000:]
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run(
        [str(target / "bin" / "mlx-sidecar")],
        input=SMOKE,
        capture_output=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert sorted(json.loads(x)["id"] for x in proc.stdout.splitlines()) == [1, 2, 3]
