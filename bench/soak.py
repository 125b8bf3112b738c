#!/usr/bin/env python3
"""Soak: 2,000 mixed commands on the loaded bundled model; resident memory and fds over time.

The same command mix as tests/test_faults.py's soak test (which sends 200): one in twenty a
short generate-tags or summarize, the rest check-availability, model-info, invalid JSON,
invalid UTF-8, unknown commands and invalid parameters.

    python bench/soak.py [--commands 2000] [--every 250]

Prints one line per checkpoint and a JSON summary; exits 1 if resident memory grew 10% or
more after the warm-up, or if the open file descriptors changed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package, no install
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import Sidecar  # the package's SidecarClient, every line schema-checked
from procstats import MIB, open_fds, rss
from test_faults import soak_commands


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--every", type=int, default=250, help="checkpoint interval")
    parser.add_argument("--warmup", type=int, default=40)
    args = parser.parse_args()

    s = Sidecar()
    try:
        s.ok({"command": "load-model"}, timeout=300)
        for cmd in soak_commands(args.warmup):
            s.answer(cmd)
        pid = s.proc.pid
        rss0, fds0, started = rss(pid), open_fds(pid), time.monotonic()
        print(f"after warm-up: rss {rss0 / MIB:.1f} MiB, fds {fds0}")
        peak = rss0
        for i, cmd in enumerate(soak_commands(args.commands), 1):
            s.answer(cmd)
            if i % args.every == 0 or i == args.commands:
                now = rss(pid)
                peak = max(peak, now)
                print(
                    f"{i:5d} commands  {time.monotonic() - started:6.1f} s  rss {now / MIB:7.1f} MiB"
                    f" ({100 * (now - rss0) / rss0:+.2f}%)  fds {open_fds(pid)}",
                    flush=True,
                )
        rss1, fds1 = rss(pid), open_fds(pid)
    finally:
        s.stop()
    summary = {
        "commands": args.commands,
        "seconds": round(time.monotonic() - started, 1),
        "rss_start_mib": round(rss0 / MIB, 1),
        "rss_end_mib": round(rss1 / MIB, 1),
        "rss_peak_mib": round(peak / MIB, 1),
        "rss_growth_pct": round(100 * (rss1 - rss0) / rss0, 2),
        "fds_start": fds0,
        "fds_end": fds1,
    }
    print(json.dumps(summary))
    return 0 if summary["rss_growth_pct"] < 10 and fds1 == fds0 else 1


if __name__ == "__main__":
    sys.exit(main())
