"""Tokenizer: training each kind, HF equality, lossless round trips, nanoGPT char ids, bad input."""

from __future__ import annotations

import gzip
import json

import pytest

tokenizers = pytest.importorskip("tokenizers")

from roots.common.errors import UserError  # noqa: E402
from roots.tokenizer.tokenizer import Tokenizer, tokenizer_sha256  # noqa: E402


def lingua_sentences(shared_data, every: int = 1) -> list[str]:
    with gzip.open(shared_data / "langid" / "lingua_sentences_shared.tsv.gz", "rt", encoding="utf-8") as f:
        next(f)  # header
        return [line.rstrip("\n").split("\t", 1)[1] for i, line in enumerate(f) if i % every == 0]


def shakespeare(shared_data) -> str:
    with gzip.open(shared_data / "lm" / "tinyshakespeare_input.txt.gz", "rt", encoding="utf-8") as f:
        return f.read()


@pytest.fixture(scope="module")
def sentences(shared_data) -> list[str]:
    return lingua_sentences(shared_data)


@pytest.fixture(scope="module")
def bpe(sentences, tmp_path_factory) -> tuple[Tokenizer, object]:
    tok = Tokenizer.train(sentences[::3], "bpe", 4096)
    return tok, tok.save(tmp_path_factory.mktemp("bpe"))


# ------------------------------------------------------------------------------------ byte-level BPE

HARD_TEXTS = [
    "",
    "   leading and trailing   ",
    "tabs\tand\r\nwindows\rnewlines\n\n\n",
    "emoji 👩‍👩‍👧 flags 🇫🇷 and a lone combining mark \u0301",
    "NUL \x00 and control \x1b[31m chars",
    "RTL עברית العربية mixed with 中文 and 日本語",
    "the literal text <|endoftext|> is not a separator",
]


def test_bpe_round_trip_is_lossless_on_multilingual_text(bpe, sentences):
    tok, _ = bpe
    texts = sentences + HARD_TEXTS  # all 75 languages, two thirds of them unseen in training
    assert tok.decode_batch(tok.encode_batch(texts)) == texts


def test_bpe_special_tokens_and_meta(bpe):
    tok, folder = bpe
    assert tok.eos_id == tok.token_to_id("<|endoftext|>") == 0
    assert tok.vocab_size == 4096
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["format"] == "roots.tokenizer" and meta["kind"] == "bpe"
    assert meta["special_tokens"] == {"eos": {"token": "<|endoftext|>", "id": 0}}
    assert meta["tokenizer_sha256"] == tokenizer_sha256(folder)
    assert meta["training"]["documents"] == 7500


def test_text_never_encodes_to_a_special_id(bpe):
    tok, _ = bpe
    ids = tok.encode("a <|endoftext|> b")
    assert tok.eos_id not in ids
    assert tok.decode(ids) == "a <|endoftext|> b"


def test_ids_identical_to_hf_tokenizers_and_transformers(bpe, sentences):
    PreTrainedTokenizerFast = pytest.importorskip("transformers").PreTrainedTokenizerFast

    tok, folder = bpe
    hf = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    fast = PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"))
    sample = sentences[1::50]
    ours = tok.encode_batch(sample)
    assert ours == [e.ids for e in hf.encode_batch(sample, add_special_tokens=False)]
    assert ours == fast(sample, add_special_tokens=False)["input_ids"]
    assert [tok.encode(s) for s in sample] == ours
    assert Tokenizer.load(folder).encode_batch(sample) == ours


def test_llama3_pattern_splits_digits_in_threes(sentences):
    tok = Tokenizer.train([*sentences[::10], "1234567 " * 50], "bpe", 1024, pattern="llama3")
    pieces = [tok.decode([i]) for i in tok.encode("x 1234567")]
    assert "".join(pieces) == "x 1234567"
    assert all(len(p) <= 3 for p in pieces if p.isdigit())


# ------------------------------------------------------------------------------------ WordPiece / Unigram


def test_wordpiece_is_bert_shaped(sentences, tmp_path):
    AutoTokenizer = pytest.importorskip("transformers").AutoTokenizer

    tok = Tokenizer.train(sentences[::4], "wordpiece", 3000)
    folder = tok.save(tmp_path / "wp")
    assert {r: tok.token_to_id(t) for r, t in tok.special_tokens.items()} == {
        "pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4, "eos": 3}
    assert tok.vocab_size == 3000
    auto = AutoTokenizer.from_pretrained(folder)
    ids = auto("hello world")["input_ids"]
    assert ids[0] == tok.cls_id and ids[-1] == tok.sep_id  # BERT's [CLS] ... [SEP] template
    assert ids[1:-1] == tok.encode("hello world")
    assert auto.mask_token_id == tok.mask_id and auto.pad_token_id == tok.pad_id
    assert tok.decode(tok.encode("The cat sat.")) == "The cat sat."


def test_unigram_is_t5_shaped(shared_data, tmp_path):
    PreTrainedTokenizerFast = pytest.importorskip("transformers").PreTrainedTokenizerFast

    text = shakespeare(shared_data)[:200_000]
    tok = Tokenizer.train(text.split("\n\n"), "unigram", 1000, sentinels=20)
    folder = tok.save(tmp_path / "uni")
    assert (tok.pad_id, tok.eos_id, tok.unk_id) == (0, 1, 2)
    assert tok.vocab_size == 1000
    assert len(tok.sentinel_ids) == 20
    assert tok.sentinel_ids[0] == tok.vocab_size - 1  # <extra_id_0> is the last id, as in T5
    assert tok.id_to_token(tok.sentinel_ids[19]) == "<extra_id_19>"
    fast = PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"))
    line = "First Citizen: Before we proceed any further, hear me speak."
    assert fast(line)["input_ids"] == [*tok.encode(line), tok.eos_id]  # T5 appends </s>
    assert tok.decode(tok.encode(line)) == line
    assert Tokenizer.load(folder).sentinel_ids == tok.sentinel_ids


# ------------------------------------------------------------------------------------ char-level


def test_char_hand_worked_example():
    tok = Tokenizer.train(["hello world"], "char", 100)
    # sorted characters: ' '=0 d=1 e=2 h=3 l=4 o=5 r=6 w=7, then the special tokens
    assert tok.encode("hello world") == [3, 2, 4, 4, 5, 0, 7, 5, 6, 4, 1]
    assert (tok.eos_id, tok.unk_id, tok.vocab_size) == (8, 9, 10)
    assert tok.encode("hez") == [3, 2, 9]  # unseen character -> <unk>
    assert tok.decode([3, 2, 4, 4, 5]) == "hello"


def test_char_ids_match_nanogpt_on_tiny_shakespeare(shared_data, tmp_path):
    PreTrainedTokenizerFast = pytest.importorskip("transformers").PreTrainedTokenizerFast

    data = shakespeare(shared_data)
    tok = Tokenizer.train([data], "char", 1000)
    folder = tok.save(tmp_path / "char")
    # nanoGPT data/shakespeare_char/prepare.py
    chars = sorted(set(data))
    stoi = {ch: i for i, ch in enumerate(chars)}
    assert len(chars) == 65 and tok.vocab_size == 67
    head = data[:20_000]
    ids = tok.encode(head)
    assert ids == [stoi[c] for c in head]
    assert tok.decode(ids) == head
    fast = PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"))
    assert fast(head)["input_ids"] == ids
    assert fast.decode(ids) == head


def test_char_vocab_cap_keeps_the_most_frequent():
    tok = Tokenizer.train(["aaaa bbb cc d"], "char", 5)  # 3 characters + eos + unk
    assert tok.encode("abcd") == [1, 2, tok.unk_id, tok.unk_id]  # ' ' and 'a' 'b' kept; ' '=0


# ------------------------------------------------------------------------------------ bad input


def test_bad_training_input_is_counted(tmp_path):
    (tmp_path / "c.jsonl").write_bytes(
        b'{"id": "1", "text": "good text here"}\n'
        b'{"id": "2", "text": "   "}\n'
        b'{"id": "3", "text": "bad \xff\xfe bytes"}\n'
        b'not json at all\n'
    )
    (tmp_path / "empty.txt").write_text("")
    tok = Tokenizer.train(tmp_path, "bpe", 300, min_frequency=1)
    training = tok.meta["training"]
    assert training["documents"] == 2
    assert training["skipped"] == {"empty_document": 2, "invalid_utf8_repaired": 1, "bad_json_line": 1}


def test_errors_speak_to_the_user(tmp_path):
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(UserError, match="no training text"):
        Tokenizer.train(tmp_path, "bpe", 300)
    with pytest.raises(UserError, match="unknown tokenizer kind"):
        Tokenizer.train(["x"], "sentencepiece", 300)
    with pytest.raises(UserError, match="unknown pre-tokenization pattern"):
        Tokenizer.train(["x"], "bpe", 300, pattern="gpt4")
    with pytest.raises(UserError, match="no tokenizer"):
        Tokenizer.load(tmp_path)
    with pytest.raises(UserError, match="input not found"):
        Tokenizer.train(tmp_path / "missing", "bpe", 300)
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(UserError, match="not a valid HF tokenizer"):
        Tokenizer.load(tmp_path)


def test_unigram_vocab_too_small_is_a_user_error():
    with pytest.raises(UserError, match="raise --vocab-size"):
        Tokenizer.train(["абвгдежзийклмнопрстуфхцчшщъыьэюя abcdefghijklmnopqrstuvwxyz"], "unigram", 20,
                        sentinels=0)


def test_external_tokenizer_json_guesses_roles(bpe, tmp_path):
    _, folder = bpe
    (tmp_path / "tokenizer.json").write_bytes((folder / "tokenizer.json").read_bytes())
    tok = Tokenizer.load(tmp_path)
    assert tok.kind == "external" and tok.eos_id == 0


def test_public_api_export():
    import roots

    assert roots.Tokenizer is Tokenizer
