"""The shipped ROOTS recipe (RECIPES.md §3): it parses, its ROOTS steps build, and the chain runs on real text."""

from __future__ import annotations

import gzip
import json
from importlib.resources import files

import yaml

from roots.data.base import StepStats
from roots.data.document import Document
from roots.data.registry import STEPS, build_step


def recipe() -> dict:
    return yaml.safe_load(files("roots.data").joinpath("recipes", "roots.yaml").read_text(encoding="utf-8"))


def test_recipe_parses_and_builds():
    r = recipe()
    assert r["name"] == "roots" and r["description"]
    names = [next(iter(s)) for s in r["steps"]]
    assert names[:2] == ["extract", "roots_edit"]
    assert names[-3:] == ["pii", "simhash_dedup", "substring_dedup"]  # RECIPES.md §3.4: dedup after PII
    for step in r["steps"]:
        (name, params), = step.items()
        assert name in STEPS, name
        built = build_step(name, params)
        if hasattr(built, "lang"):
            assert built.lang == "en"


def test_roots_chain_on_real_paragraphs(shared_data, tmp_path):
    """Wikipedia paragraphs mostly pass the English ROOTS chain; each drop carries a ROOTS reason."""
    flagged = tmp_path / "flagged.json"
    ref = json.loads((shared_data / "filtering/bigscience_roots_flagged_words.json").read_text())
    flagged.write_text(json.dumps(ref["flagged_words"]))
    steps = []
    for step in recipe()["steps"]:
        (name, params), = step.items()
        if name == "roots_flagged_words":
            params = {**params, "flagged_words_file": str(flagged)}
        step = build_step(name, params)
        if name != "extract" and not step.needs_corpus:  # the paragraphs are text already; no dedup here
            steps.append(step)
    with gzip.open(shared_data / "lm/wikitext-2/test.txt.gz", "rt") as f:
        paragraphs = [line for line in f if len(line.split()) > 60][:200]
    docs = [Document(t, str(i)) for i, t in enumerate(paragraphs)]
    docs.append(Document("Contact admin@example.org or @webmaster at 10.0.0.1 " + paragraphs[0], "pii"))
    docs.append(Document("buy now " * 40, "spam"))
    stream, all_stats = iter(docs), []
    for step in steps:
        step.setup()
        stats = StepStats(step.name)
        all_stats.append(stats)
        stream = step.run(stream, stats)
    kept = {d.id: d for d in stream}
    assert len(kept) > 0.8 * len(docs)
    assert "spam" not in kept
    assert "PI:EMAIL" in kept["pii"].text and "PI:USER" in kept["pii"].text and "PI:IP_ADDRESS" in kept["pii"].text
    reasons = {r for s in all_stats for r in s.dropped}
    assert reasons and all(r.startswith("roots_") for r in reasons)
    assert all(not s.errors for s in all_stats)
