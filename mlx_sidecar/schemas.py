"""The JSON Schemas `extract` accepts: a small subset a model can fill, checked and normalized.

``check_extract_schema(schema)`` accepts an object of properties whose values are

- scalars: ``"type"`` string, number, integer, boolean or null; strings may have
  ``minLength``/``maxLength``;
- choices: ``enum`` (a list of distinct scalars) or ``const`` (one scalar), with or without
  a ``type`` they must fit;
- arrays of scalars or of objects: ``items`` (one schema), ``minItems``/``maxItems``;
- nested objects: ``properties``, ``required``, ``additionalProperties: false``;
- a nullable field: a type list of one type and "null", ``["string", "null"]``;

and on any of them ``description`` (the question the model reads for that field) and
``title``; ``$schema`` on the root. Anything else raises ``InvalidParams`` naming the JSON
pointer and the keyword ("'schema'/properties/date: 'format' is not supported; ..."), so
a caller learns at once what the grammar would otherwise ignore or reject mid-answer.

It returns a normalized copy for llguidance's JSON Schema support: ``$schema`` dropped,
``additionalProperties: false`` on every object (the answer holds the caller's fields and
no others), key order kept (llguidance writes properties in the order given).
``schema_key`` names a schema by its content, for building its grammar once.
``field_questions`` and ``nullable`` serve the prompt.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

from .errors import InvalidParams

# Limits, each with its reason. A schema past one is answered invalid_params naming it.
# Properties in all (nested ones and those of array items count): each is a question in the
# prompt and ~10-30 answer tokens, so 100 fields already ask for an answer of 1,000-3,000
# tokens, minutes on a CPU; the bench's largest schema has 60 (issue 27, point 7).
PROPERTIES_MAX = 100
# Levels of objects and arrays, the root object being level 1. Forms people fill are 3 deep
# (invoice -> line items -> item); 5 leaves room for an address inside a party inside an
# item, and keeps pointers short enough to read in a prompt.
DEPTH_MAX = 5
# Choices of one enum: ISO 3166 countries (249) and ISO 4217 currencies (~180) fit; a longer
# list is a vocabulary, which the prompt cannot show and the tags grammar serves better.
ENUM_MAX = 256
# The schema as compact JSON, UTF-8: its descriptions and names go into the prompt, and
# 16 KiB is about 4,000 tokens, half of SmolLM2's 8,192-token context. 60 properties with
# a 100-character description each take about 9 KiB.
SCHEMA_MAX_BYTES = 16_384
# Least lengths and counts: what the grammar makes the model write even where the document
# has nothing, so they are bounded by what an answer's token budget can hold.
MIN_LENGTH_MAX = 1_000
MIN_ITEMS_MAX = 100

TYPES = ("string", "number", "integer", "boolean", "null", "array", "object")
ANNOTATIONS = ("description", "title")
KEYWORDS_BY_TYPE = {
    "string": ("minLength", "maxLength"),
    "number": (),
    "integer": (),
    "boolean": (),
    "null": (),
    "array": ("items", "minItems", "maxItems"),
    "object": ("properties", "required", "additionalProperties"),
}
ROOT_ONLY = ("$schema",)
# What to say instead for keywords people often write.
HINTS = {
    "anyOf": 'for a nullable field use a type list such as ["string", "null"]',
    "oneOf": 'for a nullable field use a type list such as ["string", "null"]',
    "allOf": "write the field's keywords in one schema",
    "format": "a date is a string; say its format in 'description'",
    "pattern": "say the form in 'description'",
    "$ref": "write the nested object in place",
    "$defs": "write the nested object in place",
    "definitions": "write the nested object in place",
    "default": "say it in 'description'",
}


def check_extract_schema(schema: object) -> dict:
    """The schema checked against the subset and the limits, as a normalized copy for
    llguidance; ``InvalidParams`` naming the pointer and keyword of the first problem."""
    if not isinstance(schema, dict):
        raise InvalidParams(
            f"'schema' must be a JSON object (a JSON Schema of type \"object\"), not "
            f"{_json_type(schema)}."
        )
    size = len(json.dumps(schema, ensure_ascii=False, separators=(",", ":")).encode())
    if size > SCHEMA_MAX_BYTES:
        raise InvalidParams(
            f"'schema' is {size:,} bytes as JSON; the limit is {SCHEMA_MAX_BYTES:,} "
            "(its names and descriptions go into the prompt)."
        )
    types = _types(schema, ())
    if types != ["object"]:
        raise InvalidParams(
            '\'schema\': the root must be an object schema with "type": "object" and '
            "'properties'."
        )
    checker = _Checker()
    normalized = checker.node(schema, (), depth=1, root=True)
    return normalized


def schema_key(schema: dict) -> str:
    """A digest of the schema's canonical JSON: keywords sorted, property order kept (it is
    the order the answer is written in). Equal for the same content however it was sent."""
    text = json.dumps(_canonical(schema), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def field_questions(schema: dict) -> list[tuple[str, str]]:
    """(JSON pointer, question) for every property, in the schema's order, parents before
    their fields. The question is the property's ``description``, else its ``title``, else
    a phrase of its name and its parents' names ("invoiceNumber" -> "invoice number",
    /sender/name -> "sender name"). Fields of array items are under the array's pointer
    with "-" for the index (/line_items/-/amount), as RFC 6901 names an item to come."""
    found: list[tuple[str, str]] = []
    _questions(schema, "", [], found)
    return found


def nullable(schema_at_pointer: dict) -> bool:
    """Whether the (sub)schema allows null: "null" in its type, or null among its choices."""
    if "const" in schema_at_pointer:
        return schema_at_pointer["const"] is None
    if "enum" in schema_at_pointer:
        return any(choice is None for choice in schema_at_pointer["enum"])
    kind = schema_at_pointer.get("type")
    return kind == "null" or (isinstance(kind, list) and "null" in kind)


def schema_at(schema: dict, pointer: str) -> dict | None:
    """The subschema that describes the value at a JSON pointer into an answer
    (/line_items/0/amount or /line_items/-/amount); None where the schema has no such place."""
    node: Any = schema
    for token in _tokens(pointer):
        if not isinstance(node, dict):
            return None
        if "properties" in node:
            node = node["properties"].get(token)
        elif "items" in node and (token == "-" or token.isdigit()):
            node = node["items"]
        else:
            return None
    return node if isinstance(node, dict) else None


def pointer(tokens: tuple | list) -> str:
    """The JSON pointer (RFC 6901) of a path of names and indices: "~" and "/" escaped."""
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in tokens)


def name_phrase(name: str) -> str:
    """A property name as words: snake_case, kebab-case and camelCase split, capitalized
    words lowered, acronyms kept ("invoiceNumber" -> "invoice number", "total_EUR" ->
    "total EUR")."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)
    words = re.split(r"[\s_\-.]+", spaced)
    return " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words if w)


# --- checking --------------------------------------------------------------------------


class _Checker:
    def __init__(self) -> None:
        self.properties = 0

    def node(self, node: object, path: tuple, depth: int, root: bool = False) -> dict:
        where = _where(path)
        if not isinstance(node, dict):
            raise InvalidParams(f"{where}: a schema must be a JSON object, not {_json_type(node)}.")
        types = _types(node, path)
        choices = "enum" in node or "const" in node
        allowed = self._allowed(types, choices, root)
        for keyword in node:
            if keyword not in allowed:
                raise InvalidParams(_unsupported(where, keyword, allowed))
        if not types and not choices:
            raise InvalidParams(f"{where}: a field needs 'type', 'enum' or 'const'.")
        for keyword in ANNOTATIONS:
            if keyword in node and not isinstance(node[keyword], str):
                raise InvalidParams(f"{where}: '{keyword}' must be a string.")
        if "$schema" in node and not isinstance(node["$schema"], str):
            raise InvalidParams(f"{where}: '$schema' must be a string.")
        out = {k: copy.deepcopy(v) for k, v in node.items() if k not in ROOT_ONLY}
        if choices:
            self._choices(node, types, where)
            return out
        self._bounds(node, where, "minLength", "maxLength", MIN_LENGTH_MAX)
        self._bounds(node, where, "minItems", "maxItems", MIN_ITEMS_MAX)
        if "array" in types:
            out["items"] = self._items(node, path, depth)
        if "object" in types:
            out["properties"] = self._object(node, path, depth)
            out["additionalProperties"] = False
        return out

    def _allowed(self, types: list[str], choices: bool, root: bool) -> set[str]:
        allowed = {"type", *ANNOTATIONS, *(ROOT_ONLY if root else ())}
        if choices:
            return allowed | {"enum", "const"}
        for kind in types:
            allowed.update(KEYWORDS_BY_TYPE[kind])
        return allowed

    def _choices(self, node: dict, types: list[str], where: str) -> None:
        if "enum" in node and "const" in node:
            raise InvalidParams(f"{where}: use 'enum' or 'const', not both.")
        if "const" in node:
            values, keyword = [node["const"]], "const"
        else:
            values, keyword = node["enum"], "enum"
            if not isinstance(values, list) or not values:
                raise InvalidParams(f"{where}: 'enum' must be a non-empty list of choices.")
            if len(values) > ENUM_MAX:
                raise InvalidParams(
                    f"{where}: 'enum' has {len(values)} choices; the limit is {ENUM_MAX}."
                )
            keys = [json.dumps(v, sort_keys=True) for v in values]
            if len(set(keys)) != len(keys):
                raise InvalidParams(f"{where}: 'enum' lists a choice twice.")
        for value in values:
            kind = _json_type_name(value)
            if kind not in ("string", "number", "integer", "boolean", "null"):
                raise InvalidParams(
                    f"{where}: '{keyword}' choices must be strings, numbers, booleans or "
                    f"null, not {_json_type(value)}."
                )
            if types and not any(_fits(value, t) for t in types):
                raise InvalidParams(
                    f"{where}: the '{keyword}' choice {json.dumps(value)} is not of its "
                    f"'type' {' or '.join(types)}."
                )

    def _bounds(self, node: dict, where: str, low: str, high: str, least_max: int) -> None:
        for keyword in (low, high):
            if keyword in node:
                value = node[keyword]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise InvalidParams(f"{where}: '{keyword}' must be a non-negative integer.")
        if node.get(low, 0) > least_max:
            raise InvalidParams(
                f"{where}: '{low}' is {node[low]}; the limit is {least_max} (the model must "
                "write that much even where the document has nothing)."
            )
        if low in node and high in node and node[low] > node[high]:
            raise InvalidParams(f"{where}: '{low}' is greater than '{high}': nothing fits.")

    def _items(self, node: dict, path: tuple, depth: int) -> dict:
        where = _where(path)
        if "items" not in node:
            raise InvalidParams(f"{where}: an array needs 'items', the schema of each item.")
        items = node["items"]
        if isinstance(items, list):
            raise InvalidParams(f"{where}/items: 'items' must be one schema, not a list.")
        if isinstance(items, dict) and "array" in _types(items, (*path, "items")):
            raise InvalidParams(f"{where}/items: an array's items may not be arrays.")
        if depth + 1 > DEPTH_MAX and isinstance(items, dict) and "object" in _types(items, ()):
            raise InvalidParams(
                f"{where}/items: nested {depth + 1} levels deep; the limit is {DEPTH_MAX}."
            )
        return self.node(items, (*path, "items"), depth + 1)

    def _object(self, node: dict, path: tuple, depth: int) -> dict:
        where = _where(path)
        properties = node.get("properties")
        if not isinstance(properties, dict) or not properties:
            raise InvalidParams(
                f"{where}: an object needs 'properties', a non-empty object of fields."
            )
        if node.get("additionalProperties", False) is not False:
            raise InvalidParams(
                f"{where}: 'additionalProperties' may only be false (the answer holds the "
                "schema's fields and no others)."
            )
        required = node.get("required", [])
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            raise InvalidParams(f"{where}: 'required' must be a list of property names.")
        if len(set(required)) != len(required):
            raise InvalidParams(f"{where}: 'required' names a property twice.")
        for name in required:
            if name not in properties:
                raise InvalidParams(
                    f"{where}/required: {json.dumps(name)} is not one of its 'properties'."
                )
        self.properties += len(properties)
        if self.properties > PROPERTIES_MAX:
            raise InvalidParams(
                f"{where}/properties: more than {PROPERTIES_MAX} properties in all; the "
                f"limit is {PROPERTIES_MAX} (each is a question the model answers)."
            )
        out = {}
        for name, sub in properties.items():
            if not name:
                raise InvalidParams(f"{where}/properties: a property needs a non-empty name.")
            sub_path = (*path, "properties", name)
            sub_depth = depth + 1 if isinstance(sub, dict) and _nests(sub) else depth
            if sub_depth > DEPTH_MAX:
                raise InvalidParams(
                    f"{_where(sub_path)}: nested {sub_depth} levels deep; the limit is {DEPTH_MAX}."
                )
            out[name] = self.node(sub, sub_path, sub_depth)
        return out


def _nests(node: dict) -> bool:
    kind = node.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    return "object" in kinds or "array" in kinds


def _types(node: dict, path: tuple) -> list[str]:
    """The node's type names; a list is one type, or one type and "null"."""
    if "type" not in node:
        return []
    kind = node["type"]
    where = _where(path)
    names = kind if isinstance(kind, list) else [kind]
    for name in names:
        if name not in TYPES:
            raise InvalidParams(
                f"{where}: 'type' {json.dumps(name)} is not one of {', '.join(TYPES)}."
            )
    if isinstance(kind, list):
        if not kind or len(set(kind)) != len(kind):
            raise InvalidParams(f"{where}: a 'type' list must name distinct types.")
        if len(kind) > 2 or (len(kind) == 2 and "null" not in kind):
            raise InvalidParams(
                f"{where}: a 'type' list may hold one type and \"null\" (a nullable field), "
                f"not {json.dumps(kind)}."
            )
    return list(names)


def _fits(value: object, kind: str) -> bool:
    actual = _json_type_name(value)
    return actual == kind or (kind == "number" and actual == "integer")


def _json_type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _json_type(value: object) -> str:
    return {
        "null": "null",
        "boolean": "a boolean",
        "integer": "a number",
        "number": "a number",
        "string": "a string",
        "array": "a list",
        "object": "an object",
    }[_json_type_name(value)]


def _where(path: tuple) -> str:
    return "'schema'" + pointer(path)


def _unsupported(where: str, keyword: str, allowed: set[str]) -> str:
    order = ["type", "enum", "const", *ANNOTATIONS]
    order += [k for t in TYPES for k in KEYWORDS_BY_TYPE[t]] + list(ROOT_ONLY)
    listed = ", ".join(k for k in dict.fromkeys(order) if k in allowed)
    hint = f" ({HINTS[keyword]})" if keyword in HINTS else ""
    return f"{where}: '{keyword}' is not supported here{hint}; supported keywords: {listed}."


# --- keys and questions ----------------------------------------------------------------


def _canonical(node: object, properties: bool = False) -> object:
    """Keywords sorted; the names of 'properties' kept in their order (a list of pairs)."""
    if isinstance(node, dict):
        if properties:
            return [[name, _canonical(sub)] for name, sub in node.items()]
        return {k: _canonical(node[k], k == "properties") for k in sorted(node)}
    if isinstance(node, list):
        return [_canonical(v) for v in node]
    return node


def _questions(node: dict, at: str, names: list[str], found: list) -> None:
    if "properties" in node:
        for name, sub in node["properties"].items():
            here = at + pointer([name])
            phrase = " ".join(name_phrase(n) for n in [*names, name] if n != "-")
            found.append((here, sub.get("description") or sub.get("title") or phrase))
            _questions(sub, here, [*names, name], found)
    elif isinstance(node.get("items"), dict):
        _questions(node["items"], at + "/-", names, found)


def _tokens(json_pointer: str) -> list[str]:
    if not json_pointer:
        return []
    if not json_pointer.startswith("/"):
        raise ValueError(f"not a JSON pointer: {json_pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in json_pointer[1:].split("/")]
