from __future__ import annotations

import json
from collections import Counter

import pytest

datasets = pytest.importorskip("datasets")
zstandard = pytest.importorskip("zstandard")

from roots.common.errors import UserError  # noqa: E402
from roots.data.corpus import iter_corpus  # noqa: E402
from roots.export.datasets import (  # noqa: E402
    hf_data_files,
    is_hf_dataset_dir,
    iter_any_corpus,
    iter_hf_dataset,
)

RECORDS = [{"id": f"doc-{i}", "text": f"Document number {i}.\nSecond line é ✓",
            "metadata": {"url": f"https://example.org/{i}", "lang": "en", "lang_score": 0.5 + i / 10}}
           for i in range(5)]


@pytest.fixture
def curated(tmp_path):
    """A curate output folder with two zstd JSONL shards, as `roots curate` writes them."""
    out = tmp_path / "curated"
    (out / "data").mkdir(parents=True)
    for shard, chunk in enumerate((RECORDS[:3], RECORDS[3:])):
        payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chunk).encode()
        (out / "data" / f"{shard:05d}.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(payload))
    return out


def test_load_dataset_reads_curated_zstd_shards(curated, tmp_path):
    ds = datasets.load_dataset("json", data_files=str(curated / "data" / "*.jsonl.zst"), split="train",
                               cache_dir=str(tmp_path / "cache"))
    assert ds.column_names == ["id", "text", "metadata"]
    assert ds.to_list() == RECORDS


def test_hf_data_files_of_curate_output(curated, tmp_path):
    builder, files = hf_data_files(curated)
    assert builder == "json" and len(files) == 2
    ds = datasets.load_dataset(builder, data_files=files, split="train", cache_dir=str(tmp_path / "cache"))
    assert ds["id"] == [r["id"] for r in RECORDS]


def test_save_to_disk_round_trip_matches_corpus_reader(curated, tmp_path):
    ds = datasets.load_dataset("json", data_files=str(curated / "data" / "*.jsonl.zst"), split="train",
                               cache_dir=str(tmp_path / "cache"))
    ds.save_to_disk(str(tmp_path / "saved"))
    assert is_hf_dataset_dir(tmp_path / "saved") and not is_hf_dataset_dir(curated)
    from_hf = list(iter_hf_dataset(tmp_path / "saved", batch_size=2))
    assert from_hf == list(iter_corpus(curated))
    assert list(iter_any_corpus(tmp_path / "saved")) == from_hf
    assert list(iter_any_corpus(curated)) == from_hf


def test_dataset_dict_splits_other_columns_and_bad_records(tmp_path):
    train = datasets.Dataset.from_dict({"text": ["a b", None, "c"], "source": ["x", "y", "z"]})
    val = datasets.Dataset.from_dict({"text": ["v"], "source": ["w"]})
    datasets.DatasetDict(train=train, validation=val).save_to_disk(str(tmp_path / "dd"))
    skipped: Counter = Counter()
    docs = list(iter_hf_dataset(tmp_path / "dd", skipped=skipped))
    assert [(d.id, d.text, d.metadata) for d in docs] == [
        ("train/0", "a b", {"source": "x"}), ("train/2", "c", {"source": "z"}),
        ("validation/0", "v", {"source": "w"})]
    assert skipped == {"bad_record": 1}
    assert [d.text for d in iter_hf_dataset(tmp_path / "dd", splits=["validation"])] == ["v"]
    with pytest.raises(UserError, match="no split"):
        list(iter_hf_dataset(tmp_path / "dd", splits=["test"]))
    with pytest.raises(UserError, match="no column 'body'"):
        list(iter_hf_dataset(tmp_path / "dd", text_field="body"))


def test_not_a_dataset_folder(tmp_path):
    with pytest.raises(UserError, match="not a Hugging Face dataset folder"):
        list(iter_hf_dataset(tmp_path))
