"""No silent no-ops: a step missing its inputs fails in one line, or (recipe-optional) is flagged NOT APPLIED."""

from __future__ import annotations

import json

import pytest

from roots.cli import main
from roots.common.errors import UserError
from roots.data.pipeline import CurateConfig, run_curation
from roots.data.recipe import load_recipe


def _inputs(tmp_path):
    docs = [{"id": str(i), "text": f"document number {i} with a few words in it"} for i in range(4)]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    return str(tmp_path / "in.jsonl")


def _recipe(tmp_path, step: str) -> str:
    path = tmp_path / "r.yaml"
    path.write_text(f"name: r\nsteps:\n  - length: {{min_words: 1}}\n  - {step}\n")
    return str(path)


@pytest.mark.parametrize("step, hint", [
    ("decontaminate: {eval_files: []}", "--set decontaminate.eval_files="),
    ("roots_perplexity: {lang: en, model: null}", "--set roots_perplexity.model="),
])
def test_missing_input_fails_before_any_work(tmp_path, capsys, step, hint):
    config = CurateConfig(recipe=_recipe(tmp_path, step), input=[_inputs(tmp_path)], output=tmp_path / "out")
    with pytest.raises(UserError, match="cannot run"):
        run_curation(config)
    assert not (tmp_path / "out" / "data").exists()
    rc = main(["curate", "--recipe", config.recipe, "--input", config.input[0], "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc != 0 and hint in err and len(err.strip().splitlines()) == 1


def test_optional_step_is_flagged_everywhere(tmp_path, capsys):
    recipe = _recipe(tmp_path, "decontaminate: {eval_files: [], optional: true}")
    out = tmp_path / "out"
    assert main(["curate", "--recipe", recipe, "--input", _inputs(tmp_path), "--output", str(out)]) == 0
    summary = capsys.readouterr().out
    assert "NOT APPLIED: decontaminate" in summary and "eval_files" in summary
    stats = json.loads((out / "stats.json").read_text())
    step = {s["name"]: s for s in stats["steps"]}["decontaminate"]
    assert step["not_applied"] and step["docs_in"] == step["docs_out"] == 4  # every document survived
    assert {s["name"]: s for s in stats["steps"]}["length"]["not_applied"] is None
    record = json.loads((out / "run.json").read_text())
    assert [x["step"] for x in record["not_applied"]] == ["decontaminate"]
    if (out / "report.html").exists():  # matplotlib present
        assert "NOT APPLIED: decontaminate" in (out / "report.html").read_text()
    assert sum(1 for _ in (out / "data").glob("*")) >= 1


def test_given_inputs_apply_the_step(tmp_path):
    (tmp_path / "eval.txt").write_text("an unrelated evaluation sentence of several words here\n")
    recipe = load_recipe("massivetext").with_overrides([f"decontaminate.eval_files={tmp_path / 'eval.txt'}"])
    assert {s.name: s.not_applied for s in recipe.build_steps()}["decontaminate"] is None


def test_shipped_recipes_flag_their_optional_steps():
    """massivetext's decontamination and roots' perplexity are optional: flagged, not silent."""
    flags = {s.name: s.not_applied for s in load_recipe("massivetext").build_steps()}
    assert "eval_files" in flags["decontaminate"]
    flags = {s.name: s.not_applied for s in load_recipe("roots").build_steps()}
    assert "roots lm train" in flags["roots_perplexity"]


def test_optional_must_be_a_bool(tmp_path):
    with pytest.raises(UserError, match="optional must be true or false"):
        load_recipe(_recipe(tmp_path, "length: {min_words: 1, optional: maybe}")).build_steps()
