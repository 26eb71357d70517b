"""One word splitter per language (roots.data.words), shared by every filter and the n-gram LM."""

from __future__ import annotations

import pytest

from roots.cli import main
from roots.common.io import read_json
from roots.data import analysis, words
from roots.data.document import Document
from roots.data.filters import roots_text
from roots.data.registry import build_step

pytest.importorskip("rjieba", reason="zh words need rjieba (the curate extra)")

CLAUSE = "采用自注意力机制来捕捉句子中不同词之间的关系"
ZH = ("深度学习模型采用自注意力机制来捕捉句子中不同词之间的关系。这种方法在机器翻译、文本摘要和问答系统中"
      "取得了很好的效果，研究人员也在不断改进它的训练效率。")


def test_space_separated_languages_keep_the_regex():
    text = "Hello, world! Don't e-mail me at 3.14 p.m... ok?"
    for lang in (None, "en", "fr", "vi", "ur"):
        assert words.split_words(text, lang) == analysis.WORD_RE.findall(text)
    assert words.splitter("de") == words.splitter("en") == analysis.WORD_RE.findall  # one compiled regex


def test_chinese_is_segmented_and_punctuation_is_never_a_word():
    assert analysis.split_words(CLAUSE) == [CLAUSE]  # no language: one regex run
    zh = words.split_words(CLAUSE + "。", "zh")
    assert zh == ["采用", "自", "注意力", "机制", "来", "捕捉", "句子", "中", "不同", "词", "之间", "的", "关系"]
    assert "".join(zh) == CLAUSE  # segmentation loses no character
    # embedded Latin words and numbers stay whole; "zh-Hans" and "zh_TW" name the same splitter
    assert words.split_words("我们用PyTorch 2.4训练GPT-2模型", "zh-Hans") == [
        "我们", "用", "PyTorch", "2.4", "训练", "GPT-2", "模型"]
    assert words.splitter("zh_TW") is words.splitter("zh")


def test_japanese_is_segmented():
    pytest.importorskip("tinysegmenter")
    ja = words.split_words("私はその人を常に先生と呼んでいた。", "ja")
    assert len(ja) > 5 and "先生" in ja and "。" not in ja


def test_matches_datatrove_chinese_word_tokenizer():
    """The anchor: datatrove's zh word tokenizer (spaCy + jieba, FineWeb-2) gives the same words."""
    pytest.importorskip("jieba")
    pytest.importorskip("spacy")
    tokenizers = pytest.importorskip("datatrove.utils.word_tokenizers")
    theirs = [w for w in tokenizers.SpaCyTokenizer("zh").word_tokenize(ZH) if analysis.WORD_RE.fullmatch(w)]
    assert words.split_words(ZH, "zh") == theirs


def test_filters_split_by_their_lang_or_the_documents():
    doc = Document(ZH, "a")
    n_zh = len(words.split_words(ZH, "zh"))
    assert len(analysis.words(doc)) == 4  # by spaces: one "word" per clause
    assert len(analysis.words(doc, "zh")) == n_zh
    doc.metadata["lang"] = "zh"  # from langid: filters without their own lang follow it
    assert len(analysis.words(doc)) == n_zh
    gopher = build_step("gopher_quality", {"min_words": n_zh + 1})
    assert gopher.filter(Document(ZH, "b")) == "gopher_short_doc"
    assert build_step("gopher_quality", {"min_words": n_zh + 1, "lang": "zh"}).filter(
        Document(ZH * 3, "c")) != "gopher_short_doc"


def test_roots_words_are_segmented_for_chinese():
    """BigScience zh: `tokenization: true` -- words come from a segmenter, not from spaces."""
    doc = Document(ZH, "a")
    assert len(roots_text.words(doc)) == 1
    zh = roots_text.lower_words(doc, "zh")
    assert zh[:4] == ["深度", "学习", "模型", "采用"] and "。" not in zh and "，" not in zh
    count = build_step("roots_word_count", {"lang": "zh", "min_words": 20})
    assert count.filter(doc) is None  # ~40 words, not 1


def test_lm_train_lang_uses_the_same_words(tmp_path):
    corpus = tmp_path / "zh.txt"
    corpus.write_text((ZH + "\n") * 3, encoding="utf-8")
    assert main(["lm", "train", "--input", str(corpus), "--output", str(tmp_path / "lm"), "--order", "3",
                 "--lang", "zh"]) == 0
    meta = read_json(tmp_path / "lm" / "meta.json")
    assert meta["lang"] == "zh"
    n_words = len(words.split_words(ZH, "zh"))
    assert meta["tokens"] == 3 * (n_words + 4)  # words + the punctuation runs 。、，。 per line
    from roots.data.lm import NgramLM

    lm = NgramLM.load(tmp_path / "lm")
    assert lm.lang == "zh" and lm.document_perplexity(ZH) < 3
