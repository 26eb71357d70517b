"""Every step a recipe can name: registry name -> "module:Class" (imported only when used).

Adding a step = one file (the step class), one line here, one test.
"""

from __future__ import annotations

import importlib
from typing import Any

from roots.common.config import from_dict
from roots.common.errors import UserError
from roots.data.base import Step

STEPS: dict[str, str] = {
    "extract": "roots.data.extract:Extract",
    "langid": "roots.data.langid:LanguageFilter",
    "length": "roots.data.filters.length:LengthFilter",
    # ROOTS (BigScience), RECIPES.md §3
    "roots_edit": "roots.data.filters.roots:RootsEdit",
    "roots_word_count": "roots.data.filters.roots:RootsWordCount",
    "roots_char_repetition": "roots.data.filters.roots:RootsCharRepetition",
    "roots_word_repetition": "roots.data.filters.roots:RootsWordRepetition",
    "roots_special_characters": "roots.data.filters.roots:RootsSpecialCharacters",
    "roots_stopwords": "roots.data.filters.roots:RootsStopwords",
    "roots_flagged_words": "roots.data.filters.roots:RootsFlaggedWords",
    "roots_perplexity": "roots.data.filters.roots:RootsPerplexity",
    "pii": "roots.data.pii:RedactPII",
    "url_filter": "roots.data.filters.url_filter:UrlFilter",
    "strip_urls": "roots.data.filters.strip_urls:StripUrls",
    "gopher_repetition": "roots.data.filters.gopher_repetition:GopherRepetition",
    "gopher_quality": "roots.data.filters.gopher_quality:GopherQuality",
    "refinedweb_lines": "roots.data.filters.refinedweb_lines:RefinedWebLines",
    "c4": "roots.data.filters.c4:C4",
    "fineweb_quality": "roots.data.filters.fineweb_quality:FineWebQuality",
    "quality_classifier": "roots.data.classifier:QualityClassifier",  # roots classify train
    # deduplication and decontamination (needs_corpus)
    "exact_dedup": "roots.data.dedup.exact:ExactDedup",
    "url_dedup": "roots.data.dedup.exact:UrlDedup",
    "minhash_dedup": "roots.data.dedup.minhash:MinHashDedup",
    "simhash_dedup": "roots.data.dedup.simhash:SimHashDedup",
    "substring_dedup": "roots.data.dedup.substring:SubstringDedup",
    "sentence_dedup": "roots.data.dedup.sentence:SentenceDedup",
    "decontaminate": "roots.data.dedup.decontaminate:Decontaminate",
}


def step_class(name: str) -> type[Step]:
    target = STEPS.get(name)
    if target is None:
        raise UserError(f"unknown step {name!r}; known steps: {', '.join(sorted(STEPS))}")
    module_name, attr = target.split(":")
    return getattr(importlib.import_module(module_name), attr)


def build_step(name: str, params: dict[str, Any] | None = None) -> Step:
    """Instantiate a registered step from its recipe parameters (validated against its fields)."""
    cls = step_class(name)
    params = dict(params or {})
    optional = params.pop("optional", False)
    if not isinstance(optional, bool):
        raise UserError(f"step {name}: optional must be true or false, got {optional!r}")
    step = from_dict(cls, params, where=f"step {name}")
    step.optional = optional
    return step
