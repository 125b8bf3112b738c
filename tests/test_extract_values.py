"""The parts of `extract` that need no model: the schema subset and its limits, which
values a document does not state, and how a long document's chunk answers combine.

Pure functions on real text; every schema accepted here is one llguidance accepts, and
every merged answer validates against its schema (jsonschema).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import llguidance
import pytest

from mlx_sidecar.errors import InvalidParams
from mlx_sidecar.repairs.values import merge_chunk_answers, not_in_document
from mlx_sidecar.schemas import (
    DEPTH_MAX,
    ENUM_MAX,
    MIN_LENGTH_MAX,
    PROPERTIES_MAX,
    SCHEMA_MAX_BYTES,
    check_extract_schema,
    field_questions,
    nullable,
    schema_at,
    schema_key,
)

EXTRACT = Path(__file__).resolve().parent.parent / "bench" / "corpus" / "extract"


def obj(properties: dict, **more: object) -> dict:
    return {"type": "object", "properties": properties, **more}


def grammar_error(schema: dict) -> str:
    grammar = llguidance.LLMatcher.grammar_from_json_schema(schema)
    return llguidance.LLMatcher.validate_grammar(grammar)


def accepted(schema: dict) -> dict:
    """The checked schema, after llguidance has accepted it too."""
    normalized = check_extract_schema(schema)
    assert grammar_error(normalized) == ""
    return normalized


# --- The schema subset ------------------------------------------------------------------

ACCEPTED = {
    "a string": obj({"title": {"type": "string"}}),
    "each scalar type": obj(
        {
            "name": {"type": "string"},
            "total": {"type": "number"},
            "pages": {"type": "integer"},
            "paid": {"type": "boolean"},
            "nothing": {"type": "null"},
        }
    ),
    "an enum": obj({"kind": {"enum": ["letter", "invoice", "e-mail", None]}}),
    "an enum with its type": obj({"kind": {"type": "string", "enum": ["letter", "invoice"]}}),
    "a const": obj({"version": {"const": 1}}),
    "an array with bounds": obj(
        {"tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 5}}
    ),
    "an array of objects": obj(
        {
            "lines": {
                "type": "array",
                "items": obj({"item": {"type": "string"}, "amount": {"type": "number"}}),
            }
        }
    ),
    "a nested object": obj(
        {"sender": obj({"name": {"type": "string"}, "email": {"type": ["string", "null"]}})}
    ),
    "a nullable field": obj({"date": {"type": ["string", "null"]}}),
    "a nullable array": obj({"cc": {"type": ["array", "null"], "items": {"type": "string"}}}),
    "required fields": obj(
        {"a": {"type": "string"}, "b": {"type": "integer"}}, required=["a", "b"]
    ),
    "string lengths": obj({"code": {"type": "string", "minLength": 3, "maxLength": 3}}),
    "descriptions and titles": obj(
        {"date": {"type": "string", "description": "When was it sent?", "title": "Date"}},
        title="Letter",
        description="A letter's fields",
    ),
    "additionalProperties false": obj({"a": {"type": "string"}}, additionalProperties=False),
    "$schema on the root": obj(
        {"a": {"type": "string"}}, **{"$schema": "https://json-schema.org/draft/2020-12/schema"}
    ),
}


@pytest.mark.parametrize("case", ACCEPTED)
def test_a_schema_of_the_subset_is_accepted_and_llguidance_builds_its_grammar(case: str) -> None:
    schema = ACCEPTED[case]
    sent = copy.deepcopy(schema)
    normalized = check_extract_schema(schema)
    assert schema == sent, "the caller's schema is not changed"
    assert grammar_error(normalized) == ""
    assert "$schema" not in normalized
    assert list(normalized["properties"]) == list(schema["properties"])


def test_every_object_of_the_normalized_schema_allows_no_other_properties() -> None:
    normalized = check_extract_schema(ACCEPTED["an array of objects"])
    assert normalized["additionalProperties"] is False
    assert normalized["properties"]["lines"]["items"]["additionalProperties"] is False
    nested = check_extract_schema(ACCEPTED["a nested object"])
    assert nested["properties"]["sender"]["additionalProperties"] is False


REJECTED = [
    ("a date format", obj({"date": {"type": "string", "format": "date"}}), "/properties/date: 'format'"),
    ("a pattern", obj({"id": {"type": "string", "pattern": "^A"}}), "/properties/id: 'pattern'"),
    ("anyOf", obj({"d": {"anyOf": [{"type": "string"}, {"type": "null"}]}}), "'anyOf' is not supported here (for a nullable field use a type list"),
    ("a reference", obj({"a": {"$ref": "#/$defs/a"}}), "/properties/a: '$ref'"),
    ("a minimum", obj({"n": {"type": "number", "minimum": 0}}), "/properties/n: 'minimum'"),
    ("uniqueItems", obj({"t": {"type": "array", "items": {"type": "string"}, "uniqueItems": True}}), "'uniqueItems'"),
    ("minLength on a number", obj({"n": {"type": "number", "minLength": 1}}), "/properties/n: 'minLength'"),
    ("$schema below the root", obj({"a": {"type": "string", "$schema": "x"}}), "/properties/a: '$schema'"),
    ("other properties allowed", obj({"a": {"type": "string"}}, additionalProperties=True), "'additionalProperties' may only be false"),
    ("a list of item schemas", obj({"t": {"type": "array", "items": [{"type": "string"}]}}), "/properties/t/items: 'items' must be one schema"),
    ("an array of arrays", obj({"t": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}}}), "an array's items may not be arrays"),
    ("an array without items", obj({"t": {"type": "array"}}), "an array needs 'items'"),
    ("an object without properties", obj({"o": {"type": "object"}}), "/properties/o: an object needs 'properties'"),
    ("a field without a type", obj({"a": {"description": "what"}}), "/properties/a: a field needs 'type'"),
    ("an unknown type", obj({"a": {"type": "date"}}), "'type' \"date\" is not one of"),
    ("a union of two types", obj({"a": {"type": ["string", "number"]}}), "one type and \"null\""),
    ("an enum choice of another type", obj({"a": {"type": "string", "enum": ["x", 1]}}), "the 'enum' choice 1 is not of its 'type' string"),
    ("an object as an enum choice", obj({"a": {"enum": [{"x": 1}]}}), "'enum' choices must be strings"),
    ("an enum choice twice", obj({"a": {"enum": ["x", "x"]}}), "'enum' lists a choice twice"),
    ("an empty enum", obj({"a": {"enum": []}}), "'enum' must be a non-empty list"),
    ("enum and const", obj({"a": {"enum": ["x"], "const": "x"}}), "use 'enum' or 'const', not both"),
    ("a required name not among the properties", obj({"a": {"type": "string"}}, required=["b"]), "/required: \"b\" is not one of its 'properties'"),
    ("minLength above maxLength", obj({"a": {"type": "string", "minLength": 5, "maxLength": 2}}), "'minLength' is greater than 'maxLength'"),
    ("minItems above maxItems", obj({"t": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 1}}), "'minItems' is greater than 'maxItems'"),
    ("a negative maxLength", obj({"a": {"type": "string", "maxLength": -1}}), "'maxLength' must be a non-negative integer"),
    ("a description that is not text", obj({"a": {"type": "string", "description": 3}}), "'description' must be a string"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "schema", "says"), REJECTED, ids=[r[0] for r in REJECTED])
def test_anything_outside_the_subset_is_invalid_params_naming_pointer_and_keyword(
    case: str, schema: dict, says: str
) -> None:
    with pytest.raises(InvalidParams) as caught:
        check_extract_schema(schema)
    message = str(caught.value)
    assert caught.value.code == "invalid_params"
    assert message.startswith("'schema'")
    assert says in message


def test_an_unsupported_keyword_message_lists_what_that_field_may_use() -> None:
    with pytest.raises(InvalidParams) as caught:
        check_extract_schema(obj({"date": {"type": "string", "format": "date"}}))
    assert str(caught.value).startswith("'schema'/properties/date: 'format' is not supported")
    assert "supported keywords: type, description, title, minLength, maxLength." in str(
        caught.value
    )


@pytest.mark.parametrize(
    ("schema", "says"),
    [
        ([{"type": "object"}], "'schema' must be a JSON object"),
        ("an invoice", "'schema' must be a JSON object"),
        ({"type": "string"}, "the root must be an object schema"),
        ({"type": ["object", "null"], "properties": {"a": {"type": "string"}}}, "the root must"),
        ({"properties": {"a": {"type": "string"}}}, "the root must be an object schema"),
    ],
)
def test_a_schema_that_is_not_an_object_schema_is_invalid_params(schema: object, says: str) -> None:
    with pytest.raises(InvalidParams, match=says):
        check_extract_schema(schema)


def test_a_pointer_escapes_slash_and_tilde_in_property_names() -> None:
    with pytest.raises(InvalidParams, match=r"'schema'/properties/a~1b~0c: 'format'"):
        check_extract_schema(obj({"a/b~c": {"type": "string", "format": "date"}}))


# --- Limits -----------------------------------------------------------------------------


def flat(count: int) -> dict:
    return obj({f"field_{i}": {"type": ["string", "null"]} for i in range(count)})


def nested(levels: int, leaf: dict | None = None) -> dict:
    """An object schema ``levels`` objects deep (the root is the first), ``leaf`` the field
    of the innermost one."""
    schema = obj({"leaf": leaf or {"type": "string"}})
    for _ in range(levels - 1):
        schema = obj({"inner": schema})
    return schema


def test_the_most_properties_are_accepted_and_one_more_is_not() -> None:
    assert grammar_error(check_extract_schema(flat(PROPERTIES_MAX))) == ""
    with pytest.raises(InvalidParams, match=f"more than {PROPERTIES_MAX} properties"):
        check_extract_schema(flat(PROPERTIES_MAX + 1))


def test_properties_of_nested_objects_and_array_items_count_toward_the_limit() -> None:
    half = {f"f{i}": {"type": "string"} for i in range(PROPERTIES_MAX // 2)}
    schema = obj({"a": obj(dict(half)), "b": {"type": "array", "items": obj(dict(half))}})
    with pytest.raises(InvalidParams, match="properties in all"):
        check_extract_schema(schema)


def test_the_deepest_nesting_is_accepted_and_one_level_more_is_not() -> None:
    assert grammar_error(check_extract_schema(nested(DEPTH_MAX))) == ""
    with pytest.raises(InvalidParams, match=f"nested {DEPTH_MAX + 1} levels deep"):
        check_extract_schema(nested(DEPTH_MAX + 1))


def test_an_array_of_objects_counts_two_levels() -> None:
    items = {"type": "array", "items": obj({"x": {"type": "string"}})}
    assert grammar_error(check_extract_schema(nested(DEPTH_MAX - 2, items))) == ""
    with pytest.raises(InvalidParams, match=f"nested {DEPTH_MAX + 1} levels deep"):
        check_extract_schema(nested(DEPTH_MAX - 1, items))


def test_the_largest_enum_is_accepted_and_one_choice_more_is_not() -> None:
    choices = [f"choice {i}" for i in range(ENUM_MAX)]
    assert grammar_error(check_extract_schema(obj({"kind": {"enum": choices}}))) == ""
    with pytest.raises(InvalidParams, match=f"'enum' has {ENUM_MAX + 1} choices"):
        check_extract_schema(obj({"kind": {"enum": [*choices, "one more"]}}))


def test_a_schema_past_the_byte_limit_is_refused_with_its_size() -> None:
    description = "x" * (SCHEMA_MAX_BYTES // 2)
    schema = obj({"a": {"type": "string", "description": description}})
    assert grammar_error(check_extract_schema(schema)) == ""
    schema["properties"]["b"] = {"type": "string", "description": description}
    with pytest.raises(InvalidParams, match=f"the limit is {SCHEMA_MAX_BYTES:,}"):
        check_extract_schema(schema)


def test_a_least_length_past_what_an_answer_can_hold_is_refused() -> None:
    longest = obj({"a": {"type": "string", "minLength": MIN_LENGTH_MAX}})
    assert grammar_error(check_extract_schema(longest)) == ""
    with pytest.raises(InvalidParams, match="'minLength' is 1001; the limit is 1000"):
        check_extract_schema(obj({"a": {"type": "string", "minLength": MIN_LENGTH_MAX + 1}}))


# --- Keys, questions, nullable ----------------------------------------------------------


def test_a_schema_key_ignores_keyword_order_but_not_property_order_or_descriptions() -> None:
    a = {"type": "object", "properties": {"x": {"type": "string"}, "y": {"type": "number"}}}
    same = {"properties": {"x": {"type": "string"}, "y": {"type": "number"}}, "type": "object"}
    swapped = {"type": "object", "properties": {"y": {"type": "number"}, "x": {"type": "string"}}}
    described = copy.deepcopy(a)
    described["properties"]["x"]["description"] = "the sender"
    assert schema_key(a) == schema_key(same)
    assert schema_key(a) != schema_key(swapped)
    assert schema_key(a) != schema_key(described)
    assert schema_key(accepted(a)) == schema_key(accepted(same))


def test_a_field_question_is_its_description_else_its_title_else_its_name_as_words() -> None:
    schema = accepted(
        obj(
            {
                "date": {"type": "string", "description": "When was the letter written?"},
                "docType": {"enum": ["letter", "invoice"], "title": "Document type"},
                "invoiceNumber": {"type": "string"},
                "total_EUR": {"type": "number"},
                "sender": obj({"name": {"type": "string"}}),
                "line_items": {"type": "array", "items": obj({"unit_price": {"type": "number"}})},
            }
        )
    )
    assert field_questions(schema) == [
        ("/date", "When was the letter written?"),
        ("/docType", "Document type"),
        ("/invoiceNumber", "invoice number"),
        ("/total_EUR", "total EUR"),
        ("/sender", "sender"),
        ("/sender/name", "sender name"),
        ("/line_items", "line items"),
        ("/line_items/-/unit_price", "line items unit price"),
    ]
    assert schema_at(schema, "/line_items/3/unit_price") == {"type": "number"}
    assert schema_at(schema, "/nowhere") is None


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ({"type": ["string", "null"]}, True),
        ({"type": "null"}, True),
        ({"enum": ["a", None]}, True),
        ({"const": None}, True),
        ({"type": "string"}, False),
        ({"enum": ["a", "b"]}, False),
        ({"type": ["array", "null"], "items": {"type": "string"}}, True),
    ],
)
def test_nullable_says_whether_a_field_may_be_null(field: dict, expected: bool) -> None:
    assert nullable(field) is expected


# --- Values the document does not state -------------------------------------------------

E_MAIL = """From: Barry Warsaw <barry@python.org>
To: python-dev@python.org
Date: Fri, 9 Nov 2007 10:12:00 +0100
Subject: [RELEASE] Python 2.5.2c1

On behalf of the Python development team, I'm happy to announce
the release candidate of Python 2.5.2 (v2.5.2c1).  The total of
donations this quarter was $1,234.50, 12 % more than last year.
Wir danken Ihnen (Berlin, den 9. Dezember 2007) — Montant : 1 234,50 €.
Signed, WARSAW Barry, 2007年11月9日
"""

# (value, why it counts as found) -- each is in E_MAIL the way a person would read it.
FOUND = [
    ("barry warsaw", "case"),
    ("Python development\nteam", "whitespace and line breaks"),
    ("Python 2.5.2", "a version"),
    ("v2.5.2c1", "a version with its v"),
    ("[RELEASE] Python 2.5.2c1.", "punctuation at the edges"),
    ("“Python 2.5.2c1”", "typographic quotes at the edges"),
    ("2007-11-09", "an ISO date in an e-mail header's form"),
    ("9 November 2007", "a date with the month written out"),
    ("Nov 9, 2007", "a date in the American order"),
    ("09.11.2007", "a numeric date"),
    ("Friday, 9 November 2007", "a date with its weekday"),
    ("2007-11-09T10:12:00+01:00", "a date with the time the header says"),
    ("2007-12-09", "a German month name"),
    ("2007-11", "a month"),
    ("1234.5", "a number without separators or trailing zero"),
    ("$1,234.50", "an amount with its currency"),
    ("USD 1234.50", "a currency's ISO code for its symbol"),
    ("EUR 1.234,50", "a decimal comma and the euro's code"),
    ("12%", "a percentage without the space"),
    ("Warsaw, Barry", "a name with its parts in another order"),
]

NOT_FOUND = [
    ("Barry Warshaw", "a misspelt name"),
    ("Guido van Rossum", "a name the e-mail never writes"),
    ("B. Warsaw", "an initial the e-mail never writes"),
    ("Python 2.5.3", "another version"),
    ("Pyth", "part of a word"),
    ("2007-11-10", "another day"),
    ("10 November 2007", "another day written out"),
    ("2007-11-09T11:12", "the right day at another time"),
    ("2008-01", "a month it never names"),
    ("1234", "a rounded amount"),
    ("£1,234.50", "the right amount in another currency"),
    ("13%", "another percentage"),
    ("1,234.50%", "an amount it never gives as a percentage"),
]


@pytest.mark.parametrize(("value", "why"), FOUND, ids=[f[1] for f in FOUND])
def test_a_value_the_document_states_another_way_is_found(value: str, why: str) -> None:
    assert not_in_document({"value": value}, obj({"value": {"type": "string"}}), E_MAIL) == []


@pytest.mark.parametrize(("value", "why"), NOT_FOUND, ids=[f[1] for f in NOT_FOUND])
def test_a_value_the_document_does_not_state_is_named(value: str, why: str) -> None:
    schema = obj({"value": {"type": "string"}})
    assert not_in_document({"value": value}, schema, E_MAIL) == ["/value"]


def test_numbers_are_checked_like_strings() -> None:
    schema = obj({"total": {"type": "number"}, "year": {"type": "integer"}})
    assert not_in_document({"total": 1234.5, "year": 2007}, schema, E_MAIL) == []
    assert not_in_document({"total": 1999.0, "year": 2008}, schema, E_MAIL) == [
        "/total",
        "/year",
    ]


def test_a_total_cut_at_the_documents_comma_is_named() -> None:
    """SmolLM2 answered "Total due: 12,080 JPY" with 12 and "104,90 EUR" with 104: a number
    with one separator is one number, so its first digits do not state the cut value."""
    schema = obj({"total": {"type": "number"}})
    assert not_in_document({"total": 12}, schema, "Total due: 12,080 JPY") == ["/total"]
    assert not_in_document({"total": 12080}, schema, "Total due: 12,080 JPY") == []
    assert not_in_document({"total": 104}, schema, "Total TTC : 104,90 EUR") == ["/total"]
    assert not_in_document({"total": 104.9}, schema, "Total TTC : 104,90 EUR") == []
    assert not_in_document({"total": 7}, schema, "git 1.7.9 is out.") == []  # a version's parts


def test_month_names_of_the_requested_language_are_read() -> None:
    letter = "Warszawa, 9 listopada 2007 r.\n\nSzanowny Panie,"
    schema = obj({"date": {"type": "string"}})
    assert not_in_document({"date": "2007-11-09"}, schema, letter) == ["/date"]
    assert not_in_document({"date": "2007-11-09"}, schema, letter, languages=["pl"]) == []


def test_text_in_a_cjk_script_is_found_inside_a_longer_run() -> None:
    document = "東京都港区芝公園4丁目2-8\n2007年11月9日"
    schema = obj({"city": {"type": "string"}, "date": {"type": "string"}})
    assert not_in_document({"city": "東京都", "date": "2007-11-09"}, schema, document) == []
    assert not_in_document({"city": "大阪", "date": "9 Nov 2007"}, schema, document) == ["/city"]


def test_choices_booleans_nulls_and_empty_strings_are_never_named() -> None:
    schema = obj(
        {
            "kind": {"enum": ["invoice", "letter"]},
            "fixed": {"const": "release"},
            "urgent": {"type": "boolean"},
            "date": {"type": ["string", "null"]},
            "note": {"type": "string"},
        }
    )
    answer = {"kind": "invoice", "fixed": "release", "urgent": True, "date": None, "note": " "}
    assert not_in_document(answer, schema, "A short note about nothing in particular.") == []


def test_array_items_and_nested_fields_are_named_one_by_one() -> None:
    schema = accepted(
        obj(
            {
                "sender": obj({"name": {"type": "string"}, "city": {"type": "string"}}),
                "tags": {"type": "array", "items": {"type": "string"}},
                "a/b": {"type": "string"},
            }
        )
    )
    answer = {
        "sender": {"name": "Barry Warsaw", "city": "Washington"},
        "tags": ["release", "Python", "Guido"],
        "a/b": "python-dev",
    }
    assert not_in_document(answer, schema, E_MAIL) == ["/sender/city", "/tags/2"]


def test_the_value_stays_in_the_answer() -> None:
    answer = {"value": "Guido"}
    not_in_document(answer, obj({"value": {"type": "string"}}), E_MAIL)
    assert answer == {"value": "Guido"}


# --- Chunk answers of a long document ---------------------------------------------------

LETTER_SCHEMA = accepted(
    obj(
        {
            "correspondent": {"type": ["string", "null"]},
            "date": {"type": ["string", "null"]},
            "total": {"type": ["number", "null"]},
            "kind": {"enum": ["letter", "e-mail", "invoice"]},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
            "sender": {
                "type": ["object", "null"],
                "properties": {"name": {"type": ["string", "null"]}, "city": {"type": "string"}},
                "required": ["city"],
            },
        },
        required=["correspondent", "date", "kind", "tags"],
    )
)


def merged(answers: list[dict], document: str | None = E_MAIL) -> dict:
    for answer in answers:
        jsonschema.validate(answer, LETTER_SCHEMA)
    result = merge_chunk_answers(answers, LETTER_SCHEMA, document)
    jsonschema.validate(result, LETTER_SCHEMA)
    return result


def test_a_scalar_takes_the_first_value_the_document_states() -> None:
    answers = [
        {"correspondent": "Guido", "date": None, "kind": "letter", "tags": ["a"]},
        {"correspondent": "Barry Warsaw", "date": "2007-11-09", "kind": "e-mail", "tags": ["b"]},
        {"correspondent": "python-dev", "date": "2007-11-10", "kind": "invoice", "tags": ["c"]},
    ]
    result = merged(answers)
    assert result["correspondent"] == "Barry Warsaw"
    assert result["date"] == "2007-11-09"
    assert result["kind"] == "letter", "a choice is not looked for: the first one stands"


def test_a_scalar_no_chunk_finds_in_the_document_is_the_first_non_null() -> None:
    answers = [
        {"correspondent": None, "date": None, "total": None, "kind": "letter", "tags": ["a"]},
        {"correspondent": "Guido", "date": None, "total": 99.0, "kind": "letter", "tags": ["a"]},
        {"correspondent": "Tim", "date": None, "total": 1234.5, "kind": "letter", "tags": ["a"]},
    ]
    result = merged(answers)
    assert result["correspondent"] == "Guido"
    assert result["total"] == 1234.5, "the stated total wins over the first"
    assert result["date"] is None, "null only where every chunk says null"


def test_without_the_document_the_first_non_null_value_wins() -> None:
    answers = [
        {"correspondent": "Guido", "date": None, "kind": "letter", "tags": ["a"]},
        {"correspondent": "Barry Warsaw", "date": "2007-11-09", "kind": "letter", "tags": ["a"]},
    ]
    assert merged(answers, document=None)["correspondent"] == "Guido"


def test_arrays_are_the_union_in_order_without_repeats_up_to_max_items() -> None:
    answers = [
        {"correspondent": None, "date": None, "kind": "letter", "tags": ["Python", "release"]},
        {"correspondent": None, "date": None, "kind": "letter", "tags": ["python", " Release "]},
        {"correspondent": None, "date": None, "kind": "letter", "tags": ["donations"]},
    ]
    assert merged(answers)["tags"] == ["Python", "release", "donations"]


def test_past_max_items_the_items_the_document_states_are_kept_first() -> None:
    answers = [
        {"correspondent": None, "date": None, "kind": "letter", "tags": ["Guido", "Python"]},
        {"correspondent": None, "date": None, "kind": "letter", "tags": ["Ruby", "release"]},
        {"correspondent": None, "date": None, "kind": "letter", "tags": ["donations"]},
    ]
    assert merged(answers)["tags"] == ["Python", "release", "donations"]
    assert merged(answers, document=None)["tags"] == ["Guido", "Python", "Ruby"]


def test_nested_objects_merge_field_by_field() -> None:
    answers = [
        {"correspondent": None, "date": None, "kind": "letter", "tags": ["a"], "sender": None},
        {
            "correspondent": None,
            "date": None,
            "kind": "letter",
            "tags": ["a"],
            "sender": {"name": None, "city": "Berlin"},
        },
        {
            "correspondent": None,
            "date": None,
            "kind": "letter",
            "tags": ["a"],
            "sender": {"name": "Barry Warsaw", "city": "Washington"},
        },
    ]
    assert merged(answers)["sender"] == {"name": "Barry Warsaw", "city": "Berlin"}


def test_a_field_only_some_chunks_give_is_kept_and_one_none_gives_stays_out() -> None:
    answers = [
        {"correspondent": None, "date": None, "kind": "letter", "tags": ["a"]},
        {"correspondent": None, "date": None, "kind": "letter", "tags": ["a"], "total": 1234.5},
    ]
    result = merged(answers)
    assert result["total"] == 1234.5
    assert "sender" not in result


def test_repeats_within_one_chunk_come_back_where_min_items_needs_them() -> None:
    schema = accepted(obj({"pair": {"type": "array", "items": {"type": "string"}, "minItems": 2}}))
    result = merge_chunk_answers([{"pair": ["Python", "python"]}], schema, E_MAIL)
    jsonschema.validate(result, schema)
    assert result == {"pair": ["Python", "python"]}


def test_merging_no_answers_is_an_error() -> None:
    with pytest.raises(ValueError, match="no chunk answers"):
        merge_chunk_answers([], LETTER_SCHEMA)


# --- The labelled set: its recipes are schemas of the subset, its values are found --------


def recipes() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((EXTRACT / "schemas").glob("*.json"))}


def labelled() -> list[dict]:
    return json.loads((EXTRACT / "MANIFEST.json").read_text(encoding="utf-8"))["documents"]


def test_every_recipe_is_a_schema_of_the_subset_llguidance_accepts() -> None:
    assert len(recipes()) == 5
    for name, schema in recipes().items():
        assert grammar_error(check_extract_schema(schema)) == "", name


def test_every_labelled_value_stands_at_its_span_and_is_found_by_not_in_document() -> None:
    schemas = recipes()
    for entry in labelled():
        text = (EXTRACT / entry["file"]).read_text(encoding="utf-8")
        for recipe, fields in entry["expected"].items():
            data = {name: field["value"] for name, field in fields.items()}
            jsonschema.validate(data, schemas[recipe])
            for name, field in fields.items():
                if field["span"] is None:  # not stated, or a choice (not a quote)
                    choice = "enum" in schemas[recipe]["properties"][name]
                    assert field["value"] is None or choice, (entry["file"], name)
                    continue
                start, end = field["span"]
                assert text[start:end] == field["text"], (entry["file"], name)
            assert not_in_document(data, schemas[recipe], text) == [], (entry["file"], recipe)
        for name, values in entry["also"].items():
            for value in values:
                schema = obj({name: {"type": "string"}})
                assert not_in_document({name: value}, schema, text) == [], (entry["file"], value)


def test_a_value_moved_to_another_document_is_named() -> None:
    """The other direction on real text: a release's version is not in a licence."""
    entries = labelled()
    release = next(e for e in entries if "release" in e["expected"])
    licence = next(e for e in entries if e["kind"] == "license")
    text = (EXTRACT / licence["file"]).read_text(encoding="utf-8")
    version = release["expected"]["release"]["version"]["value"]
    schema = recipes()["release"]
    assert not_in_document({"product": None, "version": version}, schema, text) == ["/version"]
