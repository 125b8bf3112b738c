#!/usr/bin/env python3
"""Where the CPU time goes: one decode step and prefill, piece by piece.

    python bench/profile.py [--context 400] [--prefill 512,2048,4096] [--steps 256,512]
                            [--out bench/results/profile.json] [--llama-python PATH]

Loads the bundled SmolLM2-135M GGUF the way the sidecar does (mlx_sidecar.models.load_model,
the BLAS preload first; MLX_SIDECAR_BLAS picks the library) and measures, each a median:

  decode (one token after a --context-token prompt): the whole step; graph building in
  Python; per block the norms, q/k/v, RoPE + KV-cache write, SDPA, o_proj, gate+up,
  SwiGLU, down; the final norm + tied lm_head; greedy sampling; the tags grammar and the
  repetition penalty (the two logits processors the sidecar uses); the summary stop
  check; and stream_generate's tok/s, whose gap to the step is the Python between tokens.

  prefill at each --prefill length and each --steps prefill step: tok/s, and the time of
  the linear layers, the attention (mx.fast SDPA) and its softmax alone, on the same
  shapes, times the number of layers.

Pieces are timed one `mx.eval` at a time, so their sum exceeds the whole step by the
synchronisation cost; compare pieces with each other and the whole with the whole.

With --llama-python (a Python that has llama_cpp, e.g. bench/.venv-llama/bin/python made by
`bench/perf.py --with-llama-cpp`), llama.cpp's decode and prefill on the same GGUF and the
same token ids are measured beside them (1 and 2 threads).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "results" / "profile.json"
REPS = 7  # medians of this many; enough on a noisy 2-core machine, short enough to run often
TEXT = ROOT / "bench" / "corpus" / "06-persuasion-ch1-11.txt"


def median_ms(fn: Callable[[], Any], reps: int = REPS) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return round(statistics.median(times), 3)


def load() -> tuple[Any, Any]:
    """The sidecar's Platform (BLAS preloaded before mlx.core) and the bundled model."""
    sys.path.insert(0, str(ROOT))
    from mlx_sidecar.platform import BLAS_ENV, Platform

    platform = Platform(blas_request=os.environ.get(BLAS_ENV))
    if not platform.load_mlx():
        raise SystemExit(f"MLX is not usable: {platform.mlx_error}")
    from mlx_sidecar.models import bundled_model_path, load_model

    return platform, load_model(bundled_model_path(), "auto")


def token_ids(model: Any, n: int) -> list[int]:
    text = TEXT.read_text(encoding="utf-8") if TEXT.is_file() else "The quick brown fox. " * 4000
    ids = model.tokenizer.encode(text)
    while len(ids) < n:
        ids += ids
    return ids[:n]


def filled_cache(model: Any, ids: list[int], step: int) -> list:
    import mlx.core as mx
    from mlx_lm.models.cache import make_prompt_cache

    cache = make_prompt_cache(model.module)
    for i in range(0, len(ids), step):
        model.module(mx.array(ids[i : i + step])[None], cache=cache)
        mx.eval([c.state for c in cache])
    return cache


def trim(cache: list, n: int) -> None:
    from mlx_lm.models.cache import trim_prompt_cache

    trim_prompt_cache(cache, n)


# --------------------------------------------------------------------------------------
# Decode
# --------------------------------------------------------------------------------------


def profile_decode(loaded: Any, context: int) -> dict:
    import mlx.core as mx
    from mlx_lm import stream_generate
    from mlx_lm.models.base import create_attention_mask, scaled_dot_product_attention
    from mlx_lm.models.llama import swiglu
    from mlx_lm.sample_utils import make_logits_processors, make_sampler

    from mlx_sidecar.generation import prefill_step_size

    model, inner = loaded.module, loaded.module.model
    ids = token_ids(loaded, context)
    cache = filled_cache(loaded, ids, prefill_step_size(len(ids)))
    x = mx.array(ids[-1:])[None]

    def whole() -> None:
        mx.eval(model(x, cache=cache))
        trim(cache, 1)

    def graph_only() -> None:
        model(x, cache=cache)
        trim(cache, 1)

    whole()  # warm-up
    out: dict = {"context_tokens": context, "step_ms": median_ms(whole)}
    out["graph_build_ms"] = median_ms(graph_only)
    mx.eval(model(x, cache=cache))  # graph_only left unevaluated writes; settle them
    trim(cache, 1)

    pieces = dict.fromkeys(
        ("embed", "norms", "qkv", "rope_cache", "sdpa", "o_proj", "gate_up", "swiglu", "down"),
        0.0,
    )

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        value = fn()
        mx.eval(value)
        pieces[name] += (time.perf_counter() - t0) * 1e3
        return value

    def blocks() -> Any:
        h = timed("embed", lambda: inner.embed_tokens(x))
        mask = create_attention_mask(h, cache[0])
        for layer, c in zip(inner.layers, cache, strict=True):
            a = layer.self_attn
            n = timed("norms", lambda h=h, layer=layer: layer.input_layernorm(h))
            q, k, v = timed("qkv", lambda n=n, a=a: (a.q_proj(n), a.k_proj(n), a.v_proj(n)))
            q = q.reshape(1, 1, a.n_heads, -1).transpose(0, 2, 1, 3)
            k = k.reshape(1, 1, a.n_kv_heads, -1).transpose(0, 2, 1, 3)
            v = v.reshape(1, 1, a.n_kv_heads, -1).transpose(0, 2, 1, 3)

            def rope(q=q, k=k, v=v, a=a, c=c) -> tuple:
                off = c.offset
                kk, vv = c.update_and_fetch(a.rope(k, offset=off), v)
                return a.rope(q, offset=off), kk, vv

            q, k, v = timed("rope_cache", rope)
            o = timed(
                "sdpa",
                lambda q=q, k=k, v=v, a=a, c=c: scaled_dot_product_attention(
                    q, k, v, cache=c, scale=a.scale, mask=mask
                ),
            )
            o = o.transpose(0, 2, 1, 3).reshape(1, 1, -1)
            h = h + timed("o_proj", lambda o=o, a=a: a.o_proj(o))
            n = timed("norms", lambda h=h, layer=layer: layer.post_attention_layernorm(h))
            m = layer.mlp
            g, u = timed("gate_up", lambda n=n, m=m: (m.gate_proj(n), m.up_proj(n)))
            s = timed("swiglu", lambda g=g, u=u: swiglu(g, u))
            h = h + timed("down", lambda s=s, m=m: m.down_proj(s))
        trim(cache, 1)
        return h

    h = blocks()  # warm-up
    runs = []
    for _ in range(REPS):
        for key in pieces:
            pieces[key] = 0.0
        h = blocks()
        runs.append(dict(pieces))
    out["blocks_ms"] = {k: round(statistics.median(r[k] for r in runs), 3) for k in pieces}
    out["blocks_ms"]["sum"] = round(sum(out["blocks_ms"].values()), 3)
    out["final_norm_ms"] = median_ms(lambda: mx.eval(inner.norm(h)))
    normed = inner.norm(h)
    mx.eval(normed)
    out["lm_head_ms"] = median_ms(lambda: mx.eval(inner.embed_tokens.as_linear(normed)))
    logits = inner.embed_tokens.as_linear(normed)[:, -1, :]
    mx.eval(logits)
    sampler = make_sampler(temp=0.0)
    out["sampling_ms"] = median_ms(lambda: mx.eval(sampler(logits)))
    out["logits_processors_ms"] = processors_ms(loaded, ids, logits)
    penalty = make_logits_processors(repetition_penalty=1.15, repetition_context_size=64)[0]
    history = mx.array(ids)
    out["logits_processors_ms"]["repetition_penalty"] = median_ms(
        lambda: mx.eval(penalty(history, logits))
    )
    out["summary_stop_check_ms"] = stop_check_ms()

    prompt = mx.array(ids)
    for _ in stream_generate(model, loaded.tokenizer, prompt[:64], max_tokens=4):
        pass  # warm-up
    last = None
    for response in stream_generate(
        model,
        loaded.tokenizer,
        prompt,
        max_tokens=64,
        sampler=sampler,
        prefill_step_size=prefill_step_size(prompt.size),
    ):
        last = response
    assert last is not None
    out["stream_generate_tps"] = round(last.generation_tps, 2)
    out["stream_generate_ms_per_token"] = round(1e3 / last.generation_tps, 3)
    out["between_tokens_ms"] = round(out["stream_generate_ms_per_token"] - out["step_ms"], 3)
    return out


def processors_ms(loaded: Any, ids: list[int], logits: Any) -> dict:
    """The tags grammar per token: llguidance's mask, then applying it to the logits."""
    import mlx.core as mx

    from mlx_sidecar.commands import DEFAULT_MAX_TAGS, DEFAULT_TAG_TOKENS
    from mlx_sidecar.grammar import TagGrammar

    constrain = TagGrammar(loaded).processor(DEFAULT_MAX_TAGS, DEFAULT_TAG_TOKENS)
    if constrain is None:
        return {"tags_grammar": None}
    history = mx.array(ids)
    constrain(history, logits)  # the first call only records the prompt length
    answer = loaded.tokenizer.encode('["Anne Elliot", "Kellynch Hall", "family pride"]')
    times = []
    for token in answer[:20]:
        history = mx.concatenate([history, mx.array([token])])
        t0 = time.perf_counter()
        mx.eval(constrain(history, logits))
        times.append((time.perf_counter() - t0) * 1e3)
    return {"tags_grammar": round(statistics.median(times), 3)}


def stop_check_ms() -> float:
    """The summary's work per token, averaged over a two-sentence answer: PartialStream
    (which runs the segmenter and the repair rules when a sentence may have ended) and
    the stop check (Summary.done)."""
    from mlx_sidecar.answers.summary import PartialStream, Summary
    from mlx_sidecar.repairs import Answer

    text = (
        "Sir Walter Elliot of Kellynch Hall is a vain man who never takes up any book but "
        "the Baronetage. His daughter Anne, overlooked by her father and her elder sister, "
        "once refused Captain Wentworth on the advice of Lady Russell."
    )
    pieces = [m.group() for m in re.finditer(r"\S+\s*", text)]  # about a token each

    def one_answer() -> None:
        summary = Summary()
        stream = PartialStream(summary, Answer(document=text))
        for piece in pieces:
            stream(piece)
            summary.done()

    return median_ms(one_answer, reps=21) / len(pieces)


# --------------------------------------------------------------------------------------
# Prefill
# --------------------------------------------------------------------------------------


def profile_prefill(loaded: Any, length: int, step: int) -> dict:
    import mlx.core as mx
    from mlx_lm.models.cache import make_prompt_cache

    model = loaded.module
    ids = token_ids(loaded, length)

    def whole() -> None:
        cache = make_prompt_cache(model)
        for i in range(0, length, step):
            model(mx.array(ids[i : i + step])[None], cache=cache)
            mx.eval([c.state for c in cache])

    whole()  # warm-up
    reps = 3 if length >= 2048 else 5
    total_ms = median_ms(whole, reps)
    parts = {"linear_ms": 0.0, "sdpa_ms": 0.0, "softmax_ms": 0.0}
    layer = model.model.layers[0]
    a, m = layer.self_attn, layer.mlp
    n_layers = len(model.model.layers)
    for start in range(0, length, step):
        rows = min(step, length - start)
        x = mx.random.normal((1, rows, a.q_proj.weight.shape[1]))
        f = mx.random.normal((1, rows, m.down_proj.weight.shape[1]))
        mx.eval(x, f)
        parts["linear_ms"] += n_layers * median_ms(
            lambda x=x, f=f: mx.eval(
                a.q_proj(x),
                a.k_proj(x),
                a.v_proj(x),
                a.o_proj(x),
                m.gate_proj(x),
                m.up_proj(x),
                m.down_proj(f),
            ),
            3,
        )
        head = a.q_proj.weight.shape[0] // a.n_heads
        keys = start + rows
        q = mx.random.normal((1, a.n_heads, rows, head))
        k = mx.random.normal((1, a.n_kv_heads, keys, head))
        v = mx.random.normal((1, a.n_kv_heads, keys, head))
        scores = mx.random.normal((1, a.n_heads, rows, keys))
        mx.eval(q, k, v, scores)
        parts["sdpa_ms"] += n_layers * median_ms(
            lambda q=q, k=k, v=v: mx.eval(
                mx.fast.scaled_dot_product_attention(q, k, v, scale=a.scale, mask="causal")
            ),
            3,
        )
        parts["softmax_ms"] += n_layers * median_ms(
            lambda s=scores: mx.eval(mx.softmax(s, axis=-1, precise=True)), 3
        )
    out = {"tokens": length, "step": step, "total_ms": round(total_ms, 1)}
    out["tok_s"] = round(length / total_ms * 1e3, 1)
    out.update({k: round(v, 1) for k, v in parts.items()})
    out["share"] = {k[:-3]: round(v / total_ms, 3) for k, v in parts.items()}
    return out


# --------------------------------------------------------------------------------------
# llama.cpp beside it
# --------------------------------------------------------------------------------------

LLAMA_WORKER = r"""
import json, sys, time
import numpy as np
import llama_cpp
p = json.loads(sys.argv[1])
res = {"version": llama_cpp.__version__, "by_threads": {}}
for threads in (1, 2):
    llm = llama_cpp.Llama(model_path=p["model"], n_ctx=max(p["prefill"]) + 128, n_batch=512,
                          n_threads=threads, n_threads_batch=threads, verbose=False)
    r = {"prefill_tok_s": {}}
    for n in p["prefill"]:
        ids, best = p["ids"][:n], 0.0
        for _ in range(2):
            llm.reset(); t0 = time.perf_counter(); llm.eval(ids)
            best = max(best, n / (time.perf_counter() - t0))
        r["prefill_tok_s"][str(n)] = round(best, 1)
    llm.reset(); llm.eval(p["ids"][: p["context"]])
    times = []
    for _ in range(48):
        logits = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
        tok = int(np.argmax(np.ctypeslib.as_array(logits, shape=(llm.n_vocab(),))))
        t0 = time.perf_counter(); llm.eval([tok]); times.append(time.perf_counter() - t0)
    times.sort()
    r["decode_step_ms"] = round(times[len(times) // 2] * 1e3, 3)
    r["decode_tok_s"] = round(1 / times[len(times) // 2], 1)
    res["by_threads"][str(threads)] = r
    del llm
print(json.dumps(res))
"""


def profile_llama(python: str, loaded: Any, context: int, lengths: list) -> dict:
    ids = token_ids(loaded, max([*lengths, context]))
    params = {"model": loaded.path, "ids": ids, "context": context}
    params["prefill"] = lengths
    proc = subprocess.run(
        [python, "-c", LLAMA_WORKER, json.dumps(params)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr[-600:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------


def cpu_name() -> str:
    """The CPU's model name (Linux), else what the platform module says."""
    import platform

    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def versions() -> dict:
    """The versions of what the figures depend on (llama_cpp's is in its own entry)."""
    from mlx_sidecar.platform import package_version

    names = ("mlx", "mlx-lm", "llguidance", "numpy")
    return {name: package_version(name) for name in names if package_version(name)}


def report(r: dict) -> str:
    d = r["decode"]
    lines = [
        f"load average {r['loadavg_start']} -> {r['loadavg_end']}; BLAS {r['blas']}",
        f"decode at {d['context_tokens']} tokens: step {d['step_ms']} ms "
        f"({1e3 / d['step_ms']:.1f} tok/s), graph build {d['graph_build_ms']} ms, "
        f"stream_generate {d['stream_generate_tps']} tok/s "
        f"(between tokens {d['between_tokens_ms']} ms)",
        "  blocks (ms, summed over layers): "
        + ", ".join(f"{k} {v}" for k, v in d["blocks_ms"].items()),
        f"  final norm {d['final_norm_ms']} ms, lm_head {d['lm_head_ms']} ms, "
        f"sampling {d['sampling_ms']} ms, processors {d['logits_processors_ms']}, "
        f"summary stop check {d['summary_stop_check_ms']} ms",
    ]
    for p in r["prefill"]:
        lines.append(
            f"prefill {p['tokens']} (step {p['step']}): {p['tok_s']} tok/s, total "
            f"{p['total_ms']} ms; linear {p['linear_ms']}, sdpa {p['sdpa_ms']}, "
            f"softmax {p['softmax_ms']} ms; share {p['share']}"
        )
    lc = r.get("llama_cpp")
    if lc and "by_threads" in lc:
        for t, v in lc["by_threads"].items():
            lines.append(
                f"llama.cpp {lc['version']} {t} thr.: decode {v['decode_tok_s']} tok/s "
                f"({v['decode_step_ms']} ms), prefill {v['prefill_tok_s']}"
            )
    elif lc:
        lines.append(f"llama.cpp: {lc}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--context", type=int, default=400)
    parser.add_argument("--prefill", default="512,2048,4096")
    parser.add_argument("--steps", default="", help="prefill steps (default: the sidecar's)")
    parser.add_argument("--no-decode", action="store_true")
    parser.add_argument("--llama-python", help="a Python with llama_cpp installed")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    platform, loaded = load()
    from mlx_sidecar.generation import prefill_step_size

    lengths = [int(x) for x in args.prefill.split(",") if x]
    steps = [int(x) for x in args.steps.split(",") if x] or [prefill_step_size(max(lengths))]
    result: dict = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),  # UTC
        "versions": versions(),
        "model": loaded.name,
        "machine": {"cpu": cpu_name(), "logical_cores": os.cpu_count()},
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "blas": platform.blas,
        "weights": loaded.weights,
        "prefill_step_default": {n: prefill_step_size(n) for n in lengths},
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
    }
    if not args.no_decode:
        result["decode"] = profile_decode(loaded, args.context)
    result["prefill"] = [profile_prefill(loaded, n, s) for n in lengths for s in steps]
    if args.llama_python:
        result["llama_cpp"] = profile_llama(args.llama_python, loaded, args.context, lengths)
    result["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if "decode" in result:
        print(report(result))
    else:
        print(json.dumps(result["prefill"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
