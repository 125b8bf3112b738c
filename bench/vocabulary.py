"""The user's own tags (`known_tags`): relevance, and speed with a large list.

Relevance: for each corpus text, generate-tags with known_tags = the text's MANIFEST
subject names plus UNRELATED (24 topics no corpus text is about), once with
max_new_tags 0 and once with 1. Reported per setting: the share of texts where a subject
tag is chosen, and the share of the chosen tags that are unrelated. Each text is cut to
--max-chars characters (at a paragraph) so one pass reads it.

Speed: on SPEED_TEXTS, generate-tags without a list, then with 5,000 known tags (the
subjects, UNRELATED and generated filler tags) and max_new_tags 0, twice (the second call
reuses the list's grammar), in the same server: seconds, and the ratio to the call
without a list.
"""

from __future__ import annotations

import sys
import time

import common
from common import TIMEOUT_S, corpus_text, excerpt, sidecar, timed, write

from mlx_sidecar.client import SidecarClient

UNRELATED = ("cooking gardening knitting football astronomy poetry surfing origami opera ballet "
             "fishing skiing pottery chess volcanoes dinosaurs jazz yoga baking tennis sailing "
             "birdwatching photography calligraphy").split()  # fmt: skip
SPEED_TEXTS = ("07-click-readme.md", "09-httpx-readme.md", "30-python-fnmatch-page.html")


def relevance(client: SidecarClient, entries: list[dict], max_chars: int) -> dict:
    """Per max_new_tags setting: texts with a subject tag chosen, unrelated tags chosen."""
    out: dict = {}
    for max_new in (0, 1):
        rows = []
        for entry in entries:
            content = excerpt(corpus_text(entry["file"]), max_chars)
            known = {"known_tags": [*entry["subject"], *UNRELATED], "max_new_tags": max_new}
            line = client.call({"command": "generate-tags", "content": content, **known}, TIMEOUT_S)
            subject, tags = {s.casefold() for s in entry["subject"]}, line["tags"]
            rows.append({"file": entry["file"], "tags": tags, "new_tags": line["new_tags"],
                         "subject_chosen": any(t.casefold() in subject for t in tags),
                         "unrelated_chosen": [t for t in tags if t in UNRELATED]})  # fmt: skip
            print(f"max_new {max_new} {entry['file']}: {tags}", file=sys.stderr)
        out[str(max_new)] = {"texts": len(rows),
                             "texts_with_subject_tag": sum(r["subject_chosen"] for r in rows),
                             "tags_chosen": sum(len(r["tags"]) for r in rows),
                             "unrelated_tags_chosen": sum(len(r["unrelated_chosen"]) for r in rows),
                             "texts_with_no_tag": sum(not r["tags"] for r in rows),
                             "rows": rows}  # fmt: skip
    return out


def speed(client: SidecarClient, entries: dict[str, dict]) -> list[dict]:
    """Seconds of generate-tags without a list and with 5,000 known tags (twice)."""
    rows = []
    for file in SPEED_TEXTS:
        subject = entries[file]["subject"]
        filler = [f"topic {i:04d}" for i in range(5000 - len(subject) - len(UNRELATED))]
        known = {"known_tags": [*subject, *UNRELATED, *filler], "max_new_tags": 0}
        base, row = {"command": "generate-tags", "content": corpus_text(file)}, {"file": file}
        row["known_tags"] = len(known["known_tags"])
        for name, fields in (("no_list", {}), ("list_first", known), ("list_again", known)):
            client.call(base)  # the same prefix is cached for every variant alike
            row[name] = round(timed(client, {**base, **fields})[1], 3)
        rows.append(row)
        print(f"speed: {row}", file=sys.stderr)
    return rows


def main() -> None:
    args = common.arguments(__doc__, "vocabulary.json",
                            ("--max-chars", {"type": int, "default": 6000}),
                            ("--only", {"default": "", "help": "file prefixes"}))  # fmt: skip
    entries, started = common.manifest(), time.time()
    with sidecar() as (client, run):
        found = relevance(client, common.chosen(list(entries.values()), args.only), args.max_chars)
        timings = speed(client, entries)
    write(args.out, run, seconds=round(time.time() - started, 1), max_chars=args.max_chars,
          unrelated=UNRELATED, relevance=found, speed=timings)  # fmt: skip


if __name__ == "__main__":
    main()
