"""Memory: what a model's KV cache takes per token, what one pass may hold on this device,
and whether a new model fits beside the loaded one."""

from __future__ import annotations

import json
from pathlib import Path

from ..platform import backend_name, device_memory_bytes
from . import Model, choose_layout, text_config

# Share of the memory left beside the weights that one pass's KV cache may take. The rest
# is headroom for activations of a prefill step, MLX's buffer cache and the app itself.
KV_MEMORY_SHARE = 0.5
MIN_CHUNK_TOKENS = 512  # below this a chunk has too little text for tags or a summary


def kv_bytes_per_token(config: dict, element_bytes: int) -> int | None:
    """Bytes the KV cache grows by per token: keys and values of every layer whose cache
    grows with the prompt. Linear-attention layers (Qwen3.5: all but every
    full_attention_interval-th) hold a fixed state, sliding-window layers (Gemma 3: all but
    every sliding_window_pattern-th) at most sliding_window tokens; neither grows."""
    c = text_config(config)
    try:
        layers = int(c["num_hidden_layers"])
        heads = int(c["num_attention_heads"])
        kv_heads = int(c.get("num_key_value_heads") or heads)
        head_dim = int(c.get("head_dim") or int(c["hidden_size"]) // heads)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if isinstance(c.get("layer_types"), list):
        layers = sum(1 for t in c["layer_types"] if t == "full_attention") or layers
    elif c.get("full_attention_interval"):
        layers //= int(c["full_attention_interval"])
    elif c.get("sliding_window_pattern") and c.get("sliding_window"):
        layers //= int(c["sliding_window_pattern"])
    return 2 * max(layers, 1) * kv_heads * head_dim * element_bytes


def kv_element_bytes(layout: str) -> int:
    """Cache entries follow the activations: float32 with float32 weights (and the float32
    scales of quantized weights on CPU), bfloat16/float16 on a GPU."""
    return 4 if layout == "float32" or backend_name() == "cpu" else 2


def memory_token_limit(model: Model) -> int:
    """The most tokens one pass may hold in its KV cache on this device (see kv_token_limit)."""
    context = model.context_length or 4096
    memory = device_memory_bytes()
    if memory is None or not model.kv_bytes_per_token:
        return context
    return kv_token_limit(model.kv_bytes_per_token, memory, model.weights_bytes, context)


def kv_budget_bytes(memory: int, weights: int) -> float:
    """What KV caches may take: KV_MEMORY_SHARE of the memory left beside the weights."""
    return max(0, memory - weights) * KV_MEMORY_SHARE


def kv_token_limit(per_token: int, memory: int, weights: int, context: int) -> int:
    """Tokens whose KV cache fits kv_budget_bytes; the whole context when it fits, never
    under MIN_CHUNK_TOKENS."""
    budget = kv_budget_bytes(memory, weights)
    return max(MIN_CHUNK_TOKENS, min(context, int(budget // per_token)))


def fits_beside(old: Model, path: Path, weights: str) -> bool:
    """Whether a new model fits in device memory while the old one still serves.

    When it does not, the old model is unloaded first, and a failed load then leaves no
    model loaded (instead of keeping the previous one).
    """
    memory = device_memory_bytes()
    return memory is None or old.weights_bytes + expected_weights_bytes(path, weights) <= memory


def expected_weights_bytes(path: Path, weights: str) -> int:
    """The new model's weights in memory: their size on disk, times 32/bits when the CPU
    will hold them as float32 (choose_layout)."""
    files = [path] if path.is_file() else list(path.glob("*.safetensors"))
    on_disk = sum(f.stat().st_size for f in files if f.is_file())
    as_float32 = on_disk * 32 / stored_bits_per_weight(path)
    if choose_layout(weights, int(as_float32)) == "float32":
        return int(as_float32)
    return on_disk


def stored_bits_per_weight(path: Path) -> float:
    """Bits a weight takes on disk: an MLX folder's quantization (4 bits plus a 16-bit scale
    and bias per group: 4.5 at group 64), 16 for an unquantized folder (bfloat16/float16),
    and 4.5 for a GGUF file (Q4_0/Q4_1, the types mostly loaded here)."""
    if path.is_file():
        return 4.5
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        quant = config.get("quantization")
        return quant["bits"] + 32 / quant["group_size"] if quant else 16.0
    except (OSError, ValueError, TypeError, KeyError, ZeroDivisionError, AttributeError):
        return 16.0
