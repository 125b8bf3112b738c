"""The user's own tags (`known_tags`): relevance, speed with large lists, grammar costs.

    python bench/vocabulary.py [--max-chars 6000] [--only 07,09] [--out bench/results/vocabulary.json]

Relevance: for each corpus text, generate-tags with known_tags = the text's MANIFEST
subject names plus UNRELATED (24 topics no corpus text is about), once with
max_new_tags 0 and once with 1. Reported per setting: the share of texts where a subject
tag is chosen, and the share of the chosen tags that are unrelated. Each text is cut to
--max-chars characters (at a paragraph) so one pass reads it.

Speed: on SPEED_TEXTS, generate-tags without a list, then with 5,000 known tags (the
subjects, UNRELATED and generated filler tags) and max_new_tags 0, twice (the second call
reuses the list's grammar), in the same server: seconds, and the ratio to the call
without a list.

Grammar: llguidance's build time for the grammar of 25, 1,000 and 10,000 known tags, and
the time to compute one token's mask along a tags answer, with the bundled model's
tokenizer, in process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from common import RESULTS, TIMEOUT_S, corpus_text, excerpt, sidecar, write
from quality import manifest

from mlx_sidecar.client import SidecarClient

UNRELATED = (
    "cooking gardening knitting football astronomy poetry surfing origami opera ballet fishing "
    "skiing pottery chess volcanoes dinosaurs jazz yoga baking tennis sailing birdwatching "
    "photography calligraphy".split()
)
SPEED_TEXTS = ("07-click-readme.md", "09-httpx-readme.md", "30-python-fnmatch-page.html")
LIST_SIZES = (25, 1000, 10000)


def relevance(client: SidecarClient, entries: list[dict], max_chars: int) -> dict:
    """Per max_new_tags setting: texts with a subject tag chosen, unrelated tags chosen."""
    out: dict = {}
    for max_new in (0, 1):
        rows = []
        for entry in entries:
            line = client.call(
                {
                    "command": "generate-tags",
                    "content": excerpt(corpus_text(entry["file"]), max_chars),
                    "known_tags": [*entry["subject"], *UNRELATED],
                    "max_new_tags": max_new,
                },
                TIMEOUT_S,
            )
            subject = {s.casefold() for s in entry["subject"]}
            rows.append(
                {
                    "file": entry["file"],
                    "tags": line["tags"],
                    "new_tags": line["new_tags"],
                    "subject_chosen": any(t.casefold() in subject for t in line["tags"]),
                    "unrelated_chosen": [t for t in line["tags"] if t in UNRELATED],
                }
            )
            print(f"max_new {max_new} {entry['file']}: {line['tags']}", file=sys.stderr)
        out[str(max_new)] = {
            "texts": len(rows),
            "texts_with_subject_tag": sum(r["subject_chosen"] for r in rows),
            "tags_chosen": sum(len(r["tags"]) for r in rows),
            "unrelated_tags_chosen": sum(len(r["unrelated_chosen"]) for r in rows),
            "texts_with_no_tag": sum(not r["tags"] for r in rows),
            "rows": rows,
        }
    return out


def speed(client: SidecarClient, entries: dict[str, dict]) -> list[dict]:
    """Seconds of generate-tags without a list and with 5,000 known tags (twice)."""
    rows = []
    for file in SPEED_TEXTS:
        subject = entries[file]["subject"]
        filler = [f"topic {i:04d}" for i in range(5000 - len(subject) - len(UNRELATED))]
        known = [*subject, *UNRELATED, *filler]
        base = {"command": "generate-tags", "content": corpus_text(file)}
        timings = {}
        for name, fields in (
            ("no_list", {}),
            ("list_first", {"known_tags": known, "max_new_tags": 0}),
            ("list_again", {"known_tags": known, "max_new_tags": 0}),
        ):
            client.call(base)  # the same prefix is cached for every variant alike
            started = time.perf_counter()
            client.call({**base, **fields}, TIMEOUT_S)
            timings[name] = round(time.perf_counter() - started, 3)
        rows.append({"file": file, "known_tags": len(known), **timings})
        print(f"speed {file}: {timings}", file=sys.stderr)
    return rows


def grammar_costs() -> list[dict]:
    """Build time and per-token mask time of known-tag grammars, in process."""
    from mlx_sidecar.platform import BLAS_ENV, Platform

    Platform(blas_request=os.environ.get(BLAS_ENV)).require_mlx()
    import llguidance
    from llguidance.numpy import allocate_token_bitmask, fill_next_token_bitmask

    from mlx_sidecar.grammar import TagGrammar, known_tags_grammar
    from mlx_sidecar.models import bundled_model_path, load_model

    tokenizer = TagGrammar(load_model(bundled_model_path(), "auto")).tokenizer()
    rows = []
    for size in LIST_SIZES:
        known = ["C#", "Node.js", "日本語", *UNRELATED, *(f"topic {i:05d}" for i in range(size))]
        known = known[:size]
        started = time.perf_counter()
        matcher = llguidance.LLMatcher(tokenizer, known_tags_grammar(known, 5, 1))
        build = time.perf_counter() - started
        answer = json.dumps([known[0], known[1], known[-1], "a new tag"], ensure_ascii=False)
        bitmask = allocate_token_bitmask(1, tokenizer.vocab_size)
        masks = []
        for token in tokenizer.tokenize_str(answer):
            started = time.perf_counter()
            fill_next_token_bitmask(matcher, bitmask)
            masks.append(time.perf_counter() - started)
            matcher.consume_token(token)
        rows.append(
            {
                "known_tags": size,
                "build_ms": round(1000 * build, 2),
                "mask_ms_median": round(1000 * statistics.median(masks), 3),
                "mask_ms_max": round(1000 * max(masks), 3),
                "tokens": len(masks),
            }
        )
        print(f"grammar {size}: {rows[-1]}", file=sys.stderr)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-chars", type=int, default=6000)
    parser.add_argument("--only", default="", help="file prefixes, comma-separated")
    parser.add_argument("--out", type=Path, default=RESULTS / "vocabulary.json")
    args = parser.parse_args()
    entries = manifest()
    only = tuple(p for p in args.only.split(",") if p)
    chosen = [e for e in entries.values() if not only or e["file"].startswith(only)]
    started = time.time()
    with sidecar() as (client, run):
        found = relevance(client, chosen, args.max_chars)
        timings = speed(client, entries)
    grammar = grammar_costs()
    write(
        args.out,
        run,
        seconds=round(time.time() - started, 1),
        max_chars=args.max_chars,
        unrelated=UNRELATED,
        relevance=found,
        speed=timings,
        grammar=grammar,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
