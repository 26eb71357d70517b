import pytest

from roots.common.errors import UserError
from roots.data.recipe import RECIPES_DIR, load_recipe, shipped_recipes


@pytest.mark.parametrize("name", shipped_recipes())
def test_every_shipped_recipe_loads_and_builds(name):
    recipe = load_recipe(name)
    assert recipe.name == name and recipe.description
    steps = recipe.build_steps()
    assert [s.name for s in steps] == [n for n, _ in recipe.steps]


def test_extract_recipe():
    recipe = load_recipe("extract")
    extract, langid = recipe.build_steps()
    assert extract.backend == "trafilatura" and extract.favor_precision and langid.min_score == 0.65
    assert load_recipe(RECIPES_DIR / "extract.yaml").steps == recipe.steps


def test_bare_names_and_errors(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("name: mine\nsteps:\n  - extract\n  - langid: {min_score: 0.3}\n")
    assert [s.name for s in load_recipe(path).build_steps()] == ["extract", "langid"]
    path.write_text("steps:\n  - no_such_step\n")
    with pytest.raises(UserError, match="unknown step 'no_such_step'"):
        load_recipe(path).build_steps()
    path.write_text("steps:\n  - langid: {min_scor: 0.3}\n")
    with pytest.raises(UserError, match="min_scor"):
        load_recipe(path).build_steps()
    path.write_text("name: x\n")
    with pytest.raises(UserError, match="steps"):
        load_recipe(path)
    with pytest.raises(UserError, match="recipe not found"):
        load_recipe("nope")


def test_set_overrides_step_parameters():
    recipe = load_recipe("massivetext").with_overrides(["langid.min_score=0.5",
                                                        "decontaminate.eval_files=a.txt,b.txt"])
    params = dict(recipe.steps)
    assert params["langid"]["min_score"] == 0.5 and params["decontaminate"]["eval_files"] == ["a.txt", "b.txt"]
    assert dict(load_recipe("massivetext").steps)["langid"]["min_score"] == 0.65  # the shipped file is untouched
    with pytest.raises(UserError, match="no step 'nope'"):
        load_recipe("massivetext").with_overrides(["nope.x=1"])
    with pytest.raises(UserError, match=r"STEP\.PARAM=VALUE"):
        load_recipe("massivetext").with_overrides(["langid=1"])
