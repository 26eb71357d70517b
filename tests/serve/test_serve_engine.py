
import pytest
import torch
from serve_helpers import Collector, submit

from roots.serve.engine import Engine, Output, Request
from roots.serve.sampling import SamplingParams


@pytest.fixture
def engine(tiny_model):
    e = Engine(tiny_model, max_batch_size=4).start()
    yield e
    e.shutdown(drain_seconds=0)


def hf_greedy(tiny_model, prompt, n):
    model = tiny_model.backend.model
    out = model.generate(torch.tensor([prompt]), max_new_tokens=n, do_sample=False, min_new_tokens=n,
                         attention_mask=torch.ones(1, len(prompt), dtype=torch.long), pad_token_id=0)
    return out[0, len(prompt):].tolist()


def test_greedy_matches_hf_generate(engine, tiny_model):
    prompt = tiny_model.codec.encode("The quick brown fox")
    got = submit(engine, prompt, max_tokens=20, temperature=0, ignore_eos=True)
    assert got.tokens == hf_greedy(tiny_model, prompt, 20)
    assert got.outputs[-1].finish_reason == "length"
    assert got.outputs[-1].completion_tokens == 20


def test_continuous_batching_matches_one_at_a_time(engine, tiny_model):
    """Rows of different lengths, joining while others decode and leaving early, give solo results."""
    texts = ["The", "A language model predicts", "Continuous batching lets new requests join the batch",
             "Héllo wörld", "quick", "emoji 🙂 test"]
    prompts = [tiny_model.codec.encode(t) for t in texts]
    lengths = [5, 12, 3, 9, 7, 10]
    solo = [hf_greedy(tiny_model, p, n) for p, n in zip(prompts, lengths)]
    collectors = []
    for p, n in zip(prompts, lengths):  # more requests than rows: some wait, all join mid-flight
        collectors.append(submit(engine, p, max_tokens=n, temperature=0, ignore_eos=True))
    assert [c.tokens for c in collectors] == solo


def test_batch_and_cache_stay_bounded(tiny_model):
    e = Engine(tiny_model, max_batch_size=3, max_seq_len=40)
    seen = []
    original = e._decode

    def watched():
        seen.append((len(e.rows), e._mask.shape[1]))
        original()

    e._decode = watched
    e.start()
    try:
        cs = [submit(e, tiny_model.codec.encode("The quick brown fox" * (i % 3 + 1)), max_tokens=100,
                     temperature=1.0, ignore_eos=True) for i in range(8)]
        for c in cs:
            assert c.wait()[-1].finish_reason == "length"
            assert c.outputs[-1].prompt_tokens + c.outputs[-1].completion_tokens == 40
    finally:
        e.shutdown(drain_seconds=0)
    assert max(b for b, _ in seen) == 3
    assert max(cols for _, cols in seen) <= 40


def test_seed_gives_same_output_whatever_the_batch(engine, tiny_model):
    prompt = tiny_model.codec.encode("A language model")
    kwargs = dict(max_tokens=16, temperature=1.0, top_p=0.95, seed=1234, ignore_eos=True)
    alone = submit(engine, prompt, **kwargs).tokens
    company = [submit(engine, tiny_model.codec.encode("noise " * (i + 1)), max_tokens=16, temperature=1.0,
                      ignore_eos=True) for i in range(3)]
    together = submit(engine, prompt, **kwargs).tokens
    other_seed = submit(engine, prompt, **{**kwargs, "seed": 99}).tokens
    [c.wait() for c in company]
    assert alone == together
    assert alone != other_seed


def test_stop_string_truncates_and_is_not_emitted(engine, tiny_model):
    prompt = tiny_model.codec.encode("The quick")
    full = submit(engine, prompt, max_tokens=30, temperature=0, ignore_eos=True).text
    assert len(full) > 6
    stop = full[3:6]
    got = submit(engine, prompt, max_tokens=30, temperature=0, ignore_eos=True, stop=(stop,))
    assert got.text == full[: full.index(stop)]
    assert got.outputs[-1].finish_reason == "stop"


def test_stop_token_id_ends_generation(engine, tiny_model):
    prompt = tiny_model.codec.encode("The quick")
    tokens = submit(engine, prompt, max_tokens=10, temperature=0, ignore_eos=True).tokens
    got = submit(engine, prompt, max_tokens=10, temperature=0, stop_token_ids=(tokens[4],), ignore_eos=True)
    assert got.tokens == tokens[: tokens.index(tokens[4]) + 1]
    assert got.outputs[-1].finish_reason == "stop"


def test_streamed_text_equals_decoded_tokens(engine, tiny_model):
    prompt = tiny_model.codec.encode("Héllo wörld, naïve café; 東京")
    got = submit(engine, prompt, max_tokens=40, temperature=1.0, seed=3, ignore_eos=True)
    assert got.text == tiny_model.codec.decode(got.tokens)


def test_logprobs_and_echo_match_the_model(engine, tiny_model):
    prompt = tiny_model.codec.encode("The quick brown fox jumps")
    got = submit(engine, prompt, max_tokens=3, temperature=0, logprobs=3, prompt_logprobs=True, ignore_eos=True)
    outs = got.wait()
    full = prompt + got.tokens
    with torch.no_grad():
        ref = tiny_model.backend.model(torch.tensor([full])).logits[0].log_softmax(-1)
    echo = outs[0].prompt_logprobs
    assert echo[0] is None and len(echo) == len(prompt)
    expected = ref[torch.arange(len(prompt) - 1), torch.tensor(prompt[1:])]
    torch.testing.assert_close(torch.tensor([e.logprob for e in echo[1:]]), expected, atol=1e-4, rtol=0)
    for i, out in enumerate(outs):
        lp = out.logprobs[0]
        pos = len(prompt) - 1 + i
        assert lp.token_id == out.token_ids[0] == lp.top[0][0]  # greedy picks the top alternative
        assert len(lp.top) == 3
        assert lp.logprob == pytest.approx(ref[pos, lp.token_id].item(), abs=1e-4)


def test_echo_with_zero_max_tokens_only_scores(engine, tiny_model):
    prompt = tiny_model.codec.encode("The quick brown")
    got = submit(engine, prompt, max_tokens=0, logprobs=1, prompt_logprobs=True)
    (out,) = got.wait()
    assert out.token_ids == [] and out.finish_reason == "length"
    assert len(out.prompt_logprobs) == len(prompt)


def test_cancel_frees_the_slot(tiny_model):
    e = Engine(tiny_model, max_batch_size=1).start()
    try:
        prompt = tiny_model.codec.encode("The")
        long = Collector()

        def hang_up_after_three(out: Output) -> None:  # a client that disconnects mid-stream
            long(out)
            if len(long.outputs) == 3:
                request.cancel()

        request = Request(prompt, SamplingParams(max_tokens=100, ignore_eos=True), hang_up_after_three)
        e.submit(request)
        queued = submit(e, prompt, max_tokens=2, ignore_eos=True)  # waits for the only row
        assert long.wait()[-1].finish_reason == "cancelled"
        assert long.outputs[-1].completion_tokens < 10
        assert queued.wait()[-1].finish_reason == "length"
        assert e.num_running == 0 or e.rows[0].request is not request
    finally:
        e.shutdown(drain_seconds=0)


def test_bad_prompts_are_refused(engine, tiny_model):
    with pytest.raises(ValueError, match="empty"):
        engine.submit(Request([], SamplingParams(), lambda o: None))
    with pytest.raises(ValueError, match="context"):
        engine.submit(Request([1] * 500, SamplingParams(), lambda o: None))


def test_shutdown_cancels_what_is_left(tiny_model):
    e = Engine(tiny_model, max_batch_size=2).start()
    c = submit(e, tiny_model.codec.encode("The"), max_tokens=10_000, ignore_eos=True)
    e.shutdown(drain_seconds=0)
    assert c.wait()[-1].finish_reason == "cancelled"
    with pytest.raises(RuntimeError):
        e.submit(Request([1], SamplingParams(), lambda o: None))


def test_a_failing_step_fails_only_its_requests(tiny_model):
    """A forward pass that raises (here: on a poisoned prompt) ends those requests with "error"; the
    engine keeps serving."""
    e = Engine(tiny_model, max_batch_size=4)
    forward = e.backend.forward

    def fragile(input_ids, *args, **kwargs):
        if (input_ids == 7).any():
            raise RuntimeError("boom")
        return forward(input_ids, *args, **kwargs)

    e.backend = type("Fragile", (), {"forward": staticmethod(fragile)})()
    e.start()
    try:
        bad = submit(e, [5, 7, 9], max_tokens=4, ignore_eos=True)
        assert bad.wait()[-1].finish_reason == "error"
        good = submit(e, [5, 6, 9], max_tokens=4, ignore_eos=True, temperature=0)
        assert good.wait()[-1].finish_reason == "length" and len(good.tokens) == 4
        assert e.stats["errors_total"] >= 1
    finally:
        e.shutdown(drain_seconds=0)
