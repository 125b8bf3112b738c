"""A library in one command: the batch command against one document at a time.

Documents: --documents short documents of 600-3,000 characters cut from the corpus at a
paragraph break (e-mails, chat and caption excerpts, README and library-page openings,
prose), in the order of SOURCES, as a user's saved notes, mails and pages are. Each one
is asked for its tags and a summary.

One at a time: generate-tags then summarize for each document, as the app does. Batch:
one batch command with every document. Both in the same server and run, one after the
other, on the bundled model: documents per minute each, and their ratio; the batch's
generated tokens per second over its whole run, beside llama.cpp's single-stream decode
on the same GGUF (bench/results/perf.json); and how many documents got the same tags and
summary both ways (greedy decoding; batched products may round differently).
"""

from __future__ import annotations

import itertools
import sys
import time

from common import TIMEOUT_S, arguments, corpus_text, excerpt, sidecar, write

SOURCES = """
36-wine-release-announcement.eml 07-click-readme.md 41-ubuntu-irc-support-channel.txt
01-zen-of-python.txt 38-ietf-822-mime-version-reply.eml 08-requests-readme.md
43-it-accessibility-campus-leaders-captions.vtt 33-networkx-readme.rst
37-mhonarc-users-shift-jis-attachment.eml 14-python-whetting-your-appetite.txt
40-ubuntu-arm-team-meeting-irc.txt 02-debian-project-essay.txt
42-pyhf-scipy-2020-talk-captions.srt 09-httpx-readme.md 18-debian-backup.txt
45-django-5.2-release-notes.txt 05-pride-and-prejudice-ch1-5.txt
15-python-ipaddress-howto.txt 24-debian-user-space-fr.txt 44-apache-license-2.0.txt
16-python-sockets-howto.txt 10-attrs-readme.md 20-python-sorting-howto.txt
04-kjv-ecclesiastes.txt
""".split()
MAX_CHARS = 3000  # excerpt cuts at the last paragraph break past a fifth: 600 characters


def documents(n: int) -> list[dict]:
    """n documents: the SOURCES' openings, then their next excerpts when more are asked."""
    pieces = ({"id": f"{name}#{r}", "content": excerpt(corpus_text(name), MAX_CHARS, r * MAX_CHARS)}
              for r in range(n) for name in SOURCES)  # fmt: skip
    return list(itertools.islice((p for p in pieces if len(p["content"]) >= MAX_CHARS // 5), n))


def main() -> None:
    args = arguments(__doc__, "batch.json", ("--documents", {"type": int, "default": 24}))
    docs = documents(args.documents)
    with sidecar() as (client, run):
        client.call({"command": "summarize", "content": docs[0]["content"]})  # warm-up
        started, single = time.perf_counter(), {}
        for doc in docs:
            tags = client.call({"command": "generate-tags", "content": doc["content"]}, TIMEOUT_S)
            summary = client.call({"command": "summarize", "content": doc["content"]}, TIMEOUT_S)
            single[doc["id"]] = (tags["tags"], summary["summary"])
            print(f"one at a time: {doc['id']}", file=sys.stderr)
        single_s = time.perf_counter() - started
        started = time.perf_counter()
        events, final = client.request({"command": "batch", "documents": docs}, 2 * TIMEOUT_S)
        batch_s = time.perf_counter() - started
    if final["type"] != "response":
        raise SystemExit(f"the batch failed: {final}")
    batch = {e["document_id"]: (e["tags"], e["summary"]) for e in events if e["type"] == "result"}
    differ = [d["id"] for d in docs if single[d["id"]] != batch.get(d["id"])]
    answers = {d["id"]: {"single": single[d["id"]], "batch": batch.get(d["id"])} for d in docs}
    n = len(docs)
    write(args.out, run, documents=n, chars=[len(d["content"]) for d in docs],
          one_at_a_time_s=round(single_s, 1), batch_s=round(batch_s, 1),
          one_at_a_time_per_minute=round(60 * n / single_s, 2),
          batch_per_minute=round(60 * n / batch_s, 2), speedup=round(single_s / batch_s, 2),
          batch=final, batch_generated_tps=round(final["generation_tokens"] / batch_s, 1),
          same_answers=n - len(differ), differ=differ,
          answers=answers)  # fmt: skip
    print(f"one at a time {single_s:.1f} s, batch {batch_s:.1f} s: {single_s / batch_s:.2f}x")


if __name__ == "__main__":
    main()
