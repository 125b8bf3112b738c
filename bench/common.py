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

BENCH = Path(__file__).resolve().parent
ROOT, CORPUS, RESULTS = BENCH.parent, BENCH / "corpus", BENCH / "results"
sys.path.insert(0, str(ROOT))  # the package, without install

from mlx_sidecar.client import SidecarClient  # noqa: E402

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
def sidecar(server: Path | None = None) -> Iterator[tuple[SidecarClient, dict]]:
    """`python server.py` (``server``: another checkout's) with the bundled model loaded."""
    server = server and server.resolve()
    where = {"command": [sys.executable, str(server)], "cwd": server.parent} if server else {}
    with SidecarClient(**where) as client:
        info = client.call({"command": "check-availability"})
        client.call({"command": "load-model"}, TIMEOUT_S)
        yield client, run_record(info)


def timed(client: SidecarClient, command: dict, errors: bool = False) -> tuple[dict, float]:
    """A command's answer and its seconds; with ``errors`` an error line is an answer too."""
    started = time.perf_counter()
    line = client.request(command, TIMEOUT_S)[1] if errors else client.call(command, TIMEOUT_S)
    return line, time.perf_counter() - started


def bundled_model():
    """The bundled model (a models.Model) loaded in this process, its BLAS chosen first."""
    from mlx_sidecar.platform import BLAS_ENV, Platform

    Platform(blas_request=os.environ.get(BLAS_ENV)).require_mlx()  # before mlx.core
    from mlx_sidecar.models import bundled_model_path, load_model

    return load_model(bundled_model_path(), "auto")


def commit(folder: Path = ROOT) -> str:
    """The checkout's commit (-dirty: with edits), the code a run measured."""
    git = ["git", "describe", "--always", "--dirty"]
    return subprocess.check_output(git, cwd=folder, text=True).strip()


def run_record(info: dict) -> dict:
    """The date and machine of a run: CPU model, cores, memory, OS, Python, package versions,
    the backend and BLAS the sidecar reported (``info``: check-availability's answer), and
    the load average at the start (other work skews every figure)."""
    versions = {}
    for name in VERSIONS:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    linux = {}  # the first line of each file that begins with the key, after it
    for path, key in (("/proc/cpuinfo", "model name"), ("/etc/os-release", "PRETTY_NAME=")):
        with contextlib.suppress(OSError), open(path, encoding="utf-8") as f:
            linux[key] = next((x.split(key, 1)[1].strip(' \t:="\n') for x in f
                               if x.startswith(key)), None)  # fmt: skip
    cpu = linux.get("model name") or platform.machine()
    system = f"{linux.get('PRETTY_NAME=')} (Linux {platform.release()})"
    if platform.system() == "Darwin":
        sysctl = ["sysctl", "-n", "machdep.cpu.brand_string"]
        cpu, system = subprocess.check_output(sysctl, text=True), f"macOS {platform.mac_ver()[0]}"
    memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1)
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpu": cpu.strip(),
            "cores": os.cpu_count(), "memory_gb": memory_gb, "os": system,
            "python": platform.python_version(), "versions": versions,
            "backend": info.get("backend"), "blas": info.get("blas"),
            "load_average": round(os.getloadavg()[0], 2)}  # fmt: skip


def excerpt(text: str, limit: int, start: int = 0) -> str:
    """``limit`` characters of ``text`` from ``start``, to a paragraph break past limit/5."""
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
