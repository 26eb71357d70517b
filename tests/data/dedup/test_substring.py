from __future__ import annotations

import numpy as np
import pytest

from roots.common.errors import UserError
from roots.data.dedup.substring import SubstringDedup, repeated_spans, substring_dedup
from roots.data.registry import build_step

from .conftest import process_all, random_text, write_shards


def test_repeated_spans_hand_worked():
    # doc0 = 1 2 3 4 5 | doc1 = 9 2 3 4 8 | doc2 = 2 3 4 5 ; separators 0
    seq = np.array([1, 2, 3, 4, 5, 0, 9, 2, 3, 4, 8, 0, 2, 3, 4, 5, 0], dtype=np.uint32)
    spans = repeated_spans(seq, np.array([0, 6, 12, 17]), min_length=3)
    assert spans.tolist() == [[1, 1, 4], [2, 0, 4]]  # "2 3 4" in doc1, "2 3 4 5" in doc2; never across docs


def test_cut_keeps_first_occurrence_and_drops_short_leftovers(rng):
    shared = random_text(rng, 60)
    a, b, c = random_text(rng, 30), random_text(rng, 30), random_text(rng, 3)
    texts = [f"{a} {shared}", f"{b} {shared} {c}", shared, "", "tiny"]
    out = substring_dedup(texts, min_length=50)
    assert out[0] == texts[0]
    assert out[1].split() == (b + " " + c).split()
    assert out[2] is None  # nothing left: dropped
    assert out[3:] == ["", "tiny"]  # empty and short documents pass untouched
    assert substring_dedup(texts, min_length=61) == texts  # shorter repeats than the threshold stay


def test_bytes_unit_and_self_repetition():
    out = substring_dedup(["Les élèves aiment l'école. " * 4, "rien à voir ici, vraiment"], min_length=12,
                          unit="bytes", min_chars=5)
    assert out == ["Les élèves aiment l'école. ", "rien à voir ici, vraiment"]


def test_step_on_shards_in_chunks_and_resume(tmp_path, rng):
    boiler = random_text(rng, 80)
    docs = [{"id": f"d{i}", "text": f"{random_text(rng, 40)} {boiler if i % 3 == 0 else ''}", "metadata": {}}
            for i in range(30)]
    shards = write_shards(tmp_path / "in", docs, per_shard=5)
    step = SubstringDedup(chunk_units=250)  # several chunks: repeats are found within each chunk
    step.prepare(shards, tmp_path / "work", 1)
    chunks = sorted((tmp_path / "work" / "chunks").glob("*.npz"))
    assert len(chunks) > 1
    assert len(chunks) == 6  # each shard (5 docs, ~360 words) is its own chunk here
    kept = process_all(step, shards)
    texts = {d.id: d.text for d in kept}
    with_boiler = [i for i in range(30) if i % 3 == 0]
    first_in_chunk = {min(i for i in with_boiler if i // 5 == c) for c in range(6)}
    assert {i for i in with_boiler if boiler in texts[f"d{i}"]} == first_in_chunk
    assert all(texts[f"d{i}"] == docs[i]["text"] for i in range(30) if i % 3)  # untouched
    # resume: a lost chunk result is recomputed, the rest reused
    chunks[0].unlink()
    (tmp_path / "work" / "result" / "summary.json").unlink()
    mtime = chunks[1].stat().st_mtime_ns
    resumed = SubstringDedup(chunk_units=250)
    resumed.prepare(shards, tmp_path / "work", 1)
    assert chunks[0].exists() and chunks[1].stat().st_mtime_ns == mtime
    assert [d.text for d in process_all(resumed, shards)] == [d.text for d in kept]


def test_registered_and_validated():
    assert build_step("substring_dedup", {"min_length": 50, "unit": "bytes"}).unit == "bytes"
    with pytest.raises(UserError):
        SubstringDedup(min_length=0)


@pytest.fixture
def char_tokenizer(tmp_path):
    """A character-level tokenizer (every letter a token): tokens are far shorter than words."""
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(["abcdefghijklmnopqrstuvwxyz"], trainers.BpeTrainer(vocab_size=30, special_tokens=["[UNK]"]))
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    return str(path)


def test_tokens_unit_counts_tokenizer_tokens(char_tokenizer):
    """unit tokens: a repeat of 3 words but 16 tokens is cut at min_length 12; in words it is too short."""
    shared = "abcdef ghijk lmnop"  # 16 character tokens, 3 words
    texts = [f"first text {shared} ends here", f"second one {shared} closes"]
    by_tokens = substring_dedup(texts, min_length=12, unit="tokens", tokenizer=char_tokenizer, min_chars=1)
    assert by_tokens[0] == texts[0] and shared not in by_tokens[1] and by_tokens[1].startswith("second one")
    assert substring_dedup(texts, min_length=12, unit="words", min_chars=1) == texts


def test_tokens_unit_needs_a_tokenizer(tmp_path):
    with pytest.raises(UserError, match="needs tokenizer"):
        SubstringDedup(unit="tokens")
    with pytest.raises(UserError, match="not found"):
        SubstringDedup(unit="tokens", tokenizer=str(tmp_path / "missing.json"))
