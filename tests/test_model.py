"""Loading, model-info, tags and summaries on the real bundled SmolLM2."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from conftest import DOCUMENT, ROOT
from gguf_util import write_gguf

SMOLLM2_PARAMS = 134_515_008
SPECIALS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>")


def test_load_model_without_path_loads_the_bundled_smollm2(loaded):
    info = loaded.ok({"command": "model-info"})
    assert info["model_name"].startswith("SmolLM2-135M-Instruct")
    assert info["format"] == "gguf"


def test_load_response_has_the_seed_fields_and_timing(loaded):
    line = loaded.ok({"command": "load-model", "id": 1})
    assert line["success"] is True and line["model_name"].startswith("SmolLM2")
    assert line["format"] == "gguf" and 0 < line["load_time_s"] < 120


def test_model_info_counts_real_parameters(loaded):
    info = loaded.ok({"command": "model-info"})
    assert abs(info["param_count"] - SMOLLM2_PARAMS) <= SMOLLM2_PARAMS * 0.01
    assert info["architecture"] == "llama"
    assert info["quantization"]["bits"] == 4 and info["quantization"]["group_size"] == 32
    assert info["context_length"] == 8192 and info["vocab_size"] == 49152


def test_check_availability_says_a_model_is_loaded(loaded):
    assert loaded.ok({"command": "check-availability"})["model_loaded"] is True


def test_tags_are_one_to_five_short_trimmed_unique_strings(loaded):
    line = loaded.ok({"command": "generate-tags", "content": DOCUMENT})
    assert line["raw_output_parsed"] is True  # the grammar made the raw output a JSON array
    tags = line["tags"]
    assert 1 <= len(tags) <= 5
    assert all(isinstance(t, str) and t == t.strip() and 0 < len(t) <= 40 for t in tags)
    assert len({t.casefold() for t in tags}) == len(tags)
    assert all(len(t.split()) <= 6 for t in tags)  # 4 words, and a title's small words


@pytest.mark.parametrize("max_tokens", [5, 8, 13])
def test_tags_parse_even_when_max_tokens_runs_out(loaded, max_tokens):
    line = loaded.ok({"command": "generate-tags", "content": DOCUMENT, "max_tokens": max_tokens})
    assert line["raw_output_parsed"] is True  # the array is closed within the budget
    assert line["generation_tokens"] <= max_tokens and line["tags"]


def test_tags_name_what_the_document_is_about(loaded):
    """Every tag's words are in the document (the grounding rule sees to that); one of them
    must also name its subject, as a person tagging it would: Apollo 11, the Moon landing,
    the Space Race, the astronauts. "President", "1961" or "United States" alone would not."""
    tags = loaded.ok({"command": "generate-tags", "content": DOCUMENT})["tags"]
    subject = r"apollo|moon|lunar|space race|astronaut|armstrong|aldrin"
    assert any(re.search(subject, t.casefold()) for t in tags), tags


def test_greedy_tags_repeat_exactly(loaded):
    first = loaded.ok({"command": "generate-tags", "content": DOCUMENT})["tags"]
    second = loaded.ok({"command": "generate-tags", "content": DOCUMENT})["tags"]
    assert first == second


def test_max_tags_limits_the_count(loaded):
    tags = loaded.ok({"command": "generate-tags", "content": DOCUMENT, "max_tags": 2})["tags"]
    assert 1 <= len(tags) <= 2
    one = loaded.ok({"command": "generate-tags", "content": DOCUMENT, "max_tags": 1})["tags"]
    assert len(one) == 1  # 1 to max_tags: never none, never more


def test_max_tags_of_20_is_accepted_and_21_is_not(loaded):
    # A document naming more than 20 things: room for the model and the keywords to use.
    crowded = " ".join(
        f"{name} is a {kind}."
        for name, kind in [
            ("Python", "programming language"),
            ("Rust", "systems language"),
            ("Kubernetes", "container orchestrator"),
            ("PostgreSQL", "relational database"),
            ("Redis", "key-value store"),
            ("Nginx", "web server"),
            ("Linux", "kernel"),
            ("Git", "version control system"),
            ("Docker", "container runtime"),
            ("Kafka", "event streaming platform"),
            ("Terraform", "provisioning tool"),
            ("Ansible", "configuration manager"),
            ("Prometheus", "monitoring system"),
            ("Grafana", "dashboard tool"),
            ("Elasticsearch", "search engine"),
            ("RabbitMQ", "message broker"),
            ("Jenkins", "build server"),
            ("Vim", "text editor"),
            ("SQLite", "embedded database"),
            ("Bash", "shell"),
            ("Emacs", "extensible editor"),
            ("Haskell", "functional language"),
        ]
    )
    line = loaded.ok({"command": "generate-tags", "content": crowded, "max_tags": 20})
    assert 1 <= len(line["tags"]) <= 20 and line["raw_output_parsed"] is True
    refused = loaded.answer({"command": "generate-tags", "content": crowded, "max_tags": 21})
    assert refused["code"] == "invalid_params" and "max_tags" in refused["error"]


def test_a_temperature_above_zero_samples_an_answer(loaded):
    tags = loaded.ok({"command": "generate-tags", "content": DOCUMENT, "temperature": 0.9})
    assert tags["tags"] and all(isinstance(t, str) and t.strip() == t for t in tags["tags"])
    summary = loaded.ok(
        {"command": "summarize", "content": DOCUMENT, "temperature": 1.3, "max_tokens": 40}
    )
    assert summary["summary"] and not any(s in summary["summary"] for s in SPECIALS)
    for bad in (-0.1, 2.5):
        line = loaded.answer({"command": "summarize", "content": DOCUMENT, "temperature": bad})
        assert line["code"] == "invalid_params" and "temperature" in line["error"]


@pytest.mark.parametrize("max_words", [5, 40])
def test_a_summary_has_at_most_max_words_words(loaded, max_words):
    line = loaded.ok({"command": "summarize", "content": DOCUMENT, "max_words": max_words})
    words = line["summary"].split()
    assert 1 <= len(words) <= max_words, line["summary"]


def test_a_one_word_document_still_gets_a_tag(loaded):
    assert loaded.ok({"command": "generate-tags", "content": "Photosynthesis"})["tags"]


def test_summary_is_plain_prose_without_leaks_or_preamble(loaded):
    line = loaded.ok({"command": "summarize", "content": DOCUMENT})
    summary = line["summary"]
    assert len(summary.split()) >= 5
    assert not any(s in summary for s in SPECIALS)
    assert not summary.lower().startswith(("here is", "here's", "sure", "summary:"))
    assert summary[-1] in ".!?\"'”)"
    assert "\n" not in summary


def test_summary_is_deterministic_by_default(loaded):
    ask = {"command": "summarize", "content": DOCUMENT, "max_tokens": 48}
    a = loaded.ok(ask)["summary"]
    b = loaded.ok(ask)["summary"]
    assert a == b


@pytest.mark.parametrize("name", ["10-attrs-readme.md", "11-express-readme.md"])
def test_a_markdown_readme_gets_a_summary_without_markup(loaded, name):
    readme = (ROOT / "bench" / "corpus" / name).read_text(encoding="utf-8")
    summary = loaded.ok({"command": "summarize", "content": readme, "sentences": 1})["summary"]
    assert len(summary.split()) >= 5
    for markup in ("**", "`", "](", "http", "<", "\n"):
        assert markup not in summary, (markup, summary)
    assert not summary.startswith(("#", "*", "-", ">")), summary


def test_responses_carry_token_counts_and_speeds(loaded):
    line = loaded.ok({"command": "summarize", "content": DOCUMENT, "max_tokens": 16})
    assert line["prompt_tokens"] > 50 and 0 < line["generation_tokens"] <= 16
    assert line["prompt_tps"] > 0 and line["generation_tps"] > 0
    assert 0 <= line["cached_tokens"] < line["prompt_tokens"]


def test_a_failed_load_keeps_the_previous_model_serving(loaded, tmp_path):
    before = loaded.ok({"command": "model-info"})
    missing = loaded.answer({"command": "load-model", "model_path": str(tmp_path / "nope.gguf")})
    assert missing["type"] == "error" and missing["code"] == "not_found"
    truncated = tmp_path / "cut.gguf"
    with open(before["path"], "rb") as src:
        truncated.write_bytes(src.read(5_000_000))
    cut = loaded.answer({"command": "load-model", "model_path": str(truncated)})
    assert cut["type"] == "error" and cut["code"] == "load_failed"
    assert "truncated" in cut["error"] or "corrupt" in cut["error"]
    assert loaded.ok({"command": "model-info"}) == before
    assert loaded.ok({"command": "generate-tags", "content": DOCUMENT})["tags"]


def test_a_model_that_cannot_fit_beside_the_loaded_one_is_loaded_after_unloading_it(
    loaded, tmp_path
):
    """So a failed load of such a model leaves no model at all: no_model until the next
    load. Its weights are a sparse file twice the device's memory (they take no disk):
    too big to fit beside anything, and no valid safetensors, so its load fails."""
    from mlx_sidecar.platform import device_memory_bytes

    huge = tmp_path / "huge"
    huge.mkdir()
    (huge / "config.json").write_text(json.dumps({"model_type": "llama"}), encoding="utf-8")
    with open(huge / "model.safetensors", "wb") as weights:
        weights.truncate(2 * device_memory_bytes())
    line = loaded.answer({"command": "load-model", "model_path": str(huge)})
    assert line["code"] == "load_failed" and str(huge) in line["error"], line
    assert loaded.answer({"command": "model-info"})["code"] == "no_model"
    assert loaded.ok({"command": "check-availability"})["model_loaded"] is False
    loaded.ok({"command": "load-model"})  # the bundled model again, for the module


def test_the_weights_option_sets_the_layout_in_memory_and_model_info_reports_it(loaded):
    """auto (the module's load): float32 on the CPU, whose BLAS multiplies those fastest
    (SmolLM2's 0.5 GB copy is well under the 4 GiB it allows); the file's 4-bit weights on
    a GPU. Either layout on request; the last one asked, float32, is auto's on the CPU."""
    auto = loaded.ok({"command": "model-info"})
    assert auto["weights"] == ("float32" if auto["backend"] == "cpu" else "quantized")
    quantized = loaded.ok({"command": "load-model", "weights": "quantized"})
    held = loaded.ok({"command": "model-info"})
    assert quantized["weights"] == held["weights"] == "quantized"
    as_float32 = loaded.ok({"command": "load-model", "weights": "float32"})
    unpacked = loaded.ok({"command": "model-info"})
    assert as_float32["weights"] == unpacked["weights"] == "float32"
    assert unpacked["weights_bytes"] >= 4 * unpacked["param_count"]  # 4 bytes a weight
    assert held["weights_bytes"] < unpacked["weights_bytes"] / 4  # 4 bits and their scales
    bad = loaded.answer({"command": "load-model", "weights": "int3"})
    assert bad["code"] == "invalid_params" and "weights" in bad["error"]


def test_gguf_with_an_unreadable_tensor_type_names_it(loaded, tmp_path):
    q4_k = write_gguf(tmp_path / "k.gguf", "llama", tensor_type=12, shape=(256, 4))
    line = loaded.answer({"command": "load-model", "model_path": str(q4_k)})
    assert line["type"] == "error" and "Q4_K" in line["error"]
    assert line["code"] == "unsupported_model"


def test_gguf_of_another_architecture_names_it(loaded, tmp_path):
    other = write_gguf(tmp_path / "bert.gguf", "bert", tensor_type=0)
    line = loaded.answer({"command": "load-model", "model_path": str(other)})
    assert line["type"] == "error" and "'bert'" in line["error"]


@pytest.mark.parametrize(
    "setup, words",
    [
        (lambda d: None, "config.json"),
        (lambda d: (d / "config.json").write_text("{not json"), "config.json"),
        (lambda d: (d / "model.bin").write_bytes(b"pickle"), "config.json"),
    ],
)
def test_bad_model_folders_get_clear_errors(loaded, tmp_path, setup, words):
    setup(tmp_path)
    line = loaded.answer({"command": "load-model", "model_path": str(tmp_path)})
    assert line["type"] == "error" and line["code"] == "load_failed" and words in line["error"]


def test_folder_without_safetensors_is_refused(loaded, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"not loaded")
    line = loaded.answer({"command": "load-model", "model_path": str(tmp_path)})
    assert line["code"] == "load_failed" and "safetensors" in line["error"]


def test_a_plain_file_that_is_not_gguf_is_refused(loaded, tmp_path):
    f = tmp_path / "weights.bin"
    f.write_bytes(b"\0" * 100)
    assert loaded.answer({"command": "load-model", "model_path": str(f)})["code"] == "load_failed"


def test_an_mlx_folder_loads_and_generates(loaded, mlx_folder):
    line = loaded.ok({"command": "load-model", "model_path": str(mlx_folder)})
    assert line["format"] == "mlx"
    info = loaded.ok({"command": "model-info"})
    assert abs(info["param_count"] - SMOLLM2_PARAMS) <= SMOLLM2_PARAMS * 0.01
    assert info["format"] == "mlx" and info["architecture"] == "llama"
    assert loaded.ok({"command": "generate-tags", "content": DOCUMENT})["tags"]
    loaded.ok({"command": "load-model"})  # back to the GGUF for the rest of the module


def test_stdout_stayed_pure_through_model_work(loaded):
    for raw in loaded.raw_lines:
        assert json.loads(raw)["type"] in ("response", "error", "progress", "partial")
    assert len(loaded.raw_lines) == len(loaded.lines)


def test_the_copied_gguf_loads_by_path(loaded, tmp_path):
    info = loaded.ok({"command": "model-info"})
    copy = shutil.copy(info["path"], tmp_path / "copy.gguf")
    line = loaded.ok({"command": "load-model", "model_path": str(copy)})
    assert line["model_name"] == "copy"
