"""Extract on the labelled set (bench/corpus/extract/), beside the app's way; its speed.

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

import contextlib
import json
import os
import re
import sys
import time
from statistics import median

import common
from common import CORPUS, sidecar, timed, write

from mlx_sidecar.repairs import values
from mlx_sidecar.schemas import field_questions

SET, APP_TOKENS, SIZES = CORPUS / "extract", 96, (5, 20, 60)
FENCED = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def app_way(client, schema: dict, document: str) -> tuple[dict | None, dict]:
    asks = [f"- {at[1:]}: {q}" for at, q in field_questions(schema)]
    for i, node in enumerate(schema["properties"].values()):
        asks[i] += f" One of: {json.dumps(node['enum'])}." if "enum" in node else ""
    content = "Respond in JSON with these fields:\n" + "\n".join(asks) + "\n\n" + document
    messages = [{"role": "user", "content": content}]
    ask = {"command": "chat", "messages": messages, "max_tokens": APP_TOKENS}
    line, s = timed(client, ask, errors=True)
    text, data = line.get("response", ""), None
    with contextlib.suppress(ValueError):
        data = json.loads(m.group(1) if (m := FENCED.search(text)) else text)
    data = data if isinstance(data, dict) else None
    said = {"parsed": data is not None, "valid": valid(schema, data), "raw": text}
    return data, {"s": round(s, 2), **said, "finish": line.get("finish_reason")}


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
        lines[step], s = timed(client, {"command": "generate-tags", **ask, "content": doc}, True)
        took = {"s": round(s, 2), "prompt_tokens": lines[step].get("prompt_tokens"),
                "cached_tokens": lines[step].get("cached_tokens")}  # fmt: skip
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
    from mlx_sidecar.grammar import TagGrammar, schema_grammar
    from mlx_sidecar.schemas import check_extract_schema
    from mlx_sidecar.tasks.extract import grammar_schema

    grammar = TagGrammar(common.bundled_model())
    import llguidance
    import mlx.core as mx
    from llguidance.numpy import allocate_token_bitmask, fill_next_token_bitmask

    tokenizer, rows = grammar.tokenizer(), []
    kinds = [({"type": ["string", "null"], "maxLength": 80}, "Junio C Hamano"),
             ({"type": "integer"}, 2014), ({"type": ["number", "null"]}, 104.9),
             ({"type": "boolean"}, True), ({"enum": ["e-mail", None]}, None)]  # fmt: skip
    for n in SIZES:
        fields = {f"field_{i}": kinds[i % 5] for i in range(n)}
        asked = {k: {**p, "description": f"{k}?"} for k, (p, _) in fields.items()}
        held = grammar_schema(check_extract_schema({"type": "object", "properties": asked}))
        builds = []
        for _ in range(5):
            started = time.perf_counter()
            matcher = llguidance.LLMatcher(tokenizer, schema_grammar(held))
            builds.append(1000 * (time.perf_counter() - started))
        answer = json.dumps({k: v for k, (_, v) in fields.items()}, separators=(",", ":"))
        tokens, masks, calls = tokenizer.tokenize_str(answer)[:50], [], []
        bitmask = allocate_token_bitmask(1, tokenizer.vocab_size)
        constraint = grammar.schema_processor(held, 1000)
        logits = mx.zeros((1, tokenizer.vocab_size))
        for i, token in enumerate(tokens):  # the answer so far, as generation hands it over
            started = time.perf_counter()
            fill_next_token_bitmask(matcher, bitmask)  # llguidance's mask alone
            masks.append(1000 * (time.perf_counter() - started))
            matcher.consume_token(token)
            started = time.perf_counter()
            mx.eval(constraint(mx.array([0, *tokens[:i]]), logits))  # the sidecar's whole call
            calls.append(1000 * (time.perf_counter() - started))
        ms = [round(x, 3) for x in (median(builds), median(masks), max(masks), median(calls))]
        rows.append({"properties": n, "tokens": len(masks), "ms": ms, "ok": not matcher.is_error()})
        print(f"grammar: {rows[-1]}", file=sys.stderr)
    return rows


def main() -> None:
    args = common.arguments(__doc__, "extract.json",
        ("--minutes", {"type": float, "default": 40.0, "help": "no tuning document after"}),
        ("--only", {"default": "", "help": "file prefixes, comma-separated"}))  # fmt: skip
    manifest = json.loads((SET / "MANIFEST.json").read_text(encoding="utf-8"))
    recipes = {k: json.loads((SET / v).read_text()) for k, v in manifest["recipes"].items()}
    entries = common.chosen(manifest["documents"], args.only)
    entries.sort(key=lambda e: e["split"] != "held-out")
    started, found = time.time(), {"left_out": [], "rows": [], "speed": [], "grammar": None}
    with sidecar() as (client, run):
        run["code"] = common.commit()  # the sidecar measured
        warm_up = {"command": "generate-tags", "content": "A warm-up: a model's first words."}
        client.call(warm_up, common.TIMEOUT_S)
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
    end = {"seconds": round(time.time() - started),
           "load_average_end": round(os.getloadavg()[0], 2)}  # fmt: skip
    write(args.out, run | end, **found)


if __name__ == "__main__":
    main()
