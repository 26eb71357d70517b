"""Perplexity with a sliding window, in the three units people compare.

- nats/token: mean negative log-likelihood per predicted token (depends on the tokenizer);
- bits/byte: total NLL in bits over the UTF-8 bytes of the text (tokenizer-independent, so models with
  different vocabularies compare fairly);
- word perplexity: exp(total NLL / whitespace-separated words), the WikiText convention.

The window follows Hugging Face's perplexity guide: windows of `context` tokens advance by `stride`;
each window scores only the tokens the previous window did not, with up to `context - stride` tokens
of left context. stride == context gives disjoint chunks; a smaller stride gives each token more context
(a better, slower estimate). The text is prefixed with the EOS token, which roots models see at every
document start, so every token of the text is predicted and bits/byte covers every byte.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# the unit of every figure in PerplexityResult.to_dict(), for reports
UNITS = {"nats_per_token": "nats/token", "token_perplexity": "exp(nats/token)", "bits_per_byte": "bits/byte",
         "word_perplexity": "exp(nats/word), whitespace words", "tokens": "tokens", "bytes": "UTF-8 bytes",
         "words": "words", "nll_sum_nats": "nats"}

LogitsFn = Callable[[torch.Tensor], torch.Tensor]  # (B, T) int64 -> (B, T, V) logits


@dataclass
class PerplexityResult:
    nll_sum: float  # nats
    tokens: int  # predicted tokens
    bytes: int
    words: int

    @property
    def nats_per_token(self) -> float:
        return self.nll_sum / self.tokens

    @property
    def token_perplexity(self) -> float:
        return math.exp(self.nats_per_token)

    @property
    def bits_per_byte(self) -> float:
        return self.nll_sum / self.bytes / math.log(2)

    @property
    def word_perplexity(self) -> float:
        return math.exp(self.nll_sum / self.words)

    def __add__(self, other: PerplexityResult) -> PerplexityResult:
        return PerplexityResult(self.nll_sum + other.nll_sum, self.tokens + other.tokens,
                                self.bytes + other.bytes, self.words + other.words)

    def to_dict(self) -> dict[str, float | int]:
        return {"nats_per_token": self.nats_per_token, "token_perplexity": self.token_perplexity,
                "bits_per_byte": self.bits_per_byte, "word_perplexity": self.word_perplexity,
                "tokens": self.tokens, "bytes": self.bytes, "words": self.words, "nll_sum_nats": self.nll_sum}


def windows(n_tokens: int, context: int, stride: int) -> list[tuple[int, int, int]]:
    """(begin, end, n_scored) per window over a sequence of `n_tokens`.

    Target blocks of `stride` tokens advance through positions 1..n-1 (position 0, the EOS prefix,
    has no prediction); each block's window is the `context` tokens before its end plus the end
    token, so the model sees at most `context` inputs and every token is scored exactly once.
    """
    if not 0 < stride <= context:
        raise ValueError(f"stride must be in (0, context]; got stride={stride}, context={context}")
    out, start = [], 1
    while start < n_tokens:
        end = min(start + stride, n_tokens)
        out.append((max(0, end - context - 1), end, end - start))
        start = end
    return out


@torch.no_grad()
def sequence_nll(logits_fn: LogitsFn, ids: torch.Tensor, context: int, stride: int | None = None,
                 batch_size: int = 8, progress: bool = False) -> tuple[float, int]:
    """Summed NLL (nats) and count of the predicted tokens of a 1-D id sequence."""
    stride = stride or context
    spans = windows(len(ids), context, stride)
    total, count = 0.0, 0
    # windows of equal length batch together (all but possibly the last)
    groups: dict[int, list[tuple[int, int, int]]] = {}
    for span in spans:
        groups.setdefault(span[1] - span[0], []).append(span)
    iterator = [(length, group[i:i + batch_size]) for length, group in groups.items()
                for i in range(0, len(group), batch_size)]
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="perplexity", unit="batch")
    takes_last = "last" in inspect.signature(logits_fn).parameters
    for _length, batch in iterator:
        x = torch.stack([ids[b:e] for b, e, _ in batch])  # (B, T)
        n_last = max(n for *_, n in batch)  # only the last n_last positions are scored
        # a logits function that accepts `last` projects only those positions to the vocabulary
        logits = logits_fn(x[:, :-1], last=n_last) if takes_last else logits_fn(x[:, :-1])
        logits = logits[:, -n_last:].float()  # (B, n_last, V): position t predicts token t+1
        targets = x[:, -n_last:]  # (B, n_last)
        nll = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none").view(targets.shape)
        for row, (_, _, n_scored) in enumerate(batch):
            total += nll[row, -n_scored:].double().sum().item()
            count += n_scored
    return total, count


def perplexity(logits_fn: LogitsFn, text: str, encode: Callable[[str], list[int]], prefix_id: int,
               context: int, stride: int | None = None, batch_size: int = 8, device: str = "cpu",
               progress: bool = False) -> PerplexityResult:
    """Perplexity of `text` (one sequence) under a model given as a logits function."""
    ids = torch.tensor([prefix_id, *encode(text)], dtype=torch.long, device=device)
    nll, tokens = sequence_nll(logits_fn, ids, context, stride, batch_size, progress)
    return PerplexityResult(nll, tokens, len(text.encode("utf-8")), max(len(text.split()), 1))


def texts_perplexity(logits_fn: LogitsFn, texts: list[str], encode: Callable[[str], list[int]], prefix_id: int,
                     context: int, stride: int | None = None, batch_size: int = 8, device: str = "cpu",
                     progress: bool = False) -> PerplexityResult:
    """Perplexity over several texts, each scored as its own sequence (empty ones skipped), summed."""
    from tqdm import tqdm

    texts = [t for t in texts if t.strip()]
    total = PerplexityResult(0.0, 0, 0, 0)
    for text in tqdm(texts, desc="documents", unit="doc", disable=not progress or len(texts) == 1):
        total = total + perplexity(logits_fn, text, encode, prefix_id, context, stride, batch_size, device,
                                   progress=progress and len(texts) == 1)
    return total
