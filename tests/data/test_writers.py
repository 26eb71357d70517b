import json

import pytest

from roots.data.corpus import iter_shard
from roots.data.document import Document
from roots.data.writers import ShardWriter


def docs(n):
    return [Document(f"document {i} " + "text " * 50, f"d{i}", {"lang": "en", "n": i}) for i in range(n)]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_shards_by_size_and_round_trip(tmp_path, fmt):
    with ShardWriter(tmp_path, "00000", fmt, max_shard_bytes=2_000) as writer:
        for doc in docs(20):
            writer.write(doc)
    assert len(writer.shards) >= 3
    assert not list(tmp_path.glob(".*.tmp"))
    back = [d for s in writer.shards for d in iter_shard(s["path"])]
    assert [d.to_record() for d in back] == [d.to_record() for d in docs(20)]
    assert sum(s["docs"] for s in writer.shards) == 20


def test_jsonl_zst_loads_with_datasets(tmp_path):
    load_dataset = pytest.importorskip("datasets").load_dataset

    with ShardWriter(tmp_path, "00000", "jsonl", max_shard_bytes=5_000) as writer:
        for doc in docs(30):
            writer.write(doc)
    ds = load_dataset("json", data_files=sorted(str(p) for p in tmp_path.glob("*.jsonl.zst")),
                      split="train", cache_dir=str(tmp_path / "cache"))
    assert ds.num_rows == 30 and ds[0]["metadata"]["lang"] == "en"


def test_failed_write_leaves_no_shard(tmp_path):
    with pytest.raises(RuntimeError), ShardWriter(tmp_path, "00000") as writer:
        writer.write(docs(1)[0])
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


def test_parquet_metadata_is_json(tmp_path):
    import pyarrow.parquet as pq

    with ShardWriter(tmp_path, "00000", "parquet") as writer:
        writer.write(Document("x", "a", {"url": "http://a"}))
        writer.write(Document("y", "b", {"lang": "fr"}))
    table = pq.read_table(writer.shards[0]["path"])
    assert [json.loads(m) for m in table.column("metadata").to_pylist()] == [{"url": "http://a"}, {"lang": "fr"}]
