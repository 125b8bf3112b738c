"""A small client for Python apps: spawn the sidecar, send commands, read their answers.

    from mlx_sidecar.client import SidecarClient

    with SidecarClient() as sidecar:
        sidecar.call({"command": "load-model"}, timeout=120)
        tags = sidecar.call({"command": "generate-tags", "content": text})["tags"]

Each command gets an ``id`` (unless it has one), and ``request`` reads lines until that
id's final line (a `response` or an `error`), within a deadline; its `progress` and
`partial` lines go to ``on_event`` as they come. Lines of other commands are kept for
their own ``request``. The tests and benchmarks drive the sidecar through this client.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

SERVER = Path(__file__).resolve().parent.parent / "server.py"
FINAL_TYPES = ("response", "error")
DEFAULT_TIMEOUT_S = 600.0
_NO_ID = object()  # the key of lines that carry no id


class SidecarError(RuntimeError):
    """An error line, raised by ``call``; ``line`` is the whole line, ``code`` its code."""

    def __init__(self, line: dict) -> None:
        super().__init__(f"{line.get('command')}: {line.get('error')} ({line.get('code')})")
        self.line = line
        self.code = line.get("code")


class SidecarClient:
    """One sidecar process and the lines it has written, sorted by the command they answer."""

    def __init__(
        self,
        *args: str,
        command: list[str] | None = None,
        env: dict | None = None,
        cwd: str | Path | None = None,
        stderr: IO[bytes] | int | None = subprocess.DEVNULL,
        auto_ids: bool = True,
        on_line: Callable[[dict], None] | None = None,
    ) -> None:
        """Spawn ``python server.py ARGS`` (or ``command``). ``auto_ids`` gives commands
        without an id one; ``on_line`` sees every line as it is read."""
        argv = command or [sys.executable, str(SERVER)]
        self.proc = subprocess.Popen(
            [*argv, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, "HF_HUB_DISABLE_TELEMETRY": "1", **(env or {})},
            cwd=str(cwd) if cwd is not None else None,
        )
        self.auto_ids = auto_ids
        self.on_line = on_line
        self.lines: list[dict] = []  # every line read, in order
        self.raw_lines: list[bytes] = []  # every line as written, newline included
        self._ids = itertools.count(1)
        self._queue: queue.Queue = queue.Queue()
        self._kept: dict[Any, list[dict]] = {}  # lines read while waiting for another id
        threading.Thread(target=self._pump, name="sidecar-stdout", daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.raw_lines.append(raw)
            self._queue.put(raw)
        self._queue.put(None)

    def send(self, command: dict | bytes) -> Any:
        """Write one command line (a dict, or raw bytes sent as they are); its id."""
        if isinstance(command, dict) and self.auto_ids and "id" not in command:
            command = {**command, "id": next(self._ids)}
        data = command if isinstance(command, bytes) else json.dumps(command).encode("utf-8")
        assert self.proc.stdin is not None
        self.proc.stdin.write(data + b"\n")
        self.proc.stdin.flush()
        if isinstance(command, dict) and _is_id(command.get("id")):
            return command["id"]
        return _NO_ID  # raw bytes, or an id the sidecar refuses: its answer carries none

    def read(self, timeout: float = DEFAULT_TIMEOUT_S) -> dict:
        """The next line the sidecar writes, whichever command it answers."""
        raw = self._queue.get(timeout=timeout)
        if raw is None:
            self._queue.put(None)  # later reads see the end too
            raise EOFError("the sidecar closed stdout")
        line = json.loads(raw)
        if not isinstance(line, dict) or not raw.endswith(b"\n"):
            raise ValueError(f"not a protocol line: {raw[:200]!r}")
        if self.on_line is not None:
            self.on_line(line)
        self.lines.append(line)
        return line

    def request(
        self,
        command: dict | bytes,
        timeout: float = DEFAULT_TIMEOUT_S,
        on_event: Callable[[dict], None] | None = None,
    ) -> tuple[list[dict], dict]:
        """Send a command; return its progress/partial lines and its final line.

        ``timeout`` bounds the whole wait (TimeoutError past it). Without an id (raw bytes,
        or ``auto_ids=False``) the answer is the next final line that carries no id.
        """
        key = self.send(command)
        return self.wait_for(key, timeout, on_event)

    def wait_for(
        self,
        request_id: Any,
        timeout: float = DEFAULT_TIMEOUT_S,
        on_event: Callable[[dict], None] | None = None,
    ) -> tuple[list[dict], dict]:
        """Read lines until the final line of ``request_id``; its events and that line."""
        deadline = time.monotonic() + timeout
        events: list[dict] = []
        while True:
            for line in self._take_kept(request_id):
                if line["type"] in FINAL_TYPES:
                    return events, line
                events.append(line)
                if on_event is not None:
                    on_event(line)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer to {request_id!r} within {timeout:g} s")
            try:
                line = self.read(left)
            except queue.Empty:
                raise TimeoutError(f"no answer to {request_id!r} within {timeout:g} s") from None
            self._kept.setdefault(line.get("id", _NO_ID), []).append(line)

    def _take_kept(self, request_id: Any) -> list[dict]:
        for key in list(self._kept):
            if key is request_id or (key is not _NO_ID and _same_id(key, request_id)):
                return self._kept.pop(key)
        return []

    def call(self, command: dict | bytes, timeout: float = DEFAULT_TIMEOUT_S) -> dict:
        """Send a command and return its response; an error line raises SidecarError."""
        line = self.request(command, timeout)[1]
        if line["type"] != "response":
            raise SidecarError(line)
        return line

    def chat(
        self, messages: list[dict], timeout: float = DEFAULT_TIMEOUT_S, **options: Any
    ) -> dict:
        """A chat over ``messages`` ({"role", "content"} dicts) with the command's options
        (``format``, ``max_tokens``, ...); its response, whose ``response`` is the answer."""
        return self.call({"command": "chat", "messages": messages, **options}, timeout)

    def extract(
        self, content: str, schema: dict, timeout: float = DEFAULT_TIMEOUT_S, **options: Any
    ) -> dict:
        """The fields ``schema`` asks for in ``content``; the response, whose ``data``
        validates against the schema and whose ``not_in_document`` names the values the
        document does not state."""
        request = {"command": "extract", "content": content, "schema": schema, **options}
        return self.call(request, timeout)

    def cancel(self, request_id: Any, timeout: float = 30.0) -> dict:
        """Ask the sidecar to stop the command ``request_id``; the cancel's own answer."""
        return self.call({"command": "cancel", "request_id": request_id}, timeout)

    def close_stdin(self, timeout: float = 60.0) -> int:
        """EOF: the sidecar finishes what it received, then exits; its exit code."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(timeout=timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Shut the sidecar down (killing it if it does not exit in time)."""
        if self.proc.poll() is not None:
            return
        try:
            self.send({"command": "shutdown"})
            self.proc.wait(timeout=timeout)
        except (BrokenPipeError, subprocess.TimeoutExpired, OSError):
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> SidecarClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_id(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return False
    return not isinstance(value, float) or (value == value and abs(value) != float("inf"))


def _same_id(a: Any, b: Any) -> bool:
    """Ids match as JSON values: 1 and 1.0 do, 1 and "1" do not (as the sidecar matches)."""
    return isinstance(a, str) == isinstance(b, str) and a == b
