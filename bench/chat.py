"""Chat: a follow-up turn against the first, and `format` against plain text.

Follow-up: a system message (an instruction and 5,400 characters of Pride and Prejudice)
and a question, ~1,500 tokens, answered in up to 16 tokens (turn 1, cold: each
conversation begins with its own line); then all of it, turn 1's answer and a new question
(turn 2). Wall time and cached share (`cached_tokens` / `prompt_tokens`) of each turn; again
with a generate-tags of another document (2,850 characters of the Debian essay) between.

One cache: summarize the prose, generate-tags of the other document, summarize the prose
again: the second summarize's time and cached share. The prompt caches are a few (an LRU)
since c0c19cc; the 2026-12-07 run also ran c0c19cc^, whose one cache the tags took.

Format: ten research topics asked for as a JSON array of strings, with `format` (a JSON
Schema, an array of at least 5 strings: with no minimum SmolLM2 answers `[]`; and "json")
and without, up to 96 tokens: generated tokens, tok/s and wall time a token, over plain's.

Each figure is the median of --reps repetitions, each running every measure once (in a
rotating order) on one server; ratios are taken within a repetition.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from common import arguments, commit, corpus_text, excerpt, sidecar, timed, write

from mlx_sidecar.client import SidecarClient

PROSE = excerpt(corpus_text("05-pride-and-prejudice-ch1-5.txt"), 5400)
OTHER = excerpt(corpus_text("02-debian-project-essay.txt"), 3000)
SYSTEM = "You are a careful reader. Answer questions about this text in one short sentence."
ASKED = [{"role": "user", "content": "Who has taken Netherfield Park?"}]
ASKED += [{"role": "user", "content": "How many daughters do the Bennets have?"}]
TOPICS = ("List ten research topics on honeybees as a JSON array of strings, "
          'such as ["Pollination", "Hive temperature"].')  # fmt: skip
STRINGS = {"type": "array", "items": {"type": "string"}, "minItems": 5}
FORMATS = {"plain": None, "schema": STRINGS, "json": "json"}
KEYS = ("prompt_tokens", "cached_tokens", "generation_tokens", "generation_tps")


def ask(client: SidecarClient, command: dict) -> tuple[dict, dict]:
    """A command's answer, and its wall time with its counts."""
    line, s = timed(client, {"max_tokens": 16, **command})
    return line, {"s": round(s, 3), **{k: line[k] for k in KEYS}}


def turns(client: SidecarClient, first_line: str, between: str | None) -> dict:
    said = [{"role": "system", "content": f"{first_line}\n{SYSTEM}\n\n{PROSE}"}]
    line, one = ask(client, {"command": "chat", "messages": [*said, ASKED[0]]})
    if between:
        ask(client, {"command": "generate-tags", "content": between})
    said += [ASKED[0], {"role": "assistant", "content": line["response"]}, ASKED[1]]
    _, two = ask(client, {"command": "chat", "messages": said})
    return {"turn1": one, "turn2": two, "time_ratio": round(two["s"] / one["s"], 3)}


def one_cache(client: SidecarClient, first_line: str, other: str) -> dict:
    summarize = {"command": "summarize", "content": f"{first_line}\n{PROSE}"}
    ask(client, summarize)
    ask(client, {"command": "generate-tags", "content": other})
    return ask(client, summarize)[1]


def formats(client: SidecarClient) -> dict:
    out = {}
    for name, fmt in FORMATS.items():
        asked = {"command": "chat", "messages": [{"role": "user", "content": TOPICS}]}
        _, out[name] = ask(client, {**asked, "max_tokens": 96, **({"format": fmt} if fmt else {})})
        out[name]["s_per_token"] = round(out[name]["s"] / max(out[name]["generation_tokens"], 1), 4)
    for name in ("schema", "json"):
        for key in ("generation_tps", "s_per_token"):
            out[name][key + "_ratio"] = round(out[name][key] / out["plain"][key], 3)
    return out


def repetition(i: int, client: SidecarClient) -> dict:
    tag = f"Reading {time.time_ns()}-{i}"  # no earlier prompt begins like this one
    measures = {"follow_up": lambda: turns(client, f"{tag}a.", None),
                "between": lambda: turns(client, f"{tag}b.", f"Essay {tag}b.\n{OTHER}"),
                "lru": lambda: one_cache(client, f"{tag}c.", f"Essay {tag}c.\n{OTHER}"),
                "format": lambda: formats(client)}  # fmt: skip
    names = [*measures][i % len(measures) :] + [*measures][: i % len(measures)]
    done = {n: measures[n]() for n in names}
    print(f"repetition {i + 1}: {done}", file=sys.stderr)
    return done


def leaves(tree: dict, path: str = "") -> dict:  # {"a": {"b": 1}} as {"a.b": 1}
    return {k: v for key, value in tree.items() for k, v in (leaves(value, f"{path}{key}.")
            if isinstance(value, dict) else {path + key: value}).items()}  # fmt: skip


def main() -> None:
    args = arguments(__doc__, "chat.json", ("--reps", {"type": int, "default": 5}))
    with sidecar() as (client, run):
        formats(client)  # warm-up: first-call allocations, the grammar's first build
        reps = [repetition(i, client) for i in range(args.reps)]
    each = [leaves(r) for r in reps]
    medians = {k: round(statistics.median(e[k] for e in each), 4) for k in each[0]}
    run["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    commits = {"measured": commit()}  # -dirty: a server with edits
    write(args.out, run, reps=len(reps), commits=commits, medians=medians, runs=reps)


if __name__ == "__main__":
    main()
