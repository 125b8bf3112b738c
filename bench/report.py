#!/usr/bin/env python3
"""Write bench/RESULTS.md from the result files in bench/results/.

    python bench/report.py [--check] [--results DIR] [--out FILE]

One section per result file, each drawn by one render function: the run's record (date,
machine, versions; bench/common.py's run_record), the method in the benchmark's own words
(paragraphs of its docstring) and the tables. Only figures the files hold appear, and what
is computed from them; a section whose file is missing is left out. --check writes nothing
and exits 1 when RESULTS.md is not what the files render.

A benchmark adds its section with one function, placed where the section should appear:

    @section("chat.json", "Chat", "chat.py")
    def chat_section(data: dict) -> list[str]:
        return [recorded(data["run"]), method("chat.py", "Follow-up:"), table(head, rows, "lr")]

`table` is the one table renderer; the benchmarks print their results with it too.
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
OUT = BENCH / "RESULTS.md"
sys.path.insert(0, str(BENCH))  # the benchmarks, whose rows a section may draw

HEADER = """\
# Benchmark results

Written by `bench/report.py` from the result files in `bench/results/`; do not edit it by
hand. After a benchmark run, `python bench/report.py` writes it again, and
`python bench/report.py --check` fails while it is out of date. Each section names its
result file, the script that wrote it, and the date, machine and versions of the run."""

SECTIONS: list[tuple[str, str, str, Callable[[Any], list[str]]]] = []


def section(file: str, title: str, script: str) -> Callable:
    """Register the render function of one result file; sections appear in this order."""

    def register(render: Callable[[Any], list[str]]) -> Callable[[Any], list[str]]:
        SECTIONS.append((file, title, script, render))
        return render

    return register


def render_all(results: Path = RESULTS) -> str:
    """RESULTS.md as the files in ``results`` render it."""
    present = [s for s in SECTIONS if (results / s[0]).is_file()]
    contents = [
        f"- [{t}](#{anchor(t)}): `bench/results/{f}`" + (f", by `bench/{s}`" if s else "")
        for f, t, s, _ in present
    ]
    parts = [HEADER, "\n".join(contents)]
    for file, title, _, render in present:
        text = (results / file).read_text(encoding="utf-8")
        blocks = render(json.loads(text) if file.endswith(".json") else text)
        parts.append("\n\n".join([f"## {title}", *[b for b in blocks if b]]))
    return "\n\n".join(parts) + "\n"


def anchor(title: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def method(script: str, *openings: str) -> str:
    """The paragraphs of a benchmark's docstring that begin with ``openings``: the method
    in the script's own words."""
    doc = ast.get_docstring(ast.parse((BENCH / script).read_text(encoding="utf-8"))) or ""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", doc)]
    chosen = []
    for opening in openings:
        found = [p for p in paragraphs if p.startswith(opening)]
        if not found:
            raise SystemExit(f"bench/{script}'s docstring has no paragraph starting {opening!r}")
        chosen.append(found[0])
    return f"*Method* (`bench/{script}`): " + " ".join(chosen)


def recorded(run: dict | None, *more: str) -> str:
    """The run's record (common.run_record), naming what an older run did not record."""
    run = run or {}
    versions = ", ".join(f"{k} {v}" for k, v in (run.get("versions") or {}).items())
    fields = {
        "date": run.get("date"),
        "CPU": run.get("cpu"),
        "cores": run.get("cores") and f"{run['cores']} cores",
        "memory": run.get("memory_gb") and f"{run['memory_gb']} GB memory",
        "OS": run.get("os"),
        "Python": run.get("python") and f"Python {run['python']}",
        "versions": versions,
        "BLAS": "blas" in run and f"backend {run.get('backend')}, BLAS {blas_name(run['blas'])}",
    }
    said = [v for v in fields.values() if v]
    if run.get("load_average") is not None:
        said.append(f"load average {run['load_average']} at the start")
    if run.get("committed"):
        said.append(f"the file was committed in {run['committed']}")
    missing = [k for k, v in fields.items() if not v]
    said += [m for m in more if m] + (["not recorded: " + ", ".join(missing)] if missing else [])
    return "*Run:* " + "; ".join(said) + "."


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


def share(part: int, whole: int) -> str:
    return f"{part / whole:.0%} ({part}/{whole})" if whole else "- (0)"


def blas_name(blas: dict | None) -> str:
    """A BLAS as the sidecar reports it ({"library": path, "source": how}), by file name."""
    if not blas:
        return "none (MLX's reference BLAS)"
    return f"{Path(blas['library']).name} ({blas.get('source', '?')})"


@section("quality.json", "Quality", "quality.py")
def quality_section(data: dict) -> list[str]:
    import quality

    rows, entries, left_out = data["rows"], quality.manifest(), {}
    for file in sorted(set(entries) - {r["file"] for r in rows}):
        left_out.setdefault(entries[file].get("half", "corpus"), []).append(f"`{file}`")
    return [
        recorded(data.get("run")),
        method("quality.py", "Tags and summaries over", "For each text:"),
        quality.table_of(rows, entries),
        "Each text's tags and summary are in `bench/results/quality.json`. Texts this run "
        "left out, by half of the corpus: "
        + (
            "; ".join(f"{h} ({len(f)}): {', '.join(f)}" for h, f in sorted(left_out.items()))
            or "none"
        )
        + ".",
    ]


@section("perf.json", "Speed", "perf.py")
def perf_section(data: dict) -> list[str]:
    quick = "a quick run (--quick)" if data.get("quick") else "a full run"
    inputs = [
        f"the {k} is {v['chars']:,} characters of {v['source']}" for k, v in data["inputs"].items()
    ]
    g, c = data["generation"], data["prompt_cache"]
    d, p, app = g["generation_tps"], g["prompt_tps"], g["subprocess_summarize"]

    def runs(x: dict, who: str) -> str:
        return f"{f2(x[who])} ({' / '.join(f2(v) for v in x[who + '_all'])})"

    rows = [
        [
            f"decode tok/s in process, {g['prompt_tokens']:,}-token prompt, "
            f"{g['decode_tokens']} new tokens, {g['weights']} weights (runs)",
            runs(d, "sidecar"),
            f"`mlx_lm.stream_generate` {runs(d, 'raw')}",
            f"{d['ratio']:.3f}",
        ],
        [
            "prefill tok/s in process, the same prompt (runs)",
            runs(p, "sidecar"),
            runs(p, "raw"),
            f"{p['ratio']:.3f}",
        ],
        [
            "decode tok/s the app sees (`summarize`'s `generation_tps`)",
            f2(app["generation_tps"]),
            f2(d["raw"]),
            f"{app['ratio_vs_raw']:.3f}",
        ],
        [
            "`summarize`'s prefill after `generate-tags` on the same text "
            f"({c['cached_tokens']:,} of {c['prompt_tokens']:,} tokens cached)",
            f"{c['warm_prefill_s']} s",
            f"cold {c['cold_prefill_s']} s",
            f"{c['ratio']:.3f}",
        ],
    ]
    return [
        recorded(data.get("run"), f"{quick} of {f1(data['total_s'])} s"),
        method("perf.py", "The model is the bundled", "In process:", "Through the sidecar:"),
        "Inputs: " + "; ".join(inputs) + ".",
        "### Against mlx-lm",
        table(("measure", "sidecar", "baseline", "ratio"), rows, "lllr"),
        *llama_blocks(data["llama_cpp"], data["chunk_15k"]),
    ]


def llama_blocks(lc: dict, ch: dict) -> list[str]:
    chunk = (
        f"The {ch['chars']:,}-character chunk ({ch['prompt_tokens']:,} tokens), `generate-tags` "
        f"then `summarize`, took the sidecar {ch['tags_s']} s + {ch['summary_s']} s = "
        f"{f1(ch['total_s'])} s"
    )
    if not lc.get("installed"):
        return [
            "### Against llama.cpp",
            f"Not measured in this run ({lc.get('reason')}).",
            chunk + ".",
        ]
    by_threads, keys = lc["by_threads"], ("prompt_tps", "generation_tps")
    winners = {
        max(by_threads, key=lambda t, n=n, k=k: by_threads[t]["at"][n][k])
        for n in lc["best_at"]
        for k in keys
    }
    best = f"which was {winners.pop()} at every size" if len(winners) == 1 else "per size"
    rows = [
        [f"{int(n):,} tokens"]
        + [f"{f1(mine[k])} / {f1(theirs[k])} ({ratio(mine[k], theirs[k])})" for k in keys]
        for n, theirs in lc["best_at"].items()
        for mine in [lc["sidecar_at"][n]]
    ]
    # llama.cpp's time for the chunk's prefill and decode, at its rates for that length
    n = max(lc["best_at"], key=int)
    prefill = ch["prompt_tokens"] + ch["summary_prompt_tokens"] - ch["summary_cached_tokens"]
    decode = ch["tags_generation_tokens"] + ch["summary_generation_tokens"]
    llama_s = prefill / lc["best_at"][n]["prompt_tps"] + decode / lc["best_at"][n]["generation_tps"]
    return [
        "### Against llama.cpp",
        f"llama.cpp {lc['version']} (llama-cpp-python), its best of "
        f"{' and '.join(by_threads)} threads, {best}; the same GGUF and token ids.",
        table(
            ("prompt", *(f"{w} tok/s, sidecar / llama.cpp" for w in ("prefill", "decode"))),
            rows,
            "lll",
        ),
        f"{chunk}; the same prefill and decode at llama.cpp's rates at {int(n):,} tokens take "
        f"~{f1(llama_s)} s ({ratio(ch['total_s'], llama_s)}).",
    ]


@section("vocabulary.json", "Known tags", "vocabulary.py")
def vocabulary_section(data: dict) -> list[str]:
    relevance = [
        [
            str(setting),
            f"{r['texts_with_subject_tag']} of {r['texts']} "
            f"({r['texts_with_subject_tag'] / r['texts']:.0%})",
            share(r["unrelated_tags_chosen"], r["tags_chosen"]),
            str(r["texts_with_no_tag"]),
        ]
        for setting, r in data["relevance"].items()
    ]
    speed = [
        [r["file"], f"{r['known_tags']:,}"]
        + [f2(r[k]) for k in ("no_list", "list_first", "list_again")]
        + [ratio(r["list_first"], r["no_list"])]
        for r in data["speed"]
    ]
    grammar = [
        [f"{r['known_tags']:,}", f2(r["build_ms"])]
        + [f"{r[k]:.3f}" for k in ("mask_ms_median", "mask_ms_max")]
        for r in data["grammar"]
    ]
    return [
        recorded(data.get("run"), f"{data['seconds']:,.0f} s"),
        method("vocabulary.py", "Relevance:"),
        table(
            ("max_new_tags", "texts with a subject tag", "unrelated tags chosen", "no tag"),
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


@section("batch.json", "Batch", "batch.py")
def batch_section(data: dict) -> list[str]:
    batch, llama, chars = data["batch"], data.get("llama_cpp_decode"), data["chars"]
    rows = [
        [
            "one at a time (generate-tags, then summarize)",
            f1(data["one_at_a_time_s"]),
            f2(data["one_at_a_time_per_minute"]),
            "",
        ],
        [
            f"one batch command (at most {batch['widest']} sequences together)",
            f1(data["batch_s"]),
            f2(data["batch_per_minute"]),
            f"{data['speedup']:.2f}x",
        ],
    ]
    differ = f" (differing: {', '.join(data['differ'])})" if data["differ"] else ""
    beside = (
        f"; llama.cpp's single-stream decode on the same GGUF, after a {llama['prompt_tokens']}"
        f"-token prompt with {llama['threads']} threads, is {f1(llama['generation_tps'])} tok/s "
        "(bench/results/perf.json)"
        if llama
        else ""
    )
    return [
        recorded(data.get("run")),
        method("batch.py", "Documents:", "One at a time:"),
        f"{data['documents']} documents of {min(chars):,} to {max(chars):,} characters.",
        table(("run", "seconds", "documents per minute", "speedup"), rows, "lrrr"),
        f"Same tags and summary both ways: {data['same_answers']} of {data['documents']} "
        f"documents{differ}.",
        f"The batch generated {batch['generation_tokens']:,} tokens in {f1(data['batch_s'])} s: "
        f"{f1(data['batch_generated_tps'])} tokens per second over its whole run, prefill "
        f"included{beside}.",
    ]


@section("chat.json", "Chat", "chat.py")
def chat_section(data: dict) -> list[str]:
    m, at, run = data["medians"], data["commits"], data["run"]

    def ratio_of(k: str) -> str:  # the median ratio, and its range over the repetitions
        each = [functools.reduce(dict.get, k.split("."), r) for r in data["runs"]]
        return f"{m[k]:.3f} ({min(each):.2f}-{max(each):.2f})"

    def cells(k: str) -> list[str]:  # a command's wall time and cached share
        return [
            f2(m[k + ".s"]),
            share(round(m[k + ".cached_tokens"]), round(m[k + ".prompt_tokens"])),
        ]

    turns = [
        [what, *cells(k + ".turn1"), *cells(k + ".turn2"), ratio_of(k + ".time_ratio")]
        for k, what in (("follow_up", "right after turn 1"), ("between", "after generate-tags"))
    ]
    caches = [
        [f"{what} (`{at[c]}`)", *cells(k)]
        for k, c, what in (("one_cache", "one_cache", "one"), ("lru", "measured", "a few (LRU)"))
        if c in at
    ]
    formats = [
        [f"`{f}`", *(f"{m[f'format.{f}.{k}']:.4g}" for k in ("generation_tokens", *keys))]
        + [ratio_of(f"format.{f}.{k}_ratio") if f != "plain" else "1" for k in keys]
        for f in ("plain", "schema", "json")
        for keys in [("generation_tps", "s_per_token")]
    ]
    end = f"load average {run['load_average_end'][0]} at the end"
    return [
        recorded(run, end, f"repetitions: {data['reps']}; the sidecar at `{at['measured']}`"),
        method("chat.py", "Follow-up:", "Each figure"),
        table(
            ("follow-up", "turn 1, s", "cached", "turn 2, s", "cached", "turn 2 / 1"),
            turns,
            "lrrrrr",
        ),
        method("chat.py", "One cache:"),
        table(("prompt caches (commit)", "second summarize, s", "cached"), caches, "lrr"),
        method("chat.py", "Format:"),
        table(
            ("format", "tokens", "tok/s", "s/token", "tok/s / plain", "s/token / plain"),
            formats,
            "lrrrrr",
        ),
    ]


@section("extract.json", "Extract", "extract.py")
def extract_section(data: dict) -> list[str]:
    import extract

    run, (quality, speed, grammar), left = data["run"], extract.tables(data), data["left_out"]
    more = f"{run.get('seconds', 0):,} s, load average {run.get('load_average_end')} at the end"
    more += f"; the sidecar at `{run.get('code')}` (HEAD when the run began)"
    out = f"tuning documents left out for time: {len(left)} ({', '.join(left)})" if left else ""
    how = [method("extract.py", p) for p in ("Quality:", "Speed:", "Grammar:")]
    return [recorded(run, more, out), how[0], *quality, how[1], *speed, how[2], *grammar]


CASE_HEAD = ("text", "asked", "passes", "answer_language", "read as", "extractive", "summary")


@section("language.json", "Languages asked", "language.py")
def language_section(data: dict) -> list[str]:
    """Shares in the language asked before and after the second pass, shares labelled
    truthfully, by group and by case; the retries compared on the cases that needed one."""

    def groups(rows: list[dict]) -> list[list[str]]:
        named = {"own": "own language", "en": "English", "other": "English texts in de/fr/es"}
        out = []
        for key, title in named.items():
            some = [r for r in rows if group(r) == key]
            before = sum(r["passes"] == 1 and r["answer_language"] == r["asked"] for r in some)
            after = sum(r["answer_language"] == r["asked"] for r in some)
            labelled = sum(r["answer_language"] == truth(r) for r in some)
            out.append([title, share(before, len(some)), share(after, len(some)),
                        share(labelled, len(some))])  # fmt: skip
        return out

    def group(r: dict) -> str:
        return "other" if r["language"] == "en" else "own" if r["asked"] == r["language"] else "en"

    def truth(r: dict) -> str:  # read where py3langid and the label differ
        return r.get("read") or r["py3langid"]

    runs = data["runs"]
    rows = runs["default"]["rows"]
    head = ("asked in", "first pass in the language asked", "after the retry", "labelled truly")
    cases = [[r["file"], r["asked"], str(r["passes"]), r["answer_language"], truth(r),
              "yes" if r["extractive"] else "", r["summary"][:90].replace("|", "/")]
             for r in rows]  # fmt: skip
    twice = {name: [r for r in run["rows"] if r["passes"] == 2] for name, run in runs.items()}
    retried = [
        [f"{name} ({runs[name]['run']['retry']})" if name == "default" else name,
         share(sum(r["answer_language"] == r["asked"] for r in rows), len(rows)),
         ", ".join(f"{r['file'][:2]}→{r['asked']}" for r in rows)]
        for name, rows in twice.items()
    ]  # fmt: skip
    how = method("language.py", "Cases:", "Retries:")
    return [
        recorded(runs["default"]["run"], f"{runs['default']['run']['seconds']:,} s"),
        how,
        table(head, groups(rows), "lrrr"),
        table(CASE_HEAD, cases, "llrllll"),
        "*Retries compared* on the cases the default run answered in two passes (the share "
        "then in the language asked):",
        table(("retry", "in the language asked", "cases (text→asked)"), retried, "lrl"),
    ]


@section("removed-scripts.md", "Findings of removed scripts", "")
def removed_scripts(text: str) -> list[str]:
    """What benchmarks that are gone found, as the file says it (written by hand)."""
    return [text.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if RESULTS.md is stale")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the result files' folder")
    parser.add_argument("--out", type=Path, default=OUT, help="the Markdown file")
    args = parser.parse_args(argv)
    text = render_all(args.results)
    if not args.check:
        args.out.write_text(text, encoding="utf-8")
    elif not args.out.is_file() or args.out.read_text(encoding="utf-8") != text:
        print(f"{args.out} is not what {args.results} renders; run python bench/report.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
