"""extract: the fields a caller's JSON Schema asks for, through the real server; every
answer validates against the caller's schema, and what the document does not state is
named in not_in_document."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from conftest import LONG_TEXT, ROOT, Sidecar

EXTRACT = ROOT / "bench" / "corpus" / "extract"
# The recipes of docs/protocol.md, each on a real document of its kind (the first 1,000
# characters: enough for the fields, few tokens to prefill).
RECIPES = [
    ("title", "27-flanker-readme.rst"),
    ("document_type", "21-bsd-license.txt"),
    ("letter", "09-pride-and-prejudice-collins-letter.txt"),
    ("invoice", "34-microinvoice-example-invoice.txt"),
    ("release", "16-git-2.0.1-release-notes.txt"),
]


def recipe(name: str) -> dict:
    return json.loads((EXTRACT / "schemas" / f"{name}.json").read_text(encoding="utf-8"))


def document(name: str) -> str:
    return (EXTRACT / name).read_text(encoding="utf-8")[:1000]


def pointers(data: Any, at: str = "") -> set[str]:
    """Every JSON pointer of a value in ``data``."""
    if isinstance(data, dict):
        return {p for k, v in data.items() for p in pointers(v, f"{at}/{k}")} | {at}
    if isinstance(data, list):
        return {p for i, v in enumerate(data) for p in pointers(v, f"{at}/{i}")} | {at}
    return {at}


@pytest.mark.parametrize(("schema", "file"), RECIPES)
def test_a_recipe_answers_data_that_validates_and_names_what_is_not_stated(
    loaded: Sidecar, schema: str, file: str
) -> None:
    asked = recipe(schema)
    text = document(file)
    answer = loaded.ok({"command": "extract", "content": text, "schema": asked})
    jsonschema.validate(answer["data"], asked)
    assert set(answer["not_in_document"]) <= pointers(answer["data"])
    for pointer in answer["not_in_document"]:  # a text it names really is absent as written
        value = answer["data"]
        for key in pointer.lstrip("/").split("/"):
            value = value[int(key) if isinstance(value, list) else key]
        if isinstance(value, str):  # a number is compared as a whole number (12 in "12,080" is not)
            assert value.casefold() not in text.casefold(), (pointer, value)
    assert answer["chunks"] == 1 and answer["read_chars"] > 0


@pytest.mark.parametrize(
    ("request_fields", "named"),
    [
        ({"schema": {"type": "object", "properties": {}}}, "'content'"),
        ({"content": "A letter."}, "'schema'"),
        ({"content": "A letter.", "schema": "date"}, "'schema'"),
        ({"content": "A letter.", "schema": {"type": "array"}}, "'schema'"),
        (
            {
                "content": "A letter.",
                "schema": {
                    "type": "object",
                    "properties": {"d": {"type": "string", "format": "date"}},
                },
            },
            "'format'",
        ),
        (
            {
                "content": "A letter.",
                "schema": {"type": "object", "properties": {"n": {"anyOf": []}}},
            },
            "anyOf",
        ),
    ],
)
def test_bad_input_is_invalid_params_naming_the_field_and_the_loop_goes_on(
    sidecar: Sidecar, request_fields: dict, named: str
) -> None:
    line = sidecar.answer({"command": "extract", **request_fields})
    assert line["code"] == "invalid_params" and named in line["error"], line
    assert sidecar.ok({"command": "check-availability"})["available"] in (True, False)


def test_a_schema_past_the_limits_is_refused_naming_the_limit(sidecar: Sidecar) -> None:
    wide = {"type": "object", "properties": {f"f{i}": {"type": "string"} for i in range(101)}}
    line = sidecar.answer({"command": "extract", "content": "x", "schema": wide})
    assert line["code"] == "invalid_params" and "100" in line["error"], line


# --- Long documents and batch, on a tiny folder (random weights: the plumbing) -----------

TICKET = {
    "type": "object",
    "properties": {
        "code": {"type": ["string", "null"], "maxLength": 20, "description": "The access code."},
        "topics": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 3},
    },
    "required": ["code", "topics"],
}


@pytest.fixture(scope="module")
def short_context(short_context_folder: Any) -> Any:
    s = Sidecar()
    s.ok({"command": "load-model", "model_path": str(short_context_folder)}, timeout=300)
    yield s
    s.stop()


def test_a_long_document_is_read_in_chunks_and_the_merged_answer_validates(
    short_context: Sidecar,
) -> None:
    answer = short_context.ok(
        {"command": "extract", "content": LONG_TEXT, "schema": TICKET, "max_tokens": 48}
    )
    assert answer["chunks"] > 1 and answer["passes"] == answer["chunks"]
    jsonschema.validate(answer["data"], TICKET)
    assert len(answer["data"]["topics"]) <= 3


def test_batch_takes_extract_beside_tags_and_each_result_carries_its_data(
    short_context: Sidecar,
) -> None:
    documents = [
        {"id": 1, "content": "The access code is XJ-4471. The lab opens at nine."},
        {"id": 2, "content": "Minutes of the garden club: roses, compost and the spring fair."},
    ]
    request = {
        "command": "batch",
        "documents": documents,
        "tasks": ["tags", "extract"],
        "schema": TICKET,
        "max_tokens": 48,
    }
    events, final = short_context.request(request)
    results = [e for e in events if e["type"] == "result"]
    assert final["type"] == "response" and len(results) == 2
    for result in results:
        jsonschema.validate(result["data"], TICKET)
        assert isinstance(result["not_in_document"], list) and result["tags"]
        assert "summary" not in result


def test_batch_with_extract_and_no_schema_is_invalid_params(short_context: Sidecar) -> None:
    line = short_context.answer(
        {"command": "batch", "documents": [{"id": 1, "content": "x"}], "tasks": ["extract"]}
    )
    assert line["code"] == "invalid_params" and "'schema'" in line["error"]
