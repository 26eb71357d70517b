from __future__ import annotations

import pytest

transformers = pytest.importorskip("transformers")

from roots.export.tokenizer import export_tokenizer  # noqa: E402
from roots.tokenizer.chat import apply_chat_template  # noqa: E402
from roots.tokenizer.tokenizer import Tokenizer  # noqa: E402

TEXTS = ["The quick brown fox jumps over the lazy dog. " * 3,
         "Ünïcödé tëxt, ½ and 漢字 and emoji 🙂.",
         "def f(x):\n    return x ** 2  # code\n", "Numbers 1234567 and   spaces\t\ttabs\n\nnewlines"] * 20
PROBES = ["Hello world!", "  leading spaces and trailing  ", "漢字🙂 mixed ß", "x = [1, 2, 3]\n\n", ""]


@pytest.mark.parametrize("kind,vocab", [("bpe", 400), ("char", 0), ("unigram", 200), ("wordpiece", 200)])
def test_autotokenizer_encodes_identically(tmp_path, kind, vocab):
    tok = Tokenizer.train(TEXTS, kind=kind, vocab_size=vocab or 1000, min_frequency=1)
    tok.save(tmp_path / "tok")
    ids = export_tokenizer(tmp_path / "tok", tmp_path / "hf", context=64)
    hf = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    for text in PROBES + TEXTS[:4]:
        assert hf.encode(text, add_special_tokens=False) == tok.encode(text), (kind, text)
        assert hf.decode(tok.encode(text), skip_special_tokens=True) == tok.decode(tok.encode(text))
    assert hf.eos_token_id == tok.eos_id == ids.eos
    assert hf.pad_token_id == ids.pad and hf.model_max_length == 64


def test_chat_template_renders_like_roots(tmp_path):
    tok = Tokenizer.train(TEXTS, kind="bpe", vocab_size=400, min_frequency=1)
    tok.save(tmp_path / "tok")
    export_tokenizer(tmp_path / "tok", tmp_path / "hf", context=64)
    hf = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"},
                {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye"}]
    rendered = hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert rendered == apply_chat_template(messages, eos_token="<|endoftext|>")
    ids = hf.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    assert ids.count(tok.eos_id) == 4  # each of the 4 turns ends with the EOS id, not its characters
