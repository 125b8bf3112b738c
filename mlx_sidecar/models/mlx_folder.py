"""MLX model folders (config.json + safetensors), loaded by mlx-lm without touching the network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import LoadFailed, one_line
from ..platform import backend_name
from . import Model, choose_layout, is_dense, text_config
from .memory import kv_bytes_per_token, kv_element_bytes


def load(path: Path, weights: str) -> Model:
    from mlx_lm.utils import get_total_parameters, load_tokenizer
    from mlx_lm.utils import load_model as mlx_load_model

    try:
        module, config = mlx_load_model(path, lazy=True, trust_remote_code=False)
        tokenizer = load_tokenizer(path, eos_token_ids=config.get("eos_token_id"))
    except MemoryError:
        raise
    except Exception as e:
        raise LoadFailed(f"Could not load the MLX model in {path}: {one_line(e)}") from e
    params = get_total_parameters(module)
    layout = choose_layout(weights, params * 4)
    quant = config.get("quantization")
    settings = text_config(config)
    return Model(
        module=module,
        tokenizer=tokenizer,
        name=path.name,
        path=str(path),
        format="mlx",
        architecture=str(config.get("model_type")),
        param_count=int(params),
        quantization=(
            {"bits": quant.get("bits"), "group_size": quant.get("group_size")}
            if isinstance(quant, dict)
            else None
        ),
        context_length=settings.get("max_position_embeddings"),
        vocab_size=settings.get("vocab_size"),
        weights=apply_layout(module, layout),
        kv_bytes_per_token=kv_bytes_per_token(config, kv_element_bytes(layout)),
    )


def apply_layout(module: Any, layout: str) -> str:
    """Put the weights in the chosen layout; returns its description for model-info."""
    import mlx.core as mx
    from mlx.utils import tree_map

    if layout == "float32":
        from mlx_lm.utils import dequantize_model

        dequantize_model(module)
        module.update(tree_map(lambda a: a.astype(mx.float32), module.parameters()))
        return "float32"
    # Quantized: CPU quantized matmuls lose precision with float16 scales, so keep
    # scales, biases and norms in float32 (exact; docs/architecture.md, "Models").
    quantized = not is_dense(module)
    if quantized and backend_name() == "cpu":
        module.update(
            tree_map(
                lambda a: a.astype(mx.float32) if mx.issubdtype(a.dtype, mx.floating) else a,
                module.parameters(),
            )
        )
    return "quantized" if quantized else first_param_dtype(module)


def first_param_dtype(module: Any) -> str:
    from mlx.utils import tree_flatten

    for _, value in tree_flatten(module.parameters()):
        return str(value.dtype).split(".")[-1]
    return "unknown"
