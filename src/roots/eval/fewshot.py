"""Few-shot prompts: a description, k solved examples, then the query, from Jinja2 templates.

The conventions are lm-evaluation-harness's, so its task files translate directly:
`doc_to_text` renders the question, `doc_to_target` the answer, examples are joined by
`fewshot_delimiter` and question/answer by `target_delimiter`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=256)
def _template(source: str):
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(source)


def render(source: str, doc: dict[str, Any]) -> Any:
    """Render a template against a document; a bare field name (no braces) reads that field."""
    if "{{" not in source and "{%" not in source:
        if source in doc:
            return doc[source]
        return source
    return _template(source).render(**doc)


@dataclass
class FewShotPrompt:
    """Builds k-shot prompts: `description + (text + delim + target + fewshot_delim) * k + text`."""

    doc_to_text: str
    doc_to_target: str
    num_fewshot: int = 0
    description: str = ""
    target_delimiter: str = " "
    fewshot_delimiter: str = "\n\n"
    seed: int = 1234

    def target(self, doc: dict[str, Any]) -> str:
        value = render(self.doc_to_target, doc)
        return str(value)

    def example(self, doc: dict[str, Any]) -> str:
        return f"{render(self.doc_to_text, doc)}{self.target_delimiter}{self.target(doc)}"

    def build(self, doc: dict[str, Any], pool: list[dict[str, Any]], index: int = 0) -> str:
        """The prompt for `doc`; examples are drawn from `pool` (never `doc` itself), seeded per index."""
        shots = ""
        if self.num_fewshot > 0:
            candidates = [d for d in pool if d is not doc and d != doc]
            if len(candidates) < self.num_fewshot:
                raise ValueError(f"{self.num_fewshot}-shot prompts need {self.num_fewshot} examples; "
                                 f"only {len(candidates)} available")
            rng = random.Random(self.seed + index)
            chosen = rng.sample(candidates, self.num_fewshot)
            shots = "".join(self.example(d) + self.fewshot_delimiter for d in chosen)
        description = self.description + self.fewshot_delimiter if self.description else ""
        return description + shots + str(render(self.doc_to_text, doc))
