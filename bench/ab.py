#!/usr/bin/env python3
"""A/B one CPU lever against a baseline, interleaved in one run.

    python bench/ab.py --pairs 3 --a 'MLX_SIDECAR_BLAS=/path/libmkl_rt.so.3' --b ''

Each side is a set of environment variables (space-separated NAME=VALUE; '' is the
current defaults). The sides run in turn, A B A B ..., each in a fresh process that loads
the bundled GGUF like the sidecar (mlx_sidecar.models.load_model) and measures, through
mlx-lm's stream_generate with the sidecar's prefill step: decode tok/s after a
--context-token prompt, and prefill tok/s of a --prefill-token prompt.

Ratios A/B are taken pair by pair (drift on a shared machine cancels) and their median is
reported. The `*_cpu_tps` figures are tokens per CPU-second of the worker (all its threads),
which hold up on a shared machine as long as BLAS runs one thread.

Each run is printed with the load average.

Worker knobs besides the sidecar's own (MLX_SIDECAR_BLAS, ...): AB_PREFILL_STEP (overrides
mlx_sidecar.generation.prefill_step_size(prompt_tokens)).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEXT = ROOT / "bench" / "corpus" / "06-persuasion-ch1-11.txt"


def load_platform() -> Any:
    """The sidecar's Platform, with the BLAS preload done before anything imports
    mlx.core (MLX_SIDECAR_BLAS picks the library, as for the sidecar)."""
    sys.path.insert(0, str(ROOT))
    from mlx_sidecar.platform import BLAS_ENV, Platform

    platform = Platform(blas_request=os.environ.get(BLAS_ENV))
    platform.require_mlx()
    return platform


def worker(context: int, prefill: list[int], tokens: int) -> dict:
    platform = load_platform()
    import mlx.core as mx
    from mlx_lm import stream_generate
    from mlx_lm.sample_utils import make_sampler

    from mlx_sidecar.generation import prefill_step_size
    from mlx_sidecar.models import bundled_model_path, load_model

    step = int(os.environ.get("AB_PREFILL_STEP") or prefill_step_size(max(prefill)))
    model = load_model(bundled_model_path(), "auto")
    ids = model.tokenizer.encode(TEXT.read_text(encoding="utf-8"))
    while len(ids) < max([*prefill, context]):
        ids += ids

    def run(n: int, max_tokens: int) -> object:
        last = None
        for response in stream_generate(
            model.module,
            model.tokenizer,
            mx.array(ids[:n]),
            max_tokens=max_tokens,
            sampler=make_sampler(temp=0.0),
            prefill_step_size=step,
        ):
            last = response
        return last

    def cpu_s(n: int, max_tokens: int) -> tuple[float, object]:
        t0 = time.process_time()
        last = run(n, max_tokens)
        return time.process_time() - t0, last

    run(64, 4)  # warm-up
    one, _ = cpu_s(context, 1)
    many, last = cpu_s(context, tokens + 1)
    # Wall-clock tok/s, and tokens per CPU-second of this process (all its threads): the
    # latter holds up on a shared machine as long as BLAS runs one thread.
    out = {"decode_tps": last.generation_tps, "decode_cpu_tps": tokens / (many - one)}
    for n in prefill:
        spent, last = cpu_s(n, 1)
        out[f"prefill_{n}_tps"] = last.prompt_tps
        out[f"prefill_{n}_cpu_tps"] = n / spent
    out["peak_gb"] = mx.get_peak_memory() / 1e9
    out["blas"] = (platform.blas or {}).get("library")
    return out


def steps_in_process(steps: list[int], lengths: list[int], pairs: int) -> dict:
    """Prefill steps A/B in one process (one model load): CPU-seconds per prompt, ABAB."""
    platform = load_platform()
    import mlx.core as mx
    from mlx_lm.models.cache import make_prompt_cache

    from mlx_sidecar.models import bundled_model_path, load_model

    model = load_model(bundled_model_path(), "auto")
    ids = model.tokenizer.encode(TEXT.read_text(encoding="utf-8"))
    while len(ids) < max(lengths):
        ids += ids

    def prefill(n: int, step: int) -> tuple[float, float]:
        cache = make_prompt_cache(model.module)
        c0, w0 = time.process_time(), time.perf_counter()
        for i in range(0, n, step):
            model.module(mx.array(ids[i : min(n, i + step)])[None], cache=cache)
            mx.eval([c.state for c in cache])
        return n / (time.process_time() - c0), n / (time.perf_counter() - w0)

    prefill(256, 256)  # warm-up
    out: dict = {"blas": (platform.blas or {}).get("library"), "pairs": pairs}
    for n in lengths:
        runs: dict[int, list] = {s: [] for s in steps}
        for i in range(pairs):
            for step in steps if i % 2 == 0 else steps[::-1]:
                runs[step].append(prefill(n, step))
        base = runs[steps[-1]]
        out[str(n)] = {
            str(s): {
                "cpu_tps": round(statistics.median(r[0] for r in runs[s]), 1),
                "wall_tps": round(statistics.median(r[1] for r in runs[s]), 1),
                "cpu_ratio_vs_last": round(
                    statistics.median(a[0] / b[0] for a, b in zip(runs[s], base, strict=True)), 3
                ),
            }
            for s in steps
        }
        out[str(n)]["loadavg"] = round(os.getloadavg()[0], 2)
        print(json.dumps({n: out[str(n)]}), file=sys.stderr, flush=True)
    return out


def side(env_text: str, args: argparse.Namespace) -> dict:
    env = dict(os.environ)
    env.update(dict(item.split("=", 1) for item in shlex.split(env_text)))
    cmd = [sys.executable, __file__, "--worker", "--context", str(args.context)]
    cmd += ["--prefill", args.prefill, "--tokens", str(args.tokens)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
    if proc.returncode != 0:
        raise SystemExit(f"worker failed ({env_text!r}): {proc.stderr[-1500:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["loadavg"] = round(os.getloadavg()[0], 2)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--a", default="", help="environment of side A (the lever)")
    p.add_argument("--b", default="", help="environment of side B (the baseline)")
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--context", type=int, default=400)
    p.add_argument("--prefill", default="2048")
    p.add_argument("--tokens", type=int, default=48)
    p.add_argument("--worker", action="store_true")
    p.add_argument("--steps", help="instead: prefill steps to A/B in one process, e.g. 256,512")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    prefill = [int(x) for x in args.prefill.split(",") if x]
    if args.steps:
        steps = [int(x) for x in args.steps.split(",")]
        print(json.dumps(steps_in_process(steps, prefill, args.pairs), indent=1))
        return 0
    if args.worker:
        print(json.dumps(worker(args.context, prefill, args.tokens)))
        return 0
    runs: dict[str, list[dict]] = {"A": [], "B": []}
    started = time.time()
    for i in range(args.pairs):
        for name in ("A", "B") if i % 2 == 0 else ("B", "A"):
            runs[name].append(side(args.a if name == "A" else args.b, args))
            print(f"pair {i + 1} {name}: {json.dumps(runs[name][-1])}", file=sys.stderr, flush=True)
    keys = [k for k in runs["A"][0] if k.endswith("_tps")]
    summary = {
        "a": args.a,
        "b": args.b,
        "pairs": args.pairs,
        "wall_s": round(time.time() - started),
        "date": time.strftime("%Y-%m-%d", time.gmtime(started)),  # UTC
    }
    summary["loadavg"] = [r["loadavg"] for r in runs["A"] + runs["B"]]
    for k in keys:
        ratios = [a[k] / b[k] for a, b in zip(runs["A"], runs["B"], strict=True)]
        summary[k] = {
            "A": round(statistics.median(r[k] for r in runs["A"]), 2),
            "B": round(statistics.median(r[k] for r in runs["B"]), 2),
            "ratio": round(statistics.median(ratios), 3),
            "ratios": [round(x, 3) for x in ratios],
        }
    summary["peak_gb"] = {n: round(max(r["peak_gb"] for r in runs[n]), 3) for n in runs}
    print(json.dumps(summary, indent=1))
    if args.out:
        with args.out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
