"""The server's sampler is the model's (roots.model.sampling); re-exported under its old name."""

from roots.model.sampling import (
    SamplingParams,
    TokenLogprobs,
    apply_penalties,
    draw,
    filter_logits,
    token_logprobs,
)

__all__ = ["SamplingParams", "TokenLogprobs", "apply_penalties", "draw", "filter_logits", "token_logprobs"]
