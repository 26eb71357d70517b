"""Token shards: contents decode back to the documents, splits, dtypes, resume after kill -9, bad input."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tokenizers")

from roots.cli import main
from roots.common.errors import UserError
from roots.tokenizer.shards import (
    TokenizeConfig,
    Unit,
    is_val_document,
    plan_units,
    shard_dtype,
    split_tail,
    tokenize,
)
from roots.tokenizer.sources import input_files
from roots.tokenizer.tokenizer import Tokenizer

SRC = Path(__file__).resolve().parents[2] / "src"


def write_corpus(folder: Path, docs: list[dict], shards: int = 1) -> Path:
    """A curate-style output: OUT/data/*.jsonl.zst + OUT/run.json."""
    import zstandard

    (folder / "data").mkdir(parents=True)
    per = -(-len(docs) // shards)
    for s in range(shards):
        lines = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs[s * per:(s + 1) * per])
        (folder / "data" / f"shard_{s:05d}.jsonl.zst").write_bytes(
            zstandard.ZstdCompressor().compress(lines.encode("utf-8")))
    (folder / "run.json").write_text(json.dumps({"kind": "curate", "config": {"recipe": "test"}}))
    return folder


@pytest.fixture(scope="module")
def documents(shared_data) -> list[dict]:
    """Real multilingual documents: 10 lingua sentences of one language each."""
    with gzip.open(shared_data / "langid" / "lingua_sentences_shared.tsv.gz", "rt", encoding="utf-8") as f:
        next(f)
        rows = [line.rstrip("\n").split("\t", 1) for line in f]
    docs = []
    for i in range(0, len(rows), 10):
        group = rows[i:i + 10]
        docs.append({"id": f"doc-{i // 10}", "text": "\n".join(t for _, t in group),
                     "metadata": {"lang": group[0][0]}})
    return docs


@pytest.fixture(scope="module")
def bpe_dir(documents, tmp_path_factory) -> Path:
    tok = Tokenizer.train([d["text"] for d in documents[::2]], "bpe", 2048)
    return tok.save(tmp_path_factory.mktemp("tok"))


def read_split(out: Path, split: str) -> tuple[dict, list[np.ndarray]]:
    meta = json.loads((out / "meta.json").read_text())
    arrays = [np.memmap(out / name, dtype=meta["dtype"], mode="r") for name in meta["splits"][split]["files"]]
    return meta, arrays


def decoded_documents(out: Path, split: str, tok: Tokenizer) -> list[str]:
    meta, arrays = read_split(out, split)
    stream = np.concatenate(arrays) if arrays else np.zeros(0, dtype=meta["dtype"])
    ends = np.flatnonzero(stream == meta["eos_id"])
    assert len(ends) == meta["splits"][split]["documents"]
    assert stream.size == 0 or ends[-1] == stream.size - 1  # every document ends with EOS
    starts = np.concatenate([[0], ends[:-1] + 1])
    return tok.decode_batch([stream[s:e].tolist() for s, e in zip(starts, ends)])


def test_shards_decode_back_to_the_documents(documents, bpe_dir, tmp_path):
    corpus = write_corpus(tmp_path / "corpus", documents, shards=3)
    out = tmp_path / "shards"
    meta = tokenize(TokenizeConfig(tokenizer=str(bpe_dir), input=str(corpus), output=str(out),
                                   val_fraction=0.1))
    tok = Tokenizer.load(bpe_dir)
    assert meta["format"] == "roots.token_shards" and meta["format_version"] == 1
    assert meta["dtype"] == "uint16" and meta["eos_id"] == tok.eos_id and meta["vocab_size"] == 2048
    assert meta["source"]["run"]["kind"] == "curate"
    assert meta["splits"]["train"]["files"] == ["train_00000.bin", "train_00001.bin", "train_00002.bin"]
    expected = {"train": [], "val": []}
    for d in documents:
        expected["val" if is_val_document(d["id"], 0.1) else "train"].append(d["text"])
    assert 150 < len(expected["val"]) < 300  # ~10% of 2,250
    for split in ("train", "val"):
        assert decoded_documents(out, split, tok) == expected[split]
        _, arrays = read_split(out, split)
        assert sum(a.size for a in arrays) == meta["splits"][split]["tokens"]


def test_cli_train_then_tokenize_then_decode(documents, tmp_path, capsys):
    corpus = write_corpus(tmp_path / "corpus", documents[:300])
    tok_dir, out = tmp_path / "tok", tmp_path / "shards"
    assert main(["tokenizer", "train", "--input", str(corpus), "--output", str(tok_dir), "--kind", "bpe",
                 "--vocab-size", "1000"]) == 0
    assert main(["tokenize", "--tokenizer", str(tok_dir), "--input", str(corpus), "--output", str(out),
                 "--val-fraction", "0"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-2].startswith("trained a bpe tokenizer") and str(tok_dir) in lines[-2]
    assert lines[-1].startswith("tokenized 300 documents") and str(out) in lines[-1]
    assert decoded_documents(out, "train", Tokenizer.load(tok_dir)) == [d["text"] for d in documents[:300]]
    assert json.loads((out / "run.json").read_text())["kind"] == "tokenize"


def test_worker_processes_write_the_same_shards(documents, bpe_dir, tmp_path):
    corpus = write_corpus(tmp_path / "corpus", documents[:600], shards=3)
    outs = {}
    for workers in (1, 2):
        outs[workers] = tmp_path / f"w{workers}"
        tokenize(TokenizeConfig(tokenizer=str(bpe_dir), input=str(corpus), output=str(outs[workers]),
                                workers=workers))
    for name in sorted(p.name for p in outs[1].glob("*.bin")):
        assert (outs[1] / name).read_bytes() == (outs[2] / name).read_bytes()


def test_resume_after_kill_9(documents, bpe_dir, tmp_path):
    corpus = write_corpus(tmp_path / "corpus", documents * 4, shards=8)
    out, clean = tmp_path / "killed", tmp_path / "clean"
    cmd = [sys.executable, "-m", "roots.cli", "tokenize", "--tokenizer", str(bpe_dir), "--input", str(corpus),
           "--batch-size", "1"]
    env = {**os.environ, "PYTHONPATH": str(SRC), "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen([*cmd, "--output", str(out)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not (out / ".done" / "00001.json").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_at_kill = len(list((out / ".done").glob("*.json")))
    assert 2 <= done_at_kill < 8, "the run should be killed midway"
    assert not (out / "meta.json").exists()

    subprocess.run([*cmd, "--output", str(out)], env=env, check=True, capture_output=True)
    subprocess.run([*cmd, "--output", str(clean)], env=env, check=True, capture_output=True)
    assert json.loads((out / "run.json").read_text())["units_resumed"] == done_at_kill
    for split in ("train", "val"):
        assert sorted(p.name for p in out.glob(f"{split}_*.bin")) == sorted(p.name for p in clean.glob(
            f"{split}_*.bin"))
        for p in clean.glob(f"{split}_*.bin"):
            assert (out / p.name).read_bytes() == p.read_bytes()
    assert not list(out.glob(".*.tmp"))  # the killed unit's temp file was replaced
    a, b = (json.loads((d / "meta.json").read_text())["splits"] for d in (out, clean))
    assert a == b


def test_records_without_ids_are_read_and_odd_records_counted(bpe_dir, tmp_path):
    """A JSONL of bare {"text": ...} records is the commonest corpus there is: every record is read (ids are
    labels, given from the line when absent); records of the wrong shape are counted by reason."""
    from collections import Counter

    from roots.data.corpus import iter_shard

    path = tmp_path / "plain.jsonl.gz"
    import gzip

    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write('{"text": "first bare record"}\n["a", "list"]\n{"title": "no text"}\n{"text": 42}\n'
                '{"text": "中文的第二条记录", "id": 7}\n{"text": "third", "metadata": 5}\n{"text": "last bare record"}\n')
    skipped: Counter = Counter()
    docs = list(iter_shard(path, skipped, index=0))
    assert [d.text for d in docs] == ["first bare record", "中文的第二条记录", "last bare record"]
    assert [d.id for d in docs] == ["plain.jsonl.gz/0", "7", "plain.jsonl.gz/6"]
    assert [d.position for d in docs] == [(0, 0), (0, 1), (0, 2)]
    assert skipped == {"bad_record": 3, "missing_field_text": 1}
    meta = tokenize(TokenizeConfig(tokenizer=str(bpe_dir), input=str(path), output=str(tmp_path / "shards"),
                                   val_fraction=0))
    assert meta["splits"]["train"]["documents"] == 3


def test_bad_input_is_counted_not_fatal(bpe_dir, tmp_path):
    corpus = tmp_path / "mixed"
    corpus.mkdir()
    (corpus / "a.jsonl").write_bytes(
        b'{"id": "1", "text": "first good document"}\n'
        b'{"id": "2", "text": ""}\n'
        b'{"id": "3", "text": "invalid \xff\xfe utf-8"}\n'
        b'{"broken json\n'
        b'{"id": "4", "text": "last good document"}\n'
    )
    (corpus / "b.txt").write_bytes(b"a plain text document \xc3")
    (corpus / "c.txt").write_text("   \n")
    out = tmp_path / "shards"
    meta = tokenize(TokenizeConfig(tokenizer=str(bpe_dir), input=str(corpus), output=str(out),
                                   val_fraction=0))
    assert meta["skipped"] == {"empty_document": 2, "invalid_utf8_repaired": 2, "bad_json_line": 1}
    got = decoded_documents(out, "train", Tokenizer.load(bpe_dir))
    assert got == ["first good document", "invalid \ufffd\ufffd utf-8", "last good document",
                   "a plain text document \ufffd"]


def test_config_and_tokenizer_errors(bpe_dir, tmp_path):
    with pytest.raises(UserError, match="val-fraction"):
        TokenizeConfig(tokenizer=str(bpe_dir), input="x", output="y", val_fraction=1.5)
    with pytest.raises(UserError, match="input not found"):
        tokenize(TokenizeConfig(tokenizer=str(bpe_dir), input=str(tmp_path / "nope"), output=str(tmp_path)))
    assert main(["tokenize", "--tokenizer", str(tmp_path), "--input", "x", "--output", "y"]) == 2
    (tmp_path / "empty.jsonl").write_text('{"id": "1", "text": ""}\n')
    with pytest.raises(UserError, match="no documents to tokenize"):
        tokenize(TokenizeConfig(tokenizer=str(bpe_dir), input=str(tmp_path / "empty.jsonl"),
                                output=str(tmp_path / "out")))


def test_tail_split_matches_nanogpt_char_level(shared_data, tmp_path):
    text_file = shared_data / "lm" / "tinyshakespeare_input.txt.gz"
    with gzip.open(text_file, "rt", encoding="utf-8") as f:
        data = f.read()
    tok = Tokenizer.train(text_file, "char", 256)
    tok_dir = tok.save(tmp_path / "char")
    out = tmp_path / "shards"
    meta = tokenize(TokenizeConfig(tokenizer=str(tok_dir), input=str(text_file), output=str(out),
                                   val_split="tail", val_fraction=0.1))
    # nanoGPT shakespeare_char: n = len(data); train = data[:int(n*0.9)]; val = data[int(n*0.9):]
    stoi = {ch: i for i, ch in enumerate(sorted(set(data)))}
    ids = np.array([stoi[c] for c in data])
    n = len(ids)
    _, (train,) = read_split(out, "train")
    _, (val,) = read_split(out, "val")
    assert train.size == 1_003_854 and val.size == 111_540 + 1  # nanoGPT's sizes (+ the final EOS)
    assert np.array_equal(train, ids[:int(n * 0.9)])
    assert np.array_equal(val, [*ids[int(n * 0.9):], tok.eos_id])
    assert meta["splits"]["train"]["documents"] == 0 and meta["splits"]["val"]["documents"] == 1


def test_tail_split_is_idempotent_and_repairs_a_crash(tmp_path):
    dtype, eos = np.dtype("uint16"), 9
    units = [Unit(i, [tmp_path / f"in{i}.txt"]) for i in range(3)]
    tokens = [np.array([1, 2, eos, 3, eos], dtype), np.array([4, eos, 5, 6, eos], dtype),
              np.array([7, 8, 1, 2, eos], dtype)]
    for unit, t in zip(units, tokens):
        t.tofile(unit.bin_path(tmp_path, "train"))
    markers = [{"splits": {"train": {"tokens": 5, "documents": 2 if i < 2 else 1},
                           "val": {"tokens": 0, "documents": 0}}} for i in range(3)]
    first = split_tail(tmp_path, units, markers, 0.4, eos, dtype)  # boundary int((15 - 1) * 0.6) = 8
    train = np.concatenate([np.fromfile(u.bin_path(tmp_path, "train"), dtype) for u in units[:2]])
    val = np.concatenate([np.fromfile(u.bin_path(tmp_path, "val"), dtype) for u in units[1:]])
    assert np.array_equal(np.concatenate([train, val]), np.concatenate(tokens))
    assert train.size == 8 and not units[2].bin_path(tmp_path, "train").exists()
    assert [c["val"]["documents"] for c in first] == [0, 1, 1]  # val: [6, eos] + [7, 8, 1, 2, eos]
    assert split_tail(tmp_path, units, markers, 0.4, eos, dtype) == first  # nothing left to do
    # a crash after val_1 was written but before train_1 was cut: train_1 is still whole
    tokens[1].tofile(units[1].bin_path(tmp_path, "train"))
    assert split_tail(tmp_path, units, markers, 0.4, eos, dtype) == first
    assert np.fromfile(units[1].bin_path(tmp_path, "train"), dtype).size == 3


def test_uint32_shards_for_large_vocabularies(tmp_path):
    assert shard_dtype(65536) == "uint16" and shard_dtype(65537) == "uint32"
    # 70,000 distinct supplementary-plane characters: a char vocabulary beyond uint16
    text = "".join(chr(0x10000 + i) for i in range(70_000))
    tok = Tokenizer.train([text], "char", 80_000)
    tok_dir = tok.save(tmp_path / "tok")
    (tmp_path / "doc.txt").write_text(text[::-1], encoding="utf-8")
    out = tmp_path / "shards"
    meta = tokenize(TokenizeConfig(tokenizer=str(tok_dir), input=str(tmp_path / "doc.txt"), output=str(out),
                                   val_fraction=0))
    assert meta["dtype"] == "uint32" and meta["vocab_size"] == 70_002
    assert decoded_documents(out, "train", tok) == [text[::-1]]


def test_document_split_is_stable_and_input_files_are_ordered(tmp_path):
    ids = [f"doc-{i}" for i in range(20_000)]
    val = [i for i in ids if is_val_document(i, 0.05)]
    assert 0.04 < len(val) / len(ids) < 0.06
    assert val == [i for i in ids if is_val_document(i, 0.05)]
    assert val != [i for i in ids if is_val_document(i, 0.05, seed=1)]
    assert not any(is_val_document(i, 0.0) for i in ids)
    for name in ("b.txt", "a.jsonl", "c.txt.gz", "skip.json", ".hidden.txt"):
        (tmp_path / name).write_text("x")
    assert [p.name for p in input_files(tmp_path)] == ["a.jsonl", "b.txt", "c.txt.gz"]
    assert [len(u.files) for u in plan_units(input_files(tmp_path))] == [1, 2]
