"""Sampling: the primitives on a batch of next-token logits, each row with its own parameters, and `sample`,
the KV-cached token loop of `roots generate`, evaluation and the workflows. A leaf module: torch only.

The order follows Hugging Face / vLLM: penalties -> temperature -> top-k -> top-p -> min-p -> draw.
Every row draws from its own `torch.Generator`, so a request with a seed gives the same tokens whatever
else shares the batch. Logprobs are reported from the model's raw distribution (before any processing),
as the OpenAI API and lm-evaluation-harness expect.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SamplingParams:
    """What one sequence asks of the sampler. Defaults draw from the model's distribution unchanged."""

    max_tokens: int = 16
    temperature: float = 1.0  # 0 = greedy
    top_k: int = 0  # 0 = off
    top_p: float = 1.0
    min_p: float = 0.0
    repetition_penalty: float = 1.0  # HF/CTRL style, on prompt + output tokens; 1 = off
    frequency_penalty: float = 0.0  # OpenAI style, on output tokens
    presence_penalty: float = 0.0
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    ignore_eos: bool = False
    seed: int | None = None
    logprobs: int | None = None  # top alternatives reported per sampled token; None = no logprobs
    prompt_logprobs: bool = False  # logprobs of the prompt tokens (echo)

    def __post_init__(self) -> None:
        floats = (self.temperature, self.top_p, self.min_p, self.repetition_penalty, self.frequency_penalty,
                  self.presence_penalty)
        if not all(math.isfinite(x) for x in floats):
            raise ValueError("sampling parameters must be finite numbers")
        checks = [
            (self.max_tokens >= 0, "max_tokens must be >= 0"),
            (self.temperature >= 0, "temperature must be >= 0"),
            (self.top_k >= 0, "top_k must be >= 0"),
            (0 < self.top_p <= 1, "top_p must be in (0, 1]"),
            (0 <= self.min_p <= 1, "min_p must be in [0, 1]"),
            (self.repetition_penalty > 0, "repetition_penalty must be > 0"),
            (-2 <= self.frequency_penalty <= 2, "frequency_penalty must be in [-2, 2]"),
            (-2 <= self.presence_penalty <= 2, "presence_penalty must be in [-2, 2]"),
            (self.logprobs is None or 0 <= self.logprobs <= 20, "logprobs must be in [0, 20]"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @property
    def penalized(self) -> bool:
        return self.repetition_penalty != 1 or self.frequency_penalty != 0 or self.presence_penalty != 0


def apply_penalties(logits: torch.Tensor, prompt_seen: torch.Tensor, output_counts: torch.Tensor,
                    repetition: torch.Tensor, frequency: torch.Tensor, presence: torch.Tensor) -> torch.Tensor:
    """logits (B, V); prompt_seen (B, V) bool; output_counts (B, V); per-row penalties (B,)."""
    seen = prompt_seen | (output_counts > 0)
    rep = repetition[:, None]
    logits = torch.where(seen, torch.where(logits > 0, logits / rep, logits * rep), logits)
    counts = output_counts.to(logits.dtype)
    return logits - frequency[:, None] * counts - presence[:, None] * (counts > 0).to(logits.dtype)


def filter_logits(logits: torch.Tensor, temperature: torch.Tensor, top_k: torch.Tensor, top_p: torch.Tensor,
                  min_p: torch.Tensor) -> torch.Tensor:
    """Temperature + top-k + top-p + min-p for every row at once; removed tokens get -inf.

    logits (B, V); the rest (B,). Rows with temperature 0 are left to the caller (greedy).
    """
    logits = logits / temperature.clamp(min=1e-5)[:, None]
    sorted_logits, order = logits.sort(dim=-1, descending=True)  # (B, V)
    vocab = logits.shape[-1]
    rank = torch.arange(vocab, device=logits.device)[None, :]
    k = torch.where(top_k > 0, top_k, vocab)[:, None]
    remove = rank >= k
    probs = sorted_logits.masked_fill(remove, float("-inf")).softmax(dim=-1)
    # top-p: drop a token when the mass before it already reaches p (the top token always stays);
    # p = 1 keeps everything even where the cumulative sum rounds to >= 1 before the tail
    remove |= ((probs.cumsum(dim=-1) - probs) >= top_p[:, None]) & (top_p[:, None] < 1)
    remove |= probs < min_p[:, None] * probs[:, :1]
    remove[:, 0] = False
    sorted_logits = sorted_logits.masked_fill(remove, float("-inf"))
    return torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)


def draw(logits: torch.Tensor, params: list[SamplingParams], generators: list[torch.Generator]) -> torch.Tensor:
    """Next token for every row of `logits` (B, V), already penalized. Returns (B,) token ids."""
    device = logits.device
    greedy_ids = logits.argmax(dim=-1)
    sampled = [i for i, p in enumerate(params) if not p.greedy]
    if not sampled:
        return greedy_ids
    rows = torch.tensor(sampled, device=device)
    sub = [params[i] for i in sampled]
    filtered = filter_logits(
        logits[rows],
        torch.tensor([p.temperature for p in sub], device=device, dtype=logits.dtype),
        torch.tensor([p.top_k for p in sub], device=device),
        torch.tensor([p.top_p for p in sub], device=device, dtype=logits.dtype),
        torch.tensor([p.min_p for p in sub], device=device, dtype=logits.dtype),
    )
    # extreme parameters (a penalty of 1e-30, say) can overflow a row to inf/nan: such a row falls back
    # to its greedy token rather than failing the whole batch
    probs = torch.nan_to_num(filtered.float().softmax(dim=-1), nan=0.0, posinf=0.0, neginf=0.0)
    # one uniform number per row from the row's own generator (a seeded request draws the same tokens whatever
    # shares its batch), then one inverse-CDF draw for all rows at once
    u = torch.cat([torch.rand(1, generator=generators[i], device=device) for i in sampled])
    cdf = probs.cumsum(dim=-1)  # (S, V), non-decreasing; flat where a token has probability 0
    total = cdf[:, -1:]
    picked = torch.searchsorted(cdf, u[:, None] * total, right=True).squeeze(-1).clamp(max=probs.size(-1) - 1)
    ids = greedy_ids.clone()
    ids[rows] = torch.where(total.squeeze(-1) > 0, picked, greedy_ids[rows])
    return ids


@dataclass
class TokenLogprobs:
    """The logprob of one chosen token and the top alternatives at that position."""

    token_id: int
    logprob: float
    top: list[tuple[int, float]]


def token_logprobs(logits: torch.Tensor, chosen: torch.Tensor, top_n: int) -> list[TokenLogprobs]:
    """Raw-model logprobs of `chosen` (N,) under `logits` (N, V), with the `top_n` most likely tokens."""
    logp = logits.float().log_softmax(dim=-1)
    picked = logp.gather(-1, chosen[:, None]).squeeze(-1).tolist()
    if top_n > 0:
        top_vals, top_ids = logp.topk(min(top_n, logp.shape[-1]), dim=-1)
        tops = [list(zip(i, v)) for i, v in zip(top_ids.tolist(), top_vals.tolist())]
    else:
        tops = [[] for _ in picked]
    return [TokenLogprobs(t, lp, top) for t, lp, top in zip(chosen.tolist(), picked, tops)]


def _rows(value: float, n: int, device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
    return torch.full((n,), value, device=device, dtype=dtype)


@torch.no_grad()
def next_tokens(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """One draw (B,) from logits (B, V) with the same parameters for every row; temperature 0 is greedy."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    B, device = logits.size(0), logits.device
    logits = filter_logits(logits.float(), _rows(temperature, B, device), _rows(top_k, B, device, torch.long),
                           _rows(top_p, B, device), _rows(0.0, B, device))
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator).squeeze(-1)


@torch.no_grad()
def sample(model: torch.nn.Module, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
           top_k: int = 0, top_p: float = 1.0, eos_id: int | None = None,
           generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
    """Yield the next token ids (B,) one step at a time after the prompt idx (B, T); temperature 0 is greedy.

    The prompt is prefilled once into a static KV cache; each later step feeds only the newest token.
    Prompts longer than what fits keep their last tokens (the model's context is block_size).
    """
    model.eval()
    block = model.config.block_size
    max_new_tokens = min(max_new_tokens, block - 1)
    idx = idx[:, -(block - max_new_tokens):]  # room for the new tokens in the cache
    T = idx.size(1)
    cache = model.new_kv_cache(idx.size(0), T + max_new_tokens)
    positions = torch.arange(T + max_new_tokens, device=idx.device)
    logits = model(idx, positions[:T], cache, logits_to_keep=1)[:, -1, :]  # (B, vocab)
    for step in range(max_new_tokens):
        next_id = next_tokens(logits, temperature, top_k, top_p, generator)
        yield next_id
        if eos_id is not None and bool((next_id == eos_id).all()):
            return
        logits = model(next_id[:, None], positions[T + step : T + step + 1], cache)[:, -1, :]
