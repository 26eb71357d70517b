"""`roots curate` reads Hugging Face datasets saved with `save_to_disk` like any other input."""

from __future__ import annotations

import pytest

from roots.cli import main
from roots.common.io import read_json
from roots.data.corpus import iter_corpus

datasets = pytest.importorskip("datasets")

TEXT = "The library opens at nine in the morning and closes late in the evening for readers. "


def test_curate_reads_a_saved_dataset_dict(tmp_path, capsys):
    rows = {"id": ["a", "b", "c"], "text": [TEXT * 3, "", TEXT * 2], "source": ["x", "y", "z"]}
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_dict(rows),
                               "test": datasets.Dataset.from_dict({"id": ["d"], "text": [TEXT * 4],
                                                                   "source": ["w"]})})
    dd.save_to_disk(str(tmp_path / "saved"))
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: plain\nsteps:\n  - length: {min_words: 5}\n")
    assert main(["curate", "--recipe", str(recipe), "--input", str(tmp_path / "saved"),
                 "--output", str(tmp_path / "out")]) == 0
    docs = {d.id: d for d in iter_corpus(tmp_path / "out")}
    assert sorted(docs) == ["a", "c", "d"]  # both splits; the empty document is a counted skip
    assert docs["a"].metadata["source"] == "x"
    assert read_json(tmp_path / "out/stats.json")["reader"]["skipped"] == {"empty_document": 1}
