"""`roots eval task`: lm-eval task YAML run by lm-eval on a model given by the three request methods.

A tiny character unigram LM makes every expected metric hand-checkable; the roots Transformer adapter is
tested in test_lm.py and the CLI in test_lm_cli.py.
"""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest

from roots.common.errors import UserError
from roots.eval.tasks import evaluate_task, load_task

pytest.importorskip("lm_eval", reason="roots eval task runs lm-evaluation-harness (roots[eval])")


class UnigramLM:
    def __init__(self, text: str):
        counts = Counter(text)
        total = sum(counts.values()) + 256
        self.logp = {c: math.log((n + 1) / total) for c, n in counts.items()}
        self.unk = math.log(1 / total)
        self.best = max(self.logp, key=self.logp.get)
        self.requests: list = []

    def _ll(self, s):
        return sum(self.logp.get(c, self.unk) for c in s)

    def loglikelihood(self, requests):
        self.requests += requests
        return [(self._ll(cont), all(c == self.best for c in cont)) for _, cont in requests]

    def loglikelihood_rolling(self, texts):
        return [self._ll(t) for t in texts]

    def generate_until(self, requests):
        self.requests += requests
        return [self.best * 3 for _ in requests]


def _jsonl(path, docs):
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")


MC_DOCS = [{"question": "pick", "choices": ["a", "bbbb"], "answer": 0},
           {"question": "pick", "choices": ["aaaa", "b"], "answer": 0},
           {"question": "pick", "choices": ["ééé", "ab"], "answer": 1}]

MC_YAML = """\
task: mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: docs.jsonl
test_split: test
output_type: multiple_choice
doc_to_text: "{{question}}"
doc_to_target: answer
doc_to_choice: "{{choices}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
"""


def _expected(lm, docs, delimiter=" "):
    """lm-eval's definitions: acc = argmax of summed log-likelihoods of delimiter + choice;
    acc_norm = argmax of log-likelihood per *character* of the choice (the delimiter not counted)."""
    acc = acc_norm = 0
    for d in docs:
        lls = [lm._ll(delimiter + c) for c in d["choices"]]
        norm = [ll / len(c) for ll, c in zip(lls, d["choices"])]
        acc += max(range(len(lls)), key=lls.__getitem__) == d["answer"]
        acc_norm += max(range(len(norm)), key=norm.__getitem__) == d["answer"]
    return acc / len(docs), acc_norm / len(docs)


def test_lm_eval_yaml_multiple_choice_acc_and_acc_norm(tmp_path, monkeypatch):
    _jsonl(tmp_path / "docs.jsonl", MC_DOCS)
    (tmp_path / "task.yaml").write_text(MC_YAML)
    monkeypatch.chdir(tmp_path.parent)  # data_files are found next to the YAML from any folder
    lm = UnigramLM("aaaaaaaaabé")
    result = evaluate_task(lm, load_task(tmp_path / "task.yaml"))
    acc, acc_norm = _expected(lm, MC_DOCS)
    assert result["metrics"]["acc"] == pytest.approx(acc)
    assert result["metrics"]["acc_norm"] == pytest.approx(acc_norm)
    assert (acc, acc_norm) != _expected_bytes(lm, MC_DOCS)  # the fixture tells chars from bytes apart
    assert result["n"] == 3 and result["output_type"] == "multiple_choice"
    assert lm.requests[:2] == [("pick", " a"), ("pick", " bbbb")]


def _expected_bytes(lm, docs):
    acc_norm = 0
    for d in docs:
        norm = [lm._ll(" " + c) / len((" " + c).encode()) for c in d["choices"]]
        acc_norm += max(range(len(norm)), key=norm.__getitem__) == d["answer"]
    return _expected(lm, docs)[0], acc_norm / len(docs)


def test_fewshot_split_delimiters_and_limit(tmp_path):
    test = [{"q": "7+7", "a": "14"}, {"q": "8+8", "a": "16"}, {"q": "9+9", "a": "18"}]
    import csv

    with open(tmp_path / "test.csv", "w", newline="") as f:  # csv loads through datasets, as in lm-eval
        writer = csv.DictWriter(f, fieldnames=["q", "a"])
        writer.writeheader()
        writer.writerows(test)
    (tmp_path / "task.yaml").write_text(f"""\
task: arith
dataset_path: csv
dataset_kwargs:
  data_files:
    test: {tmp_path / "test.csv"}
test_split: test
fewshot_split: test
output_type: loglikelihood
doc_to_text: "Q: {{{{q}}}}\\nA:"
doc_to_target: "{{{{a}}}}"
target_delimiter: " "
fewshot_delimiter: "\\n###\\n"
num_fewshot: 2
description: "Arithmetic.\\n###\\n"
""")
    lm = UnigramLM("0123456789")
    result = evaluate_task(lm, load_task(tmp_path / "task.yaml"), limit=2)
    assert result["n"] == 2 and result["num_fewshot"] == 2
    context, continuation = lm.requests[0]
    assert continuation == "14"  # lm-eval: loglikelihood tasks add no target_delimiter (multiple choice does)
    assert context.startswith("Arithmetic.\n###\n") and context.endswith("Q: 7+7\nA:")
    shots = context[len("Arithmetic.\n###\n"):-len("Q: 7+7\nA:")]
    assert shots.count("\n###\n") == 2 and shots.count("Q: ") == 2  # two solved examples, our delimiter
    assert "Q: 7+7" not in shots  # the query is never its own example (fewshot from the test split)


def test_parquet_include_and_function(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(MC_DOCS), tmp_path / "docs.parquet")
    (tmp_path / "utils.py").write_text(
        "def process_docs(dataset):\n    return dataset.filter(lambda d: d['answer'] == 0)\n")
    (tmp_path / "_base.yaml").write_text(MC_YAML.replace("docs.jsonl", "docs.parquet").replace("json", "parquet"))
    (tmp_path / "task.yaml").write_text("include: _base.yaml\ntask: mc_first\n"
                                        "process_docs: !function utils.process_docs\n")
    lm = UnigramLM("aaaaaaaaab")
    result = evaluate_task(lm, load_task(tmp_path / "task.yaml"))
    assert result["task"] == "mc_first" and result["n"] == 2  # include merged, process_docs applied


def test_short_form_rolling_and_generation(tmp_path):
    lm = UnigramLM("ab")
    _jsonl(tmp_path / "text.jsonl", [{"text": "ab ab"}])
    (tmp_path / "ppl.yaml").write_text("task: ppl\ndata: text.jsonl\noutput_type: loglikelihood_rolling\n"
                                       "doc_to_text: ''\ndoc_to_target: text\n")
    m = evaluate_task(lm, load_task(tmp_path / "ppl.yaml"))["metrics"]
    nll = -lm._ll("ab ab")
    assert m["bits_per_byte"] == pytest.approx(nll / 5 / math.log(2))
    assert m["word_perplexity"] == pytest.approx(math.exp(nll / 2))

    lm = UnigramLM("zzzz")
    _jsonl(tmp_path / "docs.jsonl", [{"question": "say z", "answer": "zzz"}, {"question": "say y", "answer": "y"}])
    (tmp_path / "gen.yaml").write_text("task: echo\ndata: docs.jsonl\noutput_type: generate_until\n"
                                       "doc_to_text: '{{question}}'\ndoc_to_target: '{{answer}}'\n"
                                       "metrics: [exact_match, chrf]\nuntil: [\"\\n\"]\n")
    result = evaluate_task(lm, load_task(tmp_path / "gen.yaml"))
    assert result["metrics"]["exact_match"] == 0.5
    assert 0 <= result["metrics"]["chrf"] <= 100
    assert lm.requests[0][1]["until"] == ["\n"]


def test_bad_task_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match="task file not found"):
        load_task(tmp_path / "missing.yaml")
    (tmp_path / "t.yaml").write_text("task: t\ndata: missing.jsonl\n")
    with pytest.raises(UserError, match="task data not found"):
        load_task(tmp_path / "t.yaml")
    (tmp_path / "nodata.yaml").write_text("task: t\ndoc_to_text: x\n")
    with pytest.raises(UserError, match="dataset_path"):
        load_task(tmp_path / "nodata.yaml")
    (tmp_path / "bad.yaml").write_text("task: [unclosed\n")
    with pytest.raises(UserError, match="not a valid task YAML"):
        load_task(tmp_path / "bad.yaml")


def test_template_errors_name_the_task(tmp_path):
    _jsonl(tmp_path / "docs.jsonl", [{"q": "x", "answer": "a"}])
    (tmp_path / "t.yaml").write_text("task: broken\ndata: docs.jsonl\ndoc_to_text: '{{q}}'\n"
                                     "doc_to_target: '{{answer}}'\ndoc_to_choice: '{{choices}}'\n")
    with pytest.raises(UserError, match="task broken"):
        evaluate_task(UnigramLM("a"), load_task(tmp_path / "t.yaml"))
