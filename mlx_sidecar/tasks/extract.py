"""extract: the fields a caller's JSON Schema asks for, taken from a document.

The answer is held to the schema by the grammar (llguidance), so `data` always parses
and validates. The prompt lists each field with its question (its `description`, else its
name) and tells the model to write null for what the document does not state; nullable
fields are required in the grammar, so the model says null instead of leaving one out.
`not_in_document` names every string or number value the document does not state
(repairs/values.py): it is never a filter, the caller decides. A long document's chunk
answers are merged: for a scalar the first value the document states wins, arrays are
united in order (repairs/values.py, merge_chunk_answers).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParams, SidecarError
from ..language import Language, require_language
from ..prompts import encode_prompt
from ..reading import Reading
from ..repairs.values import merge_chunk_answers, not_in_document
from ..schemas import check_extract_schema, field_questions, nullable, schema_key
from ..text import identify_language
from . import JsonAsk, OverDocument
from .options import MAX_TOKENS_LIMIT, max_tokens_option, temperature_option

if TYPE_CHECKING:
    from ..job import Job
    from ..notes import ChunkNote

BASE_TOKENS = 32  # braces and names of an answer
TOKENS_PER_FIELD = 40  # a value of a few words, or a date or an amount, and its name
EXTRACT_TASK = (
    "Extract these fields from this document as JSON:\n{fields}\n"
    "Use only what the document states. Write null for a field the document does not state."
)
LANGUAGE_LINE = " Write free-text values in {language}."


@dataclass(frozen=True)
class ExtractOptions:
    """What extract (and batch's "extract" task) asks, checked: the caller's schema as
    the subset allows it (schemas.py)."""

    schema: dict
    max_tokens: int
    temperature: float = 0.0
    language: Language | None = None

    @classmethod
    def parse(cls, req: dict) -> ExtractOptions:
        if req.get("schema") is None:
            raise InvalidParams(
                "'schema' is required: a JSON Schema object of the fields to extract, such "
                'as {"type": "object", "properties": {"title": {"type": "string"}}}.'
            )
        schema = check_extract_schema(req["schema"])
        return cls(
            schema=schema,
            max_tokens=max_tokens_option(req, default_tokens(schema)),
            temperature=temperature_option(req),
            language=require_language(req),
        )


def default_tokens(schema: dict) -> int:
    """Room for every field's answer: BASE_TOKENS and TOKENS_PER_FIELD a field."""
    return min(MAX_TOKENS_LIMIT, BASE_TOKENS + TOKENS_PER_FIELD * len(field_questions(schema)))


def grammar_schema(schema: dict) -> dict:
    """The schema the grammar holds the answer to: the caller's, with every nullable
    field required (the model writes null instead of leaving it out)."""
    held = copy.deepcopy(schema)
    for node in objects_of(held):
        properties = node.get("properties", {})
        required = list(node.get("required", []))
        required += [k for k, v in properties.items() if nullable(v) and k not in required]
        if required:
            node["required"] = required
    return held


def objects_of(node: Any) -> list[dict]:
    """The schema's object nodes, the root first."""
    found = []
    if isinstance(node, dict):
        if "properties" in node:
            found.append(node)
        for child in [*node.get("properties", {}).values(), node.get("items")]:
            found += objects_of(child)
    return found


@dataclass
class Extracted:
    """The answer of a pass: the data, or None when its JSON was not finished."""

    data: dict | None


@dataclass
class ExtractTask(OverDocument):
    """Fields of one document, as ``options.schema`` asks them."""

    options: ExtractOptions
    held: dict = field(default_factory=dict)  # grammar_schema(options.schema)
    name = "extract"

    def __post_init__(self) -> None:
        self.held = grammar_schema(self.options.schema)

    def instruction(self) -> str:
        lines = "\n".join(f"- {p.lstrip('/')}: {q}" for p, q in field_questions(self.held))
        language = self.language
        return EXTRACT_TASK.format(fields=lines) + (
            LANGUAGE_LINE.format(language=language) if language else ""
        )

    widest_instruction = instruction

    def key(self) -> str:
        return self.instruction() + "\0" + schema_key(self.held)

    def ask(self, job: Job, text: str) -> ExtractAsk:
        prompt = encode_prompt(job.model.tokenizer, text, self.instruction())
        processor = job.grammar.schema_processor(self.held, self.max_tokens)
        return ExtractAsk(prompt, self.max_tokens, [processor], self.options.temperature)

    def chunk_tasks(self) -> list:
        return [self]

    def combine_passes(self) -> int:
        return 0  # chunk answers are merged without the model

    def combine(self, job: Job, notes: list[ChunkNote]) -> Extracted:
        answers = [n.results[self.name].data for n in notes if n.results[self.name].data]
        if not answers:
            return Extracted(None)
        document = "\n\n".join(note.text for note in notes)
        merged = merge_chunk_answers(
            answers, self.held, document, languages=self.languages(document)
        )
        return Extracted(merged)

    def languages(self, document: str) -> tuple[str, ...]:
        """The languages values may be written in: the document's and the one asked."""
        found = [identify_language(document)]
        if self.options.language:
            found.append(self.options.language.code)
        return tuple(code for code in found if code)

    def finish(self, job: Job, reading: Reading, answer: Extracted) -> dict:
        if answer.data is None:
            raise SidecarError(
                f"The answer's JSON was not finished within max_tokens ({self.max_tokens}); "
                "send the command again with a larger max_tokens or fewer fields.",
                "answer_too_long",
            )
        missing = not_in_document(
            answer.data, self.held, reading.text, languages=self.languages(reading.text)
        )
        return {"data": answer.data, "not_in_document": missing}


class ExtractAsk(JsonAsk):
    """One extract answer: JSON held to the schema; None when it did not finish."""

    def read(self, text: str, finish_reason: str | None) -> Extracted:
        try:
            data = json.loads(text)
        except ValueError:
            return Extracted(None)
        return Extracted(data if isinstance(data, dict) else None)
