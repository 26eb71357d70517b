"""The shipped recipes parse and every filter step they name builds with its parameters."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from roots.data.registry import STEPS, build_step

RECIPES = resources.files("roots.data") / "recipes"


def _recipe_names() -> list[str]:
    return sorted(p.name for p in RECIPES.iterdir() if p.name.endswith(".yaml"))


def test_the_four_recipes_ship():
    assert {"refinedweb.yaml", "massivetext.yaml", "c4.yaml", "fineweb.yaml"} <= set(_recipe_names())


@pytest.mark.parametrize("file", _recipe_names())
def test_recipe_parses_and_builds(file):
    recipe = yaml.safe_load((RECIPES / file).read_text(encoding="utf-8"))
    assert recipe["name"] == file.removesuffix(".yaml") and recipe["description"]
    for entry in recipe["steps"]:
        ((name, params),) = entry.items()
        assert name in STEPS, f"{file}: unknown step {name}"
        step = build_step(name, params)
        if not step.needs_corpus:  # corpus steps set up only after prepare() saw the corpus
            step.setup()


def test_c4_recipe_uses_paper_values():
    """RECIPES.md §4: the c4 recipe has >= 5 words per line and >= 3 sentences; FineWeb keeps
    datatrove's 3 and 5 (what FineWeb ran)."""
    c4 = next(s["c4"] for s in yaml.safe_load((RECIPES / "c4.yaml").read_text())["steps"] if "c4" in s)
    assert (c4["min_words_per_line"], c4["min_sentences"]) == (5, 3)
