"""A small NDJSON client for `python server.py`, shared by the benchmarks."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "server.py"


class SidecarClient:
    """Spawns the server and exchanges one command for its lines (progress, then answer)."""

    def __init__(self, *args: str, env: dict | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "HF_HUB_DISABLE_TELEMETRY": "1", **(env or {})},
        )

    def request(self, obj: dict) -> tuple[list[dict], dict]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(obj).encode() + b"\n")
        self.proc.stdin.flush()
        events = []
        while True:
            raw = self.proc.stdout.readline()
            if not raw:
                raise EOFError("the sidecar exited")
            line = json.loads(raw)
            if line["type"] in ("response", "error"):
                return events, line
            events.append(line)

    def call(self, obj: dict) -> dict:
        line = self.request(obj)[1]
        if line["type"] != "response":
            raise RuntimeError(f"{obj.get('command')}: {line}")
        return line

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(EOFError, BrokenPipeError, RuntimeError):
                self.call({"command": "shutdown"})
            self.proc.wait(timeout=30)

    def __enter__(self) -> SidecarClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
