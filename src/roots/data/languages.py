"""One recipe, any language: `roots curate --lang zh` and `--lang auto`.

`--lang X` gives every step that has a `lang` parameter the value X (so each ROOTS step reads X's row of
the parameter table: thresholds, word lists, word splitter; Gopher/C4/FineWeb steps split X's words),
keeps only X at the `langid` step, with ROOTS' minimum score for X when the recipe has ROOTS steps.

`--lang auto` is how ROOTS and FineWeb-2 process a multilingual crawl in one run: `langid` moves to just
after extraction and keeps every language (with ROOTS' per-language minimum scores), and every step with a
`lang` parameter becomes a `PerLanguage` step that runs, for each document, the step built for the
document's identified language (a language without its own row gets the `default` row's thresholds, and
its own word splitter). A recipe can say `lang: auto` on a step itself.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, ClassVar

from roots.common.errors import UserError
from roots.data.base import Step
from roots.data.document import Document

log = logging.getLogger(__name__)

AUTO = "auto"
UNKNOWN = "default"  # documents without an identified language use the default row


def has_lang(step_name: str) -> bool:
    """Whether the registered step takes a `lang` parameter."""
    from roots.data.registry import step_class

    cls = step_class(step_name)
    return dataclasses.is_dataclass(cls) and any(f.name == "lang" for f in dataclasses.fields(cls))


class PerLanguage(Step):
    """Run step `step_name` with the parameters of each document's language (`metadata["lang"]`).

    One instance of the step per language, built on first use; drop reasons are the inner step's.
    """

    needs_corpus: ClassVar[bool] = False

    def __init__(self, step_name: str, params: dict[str, Any]):
        self.name = step_name  # stats and rejects carry the inner step's name
        self.step_name = step_name
        self.params = {k: v for k, v in params.items() if k != "lang"}
        self.optional = bool(params.get("optional", False))
        self._steps: dict[str, Step] = {}
        self._build(UNKNOWN)  # a bad parameter fails when the recipe is built, not per document

    def _build(self, lang: str) -> Step:
        from roots.data.registry import build_step

        return build_step(self.step_name, {**self.params, "lang": lang})

    def step_for(self, lang: str) -> Step:
        step = self._steps.get(lang)
        if step is None:
            step = self._steps[lang] = self._build(lang)
            step.setup()
        return step

    def missing_inputs(self) -> str | None:
        if any(isinstance(v, str) and "{lang}" in v for v in self.params.values()):
            return None  # one input per language (lms/{lang}): a language without one is not checked
        return self._build(UNKNOWN).missing_inputs()

    def lists(self) -> list[str]:
        return self._build(UNKNOWN).lists()

    def process(self, doc: Document) -> str | None:
        return self.step_for(str(doc.metadata.get("lang") or UNKNOWN)).process(doc)


def _is_roots_recipe(steps: list[tuple[str, dict[str, Any]]]) -> bool:
    return any(name.startswith("roots_") for name, _ in steps)


def for_language(steps: list[tuple[str, dict[str, Any]]], lang: str) -> list[tuple[str, dict[str, Any]]]:
    """The steps of a recipe set for one language (`lang`) or for each document's (`auto`)."""
    from roots.data.filters.roots_text import languages, roots_params
    from roots.data.langid import LID176_LANGUAGES

    roots = _is_roots_recipe(steps)
    out = [(name, dict(params)) for name, params in steps]
    if lang != AUTO:
        bundled_lid = any(name == "langid" and not params.get("model") for name, params in out)
        if lang not in LID176_LANGUAGES and bundled_lid:  # another model's labels are checked at setup
            raise UserError(f"--lang {lang!r}: not a language code langid knows (ISO 639-1 where one exists, "
                            "e.g. zh, fr, ur), or `auto`")
        for name, params in out:
            if name == "langid":
                params["languages"] = [lang]
                if roots:
                    params["min_score"] = roots_params(lang).lang_id_min
            elif has_lang(name):
                params["lang"] = lang
        return out
    for name, params in out:
        if name == "langid":
            params["languages"] = []
            if roots:
                params["min_score"] = roots_params(UNKNOWN).lang_id_min
                params["min_scores"] = {code: roots_params(code).lang_id_min for code in languages()
                                        if code != UNKNOWN}
        elif has_lang(name):
            params["lang"] = AUTO
    langid = [i for i, (name, _) in enumerate(out) if name == "langid"]
    if not langid:
        out.insert(1 if out and out[0][0] == "extract" else 0, ("langid", {}))
    else:  # identify first: every later step needs the document's language
        step = out.pop(langid[0])
        first = next((i for i, (name, _) in enumerate(out) if name != "extract"), len(out))
        out.insert(first, step)
    return out
