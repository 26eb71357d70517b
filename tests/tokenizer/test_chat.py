from __future__ import annotations

import pytest

from roots.tokenizer.chat import DEFAULT_CHAT_TEMPLATE, apply_chat_template, assistant_spans

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi!"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "Name a colour."},
]


def test_default_template_renders():
    text = apply_chat_template(MESSAGES, eos_token="<|endoftext|>")
    assert text == ("<|system|>\nBe brief.<|endoftext|>\n<|user|>\nHi!<|endoftext|>\n"
                    "<|assistant|>\nHello.<|endoftext|>\n<|user|>\nName a colour.<|endoftext|>\n<|assistant|>\n")


def test_matches_transformers_apply_chat_template():
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    raw = tokenizers.Tokenizer(tokenizers.models.WordLevel({"<unk>": 0, "<eos>": 1}, unk_token="<unk>"))
    hf = transformers.PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<eos>", unk_token="<unk>")
    hf.chat_template = DEFAULT_CHAT_TEMPLATE
    for add in (True, False):
        expected = hf.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=add)
        assert apply_chat_template(MESSAGES, eos_token="<eos>", add_generation_prompt=add) == expected


def test_assistant_spans_cover_assistant_content_only():
    messages = [*MESSAGES, {"role": "assistant", "content": "Blue."}]
    text, spans = assistant_spans(messages, eos_token="</s>")
    assert [text[a:b] for a, b in spans] == ["Hello.</s>", "Blue.</s>"]


def test_bad_message():
    with pytest.raises(ValueError, match="role"):
        apply_chat_template([{"content": "x"}], eos_token="</s>")
