"""How much of a long document one pass may hold, from the KV cache's size in memory.

The GPU path cannot run here (no Metal, no CUDA in CI), so its pure functions are tested on
the real configs of the app's models and the memory figures of the Macs it runs on.
"""

from __future__ import annotations

import pytest

from mlx_sidecar import models, platform
from mlx_sidecar.answers import long_documents

# config.json of Qwen/Qwen3-8B and meta-llama/Llama-3.2-3B-Instruct (the values that size
# the cache), as published on the Hugging Face Hub and quoted in public code (e.g. the
# LLM-Prof repository's sglang/Model_Config.md for Llama 3.2 3B).
QWEN3_8B = {
    "model_type": "qwen3",
    "hidden_size": 4096,
    "intermediate_size": 12288,
    "num_hidden_layers": 36,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "max_position_embeddings": 40960,
    "vocab_size": 151936,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}
LLAMA_3_2_3B = {
    "model_type": "llama",
    "hidden_size": 3072,
    "intermediate_size": 8192,
    "num_hidden_layers": 28,
    "num_attention_heads": 24,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "max_position_embeddings": 131072,
    "vocab_size": 128256,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
}
# Parameters of each, as 4-bit weights with a bfloat16 scale and bias per 64 (4.5 bits):
# the mlx-community -4bit folders are 4.6 GB and 1.8 GB.
WEIGHTS = {"qwen3-8b": 8_190_735_360 * 4.5 / 8, "llama-3.2-3b": 3_212_749_824 * 4.5 / 8}
CONFIGS = {"qwen3-8b": QWEN3_8B, "llama-3.2-3b": LLAMA_3_2_3B}
GIB = 1024**3
# Metal's recommended working set (mx.device_info()["max_recommended_working_set_size"]):
# macOS lets the GPU wire about 2/3 of memory on Macs up to 32 GB and 3/4 above (the
# figures reported for 8, 16 and 64 GB Apple-silicon Macs; not measured here).
MACS = {"8GB": 8 * GIB * 2 // 3, "16GB": 16 * GIB * 2 // 3, "64GB": 64 * GIB * 3 // 4}


def limit(model: str, mac: str) -> int:
    config = CONFIGS[model]
    per_token = models.kv_bytes_per_token(config, 2)
    return long_documents.kv_token_limit(
        per_token, MACS[mac], int(WEIGHTS[model]), config["max_position_embeddings"]
    )


def test_kv_bytes_per_token_counts_keys_and_values_of_every_layer() -> None:
    # 2 (K, V) x layers x KV heads x head_dim x 2 bytes (bfloat16)
    assert models.kv_bytes_per_token(QWEN3_8B, 2) == 2 * 36 * 8 * 128 * 2 == 147_456
    assert models.kv_bytes_per_token(LLAMA_3_2_3B, 2) == 2 * 28 * 8 * 128 * 2 == 114_688
    # The whole context of each is what the issue measured: 15 GB and 5.6 GiB.
    assert 114_688 * 131_072 > 15e9 and 5.6 * GIB < 147_456 * 40_960


def test_layers_whose_cache_does_not_grow_are_not_counted() -> None:
    hybrid = {**QWEN3_8B, "num_hidden_layers": 32, "full_attention_interval": 4}
    assert models.kv_bytes_per_token(hybrid, 2) == 2 * 8 * 8 * 128 * 2
    typed = {
        **QWEN3_8B,
        "num_hidden_layers": 8,
        "layer_types": ["linear_attention"] * 3
        + ["full_attention"]
        + ["linear_attention"] * 3
        + ["full_attention"],
    }
    assert models.kv_bytes_per_token(typed, 2) == 2 * 2 * 8 * 128 * 2
    sliding = {
        **QWEN3_8B,
        "num_hidden_layers": 36,
        "sliding_window": 1024,
        "sliding_window_pattern": 6,
    }
    assert models.kv_bytes_per_token(sliding, 2) == 2 * 6 * 8 * 128 * 2
    nested = {"model_type": "qwen3_5", "text_config": hybrid}
    assert models.kv_bytes_per_token(nested, 2) == models.kv_bytes_per_token(hybrid, 2)


def test_a_config_without_attention_sizes_has_no_figure() -> None:
    assert models.kv_bytes_per_token({"model_type": "mystery"}, 2) is None


@pytest.mark.parametrize("model", list(CONFIGS))
@pytest.mark.parametrize("mac", list(MACS))
def test_one_pass_keeps_its_kv_cache_inside_the_memory_share(model: str, mac: str) -> None:
    tokens = limit(model, mac)
    context = CONFIGS[model]["max_position_embeddings"]
    per_token = models.kv_bytes_per_token(CONFIGS[model], 2)
    assert long_documents.MIN_CHUNK_TOKENS <= tokens <= context
    if tokens < context:
        room = (MACS[mac] - WEIGHTS[model]) * long_documents.KV_MEMORY_SHARE
        assert tokens * per_token <= room < (tokens + 1) * per_token


def test_the_whole_context_is_never_used_when_it_does_not_fit() -> None:
    # Llama 3.2's 131,072-token cache is 15 GB: more than a 16 GB Mac's GPU may hold.
    assert limit("llama-3.2-3b", "16GB") < 131_072
    assert limit("llama-3.2-3b", "8GB") < limit("llama-3.2-3b", "16GB")
    # Qwen3-8B on an 8 GB Mac leaves ~1 GB beside its weights: a few thousand tokens.
    assert 2_000 < limit("qwen3-8b", "8GB") < 5_000


def test_the_whole_context_is_used_where_it_fits() -> None:
    assert limit("qwen3-8b", "64GB") == 40_960
    assert limit("llama-3.2-3b", "64GB") == 131_072


def test_more_memory_never_means_shorter_chunks() -> None:
    for model in CONFIGS:
        assert limit(model, "8GB") <= limit(model, "16GB") <= limit(model, "64GB")


def test_weights_that_fill_memory_still_leave_a_minimum_chunk() -> None:
    assert (
        long_documents.kv_token_limit(147_456, 8 * GIB, 9 * GIB, 40_960)
        == long_documents.MIN_CHUNK_TOKENS
    )


def held_model(weights_bytes: int) -> models.Model:
    return models.Model(
        module=None,
        tokenizer=None,
        name="old",
        path="",
        format="mlx",
        architecture="llama",
        param_count=0,
        quantization=None,
        context_length=None,
        vocab_size=None,
        weights="quantized",
        weights_bytes=weights_bytes,
    )


def test_a_new_models_size_is_its_weights_on_disk_or_their_float32_copy(
    family_folders: object,
) -> None:
    folder = family_folders("phi3").path
    on_disk = sum(f.stat().st_size for f in folder.glob("*.safetensors"))
    assert models.expected_weights_bytes(folder, "quantized") == on_disk
    # 4-bit weights with a scale and bias per 64: 4.5 bits a weight, 32 as float32.
    assert models.expected_weights_bytes(folder, "float32") == int(on_disk * 32 / 4.5)


def test_a_model_that_does_not_fit_beside_the_loaded_one_frees_it_first(
    family_folders: object,
) -> None:
    folder = family_folders("phi3").path
    memory = platform.device_memory_bytes()
    assert memory is not None and memory > 0
    assert models.fits_beside(held_model(0), folder, "quantized")
    assert not models.fits_beside(held_model(memory), folder, "quantized")
