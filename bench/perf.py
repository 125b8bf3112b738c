#!/usr/bin/env python3
"""Performance benchmark for mlx-sidecar: one command, one table, one JSON file.

    python bench/perf.py [--quick] [--with-llama-cpp] [--out bench/results/perf.json]
                         [--wait-quiet SECONDS]

Measures, in one run, on the bundled SmolLM2-135M GGUF:

  1. spawn -> first answer (check-availability) vs `python -c pass`, median of 10
  2. generation and prefill tok/s: the sidecar's Generator vs raw mlx_lm.stream_generate on
     the same loaded model and prompt, in one process (fair ratio, target >= 0.97), plus the
     generation_tps a `summarize` reports through the NDJSON pipe
  3. prompt-cache reuse: `generate-tags` then `summarize` on one ~1,500-token document; the
     second command's prefill time vs a cold one (target <= 0.15)
  4. load time: GGUF via the sidecar, MLX folder via the sidecar, mlx_lm.load of that folder
  5. llama.cpp prefill and decode tok/s on the same GGUF and token ids, 1 and 2 threads, and
     the sidecar's beside it at 400- and 2,000-token prompts and the 15k chunk's prompt
     (--with-llama-cpp builds llama-cpp-python into bench/.venv-llama the first time,
     ~5-10 minutes on 2 cores; without it, only if llama_cpp is importable here)
  6. peak resident memory of the sidecar per command (psutil sampling + Linux VmHWM)
  7. a 15,000-character chunk of English prose: tags + summary wall time vs the app's 60 s
  8. RSS after 10 load cycles vs after the first (target within 10%)

The driver imports no MLX: everything that loads a model runs in a fresh child process (the
sidecar itself over NDJSON, through the package's client, or this file re-run as
`--worker NAME`, which uses the package's API in process). CPU time used by other
processes during each section is recorded, because on a small machine it skews every figure.

The model is the bundled SmolLM2-135M-Instruct GGUF; llama.cpp gets the same file and the
same prompt token ids, and both decode greedily. The in-process comparisons alternate
their runs and report medians; llama.cpp's figure is its best of one thread and one per
core.

--server runs another checkout's server.py, and its mlx_sidecar package in the workers.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import psutil
except ImportError:  # pragma: no cover - dev dependency
    sys.exit("bench/perf.py needs psutil: pip install psutil")

# The package beside the server.py under test (--server, passed on to the workers as
# PERF_SERVER; this checkout's by default), without install.
sys.path.insert(
    0, str(Path(os.environ.get("PERF_SERVER") or Path(__file__).resolve().parent).parent)
)

from mlx_sidecar.client import SidecarClient

ROOT = Path(__file__).resolve().parent.parent
SERVER_ENV = "PERF_SERVER"  # --server: benchmark another checkout (e.g. a patched one)
CORPUS = ROOT / "bench" / "corpus"
DEFAULT_OUT = ROOT / "bench" / "results" / "perf.json"

APP_TIMEOUT_S = 60.0  # the desktop app gives up on a command after this long
TARGET_GEN_RATIO = 0.97  # sidecar tok/s / raw mlx_lm tok/s
TARGET_CACHE_RATIO = 0.15  # warm prefill time / cold prefill time
TARGET_RSS_GROWTH = 1.10  # RSS after the last load cycle / after the first
COMMAND_TIMEOUT_S = 900.0  # a hung sidecar fails the run instead of blocking it
RSS_SAMPLE_S = 0.01
LLAMA_DECODE_CAP_S = 30.0  # stop a llama.cpp decode that crawls (spinning threads on a busy CPU)
LLAMA_VENV = ROOT / "bench" / ".venv-llama"
LLAMA_VERSION = "0.3.36"  # the llama-cpp-python of bench/results/perf.json
# Native build without AMX: with AMX (which -march=native turns on here, whatever the
# GGML_AMX_* options say) llama_decode segfaulted on these Xeons (gcc 12).
NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
LLAMA_CMAKE_ARGS = (
    f"-DGGML_NATIVE=ON -DCMAKE_C_FLAGS='{NO_AMX}' -DCMAKE_CXX_FLAGS='{NO_AMX}' "
    "-DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF "
    "-DLLAMA_BUILD_SERVER=OFF"
)
COMPARE_LENGTHS = (400, 2000)  # prompt lengths compared with llama.cpp
TARGET_DECODE_VS_LLAMA = 0.5
TARGET_PREFILL_VS_LLAMA = 1.0
TARGET_CHUNK_VS_LLAMA = 1.5  # the 15k chunk's time / llama.cpp's for the same work
TARGET_CHUNK_S = 30.0
DOC_CHARS = 6_500  # ~1,500 SmolLM2 tokens of English prose (~4.3 characters per token)
CHUNK_CHARS = 15_000  # what the app sends per chunk

# Fallback text when bench/corpus/ is missing: the opening of Pride and Prejudice (Jane
# Austen, 1813; public domain), repeated to the length needed.
FALLBACK_PARAGRAPHS = (
    "It is a truth universally acknowledged, that a single man in possession of a good "
    "fortune, must be in want of a wife.",
    "However little known the feelings or views of such a man may be on his first entering a "
    "neighbourhood, this truth is so well fixed in the minds of the surrounding families, that "
    "he is considered the rightful property of some one or other of their daughters.",
    '"My dear Mr. Bennet," said his lady to him one day, "have you heard that Netherfield Park '
    'is let at last?"',
    "Mr. Bennet replied that he had not.",
    '"But it is," returned she; "for Mrs. Long has just been here, and she told me all about it."',
    '"Why, my dear, you must know, Mrs. Long says that Netherfield is taken by a young man of '
    "large fortune from the north of England; that he came down on Monday in a chaise and four "
    "to see the place, and was so much delighted with it, that he agreed with Mr. Morris "
    "immediately; that he is to take possession before Michaelmas, and some of his servants "
    'are to be in the house by the end of next week."',
    "Mr. Bennet was so odd a mixture of quick parts, sarcastic humour, reserve, and caprice, "
    "that the experience of three-and-twenty years had been insufficient to make his wife "
    "understand his character. Her mind was less difficult to develop. She was a woman of mean "
    "understanding, little information, and uncertain temper. When she was discontented, she "
    "fancied herself nervous. The business of her life was to get her daughters married; its "
    "solace was visiting and news.",
)


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rnd(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def log(message: str) -> None:
    print(f"[perf {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def prose(name: str, chars: int) -> tuple[str, str]:
    """About ``chars`` characters of a corpus text, cut at a paragraph end; and its source."""
    path = CORPUS / name
    if path.is_file():
        text, source = path.read_text(encoding="utf-8"), f"bench/corpus/{name}"
    else:
        text, source = "", "built-in Pride and Prejudice paragraphs (corpus missing)"
        while len(text) < chars * 2:
            text += "\n\n".join(FALLBACK_PARAGRAPHS) + "\n\n"
    paragraphs, out = text.split("\n\n"), ""
    for para in paragraphs:
        if out and len(out) + len(para) + 2 > chars:
            break
        out = f"{out}\n\n{para}" if out else para
    return out[:chars], source


def server_path() -> Path:
    return Path(os.environ.get(SERVER_ENV) or ROOT / "server.py").resolve()


def sidecar_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


# --------------------------------------------------------------------------------------
# Contention: CPU time other processes took while a section ran
# --------------------------------------------------------------------------------------


def own_cpu_seconds() -> float:
    """CPU time of this process and every child it has waited for."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def busy_seconds() -> float:
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


@contextlib.contextmanager
def cpu_watch(record: dict) -> Iterator[None]:
    """Record the share of all cores that *other* processes used during the block.

    Children must be waited for inside the block, so that their CPU time counts as ours.
    """
    wall0, busy0, own0 = time.perf_counter(), busy_seconds(), own_cpu_seconds()
    try:
        yield
    finally:
        wall = time.perf_counter() - wall0
        other = max(0.0, (busy_seconds() - busy0) - (own_cpu_seconds() - own0))
        record["wall_s"] = rnd(wall, 1)
        record["other_cpu_pct"] = rnd(100.0 * other / (wall * (os.cpu_count() or 1)), 1)


def wait_quiet(limit_s: float) -> float | None:
    """Wait until the machine is idle (< 10% busy over 3 s); returns the last busy %."""
    deadline, busy = time.monotonic() + limit_s, None
    while time.monotonic() < deadline:
        busy = psutil.cpu_percent(interval=3.0)
        if busy < 10.0:
            break
        log(f"machine {busy:.0f}% busy; waiting for it to quieten")
    return busy


# --------------------------------------------------------------------------------------
# The sidecar over NDJSON, through the package's client
# --------------------------------------------------------------------------------------


class SidecarFailed(RuntimeError):
    pass


@dataclass
class Answer:
    """One command's final line, with its wall time and the sidecar's peak RSS meanwhile."""

    line: dict
    wall_s: float
    peak_rss_mb: float
    rss_after_mb: float


class Sidecar:
    """Runs `python server.py` (mlx_sidecar.client) and sends one command at a time."""

    def __init__(self, *args: str) -> None:
        self.started = time.perf_counter()
        fd, self._stderr_path = tempfile.mkstemp(prefix="perf-sidecar-", suffix=".log")
        try:
            self.client = SidecarClient(
                *args, command=[sys.executable, str(server_path())], env=sidecar_env(), stderr=fd
            )
        finally:
            os.close(fd)
        self.proc = self.client.proc
        self.ps = psutil.Process(self.proc.pid)

    def final(self, command: str, **fields: Any) -> dict:
        """Send a command; its response or error line (progress and partial lines skipped)."""
        try:
            return self.client.request({"command": command, **fields}, COMMAND_TIMEOUT_S)[1]
        except TimeoutError:
            raise SidecarFailed(f"no answer within {COMMAND_TIMEOUT_S:.0f} s") from None
        except EOFError:
            code = self.proc.poll()
            raise SidecarFailed(f"the sidecar exited (code {code}): {self.tail()}") from None

    def request(self, command: str, **fields: Any) -> Answer:
        """Send a command and wait for its answer, sampling the sidecar's RSS meanwhile."""
        self._reset_peak()
        peak, done = [self.rss_mb()], threading.Event()

        def sample() -> None:
            while not done.wait(RSS_SAMPLE_S):
                with contextlib.suppress(psutil.Error):
                    peak[0] = max(peak[0], self.rss_mb())

        sampler = threading.Thread(target=sample, daemon=True)
        started = time.perf_counter()
        sampler.start()
        try:
            line = self.final(command, **fields)
        finally:
            wall = time.perf_counter() - started
            done.set()
            sampler.join()
        if line.get("type") == "error":
            raise SidecarFailed(f"{command}: {line.get('code')}: {line.get('error')}")
        return Answer(line, wall, max(peak[0], self._hwm_mb()), self.rss_mb())

    def rss_mb(self) -> float:
        return self.ps.memory_info().rss / 2**20

    def _reset_peak(self) -> None:
        """Linux: reset the kernel's peak-RSS counter (VmHWM) for this process."""
        with contextlib.suppress(OSError), open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
            f.write("5")

    def _hwm_mb(self) -> float:
        with contextlib.suppress(OSError), open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def tail(self, limit: int = 600) -> str:
        with contextlib.suppress(OSError):
            return Path(self._stderr_path).read_text(encoding="utf-8", errors="replace")[-limit:]
        return ""

    def close(self) -> None:
        """Ask it to shut down; kill it if it will not. Waits, so its CPU time is counted."""
        self.client.close()
        with contextlib.suppress(OSError):
            os.unlink(self._stderr_path)

    def __enter__(self) -> Sidecar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------
# Workers: this file re-run in a fresh process (`--worker NAME --params JSON`)
# --------------------------------------------------------------------------------------


def run_worker(
    name: str,
    params: dict,
    timeout: float = COMMAND_TIMEOUT_S,
    python: str = sys.executable,
    env: dict | None = None,
) -> dict:
    """Run a worker in a fresh Python process; its last stdout line is its JSON result."""
    proc = subprocess.run(
        [python, __file__, "--worker", name, "--params", json.dumps(params)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**sidecar_env(), **(env or {})},
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"worker {name} failed ({proc.returncode}): {proc.stderr[-800:]}")
    return json.loads(lines[-1])


def load_platform() -> Any:
    """The sidecar's Platform, with its BLAS preload done before mlx.core loads
    (MLX_SIDECAR_BLAS picks the library, as for the sidecar)."""
    from mlx_sidecar.platform import BLAS_ENV, Platform

    platform = Platform(blas_request=os.environ.get(BLAS_ENV))
    if not platform.load_mlx():
        raise RuntimeError(f"MLX is not usable: {platform.mlx_error}")
    return platform


def summary_prompt(model: Any, content: str) -> list[int]:
    """The token ids of a default summarize prompt on ``content``, as the sidecar builds it."""
    from mlx_sidecar.answers.summary import summary_length
    from mlx_sidecar.prompts import SUMMARY_TASK, encode_prompt

    task = SUMMARY_TASK.format(sentences=summary_length(None))
    return encode_prompt(model.tokenizer, content, task)


def cold_generate(model: Any, prompt: list[int], max_tokens: int) -> Any:
    """One greedy pass of the sidecar's Generator with no prompt cache (a new Generator)."""
    from mlx_sidecar.context import detached_context
    from mlx_sidecar.generation import Generator

    return Generator(model).generate(
        prompt, detached_context(), max_tokens=max_tokens, temperature=0.0
    )


def worker_generation(params: dict) -> dict:
    """Raw mlx_lm.stream_generate vs the sidecar's Generator on one loaded model and prompt."""
    platform = load_platform()
    import mlx.core as mx
    from mlx_lm import stream_generate
    from mlx_lm.sample_utils import make_sampler

    from mlx_sidecar.context import detached_context
    from mlx_sidecar.generation import Generator, prefill_step_size
    from mlx_sidecar.models import bundled_model_path, load_model

    model = load_model(bundled_model_path(), "auto")
    prompt = summary_prompt(model, params["content"])
    max_tokens = params["max_tokens"]

    def raw() -> dict:
        last, started = None, time.perf_counter()
        for response in stream_generate(
            model.module,
            model.tokenizer,
            mx.array(prompt),
            max_tokens=max_tokens,
            sampler=make_sampler(temp=0.0),
            prefill_step_size=prefill_step_size(len(prompt)),
        ):
            last = response
        assert last is not None
        return {
            "prompt_tps": last.prompt_tps,
            "generation_tps": last.generation_tps,
            "generation_tokens": last.generation_tokens,
            "wall_s": time.perf_counter() - started,
        }

    def sidecar() -> dict:
        generator, ctx = Generator(model), detached_context()  # cold, like raw: no reuse
        started = time.perf_counter()
        g = generator.generate(prompt, ctx, max_tokens=max_tokens, temperature=0.0)
        return {
            "prompt_tps": g.prompt_tps,
            "generation_tps": g.generation_tps,
            "generation_tokens": g.generation_tokens,
            "wall_s": time.perf_counter() - started,
        }

    for _ in stream_generate(model.module, model.tokenizer, mx.array(prompt[:64]), max_tokens=4):
        pass  # warm-up: first-call allocations and kernel setup
    runs: dict[str, list[dict]] = {"raw": [], "sidecar": []}
    for i in range(params["reps"]):
        order = ("raw", "sidecar") if i % 2 == 0 else ("sidecar", "raw")  # cancel drift
        for name in order:
            runs[name].append(raw() if name == "raw" else sidecar())
    return {
        "prompt_tokens": len(prompt),
        "prompt_ids": prompt,
        "weights": model.weights,
        "blas": platform.blas,
        "runs": runs,
        "peak_memory_gb": mx.get_peak_memory() / 1e9,
    }


def worker_mlx_load(params: dict) -> dict:
    """mlx_lm.load of an MLX folder in a fresh process: import time and load time."""
    started = time.perf_counter()
    import mlx.core as mx
    import mlx_lm

    imported = time.perf_counter()
    model, _ = mlx_lm.load(params["path"])
    mx.eval(model.parameters())
    done = time.perf_counter()
    return {
        "import_s": imported - started,
        "load_s": done - imported,
        "total_s": done - started,
        "rss_mb": psutil.Process().memory_info().rss / 2**20,
    }


def worker_llama_cpp(params: dict) -> dict:
    """llama.cpp on the same GGUF and the same prompt token ids: prefill, then greedy decode."""
    try:
        import llama_cpp
        import numpy as np
    except ImportError as e:
        return {"installed": False, "reason": str(e)}
    ids, max_tokens = params["prompt_ids"], params["max_tokens"]
    lengths = params.get("lengths", [])
    result: dict = {"installed": True, "version": llama_cpp.__version__, "by_threads": {}}
    # Its default (all cores) spins at barriers; on a busy 2-core machine 1 thread can win.
    for threads in sorted({1, os.cpu_count() or 1}):
        started = time.perf_counter()
        llm = llama_cpp.Llama(
            model_path=params["model_path"],
            n_ctx=max([len(ids), *lengths]) + max_tokens + 64,
            n_batch=512,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )
        load_s = time.perf_counter() - started
        prefill, decode = [], []
        for _ in range(params["reps"]):
            llm.reset()
            t0 = time.perf_counter()
            llm.eval(ids)
            prefill.append(len(ids) / (time.perf_counter() - t0))
            t0, n = time.perf_counter(), 0
            while n < max_tokens and time.perf_counter() - t0 < LLAMA_DECODE_CAP_S:
                last = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
                token = int(np.argmax(np.ctypeslib.as_array(last, shape=(llm.n_vocab(),))))
                if token == llm.token_eos():
                    break
                llm.eval([token])
                n += 1
            decode.append(n / (time.perf_counter() - t0))
        result["by_threads"][str(threads)] = {
            "load_s": load_s,
            "prompt_tps": max(prefill),
            "generation_tps": max(decode),
            "at": {str(n): llama_at(llm, params["long_ids"][:n], max_tokens) for n in lengths},
        }
        del llm
    return result


def llama_at(llm: Any, ids: list[int], max_tokens: int) -> dict:
    """llama.cpp prefill of ``ids`` then greedy decode (best of two), one loaded model."""
    import llama_cpp
    import numpy as np

    prefill, decode = [], []
    for _ in range(2):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(ids)
        prefill.append(len(ids) / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        for _ in range(max_tokens):
            last = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
            llm.eval([int(np.argmax(np.ctypeslib.as_array(last, shape=(llm.n_vocab(),))))])
        decode.append(max_tokens / (time.perf_counter() - t0))
    return {"prompt_tps": max(prefill), "generation_tps": max(decode)}


def worker_lengths(params: dict) -> dict:
    """The sidecar's Generator on the first N of the same token ids llama.cpp gets."""
    load_platform()
    from mlx_sidecar.models import bundled_model_path, load_model

    model = load_model(bundled_model_path(), "auto")
    ids = summary_prompt(model, params["content"])
    while len(ids) < max(params["lengths"]):
        ids += ids
    cold_generate(model, ids[:64], 4)  # warm-up
    at = {}
    for n in params["lengths"]:
        runs = []
        for _ in range(params["reps"]):  # cold: no prefix reuse between runs
            g = cold_generate(model, ids[:n], params["max_tokens"])
            runs.append((g.prompt_tps, g.generation_tps))
        at[str(n)] = {
            "prompt_tps": median([r[0] for r in runs]),
            "generation_tps": median([r[1] for r in runs]),
        }
    return {"ids": ids, "at": at}


def worker_layout(params: dict) -> dict:
    """One weight layout and BLAS (MLX_SIDECAR_BLAS): prefill at several lengths, decode."""
    platform = load_platform()
    import mlx.core as mx

    from mlx_sidecar.models import bundled_model_path, load_model
    from mlx_sidecar.prompts import encode_prompt

    model = load_model(bundled_model_path(), params["weights"])
    ids = encode_prompt(model.tokenizer, params["content"], "Summarize this document.")
    while len(ids) < max(params["lengths"]):
        ids += ids
    cold_generate(model, ids[:64], 4)  # warm-up
    out: dict = {"weights": model.weights, "blas": platform.blas, "prompt_tps": {}}
    for n in params["lengths"]:
        g = cold_generate(model, ids[:n], params["max_tokens"])
        out["prompt_tps"][str(n)] = g.prompt_tps
        if n == params["lengths"][0]:
            out["generation_tps"] = g.generation_tps
    out["peak_memory_gb"] = mx.get_peak_memory() / 1e9
    return out


def llama_python(build: bool) -> str | None:
    """A Python that imports llama_cpp: this one, or bench/.venv-llama (built if asked)."""
    candidates = [sys.executable, str(LLAMA_VENV / "bin" / "python")]
    for python in candidates:
        if (
            Path(python).exists()
            and subprocess.run(
                [python, "-c", "import llama_cpp, psutil"], capture_output=True
            ).returncode
            == 0
        ):
            return python
    if not build:
        return None
    log(f"building llama-cpp-python {LLAMA_VERSION} into {LLAMA_VENV} (minutes) ...")
    subprocess.run([sys.executable, "-m", "venv", str(LLAMA_VENV)], check=True)
    pip = [str(LLAMA_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    env = {**os.environ, "CMAKE_ARGS": LLAMA_CMAKE_ARGS, "CMAKE_BUILD_PARALLEL_LEVEL": "2"}
    subprocess.run(
        [*pip, "--disable-pip-version-check", f"llama-cpp-python=={LLAMA_VERSION}", "psutil"],
        check=True,
        env=env,
    )
    return candidates[1]


WORKERS: dict[str, Callable[[dict], dict]] = {
    "generation": worker_generation,
    "lengths": worker_lengths,
    "layout": worker_layout,
    "mlx-load": worker_mlx_load,
    "llama-cpp": worker_llama_cpp,
}


# --------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------


@dataclass
class Bench:
    quick: bool
    results: dict = field(default_factory=dict)
    doc: str = ""
    chunk: str = ""
    mlx_folder: Path | None = None
    with_llama_cpp: bool = False
    chunk_tokens: int = 3645  # the 15k chunk's prompt, the length of its llama.cpp comparison

    @property
    def reps(self) -> int:
        return 1 if self.quick else 3

    @property
    def decode_tokens(self) -> int:
        return 32 if self.quick else 64

    def section(self, key: str) -> dict:
        return self.results.setdefault(key, {})


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    os_name = platform.platform()
    with contextlib.suppress(OSError), open("/etc/os-release", encoding="utf-8") as f:
        for line in f:
            if line.startswith("PRETTY_NAME="):
                pretty = line.split("=", 1)[1].strip().strip('"')
                os_name = f"{pretty} (Linux {platform.release()})"
    versions = {}
    for name in (
        "mlx",
        "mlx-lm",
        "transformers",
        "tokenizers",
        "llguidance",
        "llama_cpp_python",
        "numpy",
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),  # UTC
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "os": os_name,
        "machine": platform.machine(),
        "python": platform.python_version(),
        "versions": versions,
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def probe_sidecar() -> dict:
    """What the sidecar reports about this machine (backend, BLAS), from one untimed spawn."""
    try:
        with Sidecar() as s:
            line = s.final("check-availability")
    except SidecarFailed as e:
        return {"backend": None, "blas": None, "probe_error": str(e)}
    return {k: line.get(k) for k in ("available", "backend", "blas", "mlx_version", "platform")}


def bench_spawn(b: Bench) -> None:
    """(1) spawn -> first answer of check-availability, vs python -c pass."""
    out, n = b.section("spawn"), 5 if b.quick else 10
    with cpu_watch(out):
        bare, answer = [], []
        for _ in range(n):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            bare.append(time.perf_counter() - t0)
            with Sidecar() as s:
                s.final("check-availability")
                answer.append(time.perf_counter() - s.started)
    out.update(
        runs=n,
        python_pass_ms=rnd(1e3 * median(bare), 1),
        check_availability_ms=rnd(1e3 * median(answer), 1),
        all_ms=[rnd(1e3 * x, 1) for x in answer],
    )


def bench_generation(b: Bench) -> None:
    """(2) + (5): in-process raw vs sidecar generate; subprocess summarize; llama.cpp."""
    out = b.section("generation")
    with cpu_watch(out):
        res = run_worker(
            "generation",
            {"content": b.doc, "max_tokens": b.decode_tokens, "reps": 2 if b.quick else b.reps},
        )
        with Sidecar() as s:
            s.request("load-model")
            piped = s.request("summarize", content=b.doc, max_tokens=b.decode_tokens).line
    raw, side = res["runs"]["raw"], res["runs"]["sidecar"]
    for name in ("generation_tps", "prompt_tps"):
        r, c = median([x[name] for x in raw]), median([x[name] for x in side])
        out[name] = {
            "raw": rnd(r),
            "sidecar": rnd(c),
            "ratio": rnd(c / r, 3),
            "raw_all": [rnd(x[name]) for x in raw],
            "sidecar_all": [rnd(x[name]) for x in side],
        }
    out.update(
        prompt_tokens=res["prompt_tokens"],
        decode_tokens=b.decode_tokens,
        weights=res["weights"],
        blas=res["blas"],
        peak_memory_gb=rnd(res["peak_memory_gb"], 3),
        subprocess_summarize={
            k: piped.get(k)
            for k in (
                "prompt_tokens",
                "cached_tokens",
                "generation_tokens",
                "prompt_tps",
                "generation_tps",
            )
        },
    )
    out["subprocess_summarize"]["ratio_vs_raw"] = rnd(
        piped["generation_tps"] / out["generation_tps"]["raw"], 3
    )
    lc = b.section("llama_cpp")
    python = llama_python(b.with_llama_cpp)
    if python is None:
        lc.update(installed=False, reason="llama_cpp not importable; run with --with-llama-cpp")
        return
    with cpu_watch(lc):
        try:
            lengths = [*COMPARE_LENGTHS, b.chunk_tokens]
            side = run_worker(
                "lengths",
                {
                    "content": b.chunk,
                    "lengths": lengths,
                    "max_tokens": b.decode_tokens,
                    "reps": 1 if b.quick else 2,
                },
            )
            lc["sidecar_at"] = side["at"]
            lc.update(
                run_worker(
                    "llama-cpp",
                    {
                        "model_path": str(bundled_gguf()),
                        "prompt_ids": res["prompt_ids"],
                        "long_ids": side["ids"],
                        "lengths": lengths,
                        "max_tokens": b.decode_tokens,
                        "reps": 1 if b.quick else 2,
                    },
                    python=python,
                )
            )
        except Exception as e:  # a broken llama_cpp install must not sink the other sections
            lc.update(installed=False, reason=f"failed: {e}"[:300])
    if lc.get("installed"):
        for key in ("prompt_tps", "generation_tps"):
            best = max(lc["by_threads"], key=lambda t: lc["by_threads"][t][key])
            lc[key], lc[f"{key}_threads"] = rnd(lc["by_threads"][best][key]), int(best)
        lc["best_at"] = {
            n: {
                key: rnd(max(t["at"][n][key] for t in lc["by_threads"].values()))
                for key in ("prompt_tps", "generation_tps")
            }
            for n in lc["sidecar_at"]
        }


# (name, --weights, MLX_SIDECAR_BLAS, prompt lengths): the README's CPU fast-path table.
# The slow layouts (10-17 tok/s prefill) get the short prompt only: minutes, not a quarter hour.
LAYOUTS = (
    ("float32, BLAS as chosen", "float32", None, (400, 1500, 4000)),
    (
        "float32, Debian OpenBLAS",
        "float32",
        "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
        (400, 1500, 4000),
    ),
    ("float32, reference BLAS (off)", "float32", "off", (400,)),
    ("quantized", "quantized", None, (400,)),
)


def bench_layouts(b: Bench) -> None:
    """The CPU fast path: each weight layout and BLAS, one fresh process each."""
    out = b.section("layouts")
    with cpu_watch(out):
        for name, weights, blas, lengths in LAYOUTS:
            if blas and blas.startswith("/") and not Path(blas).exists():
                out[name] = {"skipped": f"{blas} is not installed"}
                continue
            params = {
                "content": b.chunk,
                "weights": weights,
                "lengths": list(lengths),
                "max_tokens": b.decode_tokens,
            }
            env = {"MLX_SIDECAR_BLAS": blas} if blas else None
            try:
                out[name] = run_worker("layout", params, env=env)
            except Exception as e:  # one layout failing keeps the others
                out[name] = {"failed": str(e)[:300]}


def bundled_gguf() -> Path:
    """The bundled GGUF, located without importing the sidecar (or MLX) here."""
    code = "from mlx_sidecar.models import bundled_model_path; print(bundled_model_path())"
    found = subprocess.run(
        [sys.executable, "-c", code],
        cwd=server_path().parent,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(found.stdout.strip())


def bench_cache(b: Bench) -> None:
    """(3) generate-tags then summarize on one document: warm prefill vs cold; (6) RSS."""
    out, rss = b.section("prompt_cache"), b.section("peak_rss_mb")
    with cpu_watch(out), Sidecar() as s:
        steps = [
            ("check-availability", "check-availability", {}),
            ("load-model", "load-model", {}),
            ("summarize", "summarize (cold)", {"content": b.doc, "max_tokens": 48}),
            ("load-model", "load-model again", {}),  # a new model: empty prompt cache
            ("generate-tags", "generate-tags", {"content": b.doc}),
            ("summarize", "summarize (after tags)", {"content": b.doc, "max_tokens": 48}),
            ("model-info", "model-info", {}),
        ]
        answers = []
        for command, label, fields in steps:
            a = s.request(command, **fields)
            answers.append(a)
            rss[label] = rnd(a.peak_rss_mb, 1)
    cold, tags, warm = answers[2].line, answers[4].line, answers[5].line

    def prefill_s(line: dict) -> float:
        return (line["prompt_tokens"] - line["cached_tokens"]) / line["prompt_tps"]

    out.update(
        prompt_tokens=warm["prompt_tokens"],
        cached_tokens=warm["cached_tokens"],
        cold_prefill_s=rnd(prefill_s(cold), 3),
        warm_prefill_s=rnd(prefill_s(warm), 3),
        tags_prefill_s=rnd(prefill_s(tags), 3),
        ratio=rnd(prefill_s(warm) / prefill_s(cold), 3),
        cold_summarize_wall_s=rnd(answers[2].wall_s),
        warm_summarize_wall_s=rnd(answers[5].wall_s),
        tags_wall_s=rnd(answers[4].wall_s),
        tags=tags.get("tags"),
    )


def bench_load(b: Bench) -> None:
    """(4) load-model of the GGUF and of the same model as an MLX folder; mlx_lm.load."""
    out = b.section("load")
    with cpu_watch(out):
        folder = Path(tempfile.mkdtemp(prefix="perf-mlx-")) / "SmolLM2-135M-Instruct-mlx"
        subprocess.run(
            [sys.executable, str(server_path()), "--export-mlx", str(folder)],
            check=True,
            capture_output=True,
            env=sidecar_env(),
        )
        b.mlx_folder = folder
        for key, fields in (("gguf", {}), ("mlx_folder", {"model_path": str(folder)})):
            with Sidecar() as s:
                s.request("check-availability")
                first = s.request("load-model", **fields)
                again = s.request("load-model", **fields)
            out[key] = {
                "first_wall_s": rnd(first.wall_s),
                "first_load_time_s": first.line.get("load_time_s"),
                "again_wall_s": rnd(again.wall_s),
                "weights": first.line.get("weights"),
            }
        ml = run_worker("mlx-load", {"path": str(folder)})
        out["mlx_lm_load"] = {k: rnd(v) for k, v in ml.items()}


def bench_chunk(b: Bench) -> None:
    """(7) a 15,000-character chunk of English prose: tags + summary vs the 60 s timeout."""
    out = b.section("chunk_15k")
    with cpu_watch(out), Sidecar() as s:
        s.request("load-model")
        tags = s.request("generate-tags", content=b.chunk)
        summary = s.request("summarize", content=b.chunk)
    rss = b.section("peak_rss_mb")
    rss["generate-tags (15k chunk)"] = rnd(tags.peak_rss_mb, 1)
    rss["summarize (15k chunk)"] = rnd(summary.peak_rss_mb, 1)
    out.update(
        chars=len(b.chunk),
        prompt_tokens=tags.line.get("prompt_tokens"),
        chunks=tags.line.get("chunks"),
        tags_s=rnd(tags.wall_s, 1),
        summary_s=rnd(summary.wall_s, 1),
        total_s=rnd(tags.wall_s + summary.wall_s, 1),
        summary_cached_tokens=summary.line.get("cached_tokens"),
        summary_prompt_tokens=summary.line.get("prompt_tokens"),
        tags_generation_tokens=tags.line.get("generation_tokens"),
        summary_generation_tokens=summary.line.get("generation_tokens"),
        tags=tags.line.get("tags"),
        summary=summary.line.get("summary"),
    )


def bench_cycles(b: Bench) -> None:
    """(8) RSS after N load-model (+ a short summarize) cycles vs after the first."""
    out, n = b.section("load_cycles"), 4 if b.quick else 10
    short = b.doc[:1200]
    with cpu_watch(out), Sidecar() as s:
        after = []
        for _ in range(n):
            s.request("load-model")
            s.request("summarize", content=short, max_tokens=8)
            time.sleep(0.3)
            after.append(s.rss_mb())
    out.update(cycles=n, rss_mb=[rnd(x, 1) for x in after], ratio=rnd(after[-1] / after[0], 3))


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("yes" if ok else "**no**")


def table(r: dict) -> str:
    rows: list[tuple[str, str, str, str, str, str]] = []

    def row(
        name: str,
        value: str,
        ref: str = "",
        ratio: str = "",
        target: str = "",
        ok: bool | None = None,
    ) -> None:
        rows.append((name, value, ref, ratio, target, verdict(ok)))

    sp = r.get("spawn", {})
    if sp:
        row(
            "1 spawn -> check-availability answer (median)",
            f"{sp['check_availability_ms']} ms",
            f"python -c pass {sp['python_pass_ms']} ms",
            f"{sp['check_availability_ms'] / sp['python_pass_ms']:.1f}x",
        )
    g = r.get("generation", {})
    if g:
        d, p = g["generation_tps"], g["prompt_tps"]
        row(
            f"2 decode tok/s in-process, {g['prompt_tokens']}-token prompt ({g['weights']})",
            f"sidecar {d['sidecar']}",
            f"mlx_lm {d['raw']}",
            f"{d['ratio']}",
            ">= 0.97",
            d["ratio"] >= TARGET_GEN_RATIO,
        )
        row(
            "2 prefill tok/s in-process",
            f"sidecar {p['sidecar']}",
            f"mlx_lm {p['raw']}",
            f"{p['ratio']}",
            ">= 0.97",
            p["ratio"] >= TARGET_GEN_RATIO,
        )
        sub = g["subprocess_summarize"]
        row(
            "2 decode tok/s via NDJSON summarize (generation_tps)",
            f"{sub['generation_tps']}",
            f"mlx_lm {d['raw']}",
            f"{sub['ratio_vs_raw']}",
            ">= 0.97",
            sub["ratio_vs_raw"] >= TARGET_GEN_RATIO,
        )
    c = r.get("prompt_cache", {})
    if c:
        row(
            f"3 summarize prefill after generate-tags ({c['cached_tokens']}/{c['prompt_tokens']}"
            " tokens cached)",
            f"{c['warm_prefill_s']} s",
            f"cold {c['cold_prefill_s']} s",
            f"{c['ratio']}",
            "<= 0.15",
            c["ratio"] <= TARGET_CACHE_RATIO,
        )
    ld = r.get("load", {})
    if ld:
        row(
            "4 load-model GGUF, fresh sidecar (wall; again)",
            f"{ld['gguf']['first_wall_s']} s; {ld['gguf']['again_wall_s']} s",
            f"weights {ld['gguf']['weights']}",
        )
        row(
            "4 load-model MLX folder, fresh sidecar (wall; again)",
            f"{ld['mlx_folder']['first_wall_s']} s; {ld['mlx_folder']['again_wall_s']} s",
            f"weights {ld['mlx_folder']['weights']}",
        )
        ml = ld["mlx_lm_load"]
        row(
            "4 mlx_lm.load(folder), fresh process (import + load)",
            f"{ml['total_s']} s",
            f"import {ml['import_s']} s + load {ml['load_s']} s",
        )
    lc = r.get("llama_cpp", {})
    if lc and g:
        if lc.get("installed"):
            d, p = g["generation_tps"]["sidecar"], g["prompt_tps"]["sidecar"]
            row(
                f"5 llama.cpp {lc['version']} prefill tok/s (best: {lc['prompt_tps_threads']} thr.)",
                f"sidecar {p}",
                f"llama.cpp {lc['prompt_tps']}",
                f"{p / lc['prompt_tps']:.2f}",
            )
            row(
                f"5 llama.cpp decode tok/s (best: {lc['generation_tps_threads']} thr.)",
                f"sidecar {d}",
                f"llama.cpp {lc['generation_tps']}",
                f"{d / lc['generation_tps']:.2f}",
            )
            for n, at in lc.get("best_at", {}).items():
                mine = lc["sidecar_at"][n]
                for key, what, goal in (
                    ("prompt_tps", "prefill", TARGET_PREFILL_VS_LLAMA),
                    ("generation_tps", "decode", TARGET_DECODE_VS_LLAMA),
                ):
                    ratio = mine[key] / at[key]
                    row(
                        f"5 {what} tok/s at {n} tokens vs llama.cpp (best of 1/2 thr.)",
                        f"sidecar {rnd(mine[key], 1)}",
                        f"llama.cpp {at[key]}",
                        f"{ratio:.2f}",
                        f">= {goal}",
                        ratio >= goal,
                    )
        else:
            row("5 llama.cpp", "not installed", lc.get("reason", "")[:60])
    for name, lay in r.get("layouts", {}).items():
        if isinstance(lay, dict) and "prompt_tps" in lay:
            tps = " / ".join(f"{v:.1f}" for v in lay["prompt_tps"].values())
            lib = Path((lay.get("blas") or {}).get("library") or "none").name
            at = " / ".join(lay["prompt_tps"])
            row(
                f"9 {name} ({lay['weights']}, {lib}): prefill tok/s at {at} tokens",
                tps,
                f"decode {lay['generation_tps']:.1f} tok/s",
                f"peak {lay['peak_memory_gb']:.2f} GB",
            )
    for command, mb in r.get("peak_rss_mb", {}).items():
        row(f"6 peak RSS during {command}", f"{mb} MB")
    ch = r.get("chunk_15k", {})
    if ch:
        row(
            f"7 15k-char prose chunk ({ch['prompt_tokens']} tokens): generate-tags",
            f"{ch['tags_s']} s",
            "app timeout 60 s",
            "",
            "< 60 s",
            ch["tags_s"] < APP_TIMEOUT_S,
        )
        row(
            "7 ... then summarize (prompt cache warm)",
            f"{ch['summary_s']} s",
            f"total {ch['total_s']} s",
            "",
            "< 60 s",
            ch["summary_s"] < APP_TIMEOUT_S,
        )
        row(
            "7 ... tags + summary together",
            f"{ch['total_s']} s",
            "",
            "",
            "< 60 s",
            ch["total_s"] < APP_TIMEOUT_S,
        )
        est = llama_chunk_s(ch, lc)
        if est:
            row(
                "7 ... the same prefill and decode in llama.cpp (from its tok/s)",
                f"{ch['total_s']} s",
                f"llama.cpp ~{est:.1f} s",
                f"{ch['total_s'] / est:.2f}",
                f"<= {TARGET_CHUNK_VS_LLAMA}, < {TARGET_CHUNK_S:.0f} s",
                ch["total_s"] / est <= TARGET_CHUNK_VS_LLAMA and ch["total_s"] < TARGET_CHUNK_S,
            )
    cy = r.get("load_cycles", {})
    if cy:
        row(
            f"8 RSS after {cy['cycles']} load cycles vs after the first",
            f"{cy['rss_mb'][-1]} MB",
            f"{cy['rss_mb'][0]} MB",
            f"{cy['ratio']}",
            "<= 1.10",
            cy["ratio"] <= TARGET_RSS_GROWTH,
        )
    head = ("measure", "value", "reference", "ratio", "target", "met")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def llama_chunk_s(ch: dict, lc: dict) -> float | None:
    """llama.cpp's time for the chunk's prefill and decode, at its measured tok/s."""
    at = lc.get("best_at", {})
    if not at or ch.get("tags_generation_tokens") is None:
        return None
    rates = at[max(at, key=int)]  # measured at the chunk's prompt length
    prefill = ch["prompt_tokens"] + ch["summary_prompt_tokens"] - ch["summary_cached_tokens"]
    decode = ch["tags_generation_tokens"] + ch["summary_generation_tokens"]
    return prefill / rates["prompt_tps"] + decode / rates["generation_tps"]


def machine_line(r: dict) -> str:
    m = r["machine"]
    blas = (m.get("blas") or {}).get("library", "none")
    contention = ", ".join(
        f"{k} {v['other_cpu_pct']}%"
        for k, v in r.items()
        if isinstance(v, dict) and "other_cpu_pct" in v
    )
    return (
        f"{m['cpu']}, {m['logical_cores']} cores, {m['ram_gb']} GB RAM, {m['os']}; "
        f"Python {m['python']}, mlx {m['versions'].get('mlx')}, mlx-lm "
        f"{m['versions'].get('mlx-lm')}, backend {m.get('backend')}, BLAS {blas}; "
        f"load average {m['loadavg_start'][0]} at the start, {m['loadavg_end'][0]} at the end.\n"
        f"CPU used by other processes during each section: {contention}."
    )


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


SECTIONS: tuple[tuple[str, Callable[[Bench], None]], ...] = (
    ("spawn", bench_spawn),
    ("generation + llama.cpp", bench_generation),
    ("prompt cache + RSS", bench_cache),
    ("load", bench_load),
    ("15k chunk", bench_chunk),
    ("load cycles", bench_cycles),
    ("layouts", bench_layouts),
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer repetitions and cycles, shorter decodes (a few minutes)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"JSON results file (default {DEFAULT_OUT.relative_to(ROOT)})",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to this long for the machine to be idle",
    )
    parser.add_argument(
        "--with-llama-cpp",
        action="store_true",
        help="compare with llama.cpp; builds llama-cpp-python into bench/.venv-llama if needed",
    )
    parser.add_argument("--only", help="comma-separated section names to run (default all)")
    parser.add_argument(
        "--server", type=Path, help="another checkout's server.py to run (default: this one's)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(WORKERS[args.worker](json.loads(args.params or "{}"))))
        return 0
    if args.server:
        os.environ[SERVER_ENV] = str(args.server.resolve())
    if args.wait_quiet:
        wait_quiet(args.wait_quiet)
    b = Bench(quick=args.quick, with_llama_cpp=args.with_llama_cpp)
    b.results["machine"] = machine_info()
    b.results["machine"]["mode"] = "quick" if args.quick else "full"
    b.results["machine"]["server"] = str(server_path())
    b.results["machine"].update(probe_sidecar())
    b.doc, doc_source = prose("05-pride-and-prejudice-ch1-5.txt", DOC_CHARS)
    b.chunk, chunk_source = prose("06-persuasion-ch1-11.txt", CHUNK_CHARS)
    b.results["inputs"] = {
        "doc": {"source": doc_source, "chars": len(b.doc)},
        "chunk": {"source": chunk_source, "chars": len(b.chunk)},
    }
    only = {s.strip() for s in args.only.split(",")} if args.only else None
    started, failures = time.perf_counter(), {}
    try:
        for name, run in SECTIONS:
            if only and not any(o in name for o in only):
                continue
            log(f"{name} ...")
            try:
                run(b)
            except Exception as e:  # report and go on: one broken section keeps the others
                failures[name] = f"{type(e).__name__}: {e}"[:500]
                log(f"{name} FAILED: {failures[name]}")
    finally:
        if b.mlx_folder is not None:
            shutil.rmtree(b.mlx_folder.parent, ignore_errors=True)
    b.results["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    b.results["total_s"] = rnd(time.perf_counter() - started, 1)
    b.results["failures"] = failures
    report = f"{table(b.results)}\n\n{machine_line(b.results)}"
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(b.results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    log(f"wrote {args.out} in {b.results['total_s']} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
