"""Task evaluation logic (few-shot prompts, metrics) with a tiny character unigram LM.

The unigram LM is a real, exactly computable language model, which makes every expected metric
hand-checkable; the roots Transformer adapter is tested separately in test_lm.py.
"""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest

from roots.common.errors import UserError
from roots.eval.fewshot import FewShotPrompt
from roots.eval.tasks import TaskConfig, evaluate_task, load_task


class UnigramLM:
    def __init__(self, text: str):
        counts = Counter(text)
        total = sum(counts.values()) + 256
        self.logp = {c: math.log((n + 1) / total) for c, n in counts.items()}
        self.unk = math.log(1 / total)
        self.best = max(self.logp, key=self.logp.get)

    def _ll(self, s):
        return sum(self.logp.get(c, self.unk) for c in s)

    def loglikelihood(self, requests):
        return [(self._ll(cont), all(c == self.best for c in cont)) for _, cont in requests]

    def loglikelihood_rolling(self, texts):
        return [self._ll(t) for t in texts]

    def generate_until(self, requests):
        return [self.best * 3 for _ in requests]


def _write(tmp_path, docs):
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return str(path)


def test_fewshot_prompt_hand_worked():
    pool = [{"q": "1+1", "a": "2"}, {"q": "2+2", "a": "4"}, {"q": "3+3", "a": "6"}]
    p = FewShotPrompt("Q: {{q}}\nA:", "{{a}}", num_fewshot=2, description="Arithmetic.")
    prompt = p.build(pool[2], pool, index=0)
    assert prompt.startswith("Arithmetic.\n\n") and prompt.endswith("Q: 3+3\nA:")
    assert prompt.count("Q: ") == 3 and "Q: 3+3\nA: 6" not in prompt  # the query is never its own example
    assert p.build(pool[2], pool, index=0) == prompt  # seeded: same prompt every time
    with pytest.raises(ValueError, match="need 3 examples"):
        FewShotPrompt("{{q}}", "{{a}}", num_fewshot=3).build(pool[0], pool)


def test_multiple_choice_acc_and_acc_norm(tmp_path):
    lm = UnigramLM("aaaaaaaaab")
    # choice "a" is likelier in total; per byte, "aaaa" and "a" tie but acc_norm divides by bytes
    docs = [{"question": "pick", "choices": ["a", "bbbb"], "answer": "a"},
            {"question": "pick", "choices": ["aaaa", "b"], "answer": "aaaa"}]
    config = TaskConfig(task="t", data=_write(tmp_path, docs), doc_to_choice="choices")
    result = evaluate_task(lm, config)
    # doc 1: ll("a") > ll("bbbb") -> correct. doc 2: ll(" aaaa") < ll(" b") in total -> acc wrong,
    # but per byte " aaaa" beats " b" -> acc_norm right.
    assert result["metrics"] == {"acc": 0.5, "acc_norm": 1.0}
    assert result["n"] == 2 and result["samples"][0]["gold"] == 0


def test_rolling_perplexity_units(tmp_path):
    lm = UnigramLM("ab")
    docs = [{"text": "ab ab"}]
    config = TaskConfig(task="ppl", data=_write(tmp_path, docs), output_type="loglikelihood_rolling",
                        doc_to_target="text")
    m = evaluate_task(lm, config)["metrics"]
    nll = -lm._ll("ab ab")
    assert m["bits_per_byte"] == pytest.approx(nll / 5 / math.log(2))
    assert m["word_perplexity"] == pytest.approx(math.exp(nll / 2))


def test_generation_exact_match_and_task_yaml(tmp_path):
    lm = UnigramLM("zzzz")
    _write(tmp_path, [{"question": "say z", "answer": "zzz"}, {"question": "say y", "answer": "y"}])
    (tmp_path / "task.yaml").write_text(
        "task: echo\ndata: docs.jsonl\noutput_type: generate_until\nmetrics: [exact_match, chrf]\n")
    result = evaluate_task(lm, load_task(tmp_path / "task.yaml"))
    assert result["metrics"]["exact_match"] == 0.5
    assert 0 <= result["metrics"]["chrf"] <= 100


def test_bad_task_inputs(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"question": "x"}\nnot json\n')
    with pytest.raises(UserError, match="not valid JSON"):
        evaluate_task(UnigramLM("a"), TaskConfig(task="t", data=str(tmp_path / "bad.jsonl")))
    with pytest.raises(UserError, match="not found"):
        evaluate_task(UnigramLM("a"), TaskConfig(task="t", data=str(tmp_path / "missing.jsonl")))


def test_template_errors_name_the_document(tmp_path):
    config = TaskConfig(task="t", data=_write(tmp_path, [{"q": "x", "answer": "a"}]), doc_to_choice="choices")
    with pytest.raises(UserError, match="document 0: template error"):
        evaluate_task(UnigramLM("a"), config)
