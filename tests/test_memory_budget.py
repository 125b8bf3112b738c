"""How much of a long document one pass may hold, from the KV cache's size in memory.

The GPU path cannot run here (no Metal, no CUDA in CI), so its pure functions are tested on
the real configs of the app's models and the memory figures of the Macs it runs on. The
expected KV-cache sizes are never the test's own arithmetic on the config: they come from
mlx-lm, which builds each model from its config and makes its caches (the real 8B and 3B
models built lazily, tiny random-weight ones run for a few tokens), and from the figures
docs/protocol.md states.
"""

from __future__ import annotations

import pytest

from mlx_sidecar import models, platform
from mlx_sidecar.models import memory

# The config.json files of Qwen/Qwen3-8B and meta-llama/Llama-3.2-3B-Instruct as published
# on the Hugging Face Hub, whole (the Llama one as also quoted in the LLM-Prof repository's
# sglang/Model_Config.md): fields that do not size the cache are kept, since a reader of
# the config must not be misled by them (Qwen3's "sliding_window": null,
# "max_window_layers": 36).
QWEN3_8B = {
    "architectures": ["Qwen3ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "initializer_range": 0.02,
    "intermediate_size": 12288,
    "max_position_embeddings": 40960,
    "max_window_layers": 36,
    "model_type": "qwen3",
    "num_attention_heads": 32,
    "num_hidden_layers": 36,
    "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 1000000,
    "sliding_window": None,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.51.0",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 151936,
}
LLAMA_3_2_3B = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 128000,
    "eos_token_id": [128001, 128008, 128009],
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 3072,
    "initializer_range": 0.02,
    "intermediate_size": 8192,
    "max_position_embeddings": 131072,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 24,
    "num_hidden_layers": 28,
    "num_key_value_heads": 8,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {
        "factor": 32.0,
        "high_freq_factor": 4.0,
        "low_freq_factor": 1.0,
        "original_max_position_embeddings": 8192,
        "rope_type": "llama3",
    },
    "rope_theta": 500000.0,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.45.0.dev0",
    "use_cache": True,
    "vocab_size": 128256,
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
    per_token = memory.kv_bytes_per_token(config, 2)
    return memory.kv_token_limit(
        per_token, MACS[mac], int(WEIGHTS[model]), config["max_position_embeddings"]
    )


def cached_bytes_per_token_by_mlx_lm(config: dict) -> int:
    """Bytes per token of the caches mlx-lm makes for this model that grow with the prompt
    (KVCache; a RotatingKVCache stops at its window, an ArraysCache holds a fixed state):
    the widths of each such layer's key and value projections, as mlx-lm builds the model
    from the config, times 2 bytes (bfloat16). A second reading of the config, by the
    library that runs the model: the model is built lazily, so its 8 billion parameters
    are never allocated."""
    from mlx_lm.models.cache import KVCache, make_prompt_cache
    from mlx_lm.utils import _get_classes

    model_class, args_class = _get_classes(config)
    model = model_class(args_class.from_dict(config))
    grows = [type(c) is KVCache for c in make_prompt_cache(model)]
    widths = [
        layer.self_attn.k_proj.weight.shape[0] + layer.self_attn.v_proj.weight.shape[0]
        for layer in model.layers
    ]
    return sum(w for w, g in zip(widths, grows, strict=True) if g) * 2


def cached_bytes_per_token_measured(config: dict, tokens: int = 5) -> float:
    """Bytes per token that mlx-lm's growing caches (KVCache) really hold after a forward
    pass over ``tokens`` tokens of a tiny random-weight model (float32: 4 bytes)."""
    import mlx.core as mx
    from mlx_lm.models.cache import KVCache, make_prompt_cache
    from mlx_lm.utils import _get_classes

    model_class, args_class = _get_classes(config)
    model = model_class(args_class.from_dict(config))
    cache = make_prompt_cache(model)
    model(mx.array([list(range(1, tokens + 1))]), cache=cache)
    held = 0.0
    for c in cache:
        if type(c) is KVCache:
            assert c.offset == tokens
            held += (c.keys.nbytes + c.values.nbytes) / c.keys.shape[2] * tokens
    return held / tokens


@pytest.mark.parametrize("model", list(CONFIGS))
def test_kv_bytes_per_token_is_what_mlx_lm_caches_for_the_real_config(model: str) -> None:
    config = CONFIGS[model]
    assert memory.kv_bytes_per_token(config, 2) == cached_bytes_per_token_by_mlx_lm(config)


def test_the_whole_context_of_each_is_the_size_the_docs_table_states() -> None:
    # docs/protocol.md: "40,960 tokens = 5.6 GiB", "131,072 tokens = 14 GiB"
    for model, gib in (("qwen3-8b", 5.6), ("llama-3.2-3b", 14.0)):
        config = CONFIGS[model]
        whole = memory.kv_bytes_per_token(config, 2) * config["max_position_embeddings"]
        assert round(whole / GIB, 1) == gib, (model, whole / GIB)


# Tiny random-weight models of the families with caches that do not grow on every layer
# (tests/families.py; gpt-oss as its config.json lays out "layer_types"): what mlx-lm's
# caches really hold after a forward pass is what kv_bytes_per_token counts.
GPT_OSS_TINY = {
    "model_type": "gpt_oss",
    "num_hidden_layers": 4,
    "num_local_experts": 2,
    "num_experts_per_tok": 1,
    "vocab_size": 256,
    "hidden_size": 64,
    "intermediate_size": 64,
    "head_dim": 16,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "sliding_window": 8,
    "layer_types": ["sliding_attention", "full_attention"] * 2,
}


@pytest.mark.parametrize(
    "name", ["qwen3_5", "gemma3_text", "gpt_oss", "phi3", "qwen3-tied", "mistral"]
)
def test_layers_whose_cache_does_not_grow_are_not_counted(name: str) -> None:
    from families import FAMILIES

    config = GPT_OSS_TINY if name == "gpt_oss" else FAMILIES[name].config
    assert memory.kv_bytes_per_token(config, 4) == cached_bytes_per_token_measured(config)


def test_a_config_without_attention_sizes_has_no_figure() -> None:
    assert memory.kv_bytes_per_token({"model_type": "mystery"}, 2) is None


@pytest.mark.parametrize("model", list(CONFIGS))
@pytest.mark.parametrize("mac", list(MACS))
def test_one_pass_keeps_its_kv_cache_inside_the_memory_share(model: str, mac: str) -> None:
    tokens = limit(model, mac)
    context = CONFIGS[model]["max_position_embeddings"]
    per_token = cached_bytes_per_token_by_mlx_lm(CONFIGS[model])
    assert memory.MIN_CHUNK_TOKENS <= tokens <= context
    if tokens < context:
        room = (MACS[mac] - WEIGHTS[model]) * memory.KV_MEMORY_SHARE
        assert tokens * per_token <= room < (tokens + 1) * per_token


# docs/protocol.md's table of tokens per pass on Apple-silicon Macs (the "~" figures).
DOCS_TABLE = {
    ("qwen3-8b", "8GB"): 3_800,
    ("qwen3-8b", "16GB"): 23_000,
    ("qwen3-8b", "64GB"): 40_960,
    ("llama-3.2-3b", "8GB"): 17_000,
    ("llama-3.2-3b", "16GB"): 42_000,
    ("llama-3.2-3b", "64GB"): 131_072,
}


@pytest.mark.parametrize(("model", "mac"), list(DOCS_TABLE))
def test_tokens_per_pass_are_the_docs_tables(model: str, mac: str) -> None:
    assert limit(model, mac) == pytest.approx(DOCS_TABLE[model, mac], rel=0.02)


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
    assert memory.kv_token_limit(147_456, 8 * GIB, 9 * GIB, 40_960) == memory.MIN_CHUNK_TOKENS


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
    assert memory.expected_weights_bytes(folder, "quantized") == on_disk
    # 4-bit weights with a scale and bias per 64: 4.5 bits a weight, 32 as float32.
    assert memory.expected_weights_bytes(folder, "float32") == int(on_disk * 32 / 4.5)


def test_a_model_that_does_not_fit_beside_the_loaded_one_frees_it_first(
    family_folders: object,
) -> None:
    folder = family_folders("phi3").path
    device = platform.device_memory_bytes()
    assert device is not None and device > 0
    assert memory.fits_beside(held_model(0), folder, "quantized")
    assert not memory.fits_beside(held_model(device), folder, "quantized")
