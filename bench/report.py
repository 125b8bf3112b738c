#!/usr/bin/env python3
"""Write bench/RESULTS.md from the latest result files in bench/results/.

    python bench/report.py [--check] [--results DIR] [--out FILE]

One section per result file, each drawn by one render function: what the run recorded
(machine, date, versions), the method in the benchmark script's own words (from its
docstring), and the tables. Only figures the files hold appear, and what is computed from
them (ratios; llama.cpp's time for the chunk at its measured rates); a section whose file
is missing is left out. --check writes nothing and exits 1 when
RESULTS.md differs from what the files render, so CI can check that it is current.

A new benchmark adds its section with one function (planned: faithfulness.json for
summaries, vocabulary.json for a tags-vocabulary relevance run, batch.json for batch
throughput), placed where its section should appear:

    @section("faithfulness.json", "Faithfulness of summaries", "faithfulness.py")
    def faithfulness_section(run: dict) -> list[str]:
        return [recorded(run.get("date"), ...), method("faithfulness.py", "For each"),
                table(("text", "faithful"), [...], "lr")]

It returns the section's blocks (paragraphs, tables, "### " headings), in order.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the scripts' own table code

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
OUT = BENCH / "RESULTS.md"

HEADER = """\
# Benchmark results

Written by `bench/report.py` from the latest result files in `bench/results/`; do not edit
it by hand. After a benchmark run, `python bench/report.py` writes it again, and
`python bench/report.py --check` fails while it is out of date. Each section names its
result file and the script that wrote it."""


# --------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    file: str  # in bench/results/: .json, or .jsonl (one record a line)
    title: str
    script: str  # in bench/: the benchmark that writes the file
    render: Callable[[Any], list[str]]


SECTIONS: list[Section] = []


def section(file: str, title: str, script: str) -> Callable:
    """Register a render function for one result file; sections appear in this order."""

    def register(render: Callable[[Any], list[str]]) -> Callable[[Any], list[str]]:
        SECTIONS.append(Section(file, title, script, render))
        return render

    return register


def load(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


def render_all(results: Path = RESULTS) -> str:
    """RESULTS.md as the files in ``results`` render it."""
    present = [s for s in SECTIONS if (results / s.file).is_file()]
    contents = [
        f"- [{s.title}](#{anchor(s.title)}): `bench/results/{s.file}`, by `bench/{s.script}`"
        for s in present
    ]
    parts = [HEADER, "\n".join(contents)]
    for s in present:
        blocks = [b for b in s.render(load(results / s.file)) if b]
        parts.append("\n\n".join([f"## {s.title}", *blocks]))
    return "\n\n".join(parts) + "\n"


def anchor(title: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


# --------------------------------------------------------------------------------------
# Blocks
# --------------------------------------------------------------------------------------


def method(script: str, *openings: str, function: str | None = None) -> str:
    """The paragraphs of a benchmark script's docstring (or one of its functions') that
    begin with ``openings``, as one paragraph: the method in the script's own words."""
    tree = ast.parse((BENCH / script).read_text(encoding="utf-8"))
    node: Any = tree
    if function is not None:
        node = next(n for n in ast.walk(tree) if getattr(n, "name", None) == function)
    doc = ast.get_docstring(node) or ""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", doc)]
    chosen = []
    for opening in openings:
        found = [p for p in paragraphs if p.startswith(opening)]
        if not found:
            raise SystemExit(f"bench/{script}'s docstring has no paragraph starting {opening!r}")
        chosen.append(found[0])
    return "*Method* (`bench/" + script + "`): " + " ".join(chosen)


def recorded(
    date: str | None,
    machine: str | None,
    versions: dict | None,
    *more: str | None,
) -> str:
    """What the run recorded about itself; says so where it recorded nothing."""
    parts = [
        f"date {date}" if date else "no date",
        machine or "no machine",
        ", ".join(f"{k} {v}" for k, v in versions.items()) if versions else "no versions",
        *[m for m in more if m],
    ]
    return "*Recorded with the run:* " + "; ".join(parts) + "."


def table(head: tuple[str, ...], rows: list[list[str]], align: str) -> str:
    """A Markdown table; ``align`` has one letter a column, l or r."""
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    lines = ["| " + " | ".join(cells) + " |" for cells in (head, *rows)]
    return "\n".join([lines[0], rule, *lines[1:]])


def f1(x: float) -> str:
    return f"{x:,.1f}"


def f2(x: float) -> str:
    return f"{x:,.2f}"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x"


def blas_name(blas: dict | None) -> str:
    """A BLAS as the runs record it ({"library": path, "source": how}), by file name."""
    if not blas:
        return "none (MLX's reference BLAS)"
    return f"{Path(blas['library']).name} ({blas.get('source', '?')})"


# --------------------------------------------------------------------------------------
# Quality: bench/quality.py
# --------------------------------------------------------------------------------------


@section("quality.json", "Quality", "quality.py")
def quality_section(rows: list[dict]) -> list[str]:
    import quality  # its table is the one `bench/quality.py --table` prints

    manifest = json.loads((quality.CORPUS / "MANIFEST.json").read_text(encoding="utf-8"))
    by_file = {e["file"]: e for e in manifest}
    left_out = sorted(set(by_file) - {r["file"] for r in rows})
    rows = [quality.completed_row(r, by_file[r["file"]]) for r in rows]
    return [
        recorded(None, None, None, "the file holds only the rows, one per text"),
        method("quality.py", "Tags and summaries over", "For each text:"),
        quality.table(rows),
        "Each text's tags and summary are in `bench/results/quality.json`."
        + (
            f" Corpus texts not in this run ({len(left_out)}): "
            + ", ".join(f"`{f}`" for f in left_out)
            + "."
            if left_out
            else ""
        ),
    ]


# --------------------------------------------------------------------------------------
# Performance: bench/perf.py
# --------------------------------------------------------------------------------------


@section("perf.json", "Performance", "perf.py")
def perf_section(run: dict) -> list[str]:
    m = run["machine"]
    lc = run.get("llama_cpp", {})
    versions = dict(m.get("versions", {}))
    if lc.get("installed"):
        versions["llama-cpp-python"] = lc["version"]
    machine = (
        f"{m['cpu']}, {m['logical_cores']} cores, {m['ram_gb']} GB RAM, {m['os']}; "
        f"Python {m['python']}; backend {m.get('backend')}; BLAS {blas_name(m.get('blas'))}"
    )
    mode = "a quick run (--quick)" if m.get("mode") == "quick" else "a full run"
    blocks = [
        recorded(m.get("date"), machine, versions, f"{mode} of {f1(run['total_s'])} s"),
        method("perf.py", "The model is the bundled"),
        inputs_line(run.get("inputs", {})),
    ]
    blocks += llama_blocks(run)
    blocks += baseline_blocks(run)
    blocks += memory_blocks(run)
    blocks += layout_blocks(run.get("layouts", {}))
    others = [
        f"{k.replace('_', ' ')} {v['other_cpu_pct']}%"
        for k, v in run.items()
        if isinstance(v, dict) and "other_cpu_pct" in v
    ]
    if others:
        blocks.append(
            "CPU time other processes took during each section: " + ", ".join(others) + "."
        )
    for name, error in run.get("failures", {}).items():
        blocks.append(f"**Section {name} failed:** {error}")
    return blocks


def inputs_line(inputs: dict) -> str:
    said = [
        f"the {label} is {v['chars']:,} characters of {v['source']}"
        for label, v in (("document", inputs.get("doc")), ("chunk", inputs.get("chunk")))
        if v
    ]
    return ("Inputs: " + "; ".join(said) + ".") if said else ""


def llama_blocks(run: dict) -> list[str]:
    lc = run.get("llama_cpp")
    if lc is None:  # the run left out its section (--only)
        return []
    if not lc.get("installed"):
        return ["### Against llama.cpp", f"Not measured in this run ({lc.get('reason')})."]
    by_threads = lc["by_threads"]
    winners = {
        max(by_threads, key=lambda t, n=n, k=k: by_threads[t]["at"][n][k])
        for n in lc["best_at"]
        for k in ("prompt_tps", "generation_tps")
    }
    best = f"which was {next(iter(winners))} at every size" if len(winners) == 1 else "per size"
    rows = []
    for n, theirs in lc["best_at"].items():
        mine = lc["sidecar_at"][n]
        rows.append(
            [
                f"{int(n):,} tokens",
                f"{f1(mine['prompt_tps'])} / {f1(theirs['prompt_tps'])} "
                f"({ratio(mine['prompt_tps'], theirs['prompt_tps'])})",
                f"{f1(mine['generation_tps'])} / {f1(theirs['generation_tps'])} "
                f"({ratio(mine['generation_tps'], theirs['generation_tps'])})",
            ]
        )
    blocks = [
        "### Against llama.cpp",
        f"llama.cpp {lc['version']} (llama-cpp-python), its best of "
        f"{' and '.join(by_threads)} threads, {best}; the same GGUF and token ids.",
        table(
            ("prompt", "prefill tok/s, sidecar / llama.cpp", "decode tok/s, sidecar / llama.cpp"),
            rows,
            "lll",
        ),
    ]
    ch = run.get("chunk_15k")
    if ch:
        from perf import llama_chunk_s  # perf.py's own estimate, as its table prints it

        estimate = llama_chunk_s(ch, lc)
        if estimate:
            n = max(lc["best_at"], key=int)
            blocks.append(
                f"The {ch['chars']:,}-character chunk ({ch['prompt_tokens']:,} tokens, tags "
                f"then summary) took the sidecar {f1(ch['total_s'])} s; the same prefill and "
                f"decode at llama.cpp's rates at {int(n):,} tokens take ~{f1(estimate)} s "
                f"({ratio(ch['total_s'], estimate)})."
            )
    return blocks


def baseline_blocks(run: dict) -> list[str]:
    rows = []
    g = run.get("generation")
    if g:
        d, p = g["generation_tps"], g["prompt_tps"]

        def runs(values: list) -> str:
            return " / ".join(f2(v) for v in values)

        rows += [
            [
                f"decode tok/s in process, {g['prompt_tokens']:,}-token prompt, "
                f"{g['decode_tokens']} new tokens, {g['weights']} weights (runs)",
                f"{f2(d['sidecar'])} ({runs(d['sidecar_all'])})",
                f"`mlx_lm.stream_generate` {f2(d['raw'])} ({runs(d['raw_all'])})",
                f"{d['ratio']:.3f}",
            ],
            [
                "prefill tok/s in process, the same prompt (runs)",
                f"{f1(p['sidecar'])} ({runs(p['sidecar_all'])})",
                f"{f1(p['raw'])} ({runs(p['raw_all'])})",
                f"{p['ratio']:.3f}",
            ],
        ]
        sub = g.get("subprocess_summarize")
        if sub:
            rows.append(
                [
                    "decode tok/s the app sees (`summarize`'s `generation_tps`)",
                    f2(sub["generation_tps"]),
                    f"{f2(d['raw'])}",
                    f"{sub['ratio_vs_raw']:.3f}",
                ]
            )
    c = run.get("prompt_cache")
    if c:
        rows.append(
            [
                "`summarize`'s prefill after `generate-tags` on the same text "
                f"({c['cached_tokens']:,} of {c['prompt_tokens']:,} tokens cached)",
                f"{c['warm_prefill_s']} s",
                f"cold {c['cold_prefill_s']} s",
                f"{c['ratio']:.3f}",
            ]
        )
    sp = run.get("spawn")
    if sp:
        rows.append(
            [
                f"spawn to the `check-availability` answer (median of {sp['runs']})",
                f"{f1(sp['check_availability_ms'])} ms",
                f"`python -c pass` {f1(sp['python_pass_ms'])} ms",
                "",
            ]
        )
    ld = run.get("load")
    if ld:
        ml = ld["mlx_lm_load"]["total_s"]
        for key, what in (
            ("gguf", "bundled GGUF"),
            ("mlx_folder", "the same model as an MLX folder"),
        ):
            x = ld[key]
            rows.append(
                [
                    f"`load-model`, {what}, fresh sidecar (again in the same process)",
                    f"{x['first_wall_s']} s ({x['again_wall_s']} s), {x['weights']}",
                    f"`mlx_lm.load` of the MLX folder, fresh process, import included: {ml} s",
                    f"{x['first_wall_s'] / ml:.2f}",
                ]
            )
    ch = run.get("chunk_15k")
    if ch:
        rows.append(
            [
                f"the {ch['chars']:,}-character chunk ({ch['prompt_tokens']:,} tokens): "
                "`generate-tags`, then `summarize` (prompt cache warm)",
                f"{ch['tags_s']} s + {ch['summary_s']} s = {ch['total_s']} s",
                "",
                "",
            ]
        )
    cy = run.get("load_cycles")
    if cy:
        rows.append(
            [
                f"resident memory after {cy['cycles']} load cycles vs after the first",
                f"{f1(cy['rss_mb'][-1])} MB",
                f"{f1(cy['rss_mb'][0])} MB",
                f"{cy['ratio']:.2f}",
            ]
        )
    if not rows:
        return []
    return [
        "### Against its own baselines",
        table(("measure", "sidecar", "baseline", "ratio"), rows, "lllr"),
    ]


def memory_blocks(run: dict) -> list[str]:
    peaks = run.get("peak_rss_mb", {})
    if not peaks:
        return []
    rows = [[f"`{command}`", f"{f1(mb)} MB"] for command, mb in peaks.items()]
    g = run.get("generation", {})
    blocks = [
        "### Memory",
        "Peak resident memory of the sidecar process during each command, in order "
        "(one `load-model` again: the old model serves until the new one is ready).",
        table(("command", "peak RSS"), rows, "lr"),
    ]
    if "peak_memory_gb" in g:
        blocks.append(
            f"MLX's peak memory in the in-process generation run: {g['peak_memory_gb']} GB."
        )
    return blocks


def layout_blocks(layouts: dict) -> list[str]:
    rows = []
    for name, lay in layouts.items():
        if not isinstance(lay, dict) or name in ("wall_s", "other_cpu_pct"):
            continue
        if "prompt_tps" not in lay:
            rows.append([name, "", "", lay.get("skipped") or lay.get("failed", "?"), "", ""])
            continue
        prefill = ", ".join(f"{f1(v)} ({int(n):,})" for n, v in lay["prompt_tps"].items())
        rows.append(
            [
                name,
                lay["weights"],
                blas_name(lay.get("blas")),
                prefill,
                f1(lay["generation_tps"]),
                f"{lay['peak_memory_gb']:.2f} GB",
            ]
        )
    if not rows:
        return []
    return [
        "### The CPU fast path: weight layouts and BLAS",
        "One fresh process per layout, the same model and prompt.",
        table(
            (
                "layout",
                "weights in memory",
                "BLAS",
                "prefill tok/s (prompt tokens)",
                "decode tok/s",
                "peak memory",
            ),
            rows,
            "lllllr",
        ),
    ]


# --------------------------------------------------------------------------------------
# Where the CPU time goes: bench/profile.py
# --------------------------------------------------------------------------------------


BLOCK_PIECES = {
    "embed": "token embedding",
    "norms": "RMS norms",
    "qkv": "q, k, v projections",
    "rope_cache": "RoPE and KV-cache write",
    "sdpa": "attention (SDPA)",
    "o_proj": "o projection",
    "gate_up": "gate and up projections",
    "swiglu": "SwiGLU",
    "down": "down projection",
    "sum": "**sum of the block pieces**",
}


@section("profile.json", "Where the CPU time goes", "profile.py")
def profile_section(run: dict) -> list[str]:
    more = [
        f"model {run['model']}" if run.get("model") else None,
        f"{run.get('weights')} weights",
        f"BLAS {blas_name(run.get('blas'))}",
    ]
    openings = ["Where the CPU time goes", "Pieces are timed"]
    if "llama_cpp" in run:
        openings.append("With --llama-python")
    m = run.get("machine")
    machine = f"{m['cpu']}, {m['logical_cores']} cores" if m else None
    blocks = [
        recorded(run.get("date"), machine, run.get("versions"), *more),
        method("profile.py", *openings),
    ]
    d = run.get("decode")
    if d:
        rows = [
            ["the whole step", f"{d['step_ms']} ({1e3 / d['step_ms']:.1f} tok/s)"],
            ["building the graph in Python", str(d["graph_build_ms"])],
        ]
        rows += [[f"blocks: {BLOCK_PIECES.get(k, k)}", str(v)] for k, v in d["blocks_ms"].items()]
        rows += [
            ["final norm", str(d["final_norm_ms"])],
            ["tied lm_head", str(d["lm_head_ms"])],
            ["greedy sampling", str(d["sampling_ms"])],
        ]
        rows += [
            [f"logits processor: {k.replace('_', ' ')}", str(v)]
            for k, v in d["logits_processors_ms"].items()
            if v is not None
        ]
        rows += [
            [
                "the summary's stop check and sentence feed, per token",
                str(d["summary_stop_check_ms"]),
            ],
            [
                f"`stream_generate`: {d['stream_generate_tps']} tok/s, per token",
                str(d["stream_generate_ms_per_token"]),
            ],
            ["between tokens (its per-token time less the step)", str(d["between_tokens_ms"])],
        ]
        blocks += [
            f"### Decode: one token after a {d['context_tokens']:,}-token prompt",
            "Block pieces are summed over the model's layers.",
            table(("piece", "ms"), rows, "lr"),
        ]
    prefill = run.get("prefill", [])
    if prefill:
        rows = [
            [
                f"{p['tokens']:,}",
                str(p["step"]),
                f1(p["tok_s"]),
                f1(p["total_ms"]),
                f"{f1(p['linear_ms'])} ({p['share']['linear']:.0%})",
                f"{f1(p['sdpa_ms'])} ({p['share']['sdpa']:.0%})",
                f"{f1(p['softmax_ms'])} ({p['share']['softmax']:.0%})",
            ]
            for p in prefill
        ]
        blocks += [
            "### Prefill",
            table(
                (
                    "prompt tokens",
                    "step",
                    "tok/s",
                    "total ms",
                    "linear layers ms (share)",
                    "attention ms (share)",
                    "its softmax alone ms (share)",
                ),
                rows,
                "rrrrrrr",
            ),
        ]
        steps = run.get("prefill_step_default")
        if steps:
            said = ", ".join(f"{s} at {int(n):,} tokens" for n, s in steps.items())
            blocks.append(f"The sidecar's own prefill step: {said}.")
    lc = run.get("llama_cpp")
    if lc and "by_threads" in lc:
        lengths = list(next(iter(lc["by_threads"].values()))["prefill_tok_s"])
        rows = [
            [
                t,
                f"{v['decode_tok_s']} ({v['decode_step_ms']} ms)",
                *[f1(v["prefill_tok_s"][n]) for n in lengths],
            ]
            for t, v in lc["by_threads"].items()
        ]
        blocks += [
            f"### llama.cpp beside it ({lc['version']})",
            table(
                (
                    "threads",
                    "decode tok/s (step)",
                    *[f"prefill tok/s, {int(n):,} tokens" for n in lengths],
                ),
                rows,
                "r" * (2 + len(lengths)),
            ),
        ]
    elif lc:
        blocks.append(f"llama.cpp beside it: {lc.get('error', lc)}")
    return blocks


# --------------------------------------------------------------------------------------
# CPU levers, A/B: bench/ab.py
# --------------------------------------------------------------------------------------


def note(text: str) -> str:
    """A run's note, bold, without the load average it quotes (RESULTS.md gives none)."""
    text = re.sub(r",? load average [\d.]+(?:-[\d.]+)?", "", text)
    return "**" + text.replace("*", "\\*") + "**"


LIBRARY_FOLDER = re.compile(r"/[^\s=]*/")


def side(env: str) -> str:
    """A side's environment, its library paths shortened to file names."""
    return "`" + LIBRARY_FOLDER.sub("", env) + "`" if env else "the defaults"


def figure_name(key: str) -> str:
    """decode_tps, decode_cpu_tps, prefill_512_tps, prefill_512_cpu_tps: in words."""
    what, _, rest = key.partition("_")
    length = re.match(r"(\d+)_", rest)
    name = f"{what}, {int(length.group(1)):,}-token prompt" if length else what
    unit = "tokens per CPU-second" if rest.endswith("cpu_tps") else "tok/s (wall)"
    return f"{name}, {unit}"


@section("ab-levers.jsonl", "CPU levers, A/B", "ab.py")
def ab_section(records: list[dict]) -> list[str]:
    blocks = [method("ab.py", "A/B one CPU lever", "Ratios A/B are taken")]
    levers = [r for r in records if "result" not in r]
    steps = [r for r in records if "result" in r]
    if levers:
        blocks.append("### Levers")
    for r in levers:
        head = note(r.get("what", "A/B"))
        head += f" ({r['date']})" if r.get("date") else ""
        head += f". A: {side(r['a'])}; B: {side(r['b'])}; {r['pairs']} pairs, {r['wall_s']} s."
        rows = [
            [
                figure_name(k),
                f2(v["A"]),
                f2(v["B"]),
                f"{v['ratio']:.3f}",
                ", ".join(f"{x:.3f}" for x in v["ratios"]),
            ]
            for k, v in r.items()
            if k.endswith("_tps")
        ]
        if "peak_gb" in r:
            rows.append(["peak memory, GB", str(r["peak_gb"]["A"]), str(r["peak_gb"]["B"]), "", ""])
        blocks += [
            head,
            table(("figure", "A", "B", "A/B (median)", "A/B per pair"), rows, "lrrrr"),
        ]
    if steps:
        blocks += [
            "### Prefill steps",
            method("ab.py", "Prefill steps A/B", function="steps_in_process"),
        ]
    for r in steps:
        head = note(r.get("what", "prefill steps"))
        head += f" ({r['date']})." if r.get("date") else "."
        rows = [
            [
                f"{int(n):,}",
                step,
                f1(v["cpu_tps"]),
                f1(v["wall_tps"]),
                f"{v['cpu_ratio_vs_last']:.3f}",
            ]
            for n, by_step in r["result"].items()
            for step, v in by_step.items()
            if isinstance(v, dict)
        ]
        blocks += [
            head,
            table(
                (
                    "prompt tokens",
                    "step",
                    "tokens per CPU-second",
                    "tok/s (wall)",
                    "CPU ratio vs the last step",
                ),
                rows,
                "rrrrr",
            ),
        ]
    return blocks


# --------------------------------------------------------------------------------------
# The user's own tags: bench/vocabulary.py
# --------------------------------------------------------------------------------------


@section("vocabulary.json", "Known tags", "vocabulary.py")
def vocabulary_section(run: dict) -> list[str]:
    relevance = [
        [
            str(setting),
            f"{r['texts_with_subject_tag']} of {r['texts']} ({r['texts_with_subject_tag'] / r['texts']:.0%})",
            f"{r['unrelated_tags_chosen']} of {r['tags_chosen']}"
            + (
                f" ({r['unrelated_tags_chosen'] / r['tags_chosen']:.0%})"
                if r["tags_chosen"]
                else ""
            ),
            str(r["texts_with_no_tag"]),
        ]
        for setting, r in run["relevance"].items()
    ]
    speed = [
        [
            r["file"],
            f"{r['known_tags']:,}",
            f2(r["no_list"]),
            f2(r["list_first"]),
            f2(r["list_again"]),
            ratio(r["list_first"], r["no_list"]),
        ]
        for r in run["speed"]
    ]
    grammar = [
        [
            f"{r['known_tags']:,}",
            f2(r["build_ms"]),
            f"{r['mask_ms_median']:.3f}",
            f"{r['mask_ms_max']:.3f}",
        ]
        for r in run["grammar"]
    ]
    return [
        recorded(
            run.get("date"), run.get("machine"), run.get("versions"), f"{run['seconds']:,.0f} s"
        ),
        method("vocabulary.py", "Relevance:"),
        table(
            (
                "max_new_tags",
                "texts with a subject tag",
                "unrelated tags chosen",
                "texts with no tag",
            ),
            relevance,
            "lrrr",
        ),
        method("vocabulary.py", "Speed:"),
        table(
            ("text", "known tags", "no list, s", "with the list, s", "again, s", "first / no list"),
            speed,
            "lrrrrr",
        ),
        method("vocabulary.py", "Grammar:"),
        table(("known tags", "build, ms", "mask, ms (median)", "mask, ms (max)"), grammar, "rrrr"),
    ]


# --------------------------------------------------------------------------------------
# A library in one command: bench/batch.py
# --------------------------------------------------------------------------------------


@section("batch.json", "Batch", "batch.py")
def batch_section(run: dict) -> list[str]:
    batch = run["batch"]
    llama = run.get("llama_cpp_decode")
    rows = [
        [
            "one at a time (generate-tags, then summarize)",
            f1(run["one_at_a_time_s"]),
            f2(run["one_at_a_time_per_minute"]),
            "",
        ],
        [
            f"one batch command (at most {batch['widest']} sequences together)",
            f1(run["batch_s"]),
            f2(run["batch_per_minute"]),
            f"{run['speedup']:.2f}x",
        ],
    ]
    chars = run["chars"]
    lines = [
        recorded(run.get("date"), run.get("machine"), run.get("versions")),
        method("batch.py", "Documents:", "One at a time:"),
        f"{run['documents']} documents of {min(chars):,} to {max(chars):,} characters.",
        table(("run", "seconds", "documents per minute", "speedup"), rows, "lrrr"),
        f"Same tags and summary both ways: {run['same_answers']} of {run['documents']} documents"
        + (f" (differing: {', '.join(run['differ'])})." if run["differ"] else "."),
        f"The batch generated {batch['generation_tokens']:,} tokens in {f1(run['batch_s'])} s: "
        f"{f1(run['batch_generated_tps'])} tokens per second over its whole run, prefill included"
        + (
            f"; llama.cpp's single-stream decode on the same GGUF, after a {llama['prompt_tokens']}-token "
            f"prompt with {llama['threads']} threads, is {f1(llama['generation_tps'])} tok/s "
            "(bench/results/perf.json)."
            if llama
            else "."
        ),
    ]
    return lines


# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if RESULTS.md is not what the result files render",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="the result files' folder")
    parser.add_argument("--out", type=Path, default=OUT, help="the Markdown file")
    args = parser.parse_args(argv)
    text = render_all(args.results)
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else None
        if current != text:
            print(
                f"{args.out} is not what {args.results} renders; run python bench/report.py",
                file=sys.stderr,
            )
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
