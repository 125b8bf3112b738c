"""Summaries in the language asked: how often, before and after the second pass, and said.

Cases: the first non-English corpus text of each language (MANIFEST.json) cut to about
CUT characters at a line end, asked for one sentence (what the app asks) in its own
language and in English, and three English texts asked in German, French and Spanish;
through `python server.py`, bundled model. First pass: the share answered in the language
asked in one pass (`passes: 2` says the second ran, the model translating its summary,
which it does only when the first was not in the language asked). After the second pass:
the share whose `answer_language` is the one asked. Labelled truly: the share whose
`answer_language` names the language py3langid (a second library, under --judge) names
the summary (text.same_language); where a reader read the summary, a row's `read` says
its language and stands for py3langid's.
"""

from __future__ import annotations

import json
import subprocess
import time

from common import CORPUS, TIMEOUT_S, arguments, manifest, sidecar, write

CUT = 2000  # characters of each text: one pass, and minutes, not hours, on a busy 2-core CPU
ENGLISH = {"de": "14-python-whetting-your-appetite.txt", "fr": "07-click-readme.md",
           "es": "50-git-howto-using-merge-subtree.txt"}  # fmt: skip
JUDGE = "import json, sys, py3langid as p\ntexts = json.load(sys.stdin)\n"
JUDGE += "print(json.dumps([p.classify(t)[0] for t in texts]))"


def cases() -> list[tuple[str, str, str]]:
    """(file, its language, the language asked)."""
    foreign = [(f, m["language"]) for f, m in manifest().items()  # a cut page has no body
               if m["language"] != "en" and not f.endswith(".html")]  # fmt: skip
    foreign = list({lang: (f, lang) for f, lang in reversed(foreign)}.values())  # the first
    own = [(f, lang, asked) for f, lang in foreign for asked in (lang, "en")]
    return own + [(f, "en", asked) for asked, f in ENGLISH.items()]


def excerpt(file: str) -> str:
    text = (CORPUS / file).read_text(encoding="utf-8")
    return text[: text.rfind("\n", 0, CUT) + 1 or CUT]


def main() -> None:
    judge = ("--judge", {"default": "/tmp/lid/bin/python", "help": "has py3langid"})
    args = arguments(__doc__, "language.json", judge)
    rows, start = [], time.time()
    with sidecar() as (client, run):
        for file, language, want in cases():
            request = {"command": "summarize", "content": excerpt(file), "language": want}
            r = client.call({**request, "sentences": 1}, TIMEOUT_S)
            said = {k: r[k] for k in ("answer_language", "passes", "summary")}
            rows.append({"file": file, "language": language, "asked": want, **said,
                         "extractive": r.get("extractive", False)})  # fmt: skip
            print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    summaries = json.dumps([r["summary"] for r in rows])
    judged = subprocess.run([args.judge, "-c", JUDGE], input=summaries, text=True,
                            capture_output=True, check=True).stdout  # fmt: skip
    for row, named in zip(rows, json.loads(judged), strict=True):
        row["py3langid"] = named
    write(args.out, run | {"seconds": round(time.time() - start)}, rows=rows)


if __name__ == "__main__":
    main()
