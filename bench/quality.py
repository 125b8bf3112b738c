"""Tags and summaries over the shipped corpus (bench/corpus/): generate-tags, then
summarize, on each text through the sidecar, and a table of how good they are.

Kept for a reader too: the one-sentence summary ("sentences": 1, what the app asks) and
how the server read each answer; --blind writes DIR/<file>.md per text holding only the
three answers, for a blind read; --server runs another checkout's server.py (a baseline).

For each text: how it was read (the format the server detected and the characters the
model read), whether the model's raw tag output parsed as a JSON array, tags per document,
the share of tags with a word found in the document, tags naming the subject (a tag
names it when it holds, case-insensitively and as whole words, one of the names the
corpus MANIFEST records as the text's `subject`), furniture or version tags (see
is_furniture_tag), summary length over document length, special-token or preamble
leaks, seconds per document, and how faithful the summary is: the share of its names
and numbers that occur in the document, and the share of its content words the document
uses (see content_words_found). Totals for each half of the corpus (the MANIFEST's `half`:
the texts rules were tuned on, and those held out) and for all texts.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from common import TIMEOUT_S, arguments, chosen, corpus_text, manifest, sidecar, write
from report import share, table

from mlx_sidecar.client import SidecarClient

LEAKS = re.compile(r"<\|im_(?:start|end)\|>|<\|endoftext\|>|</?think>|^(?:here is|here's|sure)",
                   re.I)  # fmt: skip
# Tags that name the page furniture or the release history instead of the subject:
# version and issue numbers, bare changelog verb phrases, markup and boilerplate words.
VERSION_TAG = re.compile(r"\d+(?:\.\d+)+|^v\d|#\d+|\bissue\s*\d+|\bversion\s*\d", re.I)
CHANGELOG_TAG = re.compile(r"^(?:add|adds|added|fix|fixes|fixed|remove|removed|update|updated"
                           r"|bump|drop|dropped|deprecate|deprecated|improve|improved|change"
                           r"|changed)\b", re.I)  # fmt: skip
FURNITURE_TAG = re.compile(
    r"\b(?:image|images|target|alt|link rel|script src|script|href|src|meta|div|span"
    r"|stylesheet|badges?|toctree|figure|width|height|align|raw|licen[cs]e|sponsors?"
    r"|donat(?:e|ions?)|funding|tidelift|open collective|installation"
    r"|(?:pip|npm|yarn|conda) install"
    r"|changelog|release notes|github|pypi|python software foundation|copyright"
    r"|navigation|previous topic|next topic|table of contents)\b", re.I)  # fmt: skip
RESPONSE_FIELDS = ("read_chars", "format", "extractive", "answer_language", "chunks")


def is_furniture_tag(tag: str) -> bool:
    return bool(VERSION_TAG.search(tag) or CHANGELOG_TAG.match(tag) or FURNITURE_TAG.search(tag))


def facts_found(summary: str, doc: str) -> tuple[int, int]:
    """(names and numbers found in the case-folded document, all of them): counted as the
    sidecar's facts_of counts them, found when one occurs whole (a trailing "'s" aside)."""
    from mlx_sidecar.repairs.summaries import facts_of
    from mlx_sidecar.text import split_sentences

    facts = [f for s in split_sentences(summary) for f in facts_of(s)]
    keys = [re.sub(r"['’]s$", "", f.casefold()) for f in facts]
    return sum(k in doc for k in keys), len(keys)


def content_words_found(summary: str, document: str) -> tuple[int, int]:
    """(the summary's content words its document uses, all of them): words of 4+ letters
    that are not stopwords (each pair of CJK characters in CJK text), compared by Snowball
    stem in the document's language, against the text the sidecar reads of it
    (mlx_sidecar.text.WordStems: the same measure the repairs use)."""
    from mlx_sidecar.reading import read_document
    from mlx_sidecar.text import WordStems

    return WordStems(read_document(document).text).support(summary)


def evaluate(client: SidecarClient, entry: dict) -> dict:
    """A text's answers and their measures; ``seconds`` times the tags and the summary."""
    text = corpus_text(entry["file"])
    started = time.perf_counter()
    lines = {"tags": client.call({"command": "generate-tags", "content": text}, TIMEOUT_S)}
    lines["summary"] = client.call({"command": "summarize", "content": text}, TIMEOUT_S)
    seconds = time.perf_counter() - started
    ask = {"command": "summarize", "content": text, "sentences": 1}
    lines["one_sentence"] = client.call(ask, TIMEOUT_S)
    (tags_line, summary_line), folded = (lines["tags"], lines["summary"]), text.casefold()
    tags, summary = tags_line["tags"], summary_line["summary"]
    found, facts = facts_found(summary, folded)
    words_found, words = content_words_found(summary, text)
    # a tag's words of 3+ letters (or the tag), one found in the document; a subject named whole
    in_tags = [[w for w in re.findall(r"\w+", t.casefold()) if len(w) > 2] or [t.casefold()]
               for t in tags]  # fmt: skip
    subject = [re.compile(rf"(?<!\w){re.escape(n.casefold())}(?:s|es)?(?!\w)")
               for n in entry.get("subject", [])]  # fmt: skip
    return {
        **{k: entry[k] for k in ("file", "kind", "language")}, "chars": len(text),
        "chunks": summary_line.get("chunks", 1),
        "raw_parsed": bool(tags_line.get("raw_output_parsed")), "tags": tags,
        "tags_in_doc": sum(any(w in folded for w in x) for x in in_tags) / max(1, len(tags)),
        "summary": summary, "summary_ratio": len(summary) / len(text),
        "leaks": len(LEAKS.findall(summary)) + sum(bool(LEAKS.search(t)) for t in tags),
        "seconds": seconds, "format": summary_line.get("format", "?"),
        "read_chars": summary_line.get("read_chars"),
        "subject_tags": sum(any(p.search(t.casefold()) for p in subject) for t in tags),
        "furniture_tags": sum(is_furniture_tag(t) for t in tags),
        "facts_found": found, "facts": facts, "words_found": words_found, "words": words,
        "extractive": bool(summary_line.get("extractive")), "empty_summary": not summary.strip(),
        "one_sentence": lines["one_sentence"]["summary"],
        **{f"{name}_response": {k: line[k] for k in RESPONSE_FIELDS if k in line}
           for name, line in lines.items()},
    }  # fmt: skip


def blind_text(row: dict) -> str:
    """The three answers and nothing else: no document, no code version."""
    tags = "\n".join(f"- {t}" for t in row["tags"]) or "(no tags)"
    return (f"# Answers for {row['file']}\n\n## Tags\n\n{tags}\n\n## Summary\n\n"
            f"{row['summary'].strip() or '(empty)'}\n\n## One-sentence summary\n\n"
            f"{row['one_sentence'].strip() or '(empty)'}\n")  # fmt: skip


HEAD = ("text|kind|lang|chars|read as|read chars|raw tags parse|tags|tags in doc|subject tags|"
        "furniture tags|summary/doc|leaks|names/numbers in doc|content words in doc|empty|"
        "extractive|s/doc")  # fmt: skip


def cells(r: dict) -> list[str]:
    read = f"{r['read_chars']:,}" if r["read_chars"] is not None else "?"
    return [r["file"][:28], r["kind"], r["language"], f"{r['chars']:,}", r["format"], read,
            "yes" if r["raw_parsed"] else "no", str(len(r["tags"])), f"{r['tags_in_doc']:.0%}",
            str(r["subject_tags"]), str(r["furniture_tags"]), f"{r['summary_ratio']:.3f}",
            str(r["leaks"]), share(r["facts_found"], r["facts"]),
            share(r["words_found"], r["words"]), str(int(r["empty_summary"])),
            str(int(r["extractive"])), f"{r['seconds']:.1f}"]  # fmt: skip


def totals(rows: list[dict], label: str) -> list[str]:
    n = len(rows)

    def total(key: str) -> int:
        return sum(r[key] for r in rows)

    read, tags = sum(r["read_chars"] or 0 for r in rows), sum(len(r["tags"]) for r in rows)
    subject = sum(r["subject_tags"] > 0 for r in rows) / n
    median = sorted(r["summary_ratio"] for r in rows)[n // 2]
    return [f"**{label}**", "", "", f"{total('chars'):,}", "", f"{read:,}",
            f"{total('raw_parsed') / n:.0%}", f"{tags / n:.1f}", f"{total('tags_in_doc') / n:.0%}",
            f"{subject:.0%} of texts", str(total("furniture_tags")), f"{median:.3f} (median)",
            str(total("leaks")), share(total("facts_found"), total("facts")),
            share(total("words_found"), total("words")), str(total("empty_summary")),
            str(total("extractive")), f"{total('seconds') / n:.1f}"]  # fmt: skip


def table_of(rows: list[dict], entries: dict[str, dict]) -> str:
    """The quality table: a row per text, totals per corpus half and over all texts."""
    halves: dict[str, list[dict]] = {}
    for r in rows:
        if half := entries.get(r["file"], {}).get("half"):
            halves.setdefault(half, []).append(r)
    body = [cells(r) for r in rows]
    body += [totals(part, f"{half} half, {len(part)}") for half, part in sorted(halves.items())]
    body.append(totals(rows, f"all {len(rows)}"))
    return table(HEAD, body, "lllrlrlrrrrrrrrrrr")


def main() -> None:
    args = arguments(__doc__, "quality.json",
        ("--half", {"choices": ["tuning", "held-out"], "help": "only this corpus half"}),
        ("--only", {"default": "", "help": "comma-separated file prefixes, e.g. 01,07"}),
        ("--max-chars", {"type": int, "help": "skip longer texts"}),
        ("--server", {"type": Path, "help": "the server.py to run (default: this one)"}),
        ("--blind", {"type": Path, "help": "a folder for the blind-read files"}))  # fmt: skip
    entries, rows = manifest(), []
    with sidecar(args.server) as (client, run):
        for entry in chosen(list(entries.values()), args.only):
            if args.half not in (None, entry["half"]) or entry["chars"] > (args.max_chars or 1e12):
                continue
            rows.append(evaluate(client, entry))
            print(f"{entry['file']}: {rows[-1]['seconds']:.1f}s", file=sys.stderr)
            write(args.out, run, rows=rows)  # after every text: a cut run keeps what it read
            if args.blind:
                args.blind.mkdir(parents=True, exist_ok=True)
                (args.blind / f"{entry['file']}.md").write_text(blind_text(rows[-1]), "utf-8")
    print(table_of(rows, entries))


if __name__ == "__main__":
    main()
