"""Collect SmolLM2's raw answers (before any clean-up) on the corpus, for the test tables.

    python bench/raw_answers.py [--max-chars 3000] [--out bench/results/raw-answers.json]

Each record names its source: corpus file, command, decoding (greedy or sampled, with or
without the tags grammar), and the raw text the model produced. tests/test_answers.py
takes its table of bad answers from this file's output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package, no install

from mlx_sidecar.platform import BLAS_ENV, Platform

ROOT = Path(__file__).resolve().parent.parent
RUNS = (
    ("generate-tags", "grammar, greedy", 0.0, True),
    ("generate-tags", "no grammar, greedy", 0.0, False),
    ("summarize", "greedy", 0.0, None),
    ("summarize", "sampled t=0.8", 0.8, None),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-chars", type=int, default=3000)
    parser.add_argument("--only", default="", help="file prefixes, comma-separated")
    parser.add_argument("--runs", default="0,1,2,3", help="which of RUNS, comma-separated")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "raw-answers.json"))
    args = parser.parse_args()
    Platform(blas_request=os.environ.get(BLAS_ENV)).require_mlx()  # BLAS before mlx.core
    from mlx_lm.sample_utils import make_logits_processors

    from mlx_sidecar.context import detached_context
    from mlx_sidecar.generation import Generator
    from mlx_sidecar.grammar import TagGrammar
    from mlx_sidecar.models import bundled_model_path, load_model
    from mlx_sidecar.prompts import SUMMARY_TASK, TAGS_TASK, encode_prompt

    model = load_model(bundled_model_path(), "auto")
    generator = Generator(model)  # one: its prompt cache serves a text's every run
    grammar = TagGrammar(model)
    corpus = ROOT / "bench" / "corpus"
    records = []
    for entry in json.loads((corpus / "MANIFEST.json").read_text(encoding="utf-8")):
        if args.only and not entry["file"].startswith(tuple(args.only.split(","))):
            continue
        text = (corpus / entry["file"]).read_text(encoding="utf-8")[: args.max_chars]
        tok = model.tokenizer
        runs = [RUNS[int(i)] for i in args.runs.split(",")]
        for command, decoding, temp, constrained in runs:
            if command == "generate-tags":
                task = TAGS_TASK.format(n=5)
                processor = grammar.processor(5, 100) if constrained else None
                procs = [processor] if processor else None
                max_tokens = 100
            else:
                task = SUMMARY_TASK.format(sentences="two or three sentences")
                procs = make_logits_processors(repetition_penalty=1.15, repetition_context_size=64)
                max_tokens = 160
            prompt = encode_prompt(tok, text, task)
            result = generator.generate(
                prompt,
                detached_context(),
                max_tokens=max_tokens,
                temperature=temp,
                logits_processors=procs,
            )
            records.append(
                {
                    "file": entry["file"],
                    "chars": len(text),
                    "command": command,
                    "decoding": decoding,
                    "raw": result.text,
                }
            )
            print(entry["file"], command, decoding, repr(result.text[:120]), file=sys.stderr)
            Path(args.out).write_text(
                json.dumps(records, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
