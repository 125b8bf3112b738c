"""The machine: which MLX backend runs, how much memory it has, and the CPU fast path.

The one way to reach MLX: ``Platform.load_mlx()`` imports ``mlx.core`` first (after the
BLAS preload below); everything else then does ``import mlx.core as mx`` inside the
function that needs it, as mlx-lm does, and gets the same module.

The CPU fast path. The mlx[cpu] wheel for Linux links a reference (unoptimized) BLAS: a
float32 matmul runs at ~6 GFLOP/s. An optimized CBLAS loaded with RTLD_GLOBAL *before*
mlx.core is imported takes over MLX's cblas_sgemm calls (~80 GFLOP/s with OpenBLAS on a
2-core x86_64 VM). Metal and macOS (Accelerate) need none of this. Intel's oneMKL comes
from pip (the `mkl` wheel puts libmkl_rt.so.3 in <prefix>/lib) and is tried first: MLX
sends every 1-row decode product to cblas_sgemm, and MKL's runs one ~10x faster than
OpenBLAS 0.3.21's (bench/RESULTS.md: decode 1.6x against OpenBLAS at two threads).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.metadata
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import SidecarError

log = logging.getLogger(__name__)

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
class Platform:
    """What this process found out about its platform, once: BLAS, and whether MLX works."""

    blas_request: str | None = None  # --blas / MLX_SIDECAR_BLAS: a path, "off" or None
    blas: dict | None = None  # {"library": ..., "source": ...} once loaded
    mlx_error: str | None = None  # why MLX is not usable, once tried
    tried: bool = False

    def load_mlx(self) -> bool:
        """Import mlx.core once, after the BLAS preload; whether MLX is usable here."""
        if not self.tried:
            self.tried = True
            self.blas, blas_error = preload_blas(self.blas_request)
            if blas_error:
                log.warning("%s", blas_error)
            try:
                import mlx.core as mx

                mx.array([1.0]).tolist()  # fails here, not mid-command, if the backend is broken
            except Exception as e:  # ImportError, OSError (missing libs), RuntimeError
                self.mlx_error = f"{type(e).__name__}: {e}"
                log.warning("MLX is not usable: %s", self.mlx_error)
        return self.mlx_error is None

    def require_mlx(self) -> None:
        if not self.load_mlx():
            raise SidecarError(
                f"MLX is not usable on this machine ({self.mlx_error}). Install it with "
                "'pip install mlx' on macOS or 'pip install \"mlx[cpu]\"' on Linux.",
                "mlx_unavailable",
            )


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


def backend_name() -> str:
    """Where MLX runs by default here: "metal", "cuda" or "cpu"."""
    import mlx.core as mx

    with contextlib.suppress(Exception):
        if mx.metal.is_available():
            return "metal"
    with contextlib.suppress(Exception):
        if mx.cuda.is_available():
            return "cuda"
    return "cpu"


def device_memory_bytes() -> int | None:
    """What MLX says the device can hold: Metal's recommended working set (the figure
    mlx_lm.server wires), a GPU's memory size, or on CPU the machine's physical memory."""
    info: dict = {}
    with contextlib.suppress(Exception):
        import mlx.core as mx

        info = dict(mx.device_info())
    for key in ("max_recommended_working_set_size", "memory_size", "total_memory"):
        if isinstance(info.get(key), int) and info[key] > 0:
            return info[key]
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return None


def set_wired_limit() -> None:
    """Keep the weights wired on Metal, as mlx_lm.server does at start (its only limit:
    it sets no cache limit). Not on CPU or CUDA, where MLX has no wired memory."""
    if backend_name() == "metal":
        from mlx_lm.utils import maybe_set_recommended_wired_limit

        maybe_set_recommended_wired_limit()


def give_memory_back() -> None:
    """After a model is dropped: MLX's buffer cache, then the C heap, back to the OS.

    glibc keeps freed heap pages otherwise. A reload briefly holds two models (the old one
    serves until the new one is ready); without malloc_trim resident memory stayed at twice
    the model after the first reload (714 MB -> 1,289 MB for SmolLM2 float32; with it, 687 MB).
    """
    if "mlx.core" in sys.modules:
        sys.modules["mlx.core"].clear_cache()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
