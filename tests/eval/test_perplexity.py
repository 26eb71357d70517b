from __future__ import annotations

import math

import pytest
import torch

from roots.eval.perplexity import perplexity, sequence_nll, windows


def test_windows_cover_every_token_once():
    for n, ctx, stride in [(10, 4, 4), (10, 4, 2), (11, 5, 3), (3, 8, 8), (64, 16, 1)]:
        spans = windows(n, ctx, stride)
        scored = []
        for begin, end, k in spans:
            assert end - begin <= ctx + 1 and 0 < k <= end - begin - 1
            scored.extend(range(end - k, end))
        assert scored == list(range(1, n)), (n, ctx, stride)


class Bigram(torch.nn.Module):
    """A real bigram LM: logits depend only on the previous token, so every window gives the same
    per-token log-probs and the NLL is exactly computable."""

    def __init__(self, vocab=7):
        super().__init__()
        torch.manual_seed(0)
        self.table = torch.randn(vocab, vocab)

    def forward(self, x):
        return self.table[x]


def test_sliding_window_equals_exact_bigram_nll():
    model = Bigram()
    ids = torch.randint(0, 7, (50,), generator=torch.Generator().manual_seed(1))
    logp = torch.log_softmax(model.table, dim=-1)
    exact = -sum(logp[ids[i - 1], ids[i]].item() for i in range(1, 50))
    for ctx, stride in [(8, 8), (8, 3), (50, 50), (64, 64)]:
        nll, n = sequence_nll(model, ids, ctx, stride, batch_size=3)
        assert n == 49
        assert nll == pytest.approx(exact, rel=1e-9)


def test_units():
    model = Bigram(vocab=256)
    text = "hello world, hello"
    result = perplexity(model, text, lambda s: list(s.encode()), prefix_id=0, context=8, stride=4)
    assert result.tokens == len(text.encode()) and result.words == 3
    assert result.bits_per_byte == pytest.approx(result.nll_sum / len(text.encode()) / math.log(2))
    assert result.word_perplexity == pytest.approx(math.exp(result.nll_sum / 3))
