#!/usr/bin/env python3
"""Write bench/RESULTS.md from the result files in bench/results/ (--check: exit 1 when it
is not what they render). One section per file, drawn by the function registered for it:
the run's record (date, machine, versions: common.run_record), the method in the
benchmark's own words (the docstring paragraphs a tuple names by their openings) and its
tables; only figures the files hold, and what is computed from them."""

from __future__ import annotations

import argparse
import ast
import functools
import json
import re
import sys
from pathlib import Path
from statistics import median

BENCH = Path(__file__).resolve().parent
RESULTS, OUT = BENCH / "results", BENCH / "RESULTS.md"
sys.path.insert(0, str(BENCH))  # the benchmarks, whose rows a section may draw
HEADER = """\
# Benchmark results

Written by `bench/report.py` from the result files in `bench/results/`; do not edit it by
hand. After a benchmark run, `python bench/report.py` writes it again (`--check` fails while
it is out of date). Each section names its file, script, and its run's date, machine, versions."""
SECTIONS: list[tuple] = []  # (file, title, script, render), in the order of RESULTS.md
RECORD = {"date": ("date", "{}"), "CPU": ("cpu", "{}"), "cores": ("cores", "{} cores"),
          "memory": ("memory_gb", "{} GB memory"), "OS": ("os", "{}"),
          "Python": ("python", "Python {}")}  # fmt: skip
f1, f2 = "{:,.1f}".format, "{:,.2f}".format  # figures as the tables print them


def section(file: str, title: str, script: str = "") -> object:
    return lambda render: SECTIONS.append((file, title, script, render)) or render


def render_all() -> str:
    """RESULTS.md as the files in bench/results render it; a section's tuple stands for the
    paragraphs of its script's docstring that begin with the tuple's openings."""
    contents, parts = [], []
    for file, title, script, render in [s for s in SECTIONS if (RESULTS / s[0]).is_file()]:
        anchor = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        by = f", by `bench/{script}`" if script else ""
        contents.append(f"- [{title}](#{anchor}): `bench/results/{file}`{by}")
        doc = script and ast.get_docstring(ast.parse((BENCH / script).read_text("utf-8")))
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", doc or "")]
        text = (RESULTS / file).read_text(encoding="utf-8")
        said = render(json.loads(text) if file.endswith(".json") else text)
        blocks = [b if isinstance(b, str) else f"*Method* (`bench/{script}`): " + " ".join(
                  next(p for p in paragraphs if p.startswith(o)) for o in b)
                  for b in said if b]  # fmt: skip
        parts.append("\n\n".join([f"## {title}", *blocks]))
    return "\n\n".join([HEADER, "\n".join(contents), *parts]) + "\n"


def recorded(run: dict | None, *more: str) -> str:
    """The run's record (common.run_record), naming what an older run did not record."""
    run = run or {}
    fields = {k: run.get(key) and form.format(run[key]) for k, (key, form) in RECORD.items()}
    fields["versions"] = ", ".join(f"{k} {v}" for k, v in (run.get("versions") or {}).items())
    lib = (b := run.get("blas")) and f"{Path(b['library']).name} ({b.get('source', '?')})"
    lib = f"backend {run.get('backend')}, BLAS {lib or 'none (MLX' + chr(39) + 's reference BLAS)'}"
    fields["BLAS"] = "blas" in run and lib
    load, at = run.get("load_average"), run.get("committed")
    said = [*fields.values(), load is not None and f"load average {load} at the start",
            at and f"the file was committed in {at}", *more]  # fmt: skip
    missing = ", ".join(k for k, v in fields.items() if not v)
    said.append(missing and f"not recorded: {missing}")
    return "*Run:* " + "; ".join(s for s in said if s) + "."


def table(head: str, rows: list[list[str]], align: str = "") -> str:
    """A Markdown table: ``head`` split by "|", ``align`` l or r a column (default: l r r ...)."""
    align = align or "l" + "r" * head.count("|")
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    lines = ["| " + " | ".join(cells) + " |" for cells in (head.split("|"), *rows)]
    return "\n".join([lines[0], rule, *lines[1:]])


def share(part: int, whole: int) -> str:
    return f"{part / whole:.0%} ({part}/{whole})" if whole else "- (0)"


@section("quality.json", "Quality", "quality.py")
def quality_section(data: dict) -> list:
    from common import manifest
    from quality import table_of

    entries, left_out = manifest(), {}
    for file in sorted(set(entries) - {r["file"] for r in data["rows"]}):
        left_out.setdefault(entries[file].get("half", "corpus"), []).append(f"`{file}`")
    left = "; ".join(f"{h} ({len(f)}): {', '.join(f)}" for h, f in sorted(left_out.items()))
    halves = {"run": "tuning half at 45f6962", "held_out_run": "held-out half at 45f6962"}
    runs = [recorded(data[k], h) for k, h in halves.items() if data.get(k)]
    return [*runs, ("Tags and summaries over", "For each text:"), table_of(data["rows"], entries),
        "Each text's tags and summary are in `bench/results/quality.json`. Texts this run "
        f"left out, by half of the corpus: {left or 'none'}."]  # fmt: skip


SAID = ("supported", "unsupported", "contradicts", "empty")
MEASURES = [  # what, the answers' parts (none: a document's), verdicts or key, issue 25's target
    ("summary sentences: " + " / ".join(SAID), "summary", SAID, ""),
    ("summary sentences supported", "summary", "supported", "≥ 90%"),
    ("one-sentence summaries: " + " / ".join(SAID), "one_sentence", SAID, ""),
    ("one-sentence summaries supported", "one_sentence", "supported", "≥ 90%"),
    ("all sentences supported", "summary one_sentence", "supported", "≥ 90%"),
    ("all sentences contradicting", "summary one_sentence", "contradicts", "0"),
    ("all sentences empty", "summary one_sentence", "empty", "≤ 5%"),
    ("tags: useful / weak / junk", "tags", ("useful", "weak", "junk"), ""),
    ("tags junk", "tags", "junk", "≤ 5%"),
    ("documents with a subject tag", "", "subject_tag", "≥ 80%"),
    ("useful summaries", "", "summary_useful", "≥ 80%"),
    ("useful one-sentence summaries", "", "one_sentence_useful", "≥ 80%"),
    ("readable summaries", "", "readable", "")]  # fmt: skip
READS = {"blind-read": "the held-out half, read in parts (`READS.md` says which answers, when)",
    "blind-read/fresh": "18 texts collected at 185aa34, answers at 185aa34 (then seen)",
    "blind-read/fresh2": "18 texts collected at 39759ff, answers at 39759ff (then seen)",
    "blind-read/fresh3": "20 texts collected at 3323037, answers at 047d9ff (then seen)",
    "blind-read/fresh4": "20 texts collected at 630f925, answers at 630f925 (then seen)",
    "blind-read/fresh5": "20 texts collected at 366598e, answers at 3c70eb1 (then seen)",
    "blind-read/fresh6": "20 texts collected at 6ee8b88, answers at 41489bb (then seen)",
    "blind-read/fresh7": "20 texts collected on 2026-12-08, answers at 45f6962 (then seen)",
    "blind-read/fresh8": "20 texts collected on 2026-12-08, answers at ccd608b: unseen"}  # fmt: skip


@section("blind-read/verdicts-baseline.json", "Blind read")
def blind_section(_: dict) -> list:
    from common import manifest

    def cell(docs: list[dict], parts: str, of: str | tuple) -> str:
        said = [x["verdict"] for d in docs for p in parts.split() for x in d[p]]
        if isinstance(of, tuple):
            return " / ".join(str(said.count(v)) for v in of)
        n = (said.count(of), len(said)) if parts else (sum(d[of] for d in docs), len(docs))
        return share(*n)

    said, entries = ["*Method*: helper readers judged both versions' answers side by side, as A "
        "and B at random, against the document: each sentence of the summary and the one-sentence "
        "summary supported, unsupported, contradicts or empty; each tag useful, weak or junk; "
        "whether a tag names the subject, and whether each summary is useful to the person who "
        "saved the document and readable. The baseline is the code at cbfa0eb (before issue 25)."
        ], manifest()  # fmt: skip
    for folder, how in READS.items():
        reads = {k: json.loads(p.read_text("utf-8"))["documents"] for k in ("baseline", "after")
                 if (p := RESULTS / folder / f"verdicts-{k}.json").is_file()}  # fmt: skip
        kinds = {}  # the verdicts of each kind of document, per read
        for key, d in ((k, d) for k, docs in reads.items() for d in docs):
            kind = d.get("kind") or entries[d["file"]]["kind"]
            kinds.setdefault(kind, {}).setdefault(key, []).append(d)
        said += [f"**`bench/results/{folder}/`**: {how}.",
            table("measure|" + "".join(f"{k} ({len(d)} documents)|" for k, d in reads.items())
                  + "issue 25's target",
                  [[m[0], *(cell(d, *m[1:3]) for d in reads.values()), m[3]] for m in MEASURES]),
            table(f"kind|documents ({' / '.join(reads)})|"
                  + "|".join(f"sentences supported, {k}" for k in reads),
                  [[kind, " / ".join(str(len(g.get(k, []))) for k in reads),
                    *(cell(g[k], "summary one_sentence", "supported") if k in g else ""
                      for k in reads)]
                   for kind, g in sorted(kinds.items())])]  # fmt: skip
    return said


@section("perf.json", "Speed", "perf.py")
def perf_section(data: dict) -> list:
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
    chunk = (f"The {ch['chars']:,}-character chunk ({ch['prompt_tokens']:,} tokens), "
             f"`generate-tags` then `summarize`, took the sidecar {ch['tags_s']} s + "
             f"{ch['summary_s']} s = {f1(ch['total_s'])} s")  # fmt: skip
    quick = "a quick run (--quick)" if data.get("quick") else "a full run"
    llama = [f"Not measured in this run ({lc.get('reason')}).", chunk + "."]
    if lc.get("installed"):
        by_threads, best_at = lc["by_threads"], lc["best_at"]
        keys = ("prompt_tps", "generation_tps")
        winners = {max(by_threads, key=lambda t, n=n, k=k: by_threads[t]["at"][n][k])
                   for n in best_at for k in keys}  # fmt: skip
        best = f"which was {winners.pop()} at every size" if len(winners) == 1 else "per size"
        rows2 = [[f"{int(n):,} tokens", *(f"{f1(me[k])} / {f1(them[k])} ({me[k] / them[k]:.2f}x)"
                  for k in keys)]
                 for n, them in best_at.items() for me in [lc["sidecar_at"][n]]]  # fmt: skip
        n = max(best_at, key=int)  # llama.cpp's time for the chunk, at its rates for that length
        prefill = ch["prompt_tokens"] + ch["summary_prompt_tokens"] - ch["summary_cached_tokens"]
        decode = ch["tags_generation_tokens"] + ch["summary_generation_tokens"]
        llama_s = prefill / best_at[n]["prompt_tps"] + decode / best_at[n]["generation_tps"]
        llama = [f"llama.cpp {lc['version']} (llama-cpp-python), its best of "
                 f"{' and '.join(by_threads)} threads, {best}; the same GGUF and token ids.",
                 table("prompt|prefill tok/s, sidecar / llama.cpp|decode tok/s, sidecar / "
                       "llama.cpp", rows2, "lll"),
                 f"{chunk}; the same prefill and decode at llama.cpp's rates at {int(n):,} tokens "
                 f"take ~{f1(llama_s)} s ({ch['total_s'] / llama_s:.2f}x)."]  # fmt: skip
    return [recorded(data.get("run"), f"{quick} of {f1(data['total_s'])} s"),
        ("The model is the bundled", "In process:", "Through the sidecar:"),
        "Inputs: " + "; ".join(f"the {k} is {v['chars']:,} characters of {v['source']}"
                               for k, v in data["inputs"].items()) + ".",
        "### Against mlx-lm",
        table("measure|sidecar|baseline|ratio", rows, "lllr"),
        "### Against llama.cpp",
        *llama]  # fmt: skip


@section("vocabulary.json", "Known tags", "vocabulary.py")
def vocabulary_section(data: dict) -> list:
    relevance = [[str(setting), f"{r['texts_with_subject_tag']} of {r['texts']} "
                  f"({r['texts_with_subject_tag'] / r['texts']:.0%})",
                  share(r["unrelated_tags_chosen"], r["tags_chosen"]), str(r["texts_with_no_tag"])]
                 for setting, r in data["relevance"].items()]  # fmt: skip
    speed = [[r["file"], f"{r['known_tags']:,}", *(f2(r[k]) for k in ("no_list", "list_first",
              "list_again")), f"{r['list_first'] / r['no_list']:.2f}x"]
             for r in data["speed"]]  # fmt: skip
    return [recorded(data.get("run"), f"{data['seconds']:,.0f} s"),
        ("Relevance:",),
        table("max_new_tags|texts with a subject tag|unrelated tags chosen|no tag", relevance),
        ("Speed:",),
        table("text|known tags|no list, s|with the list, s|again, s|first / no list",
              speed)]  # fmt: skip


@section("batch.json", "Batch", "batch.py")
def batch_section(data: dict) -> list:
    batch, chars, n, perf = data["batch"], data["chars"], data["documents"], RESULTS / "perf.json"
    lc = json.loads(perf.read_text("utf-8"))["llama_cpp"] if perf.is_file() else {}
    tps = {t: r["at"]["400"]["generation_tps"] for t, r in lc.get("by_threads", {}).items()
           if "400" in r["at"]}  # llama.cpp after a prompt of these documents' length  # fmt: skip
    rows = [["one at a time (generate-tags, then summarize)", f1(data["one_at_a_time_s"]),
             f2(data["one_at_a_time_per_minute"]), ""],
            [f"one batch command (at most {batch['widest']} sequences together)",
             f1(data["batch_s"]), f2(data["batch_per_minute"]),
             f"{data['speedup']:.2f}x"]]  # fmt: skip
    differ = f" (differing: {', '.join(data['differ'])})" if data["differ"] else ""
    beside = (t := tps and max(tps, key=tps.get)) and (
        f"; llama.cpp's single-stream decode on the same GGUF, after a 400-token prompt with {t} "
        f"threads, is {f1(tps[t])} tok/s (bench/results/perf.json)")  # fmt: skip
    return [recorded(data.get("run")), ("Documents:", "One at a time:"),
        f"{n} documents of {min(chars):,} to {max(chars):,} characters.",
        table("run|seconds|documents per minute|speedup", rows),
        f"Same tags and summary both ways: {data['same_answers']} of {n} documents{differ}.",
        f"The batch generated {batch['generation_tokens']:,} tokens in {f1(data['batch_s'])} s: "
        f"{f1(data['batch_generated_tps'])} tokens per second over its whole run, prefill "
        f"included{beside or ''}."]  # fmt: skip


@section("chat.json", "Chat", "chat.py")
def chat_section(data: dict) -> list:
    m, at, run = data["medians"], data["commits"], data["run"]

    def ratio_of(k: str) -> str:  # the median ratio, and its range over the repetitions
        each = [functools.reduce(dict.get, k.split("."), r) for r in data["runs"]]
        return f"{m[k]:.3f} ({min(each):.2f}-{max(each):.2f})"

    def cells(k: str) -> list[str]:  # a command's wall time and cached share
        cached = share(round(m[k + ".cached_tokens"]), round(m[k + ".prompt_tokens"]))
        return [f2(m[k + ".s"]), cached]

    turns = [[what, *cells(k + ".turn1"), *cells(k + ".turn2"), ratio_of(k + ".time_ratio")]
             for k, what in (("follow_up", "right after turn 1"),
                             ("between", "after generate-tags"))]  # fmt: skip
    caches = [[f"{what} (`{at[c]}`)", *cells(k)] for k, c, what in
              (("one_cache", "one_cache", "one"), ("lru", "measured", "a few (LRU)"))
              if c in at]  # fmt: skip
    keys = ("generation_tps", "s_per_token")
    formats = [[f"`{f}`", *(f"{m[f'format.{f}.{k}']:.4g}" for k in ("generation_tokens", *keys)),
                *(ratio_of(f"format.{f}.{k}_ratio") if f != "plain" else "1" for k in keys)]
               for f in ("plain", "schema", "json")]  # fmt: skip
    return [recorded(run, f"load average {run['load_average_end'][0]} at the end",
                 f"repetitions: {data['reps']}; the sidecar at `{at['measured']}`"),
        ("Follow-up:", "Each figure"),
        table("follow-up|turn 1, s|cached|turn 2, s|cached|turn 2 / 1", turns),
        ("One cache:",),
        table("prompt caches (commit)|second summarize, s|cached", caches),
        ("Format:",),
        table("format|tokens|tok/s|s/token|tok/s / plain|s/token / plain", formats)]  # fmt: skip


@section("extract.json", "Extract", "extract.py")
def extract_section(data: dict) -> list:
    from extract import APP_TOKENS

    run, rows, sp, ways, by = data["run"], data["rows"], data["speed"], ("extract", "app"), {}
    for key in ("field", "half", None):  # each field, then each half, then all
        for r in rows:
            by.setdefault(f"all, {r[key]}" if key == "half" else r.get(key, "all"), []).append(r)
    quality = []
    for key, g in by.items():
        made_up = [r for r in g if r["extract"]["invented"]]
        hits = [share(sum(r[w]["match"] and r[w]["command"]["parsed"] for r in g), len(g))
                for w in ways]  # fmt: skip
        quality.append([key, str(len(g)), *hits, str(len(made_up)),
                        share(sum(r["extract"]["named"] for r in made_up), len(made_up)),
                        str(sum(r["app"]["invented"] for r in g))])  # fmt: skip
    each, commands = list({(r["file"], r["recipe"]): r for r in rows}.values()), []  # a command
    for half in ("held-out", "tuning", None):
        g, h = ([r[w]["command"] for r in each if half in (None, r["half"])] for w in ways)
        cells = [share(sum(c[k] for c in x), len(x)) for x in (g, h) for k in ("parsed", "valid")]
        commands.append([half or "all", *cells, str(sum(c["finish"] == "length" for c in h))])
    false = sum(r["extract"]["named"] and not r["extract"]["invented"] for r in rows)
    cached = [x["s"] for d in sp for x in d["extract"][1:]]
    times = {"extract, the document's first command (cold)": [d["extract"][0]["s"] for d in sp],
             "extract, the document in the prompt cache": cached,
             "generate-tags, the document in the prompt cache": [d["tags"]["s"] for d in sp],
             "the app's way (chat, cold)": [r["app"]["command"]["s"] for r in each]}  # fmt: skip
    ratios = [median(x["s"] for x in d["extract"][1:]) / d["tags"]["s"] for d in sp]
    grammar = [[str(g["properties"]), str(g["tokens"]), f2(g["ms"][0]),
                *(f"{m:.3f}" for m in g["ms"][1:])] for g in data["grammar"] or []]  # fmt: skip
    more = f"{run.get('seconds', 0):,} s, load average {run.get('load_average_end')} at the end"
    left = data["left_out"]
    return [recorded(run, f"{more}; the sidecar at `{run.get('code')}` (HEAD when the run began)",
                 left and f"tuning documents left out for time: {len(left)} ({', '.join(left)})"),
        ("Quality:",),
        table("field|values|extract matches|app's way matches|extract invented|"
              "named by not_in_document|app's way invented", quality),
        table("commands|extract parsed|extract valid|app's way parsed|app's way valid|"
              f"app's way cut at {APP_TOKENS} tokens", commands),
        f"`not_in_document` also named {false} values that were not invented.",
        ("Speed:",),
        table("command|commands|median s",
              [[k, str(len(t)), f1(median(t))] for k, t in times.items()]),
        f"Per document, its cached extracts' median time over its generate-tags': "
        f"{median(ratios):.2f}x (from {min(ratios):.2f}x to {max(ratios):.2f}x).",
        ("Grammar:",),
        grammar and table("properties|tokens|build, ms|mask, ms (median)|mask, ms (max)|"
                          "Constraint call, ms (median)", grammar, "rrrrrr")]  # fmt: skip


@section("language.json", "Languages asked", "language.py")
def language_section(data: dict) -> list:
    # A reader's `read` of a summary, where there is one, stands for py3langid's name.
    from mlx_sidecar.text import same_language

    rows, groups = [r | {"read": r.get("read") or r["py3langid"]} for r in data["rows"]], []
    group = {"own language": lambda r: r["language"] == r["asked"] != "en",
             "English": lambda r: r["language"] not in ("en", r["asked"]),
             "English texts in de/fr/es": lambda r: r["language"] == "en", "all": bool}  # fmt: skip
    for title, in_group in group.items():
        g = [r for r in rows if in_group(r)]
        asked = [r for r in g if r["answer_language"] == r["asked"]]
        first = sum(r["passes"] == 1 for r in asked)
        labelled = sum(same_language(r["answer_language"], r["read"]) for r in g)
        groups.append([title, *(share(x, len(g)) for x in (first, len(asked), labelled))])
    cases = [[r["file"], r["asked"], str(r["passes"]), r["answer_language"], r["read"],
              "yes" if r["extractive"] else "", r["summary"][:90].replace("|", "/")]
             for r in rows]  # fmt: skip
    return [recorded(data["run"], f"{data['run']['seconds']:,} s"),
        ("Cases:",),
        table("asked in|first pass in the language asked|after the second pass|labelled truly",
              groups),
        table("text|asked|passes|answer_language|read as|extractive|summary", cases,
              "llrllll")]  # fmt: skip


@section("language-id.json", "Language identification", "language_id.py")
def language_id_section(data: dict) -> list:
    rows = [[name, c["version"] or "", c.get("license", ""), f"{c['accuracy']:.1%}",
             c["paragraphs_right"], f"{c['import_and_first_call_s']:.2f}",
             f"{c['ms_per_sentence']:.3f}", f1(c["rss_mb"]),
             f1(c["install_mb"]) if c.get("install_mb") else ""]
            for name, c in data["candidates"].items()]  # fmt: skip
    wrong = data["candidates"]["sidecar"]["mistaken_for"]
    misses = [f"{x} as " + ", ".join(f"{y} ({n})" for y, n in w.items()) for x, w in wrong.items()]
    return [recorded(data.get("run") or {"date": data["date"]}, data.get("machine", "")),
        ("The sidecar's identifier",),
        f"{data['sentences']} sentences in {len(data['languages'])} languages.",
        table("library|version|license|sentences right|paragraphs right|"
              "import and first call, s|ms a sentence|memory, MB|install, MB", rows, "lllrrrrrr"),
        len(rows) > 1 and "The other rows: the libraries the script compared until 45ac09a "
        "(`git show 45ac09a:bench/language_id.py`).",
        f"The sidecar's mistakes (`identify_language`): {'; '.join(misses) or 'none'}.",
    ]  # fmt: skip


# What benchmarks that are gone found, written by hand.
section("removed-scripts.md", "Findings of removed scripts")(lambda text: [text.strip()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split(" (")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if RESULTS.md is stale")
    text = render_all()
    if not parser.parse_args().check:
        OUT.write_text(text, encoding="utf-8")
    elif not OUT.is_file() or OUT.read_text(encoding="utf-8") != text:
        sys.exit(f"{OUT} is not what {RESULTS} renders; run python bench/report.py")


if __name__ == "__main__":
    main()
