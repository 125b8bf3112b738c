"""Shared fixtures: a real `python server.py` subprocess driven over NDJSON."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "server.py"
SCHEMA_PATH = ROOT / "protocol.schema.json"
FINAL_TYPES = ("response", "error")


def _validator() -> Any:
    """Every stdout line any test sees is checked against the published schema."""
    if not SCHEMA_PATH.exists():
        return None
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    line_schema = {"$ref": "#/$defs/ServerLine", "$defs": schema["$defs"]}
    return jsonschema.Draft202012Validator(line_schema)


VALIDATOR = _validator()


class Sidecar:
    """One server process; every stdout line is parsed, schema-checked and kept."""

    def __init__(self, *args: str, env: dict | None = None, cwd: str | None = None) -> None:
        self.stderr_file = tempfile.NamedTemporaryFile(prefix="sidecar-stderr-", delete=False)  # noqa: SIM115
        full_env = {**os.environ, "HF_HUB_DISABLE_TELEMETRY": "1", **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr_file,
            env=full_env,
            cwd=cwd or str(ROOT),
        )
        self.lines: list[dict] = []
        self.raw_lines: list[bytes] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.raw_lines.append(raw)
            self._queue.put(raw)
        self._queue.put(None)

    def send(self, obj: Any) -> None:
        data = obj if isinstance(obj, bytes) else json.dumps(obj).encode("utf-8")
        assert self.proc.stdin is not None
        self.proc.stdin.write(data + b"\n")
        self.proc.stdin.flush()

    def read(self, timeout: float = 600) -> dict:
        raw = self._queue.get(timeout=timeout)
        if raw is None:
            raise EOFError(f"server closed stdout; stderr:\n{self.stderr()[-3000:]}")
        line = json.loads(raw)
        assert isinstance(line, dict), raw
        assert raw.endswith(b"\n")
        if VALIDATOR is not None:
            VALIDATOR.validate(line)
        self.lines.append(line)
        return line

    def request(self, obj: Any, timeout: float = 600) -> tuple[list[dict], dict]:
        """Send one command; return (progress/partial lines, the final response or error)."""
        self.send(obj)
        events = []
        while True:
            line = self.read(timeout)
            if line["type"] in FINAL_TYPES:
                return events, line
            events.append(line)

    def call(self, obj: Any, timeout: float = 600) -> dict:
        return self.request(obj, timeout)[1]

    def ok(self, obj: Any, timeout: float = 600) -> dict:
        line = self.call(obj, timeout)
        assert line["type"] == "response", line
        return line

    def stderr(self) -> str:
        return Path(self.stderr_file.name).read_text(encoding="utf-8", errors="replace")

    def close_stdin(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(timeout=60)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send({"command": "shutdown"})
                self.proc.wait(timeout=30)
            except (BrokenPipeError, subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait()
        os.unlink(self.stderr_file.name)


@pytest.fixture(scope="module")
def sidecar():
    """A server without a model, shared by one test module."""
    s = Sidecar()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def loaded():
    """A server with the bundled SmolLM2 loaded, shared by one test module."""
    s = Sidecar()
    s.ok({"command": "load-model"}, timeout=300)
    yield s
    s.stop()


@pytest.fixture(scope="session")
def mlx_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled GGUF written out as an MLX model folder (config.json + safetensors)."""
    dest = tmp_path_factory.mktemp("smollm2-mlx")
    subprocess.run(
        [sys.executable, str(SERVER), "--export-mlx", str(dest)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return dest


DOCUMENT = (
    "The Apollo 11 mission landed the first humans on the Moon on 20 July 1969. "
    "Neil Armstrong and Buzz Aldrin spent about two and a quarter hours outside the "
    "lunar module, collecting samples and setting up experiments, while Michael Collins "
    "orbited above in the command module. The mission fulfilled a goal set by President "
    "John F. Kennedy in 1961 and ended the Space Race between the United States and the "
    "Soviet Union."
)


@pytest.fixture(scope="session")
def family_folders(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Build a tiny random-weight MLX folder of a family on first use (tests/families.py)."""
    from families import FAMILIES, build

    root = tmp_path_factory.mktemp("families")
    built: dict = {}

    def get(name: str) -> Any:
        if name not in built:
            built[name] = build(FAMILIES[name], root / name)
        return built[name]

    return get
