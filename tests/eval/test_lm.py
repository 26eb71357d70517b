"""RootsLM against transformers' own loss and generate() on a real (tiny, random) GPT-2."""

from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")

from roots.common.errors import UserError  # noqa: E402
from roots.eval.lm import RootsLM  # noqa: E402
from roots.tokenizer.tokenizer import Tokenizer  # noqa: E402

TEXTS = ["The quick brown fox jumps over the lazy dog. ", "Paris is the capital of France. "] * 40
CONTEXT = 32


@pytest.fixture(scope="module")
def setup():
    tok = Tokenizer.train(TEXTS, kind="char", vocab_size=1000)
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=tok.vocab_size, n_positions=CONTEXT, n_embd=32, n_layer=2,
                                     n_head=4, bos_token_id=tok.eos_id, eos_token_id=tok.eos_id)
    model = transformers.GPT2LMHeadModel(config).eval()
    lm = RootsLM(lambda x: model(x).logits, tok.encode, tok.decode, tok.eos_id, CONTEXT, batch_size=3)
    return tok, model, lm


def _reference_ll(model, ctx: list[int], cont: list[int]) -> float:
    """One request alone, through transformers' loss with the context masked out (-100)."""
    ids = (ctx + cont)[-(CONTEXT + 1):]
    x = torch.tensor([ids])
    labels = x.clone()
    labels[:, :len(ids) - len(cont)] = -100
    with torch.no_grad():
        loss = model(x[:, :-1], labels=labels[:, 1:].contiguous(), shift_labels=labels[:, 1:]).loss
    return -loss.item() * len(cont)


def test_loglikelihood_matches_transformers_loss(setup):
    tok, model, lm = setup
    requests = [("The capital of France is", " Paris"), ("The quick brown fox ", "jumps"),
                ("", "Paris is"), ("x" * 50, " dog"), ("Paris", " is the capital of France.")]
    results = lm.loglikelihood(requests)
    for (context, continuation), (ll, _) in zip(requests, results):
        stripped = context.rstrip()  # trailing spaces of the context belong to the continuation
        ctx = [tok.eos_id, *tok.encode(stripped)]
        continuation = context[len(stripped):] + continuation
        assert ll == pytest.approx(_reference_ll(model, ctx, tok.encode(continuation)), abs=1e-4)


def test_is_greedy(setup):
    tok, model, lm = setup
    context = "The quick brown"
    x = torch.tensor([[tok.eos_id, *tok.encode(context)]])
    greedy = model.generate(x, max_new_tokens=4, do_sample=False, pad_token_id=tok.eos_id)[0, x.shape[1]:]
    greedy_text = tok.decode(greedy.tolist())
    assert tok.encode(greedy_text) == greedy.tolist()  # char-level: text and ids correspond one to one
    (_, is_greedy), (_, other) = lm.loglikelihood([(context, greedy_text), (context, "\u00e9" * 4)])
    assert is_greedy and not other


def test_rolling_matches_hf_sliding_window_loss(setup):
    tok, model, lm = setup
    text = TEXTS[0] * 3 + TEXTS[1]
    ids = [tok.eos_id, *tok.encode(text)]
    total = 0.0
    # lm-eval's rolling windows: blocks of CONTEXT new tokens; the last block keeps a full window of
    # context, its already-scored tokens masked with -100 (as in HF's perplexity guide)
    for start in range(1, len(ids), CONTEXT):
        end = min(start + CONTEXT, len(ids))
        x = torch.tensor([ids[max(0, end - CONTEXT - 1):end]])
        labels = x.clone()
        labels[:, :x.shape[1] - (end - start)] = -100
        with torch.no_grad():
            loss = model(x[:, :-1], labels=labels[:, 1:], shift_labels=labels[:, 1:]).loss.item()
        total -= loss * (end - start)
    assert lm.loglikelihood_rolling([text])[0] == pytest.approx(total, rel=1e-5)


def test_generate_until_matches_transformers_greedy(setup):
    tok, model, lm = setup
    x = torch.tensor([[tok.eos_id, *tok.encode("Paris is")]])
    out = model.generate(x, max_new_tokens=12, do_sample=False, pad_token_id=tok.eos_id)[0, x.shape[1]:]
    expected = tok.decode(out.tolist())
    assert lm.generate_until([("Paris is", {"until": [], "max_gen_toks": 12})]) == [expected]
    stop = expected[5:7]
    cut = lm.generate_until([("Paris is", {"until": [stop], "max_gen_toks": 12})])
    assert cut == [expected.split(stop)[0]]


def test_empty_continuation_is_an_error(setup):
    with pytest.raises(UserError, match="empty continuation"):
        setup[2].loglikelihood([("Paris", "")])
