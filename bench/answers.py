"""The answers a reader judges: for each corpus document of one half (or a list), the tags
(generate-tags, defaults), the summary (summarize, defaults) and the one-sentence summary
(summarize with "sentences": 1, what the app asks for), as the running code gives them.

    python bench/answers.py [--half held-out|tuning] [--only 48,53] [--server PATH]
                            [--out bench/results/answers.json] [--blind DIR]

--server chooses the server.py to run (another checkout's, for a baseline); --blind also
writes DIR/<file>.md per document holding only the three answers, for a blind read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package, no install

from mlx_sidecar.client import SidecarClient

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "bench" / "corpus"
COMMAND_TIMEOUT_S = 3600.0
FIELDS = ("read_chars", "format", "extractive", "answer_language", "chunks")


def response_fields(line: dict) -> dict:
    return {k: line[k] for k in FIELDS if k in line}


def answer(client: SidecarClient, entry: dict) -> dict:
    text = (CORPUS / entry["file"]).read_text(encoding="utf-8")
    started = time.perf_counter()
    asks = {
        "tags": {"command": "generate-tags", "content": text},
        "summary": {"command": "summarize", "content": text},
        "one_sentence": {"command": "summarize", "content": text, "sentences": 1},
    }
    row = {"file": entry["file"], "kind": entry["kind"], "language": entry["language"]}
    for name, command in asks.items():
        line = client.call(command, COMMAND_TIMEOUT_S)
        row[name] = line["tags"] if name == "tags" else line["summary"]
        row[f"{name}_response"] = response_fields(line)
    row["seconds"] = round(time.perf_counter() - started, 1)
    return row


def blind_text(row: dict) -> str:
    """The three answers and nothing else: no document, no code version."""
    tags = "\n".join(f"- {t}" for t in row["tags"]) or "(no tags)"
    return (
        f"# Answers for {row['file']}\n\n## Tags\n\n{tags}\n\n## Summary\n\n"
        f"{row['summary'].strip() or '(empty)'}\n\n## One-sentence summary\n\n"
        f"{row['one_sentence'].strip() or '(empty)'}\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--half", choices=["held-out", "tuning"], default="held-out")
    parser.add_argument("--only", default="", help="comma-separated file prefixes (any half)")
    parser.add_argument("--server", default=None, help="the server.py to run (default: this one)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "answers.json"))
    parser.add_argument("--blind", default=None, help="a folder for the blind-read files")
    args = parser.parse_args()
    manifest = json.loads((CORPUS / "MANIFEST.json").read_text(encoding="utf-8"))
    only = [p for p in args.only.split(",") if p]
    entries = [
        e
        for e in manifest
        if (any(e["file"].startswith(p) for p in only) if only else e["half"] == args.half)
    ]
    command, cwd = None, None
    if args.server:
        server = Path(args.server).resolve()
        command, cwd = [sys.executable, str(server)], server.parent
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    started = time.perf_counter()
    with SidecarClient(command=command, cwd=cwd) as client:
        client.call({"command": "load-model"}, COMMAND_TIMEOUT_S)
        for entry in entries:
            row = answer(client, entry)
            rows.append(row)
            print(f"{row['file']}: {row['seconds']:.1f}s", file=sys.stderr, flush=True)
            # Written after every document, so a run cut short keeps what it got.
            out.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", "utf-8")
            if args.blind:
                folder = Path(args.blind)
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{row['file']}.md").write_text(blind_text(row), encoding="utf-8")
    print(f"{len(rows)} documents in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
