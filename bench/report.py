#!/usr/bin/env python3
"""Write bench/RESULTS.md from the result files in bench/results/.

    python bench/report.py [--check]

One section per result file, drawn by the function registered with @section for it: the
run's record (date, machine, versions: common.run_record), the method in the benchmark's
own words (paragraphs of its docstring) and its tables. Only figures the files hold
appear, and what is computed from them; a missing file's section is left out. --check
writes nothing and exits 1 when RESULTS.md is not what the files render.
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
from statistics import median

BENCH = Path(__file__).resolve().parent
RESULTS, OUT = BENCH / "results", BENCH / "RESULTS.md"
sys.path.insert(0, str(BENCH))  # the benchmarks, whose rows a section may draw
HEADER = """\
# Benchmark results

Written by `bench/report.py` from the result files in `bench/results/`; do not edit it by
hand. After a benchmark run, `python bench/report.py` writes it again, and
`python bench/report.py --check` fails while it is out of date. Each section names its
result file, the script that wrote it, and the date, machine and versions of the run."""
SECTIONS: list[tuple[str, str, str, Callable]] = []  # file, title, script, render
f1, f2 = "{:,.1f}".format, "{:,.2f}".format  # figures as the tables print them


def section(file: str, title: str, script: str) -> Callable:
    """Register the render function of one result file; sections appear in this order."""
    return lambda render: SECTIONS.append((file, title, script, render)) or render


def render_all() -> str:
    """RESULTS.md as the files in bench/results render it."""
    present = [s for s in SECTIONS if (RESULTS / s[0]).is_file()]
    anchor = {t: re.sub(r"[^\w\- ]", "", t.lower()).replace(" ", "-") for _, t, _, _ in present}
    contents = [f"- [{t}](#{anchor[t]}): `bench/results/{f}`" + (f", by `bench/{s}`" if s else "")
                for f, t, s, _ in present]  # fmt: skip
    parts = [HEADER, "\n".join(contents)]
    for file, title, _, render in present:
        text = (RESULTS / file).read_text(encoding="utf-8")
        blocks = render(json.loads(text) if file.endswith(".json") else text)
        parts.append("\n\n".join([f"## {title}", *[b for b in blocks if b]]))
    return "\n\n".join(parts) + "\n"


def method(script: str, *openings: str) -> str:
    """The paragraphs of a benchmark's docstring that begin with ``openings``."""
    doc = ast.get_docstring(ast.parse((BENCH / script).read_text(encoding="utf-8"))) or ""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", doc)]
    chosen = [next((p for p in paragraphs if p.startswith(o)), None) for o in openings]
    if None in chosen:
        raise SystemExit(f"bench/{script}'s docstring lacks a paragraph of {openings}")
    return f"*Method* (`bench/{script}`): " + " ".join(chosen)


def recorded(run: dict | None, *more: str) -> str:
    """The run's record (common.run_record), naming what an older run did not record."""
    run, blas = run or {}, (run or {}).get("blas")
    lib = f"{Path(blas['library']).name} ({blas.get('source', '?')})" if blas else ""
    fields = {
        "date": run.get("date"), "CPU": run.get("cpu"),
        "cores": run.get("cores") and f"{run['cores']} cores",
        "memory": run.get("memory_gb") and f"{run['memory_gb']} GB memory",
        "OS": run.get("os"), "Python": run.get("python") and f"Python {run['python']}",
        "versions": ", ".join(f"{k} {v}" for k, v in (run.get("versions") or {}).items()),
        "BLAS": "blas" in run and f"backend {run.get('backend')}, BLAS "
        + (lib or "none (MLX's reference BLAS)"),
    }  # fmt: skip
    said = [v for v in fields.values() if v]
    if run.get("load_average") is not None:
        said.append(f"load average {run['load_average']} at the start")
    if run.get("committed"):
        said.append(f"the file was committed in {run['committed']}")
    missing = [k for k, v in fields.items() if not v]
    said += [m for m in more if m] + (["not recorded: " + ", ".join(missing)] if missing else [])
    return "*Run:* " + "; ".join(said) + "."


def table(head: str, rows: list[list[str]], align: str) -> str:
    """A Markdown table: ``head`` the column names split by "|", ``align`` l or r a column."""
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    lines = ["| " + " | ".join(cells) + " |" for cells in (head.split("|"), *rows)]
    return "\n".join([lines[0], rule, *lines[1:]])


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x"


def share(part: int, whole: int) -> str:
    return f"{part / whole:.0%} ({part}/{whole})" if whole else "- (0)"


@section("quality.json", "Quality", "quality.py")
def quality_section(data: dict) -> list[str]:
    from common import manifest
    from quality import table_of

    rows, entries, left_out = data["rows"], manifest(), {}
    for file in sorted(set(entries) - {r["file"] for r in rows}):
        left_out.setdefault(entries[file].get("half", "corpus"), []).append(f"`{file}`")
    left = "; ".join(f"{h} ({len(f)}): {', '.join(f)}" for h, f in sorted(left_out.items()))
    return [
        recorded(data.get("run")),
        method("quality.py", "Tags and summaries over", "For each text:"),
        table_of(rows, entries),
        "Each text's tags and summary are in `bench/results/quality.json`. Texts this run "
        f"left out, by half of the corpus: {left or 'none'}.",
    ]


BLIND = {"baseline": "blind-read/verdicts-baseline.json", "after": "blind-read/verdicts-after.json"}
ANSWERS = {
    "baseline": ["answers-baseline.json"],
    "after": ["quality-held-out.json", "answers-after.json"],
}
VERDICTS = ("supported", "unsupported", "contradicts", "empty")


@section(BLIND["baseline"], "Blind read", "")
def blind_section(_: dict) -> list[str]:
    """The readers' verdicts before and after issue 25, beside its targets, and by kind."""
    from common import manifest

    reads = {k: json.loads((RESULTS / f).read_text("utf-8"))["documents"]
             for k, f in BLIND.items() if (RESULTS / f).is_file()}  # fmt: skip

    def verdicts(docs: list[dict], *parts: str) -> list[str]:
        return [s["verdict"] for d in docs for p in parts for s in d[p]]

    def counts(docs: list[dict], part: str) -> str:
        said = verdicts(docs, part)
        return " / ".join(str(said.count(v)) for v in VERDICTS)

    def of(docs: list[dict], parts: tuple, verdict: str) -> str:
        said = verdicts(docs, *parts)
        return share(said.count(verdict), len(said))

    def docs_with(docs: list[dict], key: str) -> str:
        return share(sum(bool(d[key]) for d in docs), len(docs))

    both, every, tags = ("summary", "one_sentence"), ("summary",), ("tags",)
    measures = [
        ("summary sentences: supported / unsupported / contradicts / empty", "",
         lambda d: counts(d, "summary")),
        ("summary sentences supported", "≥ 90%", lambda d: of(d, every, "supported")),
        ("one-sentence summaries: supported / unsupported / contradicts / empty", "",
         lambda d: counts(d, "one_sentence")),
        ("one-sentence summaries supported", "≥ 90%",
         lambda d: of(d, ("one_sentence",), "supported")),
        ("all sentences supported", "≥ 90%", lambda d: of(d, both, "supported")),
        ("all sentences contradicting", "0", lambda d: of(d, both, "contradicts")),
        ("all sentences empty", "≤ 5%", lambda d: of(d, both, "empty")),
        ("tags: useful / weak / junk", "",
         lambda d: " / ".join(str(verdicts(d, "tags").count(v)) for v in ("useful", "weak", "junk"))),
        ("tags junk", "≤ 5%", lambda d: of(d, tags, "junk")),
        ("documents with a subject tag", "≥ 80%", lambda d: docs_with(d, "subject_tag")),
        ("useful summaries", "≥ 80%", lambda d: docs_with(d, "summary_useful")),
        ("useful one-sentence summaries", "≥ 80%", lambda d: docs_with(d, "one_sentence_useful")),
        ("readable summaries", "", lambda d: docs_with(d, "readable")),
    ]  # fmt: skip
    rows = [[what, *(cell(docs) for docs in reads.values()), target]
            for what, target, cell in measures]  # fmt: skip
    kinds: dict[str, dict[str, list]] = {}
    entries = manifest()
    for key, docs in reads.items():
        for d in docs:
            kinds.setdefault(entries[d["file"]]["kind"], {}).setdefault(key, []).append(d)
    by_kind = [[kind, " / ".join(str(len(g.get(k, []))) for k in reads),
                *(of(g[k], both, "supported") if k in g else "" for k in reads)]
               for kind, g in sorted(kinds.items())]  # fmt: skip
    answers = [next((f"`bench/results/{f}`" for f in ANSWERS[k] if (RESULTS / f).is_file()), "")
               for k in reads]  # fmt: skip
    return [
        "*Method*: a helper reader, blind to the code version, judged each answer of the "
        "held-out half against its document (`bench/quality.py --blind` writes the answer "
        "files): each summary and one-sentence summary sentence supported, unsupported, "
        "contradicts or empty; each tag useful, weak or junk; whether a tag names the "
        "subject, whether each summary is useful to the person who saved the document and "
        "readable. The baseline is the code at cbfa0eb (before issue 25). Answers: "
        + "; ".join(f"{k} {a}" for k, a in zip(reads, answers, strict=True) if a)
        + "; verdicts: " + ", ".join(f"`bench/results/{BLIND[k]}`" for k in reads) + ".",
        table(f"measure|{'|'.join(f'{k} ({len(d)} documents)' for k, d in reads.items())}"
              "|issue 25's target", rows, "l" + "r" * (len(reads) + 1)),
        table(f"kind|documents ({' / '.join(reads)})|"
              + "|".join(f"sentences supported, {k}" for k in reads), by_kind,
              "l" + "r" * (len(reads) + 1)),
    ]  # fmt: skip


@section("perf.json", "Speed", "perf.py")
def perf_section(data: dict) -> list[str]:
    inputs = data["inputs"].items()
    inputs = [f"the {k} is {v['chars']:,} characters of {v['source']}" for k, v in inputs]
    g, c, lc, ch = data["generation"], data["prompt_cache"], data["llama_cpp"], data["chunk_15k"]
    d, p, app = g["generation_tps"], g["prompt_tps"], g["subprocess_summarize"]

    def runs(x: dict, who: str) -> str:
        return f"{f2(x[who])} ({' / '.join(f2(v) for v in x[who + '_all'])})"

    rows = [
        [f"decode tok/s in process, {g['prompt_tokens']:,}-token prompt, {g['decode_tokens']} "
         f"new tokens, {g['weights']} weights (runs)", runs(d, "sidecar"),
         f"`mlx_lm.stream_generate` {runs(d, 'raw')}", f"{d['ratio']:.3f}"],
        ["prefill tok/s in process, the same prompt (runs)", runs(p, "sidecar"), runs(p, "raw"),
         f"{p['ratio']:.3f}"],
        ["decode tok/s the app sees (`summarize`'s `generation_tps`)",
         f2(app["generation_tps"]), f2(d["raw"]), f"{app['ratio_vs_raw']:.3f}"],
        ["`summarize`'s prefill after `generate-tags` on the same text "
         f"({c['cached_tokens']:,} of {c['prompt_tokens']:,} tokens cached)",
         f"{c['warm_prefill_s']} s", f"cold {c['cold_prefill_s']} s", f"{c['ratio']:.3f}"],
    ]  # fmt: skip
    chunk = (
        f"The {ch['chars']:,}-character chunk ({ch['prompt_tokens']:,} tokens), `generate-tags` "
        f"then `summarize`, took the sidecar {ch['tags_s']} s + {ch['summary_s']} s = "
        f"{f1(ch['total_s'])} s"
    )
    llama = [f"Not measured in this run ({lc.get('reason')}).", chunk + "."]
    quick = "a quick run (--quick)" if data.get("quick") else "a full run"
    return [
        recorded(data.get("run"), f"{quick} of {f1(data['total_s'])} s"),
        method("perf.py", "The model is the bundled", "In process:", "Through the sidecar:"),
        "Inputs: " + "; ".join(inputs) + ".",
        "### Against mlx-lm",
        table("measure|sidecar|baseline|ratio", rows, "lllr"),
        "### Against llama.cpp",
        *(llama_blocks(lc, ch, chunk) if lc.get("installed") else llama),
    ]


HEAD_LLAMA = "prompt|prefill tok/s, sidecar / llama.cpp|decode tok/s, sidecar / llama.cpp"


def llama_blocks(lc: dict, ch: dict, chunk: str) -> list[str]:
    by_threads, keys, best_at = lc["by_threads"], ("prompt_tps", "generation_tps"), lc["best_at"]
    winners = {
        max(by_threads, key=lambda t, n=n, k=k: by_threads[t]["at"][n][k])
        for n in best_at
        for k in keys
    }
    best = f"which was {winners.pop()} at every size" if len(winners) == 1 else "per size"
    rows = [
        [f"{int(n):,} tokens"]
        + [f"{f1(mine[k])} / {f1(theirs[k])} ({ratio(mine[k], theirs[k])})" for k in keys]
        for n, theirs in best_at.items()
        for mine in [lc["sidecar_at"][n]]
    ]
    # llama.cpp's time for the chunk's prefill and decode, at its rates for that length
    n = max(best_at, key=int)
    prefill = ch["prompt_tokens"] + ch["summary_prompt_tokens"] - ch["summary_cached_tokens"]
    decode = ch["tags_generation_tokens"] + ch["summary_generation_tokens"]
    llama_s = prefill / best_at[n]["prompt_tps"] + decode / best_at[n]["generation_tps"]
    return [
        f"llama.cpp {lc['version']} (llama-cpp-python), its best of "
        f"{' and '.join(by_threads)} threads, {best}; the same GGUF and token ids.",
        table(HEAD_LLAMA, rows, "lll"),
        f"{chunk}; the same prefill and decode at llama.cpp's rates at {int(n):,} tokens take "
        f"~{f1(llama_s)} s ({ratio(ch['total_s'], llama_s)}).",
    ]


@section("vocabulary.json", "Known tags", "vocabulary.py")
def vocabulary_section(data: dict) -> list[str]:
    relevance = [
        [str(setting), f"{r['texts_with_subject_tag']} of {r['texts']} "
         f"({r['texts_with_subject_tag'] / r['texts']:.0%})",
         share(r["unrelated_tags_chosen"], r["tags_chosen"]), str(r["texts_with_no_tag"])]
        for setting, r in data["relevance"].items()
    ]  # fmt: skip
    speed = [
        [r["file"], f"{r['known_tags']:,}", *(f2(r[k]) for k in ("no_list", "list_first")),
         f2(r["list_again"]), ratio(r["list_first"], r["no_list"])] for r in data["speed"]
    ]  # fmt: skip
    grammar = [
        [f"{r['known_tags']:,}", f2(r["build_ms"]), f"{r['mask_ms_median']:.3f}",
         f"{r['mask_ms_max']:.3f}"] for r in data["grammar"]
    ]  # fmt: skip
    return [
        recorded(data.get("run"), f"{data['seconds']:,.0f} s"),
        method("vocabulary.py", "Relevance:"),
        table("max_new_tags|texts with a subject tag|unrelated tags chosen|no tag", relevance,
              "lrrr"),
        method("vocabulary.py", "Speed:"),
        table("text|known tags|no list, s|with the list, s|again, s|first / no list", speed,
              "lrrrrr"),
        method("vocabulary.py", "Grammar:"),
        table("known tags|build, ms|mask, ms (median)|mask, ms (max)", grammar, "rrrr"),
    ]  # fmt: skip


@section("batch.json", "Batch", "batch.py")
def batch_section(data: dict) -> list[str]:
    batch, llama, chars = data["batch"], data.get("llama_cpp_decode"), data["chars"]
    rows = [
        ["one at a time (generate-tags, then summarize)", f1(data["one_at_a_time_s"]),
         f2(data["one_at_a_time_per_minute"]), ""],
        [f"one batch command (at most {batch['widest']} sequences together)", f1(data["batch_s"]),
         f2(data["batch_per_minute"]), f"{data['speedup']:.2f}x"],
    ]  # fmt: skip
    differ = f" (differing: {', '.join(data['differ'])})" if data["differ"] else ""
    beside = llama and (
        f"; llama.cpp's single-stream decode on the same GGUF, after a {llama['prompt_tokens']}"
        f"-token prompt with {llama['threads']} threads, is {f1(llama['generation_tps'])} tok/s "
        "(bench/results/perf.json)"
    )
    return [
        recorded(data.get("run")),
        method("batch.py", "Documents:", "One at a time:"),
        f"{data['documents']} documents of {min(chars):,} to {max(chars):,} characters.",
        table("run|seconds|documents per minute|speedup", rows, "lrrr"),
        f"Same tags and summary both ways: {data['same_answers']} of {data['documents']} "
        f"documents{differ}.",
        f"The batch generated {batch['generation_tokens']:,} tokens in {f1(data['batch_s'])} s: "
        f"{f1(data['batch_generated_tps'])} tokens per second over its whole run, prefill "
        f"included{beside or ''}.",
    ]


@section("chat.json", "Chat", "chat.py")
def chat_section(data: dict) -> list[str]:
    m, at, run = data["medians"], data["commits"], data["run"]

    def ratio_of(k: str) -> str:  # the median ratio, and its range over the repetitions
        each = [functools.reduce(dict.get, k.split("."), r) for r in data["runs"]]
        return f"{m[k]:.3f} ({min(each):.2f}-{max(each):.2f})"

    def cells(k: str) -> list[str]:  # a command's wall time and cached share
        cached = share(round(m[k + ".cached_tokens"]), round(m[k + ".prompt_tokens"]))
        return [f2(m[k + ".s"]), cached]

    turns = [
        [what, *cells(k + ".turn1"), *cells(k + ".turn2"), ratio_of(k + ".time_ratio")]
        for k, what in (("follow_up", "right after turn 1"), ("between", "after generate-tags"))
    ]
    caches = [
        [f"{what} (`{at[c]}`)", *cells(k)]
        for k, c, what in (("one_cache", "one_cache", "one"), ("lru", "measured", "a few (LRU)"))
        if c in at
    ]
    keys = ("generation_tps", "s_per_token")
    formats = [
        [f"`{f}`", *(f"{m[f'format.{f}.{k}']:.4g}" for k in ("generation_tokens", *keys))]
        + [ratio_of(f"format.{f}.{k}_ratio") if f != "plain" else "1" for k in keys]
        for f in ("plain", "schema", "json")
    ]
    end = f"load average {run['load_average_end'][0]} at the end"
    return [
        recorded(run, end, f"repetitions: {data['reps']}; the sidecar at `{at['measured']}`"),
        method("chat.py", "Follow-up:", "Each figure"),
        table("follow-up|turn 1, s|cached|turn 2, s|cached|turn 2 / 1", turns, "lrrrrr"),
        method("chat.py", "One cache:"),
        table("prompt caches (commit)|second summarize, s|cached", caches, "lrr"),
        method("chat.py", "Format:"),
        table("format|tokens|tok/s|s/token|tok/s / plain|s/token / plain", formats, "lrrrrr"),
    ]


@section("extract.json", "Extract", "extract.py")
def extract_section(data: dict) -> list[str]:
    """Quality by field and half and by command, speed, grammar costs."""
    from extract import APP_TOKENS

    run, rows, left, sp = data["run"], data["rows"], data["left_out"], data["speed"]
    ways = ("extract", "app")
    by: dict[str, list] = {}
    for key in ("field", "half", None):  # each field, then each half, then all
        for r in rows:
            by.setdefault(f"all, {r[key]}" if key == "half" else r.get(key, "all"), []).append(r)
    quality = []
    for key, g in by.items():
        made_up = [r for r in g if r["extract"]["invented"]]
        named = share(sum(r["extract"]["named"] for r in made_up), len(made_up))
        hits = [sum(r[w]["match"] and r[w]["command"]["parsed"] for r in g) for w in ways]
        invented = str(sum(r["app"]["invented"] for r in g))
        quality.append([key, str(len(g)), *(share(h, len(g)) for h in hits), str(len(made_up)),
                        named, invented])  # fmt: skip
    each = list({(r["file"], r["recipe"]): r for r in rows}.values())  # one row a command
    commands = []
    for half in ("held-out", "tuning", None):
        g, h = ([r[w]["command"] for r in each if half in (None, r["half"])] for w in ways)
        cells = [share(sum(c[k] for c in x), len(x)) for x in (g, h) for k in ("parsed", "valid")]
        commands.append([half or "all", *cells, str(sum(c["finish"] == "length" for c in h))])
    false = sum(r["extract"]["named"] and not r["extract"]["invented"] for r in rows)
    times = {
        "extract, the document's first command (cold)": [d["extract"][0]["s"] for d in sp],
        "extract, the document in the prompt cache": [x["s"] for d in sp for x in d["extract"][1:]],
        "generate-tags, the document in the prompt cache": [d["tags"]["s"] for d in sp],
        "the app's way (chat, cold)": [r["app"]["command"]["s"] for r in each],
    }
    ratios = [median(x["s"] for x in d["extract"][1:]) / d["tags"]["s"] for d in sp]
    grammar = [[str(g["properties"]), str(g["tokens"]), f2(g["ms"][0])]
               + [f"{m:.3f}" for m in g["ms"][1:]] for g in data["grammar"] or []]  # fmt: skip
    more = f"{run.get('seconds', 0):,} s, load average {run.get('load_average_end')} at the end"
    more += f"; the sidecar at `{run.get('code')}` (HEAD when the run began)"
    out = f"tuning documents left out for time: {len(left)} ({', '.join(left)})" if left else ""
    return [
        recorded(run, more, out),
        method("extract.py", "Quality:"),
        table("field|values|extract matches|app's way matches|extract invented|"
              "named by not_in_document|app's way invented", quality, "lrrrrrr"),
        table("commands|extract parsed|extract valid|app's way parsed|app's way valid|"
              f"app's way cut at {APP_TOKENS} tokens", commands, "lrrrrr"),
        f"`not_in_document` also named {false} values that were not invented.",
        method("extract.py", "Speed:"),
        table("command|commands|median s",
              [[k, str(len(t)), f1(median(t))] for k, t in times.items()], "lrr"),
        f"Per document, its cached extracts' median time over its generate-tags': "
        f"{median(ratios):.2f}x (from {min(ratios):.2f}x to {max(ratios):.2f}x).",
        method("extract.py", "Grammar:"),
        grammar and table("properties|tokens|build, ms|mask, ms (median)|mask, ms (max)|"
                          "Constraint call, ms (median)", grammar, "rrrrrr"),
    ]  # fmt: skip


@section("language.json", "Languages asked", "language.py")
def language_section(data: dict) -> list[str]:
    """Shares in the language asked before and after the second pass, and labelled truly,
    by group and in all; then each case."""
    from mlx_sidecar.text import same_language

    def group(r: dict) -> str:
        return "other" if r["language"] == "en" else "own" if r["asked"] == r["language"] else "en"

    def truth(r: dict) -> str:  # a reader's read, where there is one, stands for py3langid's
        return r.get("read") or r["py3langid"]

    rows, groups = data["rows"], []
    titles = {"own": "own language", "en": "English", "other": "English texts in de/fr/es"}
    for key, title in [*titles.items(), (None, "all")]:
        some = [r for r in rows if key in (None, group(r))]
        before = sum(r["passes"] == 1 and r["answer_language"] == r["asked"] for r in some)
        after = sum(r["answer_language"] == r["asked"] for r in some)
        labelled = sum(same_language(r["answer_language"], truth(r)) for r in some)
        groups.append([title, *(share(x, len(some)) for x in (before, after, labelled))])
    cases = [[r["file"], r["asked"], str(r["passes"]), r["answer_language"], truth(r),
              "yes" if r["extractive"] else "", r["summary"][:90].replace("|", "/")]
             for r in rows]  # fmt: skip
    return [
        recorded(data["run"], f"{data['run']['seconds']:,} s"),
        method("language.py", "Cases:"),
        table("asked in|first pass in the language asked|after the second pass|labelled truly",
              groups, "lrrr"),
        table("text|asked|passes|answer_language|read as|extractive|summary", cases, "llrllll"),
    ]  # fmt: skip


@section("language-id.json", "Language identification", "language_id.py")
def language_id_section(data: dict) -> list[str]:
    """Each candidate's accuracy, speed and size; the sidecar's own mistakes."""
    rows = []
    for name, c in data["candidates"].items():
        size = f1(c["install_mb"]) if c.get("install_mb") else ""
        rows.append([name, c["version"] or "", c["license"], f"{c['accuracy']:.1%}",
                     c["paragraphs_right"], f"{c['import_and_first_call_s']:.2f}",
                     f"{c['ms_per_sentence']:.3f}", f1(c["rss_mb"]), size])  # fmt: skip
    wrong = data["candidates"]["sidecar"]["mistaken_for"]
    misses = [f"{x} as " + ", ".join(f"{y} ({n})" for y, n in w.items()) for x, w in wrong.items()]
    return [
        recorded(data.get("run") or {"date": data["date"]}, data.get("machine", "")),
        method("language_id.py", "Each candidate"),
        f"{data['sentences']} sentences in {len(data['languages'])} languages.",
        table("library|version|license|sentences right|paragraphs right|"
              "import and first call, s|ms a sentence|memory, MB|install, MB", rows, "lllrrrrrr"),
        f"The sidecar's mistakes (`identify_language`): {'; '.join(misses) or 'none'}.",
    ]  # fmt: skip


@section("removed-scripts.md", "Findings of removed scripts", "")
def removed_scripts(text: str) -> list[str]:
    """What benchmarks that are gone found, as the file says it (written by hand)."""
    return [text.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if RESULTS.md is stale")
    text = render_all()
    if not parser.parse_args().check:
        OUT.write_text(text, encoding="utf-8")
    elif not OUT.is_file() or OUT.read_text(encoding="utf-8") != text:
        print(f"{OUT} is not what {RESULTS} renders; run python bench/report.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
