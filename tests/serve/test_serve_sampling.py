import pytest
import torch
from transformers.generation.logits_process import (
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from roots.serve.sampling import SamplingParams, apply_penalties, draw, filter_logits, token_logprobs
from roots.serve.textstream import TextStream


def hf_filter(logits, temperature, top_k, top_p, min_p):
    ids = torch.zeros(1, 1, dtype=torch.long)
    scores = TemperatureLogitsWarper(temperature)(ids, logits.clone())
    if top_k:
        scores = TopKLogitsWarper(top_k)(ids, scores)
    if top_p < 1:
        scores = TopPLogitsWarper(top_p)(ids, scores)
    if min_p > 0:
        scores = MinPLogitsWarper(min_p)(ids, scores)
    return scores


@pytest.mark.parametrize("temperature,top_k,top_p,min_p", [
    (1.0, 0, 1.0, 0.0), (0.7, 5, 1.0, 0.0), (1.3, 0, 0.9, 0.0), (1.0, 0, 1.0, 0.1), (0.8, 20, 0.8, 0.05),
])
def test_filters_keep_the_same_tokens_as_transformers(temperature, top_k, top_p, min_p):
    torch.manual_seed(0)
    logits = torch.randn(1, 100) * 3
    ours = filter_logits(logits, torch.tensor([temperature]), torch.tensor([top_k]), torch.tensor([top_p]),
                         torch.tensor([min_p]))
    ref = hf_filter(logits, temperature, top_k, top_p, min_p)
    assert torch.equal(torch.isinf(ours), torch.isinf(ref))
    kept = ~torch.isinf(ref)
    torch.testing.assert_close(ours[kept], ref[kept])


def test_each_row_gets_its_own_filter():
    torch.manual_seed(1)
    logits = torch.randn(3, 50)
    ours = filter_logits(logits, torch.tensor([1.0, 0.5, 1.0]), torch.tensor([0, 3, 0]),
                         torch.tensor([1.0, 1.0, 0.5]), torch.tensor([0.0, 0.0, 0.0]))
    assert (~torch.isinf(ours[0])).sum() == 50
    assert (~torch.isinf(ours[1])).sum() == 3
    assert torch.equal(torch.isinf(ours[2]), torch.isinf(hf_filter(logits[2:3], 1.0, 0, 0.5, 0.0)[0]))


def test_repetition_penalty_matches_transformers():
    torch.manual_seed(2)
    logits = torch.randn(1, 30)
    prompt = torch.tensor([[1, 5, 7, 5]])
    ref = RepetitionPenaltyLogitsProcessor(1.3)(prompt, logits.clone())
    seen = torch.zeros(1, 30, dtype=torch.bool)
    seen[0, prompt[0]] = True
    ours = apply_penalties(logits, seen, torch.zeros(1, 30, dtype=torch.int32), torch.tensor([1.3]),
                           torch.tensor([0.0]), torch.tensor([0.0]))
    torch.testing.assert_close(ours, ref)


def test_frequency_and_presence_penalties_follow_openai():
    logits = torch.zeros(1, 4)
    counts = torch.tensor([[0, 1, 3, 0]], dtype=torch.int32)
    ours = apply_penalties(logits, torch.zeros(1, 4, dtype=torch.bool), counts, torch.tensor([1.0]),
                           torch.tensor([0.5]), torch.tensor([0.25]))
    # OpenAI: logit - count * frequency_penalty - (count > 0) * presence_penalty
    torch.testing.assert_close(ours, torch.tensor([[0.0, -0.75, -1.75, 0.0]]))


def test_draw_greedy_and_seeded():
    torch.manual_seed(3)
    logits = torch.randn(2, 40)
    params = [SamplingParams(temperature=0), SamplingParams(temperature=1.0)]

    def run(seed):
        return draw(logits, params, [torch.Generator().manual_seed(0), torch.Generator().manual_seed(seed)])

    first = run(7)
    assert first[0] == logits[0].argmax()
    assert torch.equal(first, run(7))
    assert len({run(s)[1].item() for s in range(20)}) > 1


def test_draw_follows_the_distribution():
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1]]))
    g = torch.Generator().manual_seed(0)
    picks = torch.stack([draw(logits, [SamplingParams()], [g]) for _ in range(4000)]).flatten()
    freq = torch.bincount(picks, minlength=3).float() / len(picks)
    torch.testing.assert_close(freq, torch.tensor([0.7, 0.2, 0.1]), atol=0.03, rtol=0)


def test_token_logprobs():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2]]))
    (lp,) = token_logprobs(logits, torch.tensor([1]), 2)
    assert lp.logprob == pytest.approx(torch.log(torch.tensor(0.3)).item())
    assert [t for t, _ in lp.top] == [0, 1]


@pytest.mark.parametrize("bad", [dict(temperature=-1), dict(top_p=0), dict(top_p=1.5), dict(min_p=2),
                                 dict(max_tokens=-1), dict(frequency_penalty=3), dict(logprobs=21),
                                 dict(repetition_penalty=0)])
def test_bad_params_are_refused(bad):
    with pytest.raises(ValueError):
        SamplingParams(**bad)


class Bytes:
    """A decoder over single-byte tokens, like a byte-level tokenizer mid-character."""

    def __call__(self, ids):
        return bytes(ids).decode("utf-8", errors="replace")


def test_textstream_never_splits_a_character():
    data = "naïve 東京 🙂".encode()
    stream = TextStream(Bytes())
    pieces = [stream.push(b)[0] for b in data]
    assert all("\ufffd" not in p for p in pieces)
    assert "".join(pieces) + stream.flush() == "naïve 東京 🙂"


def test_textstream_holds_back_a_possible_stop_string():
    stream = TextStream(Bytes(), stop=("STOP",))
    out = [stream.push(b) for b in b"abc ST"]
    assert "".join(t for t, _ in out) == "abc "  # "ST" might begin "STOP"
    text, hit = stream.push(ord("O"))
    assert (text, hit) == ("", False)
    text, hit = stream.push(ord("P"))
    assert hit and text == "" and stream.text == "abc "


def test_textstream_releases_a_false_alarm():
    stream = TextStream(Bytes(), stop=("STOP",))
    text = "".join(stream.push(b)[0] for b in b"a STAR")
    assert text == "a STAR"
    stream2 = TextStream(Bytes(), stop=("STOP",))
    "".join(stream2.push(b)[0] for b in b"a ST")
    assert stream2.flush() == "ST"


def test_overflowing_penalties_fall_back_to_greedy_not_crash():
    """Found by the schemathesis fuzz test: a tiny repetition penalty overflows logits to inf/nan."""
    logits = torch.tensor([[float("inf"), float("nan"), 1.0], [0.0, 5.0, 1.0]])
    ids = draw(logits, [SamplingParams(), SamplingParams()], [torch.Generator(), torch.Generator()])
    assert all(i in (0, 1, 2) for i in ids.tolist())
    with pytest.raises(ValueError, match="finite"):
        SamplingParams(temperature=float("inf"))
