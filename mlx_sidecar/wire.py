"""Protocol I/O: NDJSON lines in (read_lines, parse_request) and out (ProtocolWriter).

stdout carries protocol lines only: ``take_over_stdout`` keeps a private handle on it and
points fd 1 at stderr, so no stray print() of a library can reach the app.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from .errors import ClientGone, Interrupted, SidecarError
from .validate import is_id, json_type

MAX_LINE_BYTES = 32 * 1024 * 1024  # a 200,000-character document is < 1 MiB; 32 MiB is generous
READ_CHUNK_BYTES = 1024 * 1024  # stdin is read in steps of this; a long line costs ~1x its size
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class Signals:
    """Turns SIGTERM, SIGINT and SIGHUP into Interrupted at the next Python bytecode.

    Generation runs in Python between tokens, so a command stops within one token. While
    the main thread writes a protocol line the first signal waits for the line to end (the
    app never reads half a line); a second signal does not wait.
    """

    def __init__(self) -> None:
        self.holding = False
        self.pending: int | None = None

    def install(self) -> None:
        for name in ("SIGTERM", "SIGINT", "SIGHUP"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), self.handle)

    def handle(self, signum: int, frame: Any) -> None:
        if self.holding and self.pending is None:
            self.pending = signum
            return
        raise Interrupted(signum)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        if self.holding or threading.current_thread() is not threading.main_thread():
            yield
            return
        self.pending, self.holding = None, True
        try:
            yield
        finally:
            self.holding = False
            signum, self.pending = self.pending, None
            if signum is not None:
                raise Interrupted(signum)


def encode_line(obj: dict) -> bytes:
    """One protocol line as UTF-8; raises TypeError/ValueError (NaN, numpy types) untouched.

    A lone surrogate, which strict UTF-8 decoders in the app would choke on, becomes U+FFFD.
    """
    line = json.dumps(obj, ensure_ascii=False, allow_nan=False) + "\n"
    try:
        return line.encode("utf-8")
    except UnicodeEncodeError:
        return LONE_SURROGATE.sub("\ufffd", line).encode("utf-8")


class ProtocolWriter:
    """Writes protocol lines to the real stdout: one JSON object per line, whole, flushed.

    Thread-safe: the reader thread answers some lines while a command runs. Raises
    ClientGone once the app has closed the pipe.
    """

    def __init__(self, stream: IO[bytes], signals: Signals | None = None) -> None:
        self._stream = stream
        self._signals = signals or Signals()
        self._lock = threading.Lock()
        self._gone = False

    def write(self, obj: dict) -> None:
        data = encode_line(obj)  # before any byte is written: a bad answer leaves no trace
        with self._signals.held(), self._lock:
            if self._gone:
                raise ClientGone
            try:
                view = memoryview(data)
                while view:  # a raw pipe write can be partial when a signal lands mid-way
                    view = view[self._stream.write(view) :]
                self._stream.flush()
            except (BrokenPipeError, ConnectionResetError):
                self._gone = True
                raise ClientGone from None


class LineTooLong(Exception):
    """A line that was skipped unread: over the limit, or too big for the memory left."""

    def __init__(self, size: int, out_of_memory: bool = False) -> None:
        self.size = size
        self.out_of_memory = out_of_memory


def read_lines(
    stream: IO[bytes], limit: int, chunk: int = READ_CHUNK_BYTES
) -> Iterator[bytearray | LineTooLong]:
    """Yield raw lines (without the newline) from a binary stream until EOF.

    A line is gathered in ``chunk``-sized reads into one buffer, so it costs about its own
    size in memory. A line longer than ``limit`` bytes, or one the memory left cannot hold,
    is dropped, the rest of it skipped in ``chunk``-sized reads, and ``LineTooLong`` yielded.
    """
    while True:
        line = bytearray()
        piece = b""
        try:
            while len(line) <= limit:
                piece = stream.readline(min(chunk, limit + 1 - len(line)))
                line += piece
                if not piece or piece.endswith(b"\n"):
                    break
        except MemoryError:
            size = len(line) + len(piece)
            del line
            rest = 0 if piece.endswith(b"\n") else skip_rest_of_line(stream, chunk)
            yield LineTooLong(size + rest, out_of_memory=True)
            continue
        if not line:
            return
        if len(line) <= limit or line.endswith(b"\n"):
            if line.endswith(b"\n"):
                del line[-1:]
            if line.endswith(b"\r"):
                del line[-1:]
            yield line
            continue
        size = len(line)
        del line
        yield LineTooLong(size + skip_rest_of_line(stream, chunk))


def skip_rest_of_line(stream: IO[bytes], chunk: int) -> int:
    """Read up to the next newline (or EOF) without keeping it; the bytes skipped."""
    size = 0
    while True:
        rest = stream.readline(chunk)
        size += len(rest)
        if not rest or rest.endswith(b"\n"):
            return size


def take_over_stdin() -> IO[bytes]:
    """Keep a private handle on the real stdin and point fd 0 and sys.stdin at /dev/null.

    No library can then read protocol lines. transformers, for one, asks "Do you wish to run
    the custom code? [y/N]" with input() when a model folder ships Python code: reading
    stdin, it would swallow commands for 15 s, and a line "1" would mean yes.
    """
    protocol_fd = os.dup(0)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.close(null_fd)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115
    return os.fdopen(protocol_fd, "rb")


def take_over_stdout() -> IO[bytes]:
    """Keep a private handle on the real stdout and point fd 1 and sys.stdout at stderr.

    After this, a stray print() from any library, or output from C code, lands on stderr
    and can never corrupt the protocol stream (the MCP stdio server does the same).
    """
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(protocol_fd, "wb", buffering=0)


@dataclass
class Request:
    """One parsed command line: its name, its fields, the id to echo, or what was wrong."""

    command: str | None = None
    fields: dict = field(default_factory=dict)
    id: Any = None
    has_id: bool = False
    error: SidecarError | None = None

    def stamp(self, obj: dict) -> dict:
        """``obj`` with this request's id, as every line answering it carries."""
        if self.has_id:
            obj["id"] = self.id
        return obj


def parse_request(raw: bytes | bytearray) -> Request:
    """Decode one line into a Request; a problem is recorded in ``Request.error``.

    A bytearray is emptied once decoded, so a long line is not held twice while parsing.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return refused(
            f"The line is not valid UTF-8 (byte {e.start}); send UTF-8 encoded JSON.",
            "invalid_json",
        )
    if isinstance(raw, bytearray):
        raw.clear()
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        return refused("The JSON is nested too deeply to read.", "invalid_json")
    except ValueError as e:
        return refused(f"The line is not valid JSON: {e}.", "invalid_json")
    if SURROGATE_ESCAPE.search(text) and has_lone_surrogate(obj):
        return refused(
            "The line has a lone UTF-16 surrogate escape (such as \\ud800) in a string; "
            "JSON text must be valid Unicode.",
            "invalid_json",
        )
    if not isinstance(obj, dict):
        return refused(f"A command must be a JSON object, not {json_type(obj)}.")
    return _command(obj)


def _command(obj: dict) -> Request:
    req = Request(fields=obj)
    if "id" in obj:
        if not is_id(obj["id"]):
            finite = isinstance(obj["id"], float)  # NaN and infinities are numbers, not ids
            message = "a finite number" if finite else "a string or a number"
            req.error = SidecarError(f"'id' must be {message}.", "invalid_request")
            return req
        req.id, req.has_id = obj["id"], True
    command = obj.get("command")
    if isinstance(command, str):
        req.command = command
    elif command is None:
        req.error = SidecarError(
            'The object has no \'command\' field; e.g. {"command": "check-availability"}.',
            "invalid_request",
        )
    else:
        req.error = SidecarError(
            f"'command' must be a string, not {json_type(command)}.", "invalid_request"
        )
    return req


def refused(message: str, code: str = "invalid_request") -> Request:
    return Request(error=SidecarError(message, code))


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def has_lone_surrogate(obj: Any) -> bool:
    """Whether any string (key or value) holds half a surrogate pair. Iterative: no depth limit."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if LONE_SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
