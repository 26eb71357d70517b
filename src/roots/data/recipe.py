"""Recipes: YAML files listing steps and their parameters.

```yaml
name: extract
description: one line
steps:
  - extract: {backend: trafilatura}
  - langid: {min_score: 0.65}
```
Each step is a one-key mapping `name -> params` or a bare name. `optional: true` among a step's params
lets a step whose inputs are missing (decontamination without evaluation sets, perplexity without a
model) run as a no-op flagged NOT APPLIED in stats.json, run.json, the report and the CLI summary;
without it such a step fails the run before any work, saying what to pass. Shipped recipes live in
`roots/data/recipes/<name>.yaml` and load by name; any other YAML loads by path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roots.common.config import ConfigError, load_yaml
from roots.common.errors import UserError
from roots.data.base import Step
from roots.data.registry import build_step

RECIPES_DIR = Path(__file__).parent / "recipes"


@dataclass
class Recipe:
    name: str
    steps: list[tuple[str, dict[str, Any]]]
    description: str = ""
    path: str | None = None

    def build_steps(self) -> list[Step]:
        """Instantiate every step (parameters are validated against the step's fields).

        A step with `lang: auto` runs with each document's language (`roots.data.languages`).
        """
        from roots.data.languages import AUTO, PerLanguage, has_lang

        def build(name: str, params: dict[str, Any]) -> Step:
            if params.get("lang") == AUTO and has_lang(name):
                return PerLanguage(name, params)
            return build_step(name, params)

        try:
            steps = [build(name, params) for name, params in self.steps]
        except ConfigError as e:
            raise UserError(f"recipe {self.name!r}: {e}") from e
        for step in steps:  # no silent no-ops: a step missing its inputs fails, or is flagged if optional
            missing = step.missing_inputs()
            if missing and not step.optional:
                raise UserError(f"recipe {self.name!r}: step {step.name} cannot run: {missing}")
            step.not_applied = missing
        return steps

    def for_language(self, lang: str) -> Recipe:
        """A copy set for one language (`zh`) or for each document's (`auto`): `roots.data.languages`."""
        from roots.data.languages import for_language

        return Recipe(self.name, for_language(self.steps, lang), self.description, self.path)

    def with_overrides(self, assignments: list[str]) -> Recipe:
        """A copy with `step.param=value` assignments applied (value parsed as YAML: 0.5, [a, b], true).

        Every step of that name in the recipe gets the value; an unknown step name is an error.
        """
        import yaml

        steps = [(name, dict(params)) for name, params in self.steps]
        for item in assignments:
            key, sep, raw = item.partition("=")
            step, dot, param = key.strip().partition(".")
            if not sep or not dot or not param:
                raise UserError(f"--set {item!r}: expected STEP.PARAM=VALUE, e.g. langid.min_score=0.8")
            targets = [params for name, params in steps if name == step]
            if not targets:
                raise UserError(f"--set {item!r}: recipe {self.name!r} has no step {step!r} "
                                f"(its steps: {', '.join(n for n, _ in steps)})")
            value = yaml.safe_load(raw)
            if isinstance(value, str) and "," in value and not raw.strip().startswith(("'", '"')):
                value = [v.strip() for v in value.split(",") if v.strip()]
            for params in targets:
                params[param] = value
        return Recipe(self.name, steps, self.description, self.path)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "steps": [{name: params} for name, params in self.steps]}


def shipped_recipes() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def _parse_step(item: Any, where: str) -> tuple[str, dict[str, Any]]:
    if isinstance(item, str):
        return item, {}
    if isinstance(item, dict) and len(item) == 1:
        ((name, params),) = item.items()
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise UserError(f"{where}: parameters of step {name!r} must be a mapping, got {params!r}")
        return str(name), dict(params)
    raise UserError(f"{where}: each step is a step name or a one-key mapping name -> params, got {item!r}")


def load_recipe(name_or_path: str | os.PathLike) -> Recipe:
    """A shipped recipe by name (`extract`) or any recipe YAML by path."""
    path = Path(name_or_path)
    if not path.suffix and (RECIPES_DIR / f"{path}.yaml").exists():
        path = RECIPES_DIR / f"{path}.yaml"
    if not path.is_file():
        raise UserError(f"recipe not found: {name_or_path} (shipped recipes: {', '.join(shipped_recipes())}; "
                        f"or give the path of a recipe YAML)")
    try:
        data = load_yaml(path)
    except Exception as e:
        raise UserError(f"{path}: not a valid recipe YAML: {e}") from e
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise UserError(f"{path}: a recipe needs a non-empty `steps:` list")
    unknown = set(data) - {"name", "description", "steps"}
    if unknown:
        raise UserError(f"{path}: unknown recipe key(s) {sorted(unknown)}; valid: name, description, steps")
    parsed = [_parse_step(item, f"{path} step {i + 1}") for i, item in enumerate(steps)]
    return Recipe(name=str(data.get("name", path.stem)), description=str(data.get("description", "")),
                  steps=parsed, path=str(path))
