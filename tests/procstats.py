"""Resident memory, its peak, and open file descriptors of a process (psutil; /proc on Linux)."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import psutil

MIB = 1024 * 1024


def rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


def open_fds(pid: int) -> int:
    process = psutil.Process(pid)
    return process.num_fds() if hasattr(process, "num_fds") else process.num_handles()


class PeakRSS:
    """The highest resident memory of a process while the ``with`` block runs, in bytes.

    On Linux the kernel's own high-water mark (VmHWM, reset through clear_refs) is exact;
    elsewhere psutil is sampled every 2 ms, which can miss a short peak.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = 0
        self.peak = 0
        self._stop = threading.Event()
        self._kernel = Path(f"/proc/{pid}/status").exists()

    def __enter__(self) -> PeakRSS:
        self.before = rss(self.pid)
        if self._kernel:
            with contextlib.suppress(OSError):
                Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, rss(self.pid))
            time.sleep(0.002)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sampler.join()
        if self._kernel:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak = max(self.peak, int(line.split()[1]) * 1024)

    @property
    def growth(self) -> int:
        """Peak minus the resident size when the block began."""
        return self.peak - self.before
