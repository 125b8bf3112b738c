#!/usr/bin/env python3
"""Speed against what a user would run instead: mlx-lm's own `stream_generate` on the same
loaded model, and llama.cpp on the same GGUF.

The model is the bundled SmolLM2-135M-Instruct GGUF; llama.cpp gets the same file and the
same prompt token ids, and both decode greedily. The in-process comparisons alternate
their runs and report medians; llama.cpp's figure is its best of one thread and one per
core.

In process: the sidecar's Generator against `mlx_lm.stream_generate` on one loaded model
and a ~1,500-token prompt, each pass cold (no prompt cache): prefill and decode tokens per
second, whose ratio should stay at 0.97 or more. Beside llama.cpp, the Generator reads the
first 400 and 2,000 tokens of the chunk's prompt and the whole of it.

Through the sidecar: `summarize`'s own `generation_tps` (what the app sees); `summarize`
after `generate-tags` on the same document, whose prefill the prompt cache should cut to
a small fraction of a cold one; and `generate-tags` then `summarize` on a 15,000-character
chunk (what the app sends per chunk), beside llama.cpp's time for the same prefill and
decode at its measured rates.

llama.cpp runs in the Python of bench/.venv-llama (or this one, if it has llama_cpp), made
with (5-10 minutes on 2 cores; without the AMX flags, which -march=native turns on,
llama_decode segfaulted on Xeons):

    python -m venv bench/.venv-llama
    NO_AMX='-mno-amx-tile -mno-amx-int8 -mno-amx-bf16'
    CMAKE_ARGS="-DGGML_NATIVE=ON -DCMAKE_C_FLAGS='$NO_AMX' -DCMAKE_CXX_FLAGS='$NO_AMX'" \\
        bench/.venv-llama/bin/pip install llama-cpp-python==0.3.36
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import common
from common import TIMEOUT_S, corpus_text, excerpt, sidecar, timed, write

DOC = "05-pride-and-prejudice-ch1-5.txt"
DOC_CHARS = 6_500  # ~1,500 SmolLM2 tokens of English prose (~4.3 characters per token)
CHUNK = "06-persuasion-ch1-11.txt"
CHUNK_CHARS = 15_000  # what the app sends per chunk
LENGTHS = (400, 2000)  # prompt lengths compared with llama.cpp, beside the chunk's own
TASK = "Summarize this document in three sentences."
KEYS = ("prompt_tps", "generation_tps")
LLAMA_PYTHONS = (sys.executable, str(common.BENCH / ".venv-llama" / "bin" / "python"))


def through_sidecar(doc: str, chunk: str, max_tokens: int) -> tuple[dict, dict]:
    """The run's record, and the speeds the sidecar's own answers report."""

    with sidecar() as (client, run):
        summarize = {"command": "summarize", "content": doc, "max_tokens": max_tokens}
        cold = client.call(summarize, TIMEOUT_S)
        client.call({"command": "load-model"}, TIMEOUT_S)  # a new model: an empty prompt cache
        client.call({"command": "generate-tags", "content": doc}, TIMEOUT_S)
        warm = client.call(summarize, TIMEOUT_S)
        tags, tags_s = timed(client, {"command": "generate-tags", "content": chunk})
        summary, summary_s = timed(client, {"command": "summarize", "content": chunk})
    cache = {k: warm[k] for k in ("prompt_tokens", "cached_tokens")}
    prefill_s = [(x["prompt_tokens"] - x["cached_tokens"]) / x["prompt_tps"] for x in (cold, warm)]
    cache |= {"cold_prefill_s": round(prefill_s[0], 3), "warm_prefill_s": round(prefill_s[1], 3),
              "ratio": round(prefill_s[1] / prefill_s[0], 3)}  # fmt: skip
    chunk_15k = {"chars": len(chunk), "prompt_tokens": tags["prompt_tokens"],
                 "tags_s": round(tags_s, 1), "summary_s": round(summary_s, 1),
                 "total_s": round(tags_s + summary_s, 1)}  # fmt: skip
    for key in ("prompt_tokens", "cached_tokens", "generation_tokens"):
        chunk_15k[f"summary_{key}"] = summary[key]
    chunk_15k["tags_generation_tokens"] = tags["generation_tokens"]
    return run, {"summarize": cold, "prompt_cache": cache, "chunk_15k": chunk_15k}  # fmt: skip


def in_process(doc: str, chunk: str, max_tokens: int, reps: int, lengths: bool) -> tuple:
    """The Generator against stream_generate; with ``lengths``, the Generator at LENGTHS and
    the chunk's prompt length; the chunk's prompt ids and the GGUF's path, for llama.cpp."""
    model = common.bundled_model()
    import mlx.core as mx
    from mlx_lm import stream_generate
    from mlx_lm.sample_utils import make_sampler

    from mlx_sidecar.context import detached_context
    from mlx_sidecar.generation import Generator, prefill_step_size
    from mlx_sidecar.models import bundled_model_path
    from mlx_sidecar.prompts import encode_prompt

    def raw(ids: list[int]) -> tuple[float, float]:
        kw = {"sampler": make_sampler(temp=0.0), "prefill_step_size": prefill_step_size(len(ids))}
        *_, last = stream_generate(model.module, model.tokenizer, mx.array(ids), max_tokens, **kw)
        return last.prompt_tps, last.generation_tps

    def generator(ids: list[int]) -> tuple[float, float]:  # a new Generator: cold, like raw
        g = Generator(model).generate(ids, detached_context(), max_tokens=max_tokens,
                                      temperature=0.0)  # fmt: skip
        return g.prompt_tps, g.generation_tps

    prompt = encode_prompt(model.tokenizer, doc, TASK)
    raw(prompt[:64])  # warm-up: first-call allocations and kernel setup
    runs: dict[str, list] = {"raw": [], "sidecar": []}
    for i in range(reps):
        for name in ("raw", "sidecar") if i % 2 == 0 else ("sidecar", "raw"):  # cancel drift
            runs[name].append((raw if name == "raw" else generator)(prompt))
    generation: dict = {"prompt_tokens": len(prompt), "decode_tokens": max_tokens}
    for i, key in enumerate(KEYS):
        each = {w: [round(r[i], 2) for r in runs[w]] for w in ("sidecar", "raw")}
        at_median = {w: statistics.median(r[i] for r in runs[w]) for w in each}
        generation[key] = {w: round(x, 2) for w, x in at_median.items()} | {
            "ratio": round(at_median["sidecar"] / at_median["raw"], 3),
            **{f"{w}_all": x for w, x in each.items()}}  # fmt: skip
    generation.update(weights=model.weights, peak_memory_gb=round(mx.get_peak_memory() / 1e9, 3))
    ids, at = encode_prompt(model.tokenizer, chunk, TASK), {}
    for n in (*LENGTHS, len(ids)) if lengths else ():
        passes = [generator(ids[:n]) for _ in range(max(1, reps - 1))]
        medians = [round(statistics.median(p[i] for p in passes), 2) for i in range(2)]
        at[str(n)] = dict(zip(KEYS, medians, strict=True))
    return generation, at, ids, str(bundled_model_path())


def llama_cpp(python: str | None, gguf: str, ids: list[int], max_tokens: int) -> dict:
    """llama.cpp at each length (a worker in ``python``), and its best per length."""
    if python is None:
        return {"installed": False, "reason": "no llama_cpp; bench/perf.py says how to build it"}
    lengths = [*LENGTHS, len(ids)]
    params = {"model_path": gguf, "ids": ids, "lengths": lengths, "max_tokens": max_tokens}
    worker = [python, __file__, "--llama-worker"]
    done = subprocess.run(worker, input=json.dumps(params), capture_output=True, text=True)
    if done.returncode != 0:
        return {"installed": False, "reason": f"failed: {done.stderr[-300:]}"}
    out = json.loads(done.stdout.splitlines()[-1])
    threads = out["by_threads"].values()
    out["best_at"] = {str(n): {k: round(max(t["at"][str(n)][k] for t in threads), 2) for k in KEYS}
                      for n in lengths}  # fmt: skip
    return out


def llama_worker(params: dict) -> dict:
    """In the llama.cpp Python: prefill of each length of the ids, then greedy decode, best
    of two, at one thread and at one per core (its default spins at barriers; on a busy
    2-core machine one thread can win)."""
    import llama_cpp
    import numpy as np

    ids, max_tokens = params["ids"], params["max_tokens"]
    out: dict = {"installed": True, "version": llama_cpp.__version__, "by_threads": {}}
    for threads in sorted({1, os.cpu_count() or 1}):
        llm = llama_cpp.Llama(model_path=params["model_path"], n_ctx=len(ids) + max_tokens + 64,
                              n_batch=512, n_threads=threads, n_threads_batch=threads,
                              verbose=False)  # fmt: skip
        at = {}
        for n in params["lengths"]:
            prefill, decode = [], []
            for _ in range(2):
                llm.reset()
                started = time.perf_counter()
                llm.eval(ids[:n])
                prefill.append(n / (time.perf_counter() - started))
                started = time.perf_counter()
                for _ in range(max_tokens):
                    logits = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
                    row = np.ctypeslib.as_array(logits, shape=(llm.n_vocab(),))
                    llm.eval([int(np.argmax(row))])
                decode.append(max_tokens / (time.perf_counter() - started))
            at[str(n)] = {"prompt_tps": max(prefill), "generation_tps": max(decode)}
        out["by_threads"][str(threads)] = {"at": at}
        del llm
    return out


def main() -> None:
    if sys.argv[1:] == ["--llama-worker"]:  # run by llama_cpp() in llama.cpp's Python
        return print(json.dumps(llama_worker(json.load(sys.stdin))))
    quick = {"action": "store_true", "help": "fewer runs, shorter decodes"}
    args = common.arguments(__doc__, "perf.json", ("--quick", quick))
    max_tokens, reps = (32, 1) if args.quick else (64, 3)
    doc, chunk = excerpt(corpus_text(DOC), DOC_CHARS), excerpt(corpus_text(CHUNK), CHUNK_CHARS)
    started = time.perf_counter()
    run, through = through_sidecar(doc, chunk, max_tokens)
    check = [[p, "-c", "import llama_cpp"] for p in LLAMA_PYTHONS if Path(p).exists()]
    python = next((c[0] for c in check
                   if not subprocess.run(c, capture_output=True).returncode), None)  # fmt: skip
    generation, at, ids, gguf = in_process(doc, chunk, max_tokens, reps, python is not None)
    tps = through.pop("summarize")["generation_tps"]
    ratio = round(tps / generation["generation_tps"]["raw"], 3)
    generation["subprocess_summarize"] = {"generation_tps": tps, "ratio_vs_raw": ratio}
    inputs = {"document": (DOC, doc), "chunk": (CHUNK, chunk)}
    inputs = {k: {"source": f"bench/corpus/{f}", "chars": len(t)} for k, (f, t) in inputs.items()}
    write(args.out, run, quick=args.quick, inputs=inputs, generation=generation, **through,
          llama_cpp={**llama_cpp(python, gguf, ids, max_tokens), "sidecar_at": at},
          total_s=round(time.perf_counter() - started, 1))  # fmt: skip


if __name__ == "__main__":
    main()
