"""Llama-family GGUF files (the bundled SmolLM2), read by ``mx.load``.

``mx.load(path, return_metadata=True)`` reads GGUF natively: Q4_0/Q4_1/Q8_0 tensors come
back as MLX affine-quantized (weight, scales, biases) triples with group size 32, F16/F32
as plain arrays. It trusts the header, so the header is walked first (header_problem).
mlx-lm's llama model takes the tensors after renaming. GGUF stores q/k permuted for
interleaved RoPE, so the model uses rope_traditional=True and reads them as they are. The
tokenizer is built from the metadata with the `tokenizers` library (transformers' GGUF
path needs torch).
"""

from __future__ import annotations

import json
import math
import re
import struct
from pathlib import Path
from typing import Any

from ..errors import LoadFailed, one_line
from . import Model, choose_layout, is_dense
from .memory import kv_bytes_per_token, kv_element_bytes

GROUP_SIZE = 32  # every GGUF block type MLX reads holds 32 weights
ARCHITECTURES = ("llama",)
# llama.cpp's general.file_type (LLAMA_FTYPE) of the files MLX reads as stored. Tensors of
# other types (K-quants, ...) are refused: MLX expands some to float16, others it cannot read.
FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0"}
GGML_READABLE = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 8: "Q8_0"}  # ggml tensor types
READABLE_TENSOR_TYPES = tuple(GGML_READABLE.values())
RENAMES = (
    (r"^token_embd\.", "model.embed_tokens."),
    (r"^output_norm\.", "model.norm."),
    (r"^output\.", "lm_head."),
    (r"^blk\.(\d+)\.attn_norm\.", r"model.layers.\1.input_layernorm."),
    (r"^blk\.(\d+)\.attn_q\.", r"model.layers.\1.self_attn.q_proj."),
    (r"^blk\.(\d+)\.attn_k\.", r"model.layers.\1.self_attn.k_proj."),
    (r"^blk\.(\d+)\.attn_v\.", r"model.layers.\1.self_attn.v_proj."),
    (r"^blk\.(\d+)\.attn_output\.", r"model.layers.\1.self_attn.o_proj."),
    (r"^blk\.(\d+)\.ffn_norm\.", r"model.layers.\1.post_attention_layernorm."),
    (r"^blk\.(\d+)\.ffn_gate\.", r"model.layers.\1.mlp.gate_proj."),
    (r"^blk\.(\d+)\.ffn_up\.", r"model.layers.\1.mlp.up_proj."),
    (r"^blk\.(\d+)\.ffn_down\.", r"model.layers.\1.mlp.down_proj."),
)
# Byte-level BPE pre-tokenizers by GGUF "tokenizer.ggml.pre" name.
PRETOKENIZERS = {"smollm": "digits+bytelevel", "gpt2": "bytelevel", "default": "bytelevel"}


def load(path: Path, weights: str) -> Model:
    raw, meta = read(path)
    arch = meta_str(meta, "general.architecture")
    if arch not in ARCHITECTURES:
        raise LoadFailed(
            f"GGUF architecture '{arch}' is not supported; this sidecar loads llama-family "
            "GGUF files (use the MLX version of this model instead).",
            "unsupported_model",
        )
    config = llama_config(meta, arch)
    tensors, bits = rename_tensors(raw)
    config["tie_word_embeddings"] = "lm_head.weight" not in tensors
    module, params = build_llama(config, tensors, bits, weights)
    layout = "float32" if is_dense(module) else "quantized"
    return Model(
        module=module,
        tokenizer=tokenizer_from(meta),
        name=path.stem,
        path=str(path),
        format="gguf",
        architecture=arch,
        param_count=params,
        quantization=quantization_of(bits, meta),
        context_length=config["max_position_embeddings"],
        vocab_size=config["vocab_size"],
        weights=layout,
        kv_bytes_per_token=kv_bytes_per_token(config, kv_element_bytes(layout)),
    )


def read(path: Path) -> tuple[dict, dict]:
    """Tensors and metadata of a GGUF file MLX can read as stored; LoadFailed otherwise."""
    import mlx.core as mx

    problem = header_problem(path)
    if problem:
        raise problem
    try:
        tensors, meta = mx.load(str(path), return_metadata=True)
    except MemoryError:
        raise
    except Exception as e:  # MLX names truncation ("extends past the end of the file")
        raise LoadFailed(f"{path} is truncated or corrupt ({one_line(e)}).") from None
    return tensors, meta


def header_problem(path: Path) -> LoadFailed | None:
    """Walk the GGUF header (~0.1 s for the bundled model) before mx.load reads the file:
    mx.load trusts the header's lengths, and a garbage header crashed the whole process in
    a test. Names the tensor types MLX cannot read, and a file cut short."""
    try:
        with open(path, "rb") as f:
            header = _Header(f)
            types, data_end = header.tensor_types_and_end()
    except (EOFError, ValueError, OSError, MemoryError, struct.error):
        return LoadFailed(
            f"{path} is truncated or corrupt (its GGUF header cannot be read to the end)."
        )
    unreadable = sorted(types - set(READABLE_TENSOR_TYPES))
    if unreadable:
        return unsupported(f"tensor type {', '.join(unreadable)}")
    if path.stat().st_size < data_end:
        size = path.stat().st_size
        return LoadFailed(
            f"{path} is truncated: its tensors need {data_end} bytes, the file has {size}."
        )
    return None


# GGUF metadata value types of a fixed size, as struct formats (the spec's gguf_type).
SCALAR_FORMATS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}


class _Header:
    """A GGUF v2/v3 header read field by field (layout: the GGUF spec in ggml's docs/gguf.md)."""

    STRING, ARRAY = 8, 9
    ALIGNMENT = 32

    def __init__(self, f: Any) -> None:
        self.f = f
        if f.read(4) != b"GGUF":
            raise ValueError("bad magic bytes")

    def read(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        data = self.f.read(size)
        if len(data) < size:
            raise EOFError
        return struct.unpack("<" + fmt, data)[0]

    def skip_value(self, kind: int) -> None:
        if kind in SCALAR_FORMATS:
            self.f.seek(struct.calcsize(SCALAR_FORMATS[kind]), 1)
        elif kind == self.STRING:
            self.f.seek(self.read("Q"), 1)
        elif kind == self.ARRAY:
            item, count = self.read("I"), self.read("Q")
            if item in SCALAR_FORMATS:  # a run of fixed-size items: one seek
                self.f.seek(count * struct.calcsize(SCALAR_FORMATS[item]), 1)
            else:
                for _ in range(count):
                    self.skip_value(item)
        else:
            raise ValueError(f"unknown metadata type {kind}")

    def tensor_types_and_end(self) -> tuple[set[str], int]:
        """The tensor types, and the byte where the last tensor's data ends."""
        self.read("I")  # version
        n_tensors, n_keys = self.read("Q"), self.read("Q")
        for _ in range(n_keys):
            self.f.seek(self.read("Q"), 1)
            self.skip_value(self.read("I"))
        types, data_end = set(), 0
        for _ in range(n_tensors):
            self.f.seek(self.read("Q"), 1)
            dims = [self.read("Q") for _ in range(self.read("I"))]
            kind = tensor_type_name(self.read("I"))
            types.add(kind)
            data_end = max(data_end, self.read("Q") + tensor_bytes(kind, math.prod(dims)))
        here = self.f.tell()
        return types, here + (-here % self.ALIGNMENT) + data_end


def tensor_type_name(value: int) -> str:
    """ggml's name of a tensor type (12: "Q4_K"), from the gguf package when it is needed."""
    if value in GGML_READABLE:
        return GGML_READABLE[value]
    try:
        from gguf import GGMLQuantizationType

        return GGMLQuantizationType(value).name
    except (ImportError, ValueError):
        return f"type {value}"


def tensor_bytes(kind: str, elements: int) -> int:
    """Bytes of a tensor of a readable type (blocks of 32 weights, as ggml stores them)."""
    per_block = {"F32": 128, "F16": 64, "Q4_0": 18, "Q4_1": 20, "Q8_0": 34}
    return elements * per_block.get(kind, 0) // 32


def unsupported(what: str) -> LoadFailed:
    return LoadFailed(
        f"GGUF {what} is not supported; MLX reads "
        f"{', '.join(READABLE_TENSOR_TYPES)} (use a Q4_0/Q4_1/Q8_0 GGUF or an MLX folder).",
        "unsupported_model",
    )


def quantization_of(bits: dict, meta: dict) -> dict | None:
    """model-info's quantization: the bit width most layers use, and the file's type."""
    if not bits:
        return None
    widths = list(bits.values())
    file_type = meta.get("general.file_type")
    return {
        "bits": max(set(widths), key=widths.count),
        "group_size": GROUP_SIZE,
        "type": None if file_type is None else FILE_TYPES.get(int(_scalar(file_type))),
    }


def meta_str(meta: dict, key: str) -> str:
    value = meta.get(key)
    return value if isinstance(value, str) else str(value)


def meta_int(meta: dict, key: str, default: int | None = None) -> int:
    value = meta.get(key)
    if value is None:
        if default is None:
            raise LoadFailed(f"The GGUF file has no '{key}' metadata.")
        return default
    return int(_scalar(value))


def meta_float(meta: dict, key: str, default: float) -> float:
    value = meta.get(key)
    return default if value is None else float(_scalar(value))


def _scalar(value: Any) -> Any:
    """mx.load gives numeric metadata as 0-d MLX arrays."""
    return value.item() if hasattr(value, "item") else value


def llama_config(meta: dict, arch: str) -> dict:
    heads = meta_int(meta, f"{arch}.attention.head_count")
    hidden = meta_int(meta, f"{arch}.embedding_length")
    return {
        "model_type": "llama",
        "hidden_size": hidden,
        "num_hidden_layers": meta_int(meta, f"{arch}.block_count"),
        "intermediate_size": meta_int(meta, f"{arch}.feed_forward_length"),
        "num_attention_heads": heads,
        "num_key_value_heads": meta_int(meta, f"{arch}.attention.head_count_kv", heads),
        "rms_norm_eps": meta_float(meta, f"{arch}.attention.layer_norm_rms_epsilon", 1e-5),
        "rope_theta": meta_float(meta, f"{arch}.rope.freq_base", 10000.0),
        "rope_traditional": True,
        "vocab_size": len(meta.get("tokenizer.ggml.tokens") or [])
        or meta_int(meta, f"{arch}.vocab_size"),
        "max_position_embeddings": meta_int(meta, f"{arch}.context_length", 4096),
        "head_dim": hidden // heads,
    }


def rename_tensors(raw: dict) -> tuple[dict, dict]:
    """GGUF tensor names -> mlx-lm llama names; also each quantized layer's bit width."""
    tensors, bits = {}, {}
    for name, value in raw.items():
        for pattern, repl in RENAMES:
            new, n = re.subn(pattern, repl, name)
            if n:
                tensors[new] = value
                break
        else:
            if not name.startswith("rope_freqs"):  # llama.cpp's RoPE table; mlx-lm has its own
                raise LoadFailed(
                    f"Unexpected tensor '{name}' in the GGUF file.", "unsupported_model"
                )
    for name, value in tensors.items():
        if name.endswith(".scales"):
            layer = name.removesuffix(".scales")
            packed = tensors[layer + ".weight"].shape[-1]
            bits[layer] = packed * 32 // (value.shape[-1] * GROUP_SIZE)
    return tensors, bits


def build_llama(config: dict, tensors: dict, bits: dict, weights: str) -> tuple[Any, int]:
    """Instantiate mlx-lm's llama and fill it, dequantized (float32) or quantized."""
    import mlx.core as mx
    import mlx.nn as nn
    from mlx_lm.models import llama

    module = llama.Model(llama.ModelArgs.from_dict(config))
    params = sum(param_count(name, t, bits) for name, t in tensors.items())
    f32 = mx.float32
    if choose_layout(weights, params * 4) == "float32":
        dense = {}
        for name, t in tensors.items():
            layer = name.rsplit(".", 1)[0]
            if layer in bits and name.endswith((".scales", ".biases")):
                continue
            if layer in bits:
                scales, biases = tensors[layer + ".scales"], tensors[layer + ".biases"]
                t = mx.dequantize(
                    t, scales.astype(f32), biases.astype(f32), GROUP_SIZE, bits[layer]
                )
            dense[name] = t.astype(f32)
        module.load_weights(list(dense.items()), strict=True)
    else:
        nn.quantize(
            module,
            class_predicate=lambda p, m: (
                {"group_size": GROUP_SIZE, "bits": bits[p]} if p in bits else False
            ),
        )
        # float32 scales and norms: with the stored float16 ones, CPU quantized matmuls
        # lose 0.3-0.9% per product and the model writes garbage.
        fixed = {
            n: (t.astype(f32) if mx.issubdtype(t.dtype, mx.floating) else t)
            for n, t in tensors.items()
        }
        module.load_weights(list(fixed.items()), strict=True)
    module.eval()
    return module, params


def param_count(name: str, tensor: Any, bits: dict) -> int:
    """Real parameters: a packed uint32 holds 32/bits weights; scales/biases are not params."""
    layer = name.rsplit(".", 1)[0]
    if layer in bits:
        return tensor.size * 32 // bits[layer] if name.endswith(".weight") else 0
    return tensor.size


def tokenizer_from(meta: dict) -> Any:
    """A fast tokenizer from GGUF metadata: the BPE vocabulary, merges and control tokens
    are all a byte-level BPE tokenizer needs. Wrapped as mlx-lm wraps every tokenizer."""
    from mlx_lm.tokenizer_utils import BPEStreamingDetokenizer, TokenizerWrapper
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    kind, pre = meta_str(meta, "tokenizer.ggml.model"), meta_str(meta, "tokenizer.ggml.pre")
    if kind != "gpt2" or pre not in PRETOKENIZERS:
        raise LoadFailed(
            f"GGUF tokenizer '{kind}'/'{pre}' is not supported (byte-level BPE "
            f"'{'/'.join(PRETOKENIZERS)}' is); use the MLX version of this model.",
            "unsupported_model",
        )
    tokens = list(meta["tokenizer.ggml.tokens"])
    merges = [tuple(m.split(" ", 1)) for m in meta["tokenizer.ggml.merges"]]
    backend = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if PRETOKENIZERS[pre].startswith("digits"):
        digits = pre_tokenizers.Digits(individual_digits=True)
        backend.pre_tokenizer = pre_tokenizers.Sequence([digits, byte_level])
    else:
        backend.pre_tokenizer = byte_level
    backend.decoder = decoders.ByteLevel()
    types = meta.get("tokenizer.ggml.token_type")
    control = [i for i, t in enumerate(types.tolist()) if t == 3] if types is not None else []
    backend.add_special_tokens(
        [AddedToken(tokens[i], special=True, normalized=False) for i in control]
    )

    def token_at(key: str) -> str | None:
        index = meta.get(key)
        return None if index is None else tokens[int(_scalar(index))]

    hf = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=token_at("tokenizer.ggml.bos_token_id"),
        eos_token=token_at("tokenizer.ggml.eos_token_id"),
        unk_token=token_at("tokenizer.ggml.unknown_token_id"),
        pad_token=token_at("tokenizer.ggml.padding_token_id"),
        chat_template=meta.get("tokenizer.chat_template"),
        clean_up_tokenization_spaces=False,
    )
    eos = meta_int(meta, "tokenizer.ggml.eos_token_id")
    return TokenizerWrapper(hf, BPEStreamingDetokenizer, eos_token_ids=[eos])


def export_mlx_folder(source: Path, dest: Path, weights: str = "quantized") -> dict:
    """Write a GGUF file out as an MLX model folder (config.json, safetensors, tokenizer):
    the same model in both formats, for the tests and benchmarks."""
    import mlx.core as mx
    from mlx.utils import tree_flatten

    raw, meta = read(source)
    config = llama_config(meta, meta_str(meta, "general.architecture"))
    tensors, bits = rename_tensors(raw)
    config["tie_word_embeddings"] = "lm_head.weight" not in tensors
    module, _ = build_llama(config, tensors, bits, weights)
    if bits and weights == "quantized":
        main = quantization_of(bits, meta)["bits"]
        config["quantization"] = {"group_size": GROUP_SIZE, "bits": main}
        for layer, b in bits.items():
            if b != main:
                config["quantization"][layer] = {"group_size": GROUP_SIZE, "bits": b}
    tokenizer = tokenizer_from(meta)
    dest.mkdir(parents=True, exist_ok=True)
    weights_file = str(dest / "model.safetensors")
    mx.save_safetensors(weights_file, dict(tree_flatten(module.parameters())), {"format": "mlx"})
    config["eos_token_id"] = sorted(tokenizer.eos_token_ids)
    (dest / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    tokenizer.save_pretrained(str(dest))
    return {"destination": str(dest), "files": sorted(p.name for p in dest.iterdir())}
