"""Tags and summaries over the shipped corpus: a quality table for the README.

    python bench/quality.py [--max-chars N] [--only 01,07] [--out bench/results/quality.json]

For each text: how it was read (the format the server detected and the characters the
model read), whether the model's raw tag output parsed as a JSON array, tags per document,
the share of tags with a word found in the document, tags naming the subject (a tag
names it when it holds, case-insensitively and as whole words, one of the names the
corpus MANIFEST records as the text's `subject`), furniture or version tags (see
is_furniture_tag), summary length over document length, special-token or preamble
leaks, seconds per document, and how faithful the summary is: the share of its names
and numbers that occur in the document.

Names and numbers are counted as server.facts_of counts them: in each sentence (split by
the server's segmenter), the capitalized words after its first word, and every number.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from client import ROOT, SidecarClient

sys.path.insert(0, str(ROOT))
import server

CORPUS = ROOT / "bench" / "corpus"
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
    facts = [f for s in server.split_sentences(summary) for f in server.facts_of(s)]
    keys = [re.sub(r"['’]s$", "", f.casefold()) for f in facts]
    return sum(k in doc for k in keys), len(keys)


def evaluate(client: SidecarClient, entry: dict) -> dict:
    text = (CORPUS / entry["file"]).read_text(encoding="utf-8")
    started = time.perf_counter()
    tags_line = client.call({"command": "generate-tags", "content": text})
    summary_line = client.call({"command": "summarize", "content": text})
    seconds = time.perf_counter() - started
    folded = text.casefold()
    tags, summary = tags_line["tags"], summary_line["summary"]
    found, facts = facts_found(summary, folded)
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
        "extractive": bool(summary_line.get("extractive")),
        "empty_summary": not summary.strip(),
    }


def share(part: int, whole: int) -> str:
    return f"{part / whole:.0%} ({part}/{whole})" if whole else "- (0)"


def table(rows: list[dict]) -> str:
    out = [
        "| text | kind | lang | chars | read as | read chars | raw tags parse | tags | tags in doc "
        "| subject tags | furniture tags | summary/doc | leaks | names/numbers in doc | empty "
        "| extractive | s/doc |",
        "|---|---|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['file'][:28]} | {r['kind']} | {r['language']} | {r['chars']:,} | "
            f"{reading_cells(r)} | "
            f"{'yes' if r['raw_parsed'] else 'no'} | {len(r['tags'])} | {r['tags_in_doc']:.0%} | "
            f"{subject_cells(r)} | "
            f"{r['summary_ratio']:.3f} | {r['leaks']} | {share(r['facts_found'], r['facts'])} | "
            f"{int(r['empty_summary'])} | {int(r['extractive'])} | {r['seconds']:.1f} |"
        )
    n = len(rows)
    out.append(
        f"| **all {n}** | | | {sum(r['chars'] for r in rows):,} | | "
        f"{sum(r.get('read_chars') or 0 for r in rows):,} | "
        f"{sum(r['raw_parsed'] for r in rows) / n:.0%} | {sum(len(r['tags']) for r in rows) / n:.1f} | "
        f"{sum(r['tags_in_doc'] for r in rows) / n:.0%} | "
        f"{sum(r.get('subject_tags', 0) > 0 for r in rows) / n:.0%} of texts | "
        f"{sum(r.get('furniture_tags', 0) for r in rows)} | "
        f"{sorted(r['summary_ratio'] for r in rows)[n // 2]:.3f} (median) | "
        f"{sum(r['leaks'] for r in rows)} | "
        f"{share(sum(r['facts_found'] for r in rows), sum(r['facts'] for r in rows))} | "
        f"{sum(r['empty_summary'] for r in rows)} | {sum(r['extractive'] for r in rows)} | "
        f"{sum(r['seconds'] for r in rows) / n:.1f} |"
    )
    return "\n".join(out)


def reading_cells(r: dict) -> str:
    read = r.get("read_chars")
    return f"{r.get('format', '?')} | " + (f"{read:,}" if read is not None else "?")


def subject_cells(r: dict) -> str:
    return f"{r.get('subject_tags', 0)} | {r.get('furniture_tags', 0)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-chars", type=int, default=None, help="skip longer texts")
    parser.add_argument("--only", default="", help="comma-separated file prefixes, e.g. 01,07")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "quality.json"))
    parser.add_argument("--show", action="store_true", help="print each text's tags and summary")
    args = parser.parse_args()
    manifest = json.loads((CORPUS / "MANIFEST.json").read_text(encoding="utf-8"))
    only = [p for p in args.only.split(",") if p]
    entries = [
        e
        for e in manifest
        if (not only or any(e["file"].startswith(p) for p in only))
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
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
