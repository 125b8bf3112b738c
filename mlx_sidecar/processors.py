"""Logits processors shared by tasks: a repetition penalty that sees the prompt's tail, and a
bias toward the document's own tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .tokens import encode_text

# Summaries: a mild repetition penalty (as mlx-lm's, over prompt and answer) keeps a 135M model
# from looping on one sentence; 1.15 over the last 64 tokens measured best on the corpus.
REPETITION_PENALTY = 1.15
REPETITION_CONTEXT = 64
# Summaries say what the document says: every token of the document gets this much more
# logit, so the model's words come from it. On 14 corpus texts the share of a summary's
# content words found in its document rose from 76% to 85% at 1.5 (bench/RESULTS.md,
# "Faithfulness"); tags are held by their grammar and grounding instead. Not when the
# answer is asked in another language: the document's tokens are the wrong words then.
DOCUMENT_BIAS = 1.5


class RepetitionPenalty:
    """mlx-lm's repetition penalty over the last ``context`` tokens of prompt and answer.

    mlx-lm's own processor sees the tokens its generator was handed: after a cached prefix,
    or in a batch row, that is a shorter tail of the prompt, so the same document would get
    another answer alone than in a batch. This one holds the prompt's tail itself and adds
    each token as it is sampled: at every call after the first, the context's last token
    is the one sampled at the step before (in stream_generate and in BatchGenerator).
    """

    def __init__(
        self,
        prompt: list[int],
        penalty: float = REPETITION_PENALTY,
        context: int = REPETITION_CONTEXT,
    ) -> None:
        import mlx.core as mx

        self.penalty = penalty
        self.context = context
        self.recent = mx.array(prompt[-context:], dtype=mx.int32)
        self.calls = 0

    def __call__(self, tokens: Any, logits: Any) -> Any:
        import mlx.core as mx

        if self.calls:
            sampled = tokens.reshape(-1)[-1:].astype(mx.int32)
            self.recent = mx.concatenate([self.recent, sampled])[-self.context :]
        self.calls += 1
        seen = logits[:, self.recent]
        logits[:, self.recent] = mx.where(seen < 0, seen * self.penalty, seen / self.penalty)
        return logits


def document_bias(tokenizer: Any, text: str, bias: float = DOCUMENT_BIAS) -> Callable:
    """A logits processor adding ``bias`` to the tokens of ``text`` (special tokens aside)."""
    import mlx.core as mx
    import numpy as np

    ids = np.unique(np.array(encode_text(tokenizer, text, literal=True), dtype=np.int64))
    special = set(getattr(tokenizer, "all_special_ids", None) or [])
    ids = np.array([i for i in ids.tolist() if i not in special], dtype=np.int64)
    added: list = []  # the bias vector, made at the first call, when the vocabulary is known

    def favour_document(tokens: Any, logits: Any) -> Any:
        if not added:
            vector = np.zeros(logits.shape[-1], dtype=np.float32)
            vector[ids[ids < vector.size]] = bias
            added.append(mx.array(vector, dtype=logits.dtype))
        return logits + added[0]

    return favour_document
