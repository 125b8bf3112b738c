"""What the benchmarks share: their paths and options, the sidecar they drive, the bundled
model in process, and the record of the run (date, machine, versions) in every result."""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CORPUS = BENCH / "corpus"
RESULTS = BENCH / "results"
sys.path.insert(0, str(ROOT))  # the package, without install

from mlx_sidecar.client import SidecarClient  # noqa: E402

if TYPE_CHECKING:
    from mlx_sidecar.models import Model

# A command may take minutes on a long text (the 185k-character novel: ~9 min for tags and
# summary on 2 cores); the client's default deadline is 10.
TIMEOUT_S = 3600.0
VERSIONS = ("mlx", "mlx-metal", "mlx-lm", "llguidance", "transformers", "numpy")


def arguments(doc: str, out: str, *options: tuple) -> argparse.Namespace:
    """The command line: ``options`` as (flags, add_argument's keywords), then --out."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    for flags, kw in options:
        parser.add_argument(*flags.split(), **kw)
    parser.add_argument("--out", type=Path, default=RESULTS / out)
    return parser.parse_args()


def manifest() -> dict[str, dict]:
    """The corpus MANIFEST's entries, by file name."""
    entries = json.loads((CORPUS / "MANIFEST.json").read_text(encoding="utf-8"))
    return {e["file"]: e for e in entries}


def chosen(entries: list[dict], only: str) -> list[dict]:
    """The entries whose file begins with one of ``only``'s comma-separated prefixes."""
    prefixes = tuple(p for p in only.split(",") if p) or ("",)
    return [e for e in entries if e["file"].startswith(prefixes)]


@contextlib.contextmanager
def sidecar(
    server: Path | None = None, env: dict | None = None
) -> Iterator[tuple[SidecarClient, dict]]:
    """`python server.py` (``server``: another checkout's, run in its folder) with the
    bundled model loaded, and the run's record (run_record)."""
    server = server and server.resolve()
    where = {"command": [sys.executable, str(server)], "cwd": server.parent} if server else {}
    with SidecarClient(env=env, **where) as client:
        info = client.call({"command": "check-availability"})
        client.call({"command": "load-model"}, TIMEOUT_S)
        yield client, run_record(info)


def timed(client: SidecarClient, command: dict, errors: bool = False) -> tuple[dict, float]:
    """A command's answer and its wall time in seconds; with ``errors``, an error line is
    an answer too (without, SidecarError)."""
    started = time.perf_counter()
    line = client.request(command, TIMEOUT_S)[1] if errors else client.call(command, TIMEOUT_S)
    return line, time.perf_counter() - started


def bundled_model() -> Model:
    """The bundled model loaded in this process, the sidecar's BLAS chosen first."""
    from mlx_sidecar.platform import BLAS_ENV, Platform

    Platform(blas_request=os.environ.get(BLAS_ENV)).require_mlx()  # before mlx.core
    from mlx_sidecar.models import bundled_model_path, load_model

    return load_model(bundled_model_path(), "auto")


def mask_ms(matcher: Any, tokenizer: Any, tokens: list[int]) -> list[float]:
    """Milliseconds llguidance takes for each token's mask as ``matcher`` reads ``tokens``."""
    from llguidance.numpy import allocate_token_bitmask, fill_next_token_bitmask

    bitmask, out = allocate_token_bitmask(1, tokenizer.vocab_size), []
    for token in tokens:
        started = time.perf_counter()
        fill_next_token_bitmask(matcher, bitmask)
        out.append(1000 * (time.perf_counter() - started))
        matcher.consume_token(token)
    return out


def commit(folder: Path = ROOT) -> str:
    """The checkout's commit (-dirty: with edits), the code a run measured."""
    git = ["git", "describe", "--always", "--dirty"]
    return subprocess.check_output(git, cwd=folder, text=True).strip()


def run_record(info: dict) -> dict:
    """The date and machine of a run: CPU model, cores, memory, OS, Python, package versions,
    and the backend and BLAS the sidecar reported (``info``: check-availability's answer)."""
    versions = {}
    for name in VERSIONS:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    if platform.system() == "Darwin":
        sysctl = ["sysctl", "-n", "machdep.cpu.brand_string"]
        cpu, system = subprocess.check_output(sysctl, text=True), f"macOS {platform.mac_ver()[0]}"
    else:
        cpu = system_field("/proc/cpuinfo", "model name") or platform.machine()
        system = f"{system_field('/etc/os-release', 'PRETTY_NAME=')} (Linux {platform.release()})"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu.strip(),
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1),
        "os": system,
        "python": platform.python_version(),
        "versions": versions,
        "backend": info.get("backend"),
        "blas": info.get("blas"),
        "load_average": round(os.getloadavg()[0], 2),  # other work skews every figure
    }


def system_field(path: str, key: str) -> str | None:
    """The value on the first line of a Linux system file that begins with ``key``."""
    with contextlib.suppress(OSError), open(path, encoding="utf-8") as f:
        return next((x.split(key, 1)[1].strip(' \t:="\n') for x in f if x.startswith(key)), None)
    return None


def excerpt(text: str, limit: int, start: int = 0) -> str:
    """Up to ``limit`` characters of ``text`` from ``start``, ending at the last paragraph
    break past a fifth of them (at ``limit`` when there is none)."""
    text = text[start:]
    if len(text) <= limit:
        return text.strip()
    cut = text.rfind("\n\n", limit // 5, limit)
    return text[: cut if cut > 0 else limit].strip()


def corpus_text(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8", errors="replace")


def write(path: Path, run: dict, **data: object) -> None:
    """A result file: the run's record, then its data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"run": run, **data}, ensure_ascii=False, indent=1)
    path.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {path}; python bench/report.py puts it in bench/RESULTS.md", file=sys.stderr)
