"""What the benchmarks share: their paths, the sidecar they drive, a text's excerpt, and
the record of the run (date, machine, versions) at the head of every result file."""

from __future__ import annotations

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
ROOT = BENCH.parent
CORPUS = BENCH / "corpus"
RESULTS = BENCH / "results"
sys.path.insert(0, str(ROOT))  # the package, without install

from mlx_sidecar.client import SidecarClient  # noqa: E402

# A command may take minutes on a long text (the 185k-character novel: ~9 min for tags and
# summary on 2 cores); the client's default deadline is 10.
TIMEOUT_S = 3600.0
VERSIONS = ("mlx", "mlx-metal", "mlx-lm", "llguidance", "transformers", "numpy")


@contextlib.contextmanager
def sidecar(server: Path | None = None) -> Iterator[tuple[SidecarClient, dict]]:
    """`python server.py` (``server``: another checkout's, run in its folder) with the
    bundled model loaded, and the run's record (run_record)."""
    command = [sys.executable, str(server.resolve())] if server else None
    with SidecarClient(command=command, cwd=server.resolve().parent if server else None) as client:
        info = client.call({"command": "check-availability"})
        client.call({"command": "load-model"}, TIMEOUT_S)
        yield client, run_record(info)


def run_record(info: dict) -> dict:
    """The date and machine of a run: CPU model, cores, memory, OS, Python, package versions,
    and the backend and BLAS the sidecar reported (``info``: check-availability's answer)."""
    versions = {}
    for name in VERSIONS:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1),
        "os": os_name(),
        "python": platform.python_version(),
        "versions": versions,
        "backend": info.get("backend"),
        "blas": info.get("blas"),
        "load_average": round(os.getloadavg()[0], 2),  # other work skews every figure
    }


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    with contextlib.suppress(OSError, subprocess.SubprocessError):  # macOS
        return subprocess.check_output(
            ["sysctl", "-n", "machdep.cpu.brand_string"], text=True
        ).strip()
    return platform.processor() or platform.machine()


def os_name() -> str:
    if platform.system() == "Darwin":
        return f"macOS {platform.mac_ver()[0]}"
    with contextlib.suppress(OSError), open("/etc/os-release", encoding="utf-8") as f:
        for line in f:
            if line.startswith("PRETTY_NAME="):
                pretty = line.split("=", 1)[1].strip().strip('"')
                return f"{pretty} (Linux {platform.release()})"
    return platform.platform()


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
