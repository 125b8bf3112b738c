"""protocol.schema.json: valid, complete, and in step with the server and the README.

Every stdout line any test reads is also validated against $defs/ServerLine (conftest.py).
"""

from __future__ import annotations

import ast
import json
import re

import jsonschema
import pytest
from conftest import ROOT, SCHEMA_PATH

from mlx_sidecar import commands

SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
DEFS = SCHEMA["$defs"]


def validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": DEFS})


REQUEST, SERVER_LINE = validator("Request"), validator("ServerLine")


def commands_of(union: str) -> set[str]:
    """The `command` constants of the definitions a oneOf union lists."""
    names = [ref["$ref"].rsplit("/", 1)[-1] for ref in DEFS[union]["oneOf"]]
    return {DEFS[n]["properties"]["command"]["const"] for n in names}


def test_the_schema_is_valid_draft_2020_12():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_every_command_has_a_request_and_a_response_and_no_more():
    assert commands_of("Request") == set(commands.HANDLERS)
    # The app's audio commands are always answered with an `unsupported` error line.
    audio = {"generate-transcript", "copilot-analyze"}
    assert commands_of("Response") == set(commands.HANDLERS) - audio


@pytest.mark.parametrize(
    "line",
    [
        {"command": "check-availability"},
        {"command": "load-model", "model_path": "/models/m.gguf", "id": 1},
        {"command": "generate-tags", "content": "text", "max_tags": 3, "progress": True},
        {"command": "summarize", "content": "text", "max_words": 50, "stream": True, "id": "a"},
        {
            "command": "download-model",
            "repo_id": "mlx-community/Qwen2.5-3B-Instruct-4bit",
            "destination": "/path/to/dest",
        },
        {"command": "model-info"},
        {"command": "shutdown", "future_field": 1},
    ],
)
def test_well_formed_requests_validate(line):
    REQUEST.validate(line)


@pytest.mark.parametrize(
    "line",
    [
        {"content": "no command"},
        {"command": "make-coffee"},
        {"command": "summarize"},
        {"command": "summarize", "content": "   "},
        {"command": "generate-tags", "content": "x", "max_tags": 0},
        {"command": "check-availability", "id": {"nested": 1}},
        {"command": "download-model", "repo_id": "../../etc"},
        {"command": "load-model", "weights": "int3"},
    ],
)
def test_malformed_requests_do_not_validate(line):
    assert not REQUEST.is_valid(line)


@pytest.mark.parametrize(
    "line",
    [
        {"type": "response", "command": "shutdown", "success": True, "id": 3.5},
        {"type": "response", "command": "generate-tags", "tags": ["a"], "new_stat": 1},
        {"type": "error", "command": None, "error": "bad", "code": "invalid_json"},
        {"type": "error", "command": "x", "error": "bad", "code": "a_code_from_the_future"},
        {"type": "progress", "command": "download-model", "progress": 45.2, "downloaded_mb": 123.4},
        {
            "type": "progress",
            "command": "download-model",
            "progress": 0,
            "downloaded_mb": 0,
            "total_mb": None,
            "file": None,
        },
        {"type": "progress", "command": "summarize", "progress": 50.0, "chunk": 1, "chunks": 2},
        {"type": "partial", "command": "summarize", "text": " the"},
    ],
)
def test_server_lines_of_every_kind_validate(line):
    SERVER_LINE.validate(line)


@pytest.mark.parametrize(
    "line",
    [
        {"type": "response", "command": "generate-tags"},  # tags missing
        {"type": "response", "command": "summarize", "summary": 3},
        {"type": "error", "command": None, "error": "no code"},
        {"type": "progress", "command": "generate-tags", "progress": 101, "chunk": 1, "chunks": 1},
        {"type": "partial", "command": "generate-tags", "text": "x"},
        {"type": "log", "message": "stdout is only for protocol lines"},
        {"type": "response", "command": "shutdown", "success": True, "id": None},
    ],
)
def test_lines_the_server_must_not_write_do_not_validate(line):
    assert not SERVER_LINE.is_valid(line)


CODE = re.compile(r"[a-z]+(?:_[a-z]+)*")


def server_error_codes() -> set[str]:
    """Every code the package can put on an error line, read from its source."""
    trees = [ast.parse(p.read_text(encoding="utf-8")) for p in (ROOT / "mlx_sidecar").rglob("*.py")]
    raisers = {"SidecarError", "InvalidParams", "NoModel", "LoadFailed", "error_line", "refused"}
    codes = set()
    for node in (n for tree in trees for n in ast.walk(tree)):
        if isinstance(node, ast.ClassDef):  # code = "..." class attributes
            for stmt in node.body:
                if isinstance(stmt, ast.Assign) and [
                    getattr(t, "id", None) for t in stmt.targets
                ] == ["code"]:
                    codes.add(stmt.value.value)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in raisers:
            for arg in [*node.args[1:], *(k.value for k in node.keywords)]:
                options = [arg.body, arg.orelse] if isinstance(arg, ast.IfExp) else [arg]
                for a in options:
                    if isinstance(a, ast.Constant) and CODE.fullmatch(str(a.value)):
                        codes.add(a.value)
    return codes


def test_every_error_code_the_server_uses_is_documented_in_the_schema():
    documented = set(DEFS["Error"]["properties"]["code"]["examples"])
    used = server_error_codes()
    assert {"invalid_json", "invalid_params", "internal", "interrupted"} <= used
    assert used <= documented, used - documented


def json_examples(page: str) -> list[dict]:
    """Every JSON line of the ```json blocks of a page of the documentation."""
    blocks = re.findall(r"```json\n(.*?)```", (ROOT / page).read_text(encoding="utf-8"), re.DOTALL)
    examples = []
    for block in blocks:
        for line in block.strip().splitlines():
            if line.strip().startswith("{"):
                examples.append(json.loads(line))
    return examples


@pytest.mark.parametrize("page", ["README.md", "docs/protocol.md"])
def test_every_json_example_in_the_docs_is_a_valid_request_or_server_line(page):
    examples = json_examples(page)
    assert examples
    for example in examples:
        ok = REQUEST.is_valid(example) if "type" not in example else SERVER_LINE.is_valid(example)
        assert ok, example
