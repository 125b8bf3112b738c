"""Tags and summaries over the shipped corpus (bench/corpus/): generate-tags, then
summarize, on each text through the sidecar, and a table of how good they are.

    python bench/quality.py [--max-chars N] [--only 01,07] [--out bench/results/quality.json]
                            [--before EARLIER.json]
    python bench/quality.py --table RUN.json [--before EARLIER.json]

With --before, every answer figure that changed since an earlier run is followed by that
run's figure, "(was ...)"; columns the earlier run predates are computed from its own
tags and summaries.

For each text: how it was read (the format the server detected and the characters the
model read), whether the model's raw tag output parsed as a JSON array, tags per document,
the share of tags with a word found in the document, tags naming the subject (a tag
names it when it holds, case-insensitively and as whole words, one of the names the
corpus MANIFEST records as the text's `subject`), furniture or version tags (see
is_furniture_tag), summary length over document length, special-token or preamble
leaks, seconds per document, and how faithful the summary is: the share of its names
and numbers that occur in the document, and the share of its content words the document
uses (see content_words_found).

Names and numbers are counted as the sidecar's facts_of counts them: in each sentence
(split by its segmenter), the capitalized words after its first word, and every number.
One is found when it occurs in the case-folded document as a whole (a trailing "'s"
aside): stricter than the server's own check, which also accepts a name whose words
all occur in the document.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package, no install

from mlx_sidecar.client import SidecarClient
from mlx_sidecar.reading import read_document
from mlx_sidecar.repairs.summaries import facts_of
from mlx_sidecar.text import WordStems, split_sentences

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "bench" / "corpus"
# A command's answer may take minutes on a long text (the 185k-character novel: ~9 min for
# tags and summary on 2 cores); the client's default deadline is 10.
COMMAND_TIMEOUT_S = 3600.0
LEAKS = re.compile(
    r"<\|im_(?:start|end)\|>|<\|endoftext\|>|</?think>|^(?:here is|here's|sure)", re.I
)


# Tags that name the page furniture or the release history instead of the subject:
# version and issue numbers, bare changelog verb phrases, markup and boilerplate words.
VERSION_TAG = re.compile(r"\d+(?:\.\d+)+|^v\d|#\d+|\bissue\s*\d+|\bversion\s*\d", re.I)
CHANGELOG_TAG = re.compile(
    r"^(?:add|adds|added|fix|fixes|fixed|remove|removed|update|updated|bump|drop|dropped"
    r"|deprecate|deprecated|improve|improved|change|changed)\b",
    re.I,
)
FURNITURE_TAG = re.compile(
    r"\b(?:image|images|target|alt|link rel|script src|script|href|src|meta|div|span"
    r"|stylesheet|badges?|toctree|figure|width|height|align|raw|licen[cs]e|sponsors?"
    r"|donat(?:e|ions?)|funding|tidelift|open collective|installation|(?:pip|npm|yarn|conda) install"
    r"|changelog|release notes|github|pypi|python software foundation|copyright"
    r"|navigation|previous topic|next topic|table of contents)\b",
    re.I,
)


def is_furniture_tag(tag: str) -> bool:
    return bool(VERSION_TAG.search(tag) or CHANGELOG_TAG.match(tag) or FURNITURE_TAG.search(tag))


def names_subject(tag: str, subject: list[str]) -> bool:
    folded = tag.casefold()
    return any(
        re.search(rf"(?<!\w){re.escape(name.casefold())}(?:s|es)?(?!\w)", folded)
        for name in subject
    )


def reading_fields(entry: dict, tags: list[str], summary_line: dict) -> dict:
    """How the text was read, and whether its tags are about the subject or the furniture."""
    return {
        "format": summary_line.get("format", "?"),
        "read_chars": summary_line.get("read_chars"),
        "subject_tags": sum(names_subject(t, entry.get("subject", [])) for t in tags),
        "furniture_tags": sum(is_furniture_tag(t) for t in tags),
    }


def word_in_document(tag: str, doc: str) -> bool:
    words = [w for w in re.findall(r"\w+", tag.casefold()) if len(w) > 2] or [tag.casefold()]
    return any(w in doc for w in words)


def facts_found(summary: str, doc: str) -> tuple[int, int]:
    """(names and numbers found in the case-folded document, all of them)."""
    facts = [f for s in split_sentences(summary) for f in facts_of(s)]
    keys = [re.sub(r"['’]s$", "", f.casefold()) for f in facts]
    return sum(k in doc for k in keys), len(keys)


def content_words_found(summary: str, document: str) -> tuple[int, int]:
    """(the summary's content words its document uses, all of them): words of 4+ letters
    that are not stopwords (each pair of CJK characters in CJK text), compared by Snowball
    stem in the document's language, against the text the sidecar reads of it
    (mlx_sidecar.text.WordStems: the same measure the repairs use)."""
    return WordStems(read_document(document).text).support(summary)


def evaluate(client: SidecarClient, entry: dict) -> dict:
    text = (CORPUS / entry["file"]).read_text(encoding="utf-8")
    started = time.perf_counter()
    tags_line = client.call({"command": "generate-tags", "content": text}, COMMAND_TIMEOUT_S)
    summary_line = client.call({"command": "summarize", "content": text}, COMMAND_TIMEOUT_S)
    seconds = time.perf_counter() - started
    folded = text.casefold()
    tags, summary = tags_line["tags"], summary_line["summary"]
    found, facts = facts_found(summary, folded)
    words_found, words = content_words_found(summary, text)
    return {
        "file": entry["file"],
        "kind": entry["kind"],
        "language": entry["language"],
        "chars": len(text),
        "chunks": summary_line.get("chunks", 1),
        "raw_parsed": bool(tags_line.get("raw_output_parsed")),
        "tags": tags,
        "tags_in_doc": sum(word_in_document(t, folded) for t in tags) / max(1, len(tags)),
        "summary": summary,
        "summary_ratio": len(summary) / len(text),
        "leaks": len(LEAKS.findall(summary)) + sum(bool(LEAKS.search(t)) for t in tags),
        "seconds": seconds,
        **reading_fields(entry, tags, summary_line),
        "facts_found": found,
        "facts": facts,
        "words_found": words_found,
        "words": words,
        "extractive": bool(summary_line.get("extractive")),
        "empty_summary": not summary.strip(),
    }


def share(part: int, whole: int) -> str:
    return f"{part / whole:.0%} ({part}/{whole})" if whole else "- (0)"


HEADER = (
    "| text | kind | lang | chars | read as | read chars | raw tags parse | tags | tags in doc "
    "| subject tags | furniture tags | summary/doc | leaks | names/numbers in doc "
    "| content words in doc | empty | extractive | s/doc |\n"
    "|---|---|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)
COMPARED = slice(6, 17)  # the answer columns; how a text was read and the seconds are not


def row_cells(r: dict) -> list[str]:
    read = r.get("read_chars")
    return [
        r["file"][:28],
        r["kind"],
        r["language"],
        f"{r['chars']:,}",
        r.get("format", "?"),
        f"{read:,}" if read is not None else "?",
        "yes" if r["raw_parsed"] else "no",
        str(len(r["tags"])),
        f"{r['tags_in_doc']:.0%}",
        str(r.get("subject_tags", 0)),
        str(r.get("furniture_tags", 0)),
        f"{r['summary_ratio']:.3f}",
        str(r["leaks"]),
        share(r["facts_found"], r["facts"]),
        share(r.get("words_found", 0), r.get("words", 0)),
        str(int(r["empty_summary"])),
        str(int(r["extractive"])),
        f"{r['seconds']:.1f}",
    ]


def total_cells(rows: list[dict], label: str) -> list[str]:
    n = len(rows)
    return [
        f"**{label}**",
        "",
        "",
        f"{sum(r['chars'] for r in rows):,}",
        "",
        f"{sum(r.get('read_chars') or 0 for r in rows):,}",
        f"{sum(r['raw_parsed'] for r in rows) / n:.0%}",
        f"{sum(len(r['tags']) for r in rows) / n:.1f}",
        f"{sum(r['tags_in_doc'] for r in rows) / n:.0%}",
        f"{sum(r.get('subject_tags', 0) > 0 for r in rows) / n:.0%} of texts",
        str(sum(r.get("furniture_tags", 0) for r in rows)),
        f"{sorted(r['summary_ratio'] for r in rows)[n // 2]:.3f} (median)",
        str(sum(r["leaks"] for r in rows)),
        share(sum(r["facts_found"] for r in rows), sum(r["facts"] for r in rows)),
        share(sum(r.get("words_found", 0) for r in rows), sum(r.get("words", 0) for r in rows)),
        str(sum(r["empty_summary"] for r in rows)),
        str(sum(r["extractive"] for r in rows)),
        f"{sum(r['seconds'] for r in rows) / n:.1f}",
    ]


def beside(cells: list[str], before: list[str] | None) -> list[str]:
    """The cells, each answer cell that changed followed by the earlier run's figure."""
    if before is None:
        return cells
    out = list(cells)
    for i in range(COMPARED.start, COMPARED.stop):
        if cells[i] != before[i]:
            out[i] = f"{cells[i]} (was {before[i]})"
    return out


def table(rows: list[dict], before: list[dict] | None = None) -> str:
    """The quality table (bench/RESULTS.md shows it without ``before``); with ``before``
    (an earlier run's rows, completed by completed_row), each changed figure is followed
    by the earlier one."""
    earlier = {r["file"]: r for r in before or []}
    out = [HEADER]
    for r in rows:
        old = earlier.get(r["file"])
        out.append(line(beside(row_cells(r), row_cells(old) if old else None)))
    common = [r for r in rows if r["file"] in earlier]
    compared = common and len(common) == len(rows)  # the same texts: compare the totals
    label = f"all {len(rows)}"
    old_total = total_cells([earlier[r["file"]] for r in rows], label) if compared else None
    out.append(line(beside(total_cells(rows, label), old_total)))
    if common and not compared:  # the totals over the texts both runs read
        label = f"the {len(common)} texts of the earlier run"
        old_total = total_cells([earlier[r["file"]] for r in common], label)
        out.append(line(beside(total_cells(common, label), old_total)))
    return "\n".join(out)


def line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def completed_row(row: dict, entry: dict) -> dict:
    """A saved row; the columns an older run predates are computed from its own tags and
    summary (how the text was read stays unknown)."""
    raw = (CORPUS / row["file"]).read_text(encoding="utf-8")
    found, facts = facts_found(row["summary"], raw.casefold())
    words_found, words = content_words_found(row["summary"], raw)
    return {
        "subject_tags": sum(names_subject(t, entry.get("subject", [])) for t in row["tags"]),
        "furniture_tags": sum(is_furniture_tag(t) for t in row["tags"]),
        "facts_found": found,
        "facts": facts,
        "extractive": False,
        "words_found": words_found,
        "words": words,
        "empty_summary": not row["summary"].strip(),
        **row,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-chars", type=int, default=None, help="skip longer texts")
    parser.add_argument("--only", default="", help="comma-separated file prefixes, e.g. 01,07")
    parser.add_argument("--half", choices=["tuning", "held-out"], help="only this corpus half")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "quality.json"))
    parser.add_argument("--show", action="store_true", help="print each text's tags and summary")
    parser.add_argument("--table", help="print the table of a saved run (its JSON) and exit")
    parser.add_argument("--before", help="an earlier run's JSON: changed figures shown beside")
    args = parser.parse_args()
    manifest = json.loads((CORPUS / "MANIFEST.json").read_text(encoding="utf-8"))
    by_file = {e["file"]: e for e in manifest}

    def saved_run(path: str) -> list[dict]:
        rows = json.loads(Path(path).read_text(encoding="utf-8"))
        return [completed_row(r, by_file[r["file"]]) for r in rows]

    before = saved_run(args.before) if args.before else None
    if args.table:
        print(table(saved_run(args.table), before))
        return 0
    only = [p for p in args.only.split(",") if p]
    entries = [
        e
        for e in manifest
        if (not only or any(e["file"].startswith(p) for p in only))
        and (args.half is None or e["half"] == args.half)
        and (args.max_chars is None or e["chars"] <= args.max_chars)
    ]
    rows = []
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with SidecarClient() as client:
        client.call({"command": "load-model"})
        for entry in entries:
            row = evaluate(client, entry)
            rows.append(row)
            print(f"{row['file']}: {row['seconds']:.1f}s", file=sys.stderr)
            if args.show:
                print(f"  tags: {row['tags']}\n  summary: {row['summary']}\n", file=sys.stderr)
            # Written after every text, so a run that is cut short keeps what it measured.
            out.write_text(json.dumps(rows, indent=2, ensure_ascii=False), encoding="utf-8")
    print(table(rows, before))
    return 0


if __name__ == "__main__":
    sys.exit(main())
