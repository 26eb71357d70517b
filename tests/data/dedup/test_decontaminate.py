from __future__ import annotations

import gzip
import json

import pytest

from roots.common.errors import UserError
from roots.data.dedup.decontaminate import Decontaminate, decontaminate
from roots.data.document import Document
from roots.data.registry import build_step

from .conftest import random_text, run_step, write_shards


@pytest.fixture
def eval_files(tmp_path, rng):
    texts = [random_text(rng, 200) for _ in range(5)]
    jsonl = tmp_path / "eval.jsonl.gz"
    with gzip.open(jsonl, "wt") as f:
        f.writelines(json.dumps({"text": t}) + "\n" for t in texts[:3])
    plain = tmp_path / "lambada.txt"
    plain.write_text("\n\n".join(texts[3:]) + "\n")
    return [str(jsonl), str(plain)], texts


def test_drop_copies_not_partial_overlaps(tmp_path, rng, eval_files):
    files, texts = eval_files
    long_with_eval = random_text(rng, 500) + " " + texts[1]  # contains an eval doc, Jaccard ~0.27
    docs = [
        {"id": "copy", "text": texts[0].upper() + "!", "metadata": {}},  # normalized equal: Jaccard 1
        {"id": "near", "text": texts[4].replace(texts[4].split()[100], "zzz", 1), "metadata": {}},  # one word edited: J ~ 0.87
        {"id": "embedded", "text": long_with_eval, "metadata": {}},
        {"id": "clean", "text": random_text(rng, 100), "metadata": {}},
        {"id": "empty", "text": "", "metadata": {}},
        {"id": "short", "text": "a few words", "metadata": {}},
    ]
    shards = write_shards(tmp_path / "in", docs, 4)
    result = run_step(Decontaminate(eval_files=files), shards, tmp_path / "work")
    assert result == {"copy": "eval_contamination", "near": "eval_contamination", "embedded": None,
                      "clean": None, "empty": None, "short": None}
    contained = run_step(Decontaminate(eval_files=files, metric="containment"), shards, tmp_path / "w2")
    assert contained["embedded"] == "eval_contamination" and contained["clean"] is None


def test_flag_mode_names_the_eval_file(tmp_path, rng, eval_files):
    files, texts = eval_files
    step = Decontaminate(eval_files=files, mode="flag")

    doc = Document(texts[3], "x")
    assert step.process(doc) is None
    assert doc.metadata["contamination"]["eval_file"] == "lambada.txt"
    assert doc.metadata["contamination"]["jaccard"] == 1.0
    scores = decontaminate([texts[2], random_text(rng, 80)], files)
    assert scores[0] == 1.0 and scores[1] < 0.05


def test_no_eval_files_keeps_everything_and_says_so(tmp_path, caplog):
    step = Decontaminate()
    step.prepare([], tmp_path / "work")
    assert "no evaluation files" in caplog.text
    step.setup()
    assert step.process(Document("anything at all " * 20, "d")) is None


def test_bad_input(tmp_path):
    with pytest.raises(UserError, match="not found"):
        Decontaminate(eval_files=[str(tmp_path / "missing.txt")]).setup()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\nnot json\n')
    with pytest.raises(UserError, match=r"bad\.jsonl:2"):
        Decontaminate(eval_files=[str(bad)]).setup()
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    with pytest.raises(UserError, match="no evaluation text"):
        Decontaminate(eval_files=[str(empty)]).setup()
    with pytest.raises(UserError, match="mode"):
        Decontaminate(eval_files=[str(empty)], mode="remove")


def test_registered(eval_files):
    step = build_step("decontaminate", {"eval_files": eval_files[0], "threshold": 0.5})
    assert step.ngram == 13 and step.threshold == 0.5


def test_wikitext_eval_split(shared_data, rng):
    wiki = shared_data / "lm" / "wikitext-2" / "valid.txt.gz"
    with gzip.open(wiki, "rt") as f:
        paragraph = next(p.strip() for p in f if len(p.split()) > 100)
    scores = decontaminate([paragraph, paragraph[: len(paragraph) // 2], random_text(rng, 200)], [str(wiki)],
                           metric="containment")
    assert scores[0] == 1.0 and 0.4 < scores[1] < 0.6 and scores[2] == 0.0
