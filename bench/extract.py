"""Extract on the labelled set (bench/corpus/extract/), beside the app's way; its speed.

    python bench/extract.py [--minutes 40] [--only 02,34] [--out bench/results/extract.json]

Quality: the held-out half, then the tuning half while --minutes last; each document with
each recipe the MANIFEST applies: `extract` with the recipe's schema, and the app's way,
`chat` with one user message ("Respond in JSON with these fields:", each field's name,
question and an enum's choices, then the document), no `format`, at most 96 tokens, fences
stripped, `json.loads`, jsonschema against the recipe. In an answer that parsed, a value
matches when it and a label (the MANIFEST's value, its text at the span, an `also`) state
each other by repairs/values.py's Evidence (case, whitespace, a date or number written
another way); a choice when its text_key is the label's; null against null ("" is null).
A value matching no label is invented when the field is labelled null or the file does not
state it (Evidence; a number must stand whole); named when `not_in_document` lists it.

Speed: a document's first extract reads it cold; then generate-tags and its other extracts
(tags second or third, alternating by document) find it in the prompt cache: wall time of
each, and per document its cached extracts' median over its tags.

Grammar: in process, on the bundled model's tokenizer, schemas of 5, 20 and 60 properties
(nullable strings and numbers, integers, booleans, enums) held as extract holds them: the
build (grammar_from_json_schema and LLMatcher, median of 5); over the first 50 tokens of a
valid answer, fill_next_token_bitmask alone and the sidecar's whole Constraint call.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

from common import CORPUS, RESULTS, ROOT, TIMEOUT_S, sidecar, write
from report import f1, f2, share, table

from mlx_sidecar.repairs import values
from mlx_sidecar.schemas import field_questions

SET, APP_TOKENS, SIZES, WHO = CORPUS / "extract", 96, (5, 20, 60), ("extract", "app")
FENCED = re.compile(r"```(?:json)?\s*(.*?)```", re.S)
HEADS = (
    ("field", "values", "extract matches", "app's way matches", "extract invented",
     "named by not_in_document", "app's way invented"),
    ("commands", "extract parsed", "extract valid", "app's way parsed", "app's way valid",
     f"app's way cut at {APP_TOKENS} tokens"),
    ("properties", "tokens", "build, ms", "mask, ms (median)", "mask, ms (max)",
     "Constraint call, ms (median)"),
)  # fmt: skip


def timed(client, command: dict) -> tuple[dict, float]:
    started = time.perf_counter()
    line = client.request(command, TIMEOUT_S)[1]  # an error line too
    return line, round(time.perf_counter() - started, 2)


def app_way(client, schema: dict, document: str) -> tuple[dict | None, dict]:
    asks = [f"- {at[1:]}: {q}" for at, q in field_questions(schema)]
    for i, node in enumerate(schema["properties"].values()):
        asks[i] += f" One of: {json.dumps(node['enum'])}." if "enum" in node else ""
    content = "Respond in JSON with these fields:\n" + "\n".join(asks) + "\n\n" + document
    messages = [{"role": "user", "content": content}]
    line, s = timed(client, {"command": "chat", "messages": messages, "max_tokens": APP_TOKENS})
    text, data = line.get("response", ""), None
    with contextlib.suppress(ValueError):
        data = json.loads(m.group(1) if (m := FENCED.search(text)) else text)
    data = data if isinstance(data, dict) else None
    said = {"raw": text, "finish": line.get("finish_reason")}
    return data, {"s": s, "parsed": data is not None, "valid": valid(schema, data), **said}


def valid(schema: dict, data: dict | None) -> bool:
    import jsonschema

    return data is not None and jsonschema.Draft202012Validator(schema).is_valid(data)


def judge(value, label: dict, also: list, choice: bool, doc: values.Evidence) -> dict:
    value, want, said = None if value == "" else value, label["value"], values.Evidence
    if want is None or value is None or isinstance(value, (dict, list, bool)):
        hit = want is value
    elif choice:
        hit = values.text_key(str(value)) == values.text_key(str(want))
    elif isinstance(want, (int, float)):
        hit = said(str(value)).states(want)
    else:
        labels = [want, label["text"], *also]
        hit = any(said(str(value)).states(x) and said(x).states(value) for x in labels)
    made_up = not (hit or choice or value is None or isinstance(value, (dict, list, bool)))
    made_up = made_up and (want is None or not stated(value, doc))
    return {"value": value, "match": hit, "invented": made_up}


def stated(value, doc: values.Evidence) -> bool:
    """Evidence's rule, but a number stands whole (Evidence also reads each run of digits:
    "51.60" states 51 and 60, "¥12,080" states 12)."""
    if not isinstance(value, (int, float)):
        return doc.states(value)
    read = [values._interpretations(m.group(), False) for m in values.NUMBER.finditer(doc.key)]
    return bool(values._number_candidates(value) & set().union(*read))


def run_document(client, entry: dict, recipes: dict, flip: bool) -> tuple[list, dict]:
    """Extract with each recipe (generate-tags second or third), then the app's way."""
    doc, lines, speed = (SET / entry["file"]).read_text(encoding="utf-8"), {}, {"extract": []}
    steps = list(entry["expected"])
    for step in steps[:1] + ([*steps[1:2], "tags"] if flip else ["tags"]) + steps[1 + flip :]:
        ask = {"command": "extract", "schema": recipes.get(step)} if step != "tags" else {}
        lines[step], s = timed(client, {"command": "generate-tags", **ask, "content": doc})
        took = {"s": s, **{k: lines[step].get(k) for k in ("prompt_tokens", "cached_tokens")}}
        speed.update(tags=took) if step == "tags" else speed["extract"].append(took)
    evidence, rows = values.Evidence(doc, (entry["language"],)), []
    for recipe, labels in entry["expected"].items():
        line, schema = lines[recipe], recipes[recipe]
        data, (app, asked) = line.get("data"), app_way(client, schema, doc)
        got = {"parsed": data is not None, "valid": valid(schema, data), "error": line.get("code")}
        for field, label in labels.items():
            also = entry.get("also", {}).get(field, [])
            choice = "enum" in schema["properties"][field]
            x = judge((data or {}).get(field), label, also, choice, evidence) | {"command": got}
            x["named"] = f"/{field}" in line.get("not_in_document", [])
            a = judge((app or {}).get(field), label, also, choice, evidence) | {"command": asked}
            where = {"file": entry["file"], "half": entry["split"], "recipe": recipe}
            rows.append(where | {"field": field, "label": label["value"], "extract": x, "app": a})
    return rows, speed | {"file": entry["file"]}


def grammar_costs() -> list[dict]:
    from mlx_sidecar.platform import BLAS_ENV, Platform

    Platform(blas_request=os.environ.get(BLAS_ENV)).require_mlx()
    import llguidance
    import mlx.core as mx
    from llguidance.numpy import allocate_token_bitmask, fill_next_token_bitmask

    from mlx_sidecar.grammar import TagGrammar, schema_grammar
    from mlx_sidecar.models import bundled_model_path, load_model
    from mlx_sidecar.schemas import check_extract_schema
    from mlx_sidecar.tasks.extract import grammar_schema

    grammar = TagGrammar(load_model(bundled_model_path(), "auto"))
    tokenizer, rows = grammar.tokenizer(), []
    kinds = [({"type": ["string", "null"], "maxLength": 80}, "Junio C Hamano"),
             ({"type": "integer"}, 2014), ({"type": ["number", "null"]}, 104.9),
             ({"type": "boolean"}, True), ({"enum": ["e-mail", None]}, None)]  # fmt: skip
    for n in SIZES:
        fields = {f"field_{i}": kinds[i % 5] for i in range(n)}
        asked = {k: {**p, "description": f"{k}?"} for k, (p, _) in fields.items()}
        held = grammar_schema(check_extract_schema({"type": "object", "properties": asked}))
        builds, masks, calls = [], [], []
        for _ in range(5):
            started = time.perf_counter()
            matcher = llguidance.LLMatcher(tokenizer, schema_grammar(held))
            builds.append(time.perf_counter() - started)
        bitmask = allocate_token_bitmask(1, tokenizer.vocab_size)
        constraint, logits = (
            grammar.schema_processor(held, 1000),
            mx.zeros((1, tokenizer.vocab_size)),
        )
        answer, tokens = (
            json.dumps({k: v for k, (_, v) in fields.items()}, separators=(",", ":")),
            [0],
        )
        for token in tokenizer.tokenize_str(answer)[:50]:
            started = time.perf_counter()
            fill_next_token_bitmask(matcher, bitmask)
            masks.append(time.perf_counter() - started)
            matcher.consume_token(token)
            started = time.perf_counter()
            mx.eval(constraint(mx.array(tokens), logits))
            calls.append(time.perf_counter() - started)
            tokens.append(token)
        ms = [median(builds), median(masks), max(masks), median(calls)]
        ms = [round(1000 * x, 3) for x in ms]
        rows.append({"properties": n, "tokens": len(masks), "ms": ms, "ok": not matcher.is_error()})
        print(f"grammar: {rows[-1]}", file=sys.stderr)
    return rows


def tables(data: dict) -> tuple[list[str], list[str], list[str]]:
    """The report's blocks: quality (by field and half; the commands), speed, grammar."""
    rows, by, quality, commands = data["rows"], {}, [], []
    for key in ("field", "half", None):  # each field, then each half, then all
        for r in rows:
            by.setdefault(f"all, {r[key]}" if key == "half" else r.get(key, "all"), []).append(r)
    for key, g in by.items():
        made_up = [r for r in g if r["extract"]["invented"]]
        named = share(sum(r["extract"]["named"] for r in made_up), len(made_up))
        hits = [sum(r[w]["match"] and r[w]["command"]["parsed"] for r in g) for w in WHO]
        matched = [share(hit, len(g)) for hit in hits]
        app_made_up = str(sum(r["app"]["invented"] for r in g))
        quality.append([key, str(len(g)), *matched, str(len(made_up)), named, app_made_up])
    each = list({(r["file"], r["recipe"]): r for r in rows}.values())  # one row a command
    for half in ("held-out", "tuning", None):
        g = [r["extract"]["command"] for r in each if half in (None, r["half"])]
        h = [r["app"]["command"] for r in each if half in (None, r["half"])]
        cells = [share(sum(c[k] for c in x), len(x)) for x in (g, h) for k in ("parsed", "valid")]
        commands.append([half or "all", *cells, str(sum(c["finish"] == "length" for c in h))])
    false = sum(r["extract"]["named"] and not r["extract"]["invented"] for r in rows)
    sp, times = data["speed"], {}
    times["extract, the document's first command (cold)"] = [d["extract"][0]["s"] for d in sp]
    warm = [x["s"] for d in sp for x in d["extract"][1:]]
    times["extract, the document in the prompt cache"] = warm
    times["generate-tags, the document in the prompt cache"] = [d["tags"]["s"] for d in sp]
    times["the app's way (chat, cold)"] = [r["app"]["command"]["s"] for r in each]
    ratios = [median(x["s"] for x in d["extract"][1:]) / d["tags"]["s"] for d in sp]
    speed = [[k, str(len(t)), f1(median(t))] for k, t in times.items()]
    grammar = []
    for g in data["grammar"] or []:
        grammar.append([str(g["properties"]), str(g["tokens"]), f2(g["ms"][0])])
        grammar[-1] += [f"{m:.3f}" for m in g["ms"][1:]]
    return (
        [table(HEADS[0], quality, "lrrrrrr"), table(HEADS[1], commands, "lrrrrr"),
         f"`not_in_document` also named {false} values that were not invented."],
        [table(("command", "commands", "median s"), speed, "lrr"),
         f"Per document, its cached extracts' median time over its generate-tags': "
         f"{median(ratios):.2f}x (from {min(ratios):.2f}x to {max(ratios):.2f}x)."],
        [table(HEADS[2], grammar, "rrrrrr")] if grammar else [],
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=40.0, help="no tuning document after")
    parser.add_argument("--only", default="", help="file prefixes, comma-separated")
    parser.add_argument("--out", type=Path, default=RESULTS / "extract.json")
    args = parser.parse_args()
    manifest = json.loads((SET / "MANIFEST.json").read_text(encoding="utf-8"))
    recipes = {k: json.loads((SET / v).read_text()) for k, v in manifest["recipes"].items()}
    only = tuple(args.only.split(","))
    entries = [e for e in manifest["documents"] if e["file"].startswith(only)]
    entries.sort(key=lambda e: e["split"] != "held-out")
    started, found = time.time(), {"left_out": [], "rows": [], "speed": [], "grammar": None}
    with sidecar() as (client, run):
        head = ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]
        run["code"] = subprocess.check_output(head, text=True).strip()  # the sidecar measured
        timed(client, {"command": "generate-tags", "content": "A warm-up: a model's first words."})
        for i, entry in enumerate(entries):
            if entry["split"] != "held-out" and time.time() - started > 60 * args.minutes:
                found["left_out"].append(entry["file"])
                continue
            rows, speed = run_document(client, entry, recipes, flip=i % 2 == 1)
            found["rows"] += rows
            found["speed"].append(speed)
            write(args.out, run, **found)  # what is done so far, should the run stop
            print(f"{entry['file']}: {time.time() - started:.0f} s", file=sys.stderr)
    found["grammar"] = grammar_costs()
    end = {"seconds": round(time.time() - started), "load_average_end": os.getloadavg()[0]}
    write(args.out, run | end, **found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
