import gzip

import pytest

from roots.common.errors import UserError
from roots.data.base import StepStats
from roots.data.document import Document
from roots.data.langid import LanguageFilter, LanguageIdentifier


def test_predict_top_language_and_score():
    lid = LanguageIdentifier()
    assert lid.predict("The quick brown fox jumps over the lazy dog near the river bank.")[0] == "en"
    assert lid.predict("Le renard brun saute par-dessus le chien paresseux près de la rivière.")[0] == "fr"
    lang, score = lid.predict("Der schnelle braune Fuchs springt über den faulen Hund am Flussufer.")
    assert lang == "de" and 0.5 < score <= 1.0


def test_newlines_do_not_cut_the_input():
    lid = LanguageIdentifier()
    # with the first line alone fastText would see only a short English fragment
    text = "Hello\n" + "Dies ist ein langer deutscher Satz über das Wetter und den Garten im Sommer. " * 3
    assert lid.predict(text)[0] == "de"


def test_real_sentences(shared_data):
    lid = LanguageIdentifier()
    with gzip.open(shared_data / "langid/lingua_sentences_shared.tsv.gz", "rt", encoding="utf-8") as f:
        next(f)
        rows = [line.rstrip("\n").split("\t", 1) for line in f]
    sample = [(lang, text) for lang, text in rows if lang in ("en", "fr", "de", "es", "ru")][:500]
    correct = sum(lid.predict(text)[0] == lang for lang, text in sample)
    assert correct / len(sample) > 0.9


def test_filter_sets_metadata_and_drops_with_reasons():
    step = LanguageFilter(min_score=0.65, languages=["en", "fr"])
    step.setup()
    docs = [
        Document("This is a perfectly ordinary English sentence about the weather today.", "en"),
        Document("Dies ist ein ganz gewöhnlicher deutscher Satz über das Wetter heute.", "de"),
        Document("zzkx qwv 1234 !!", "noise"),
    ]
    stats = StepStats("langid")
    kept = list(step.run(docs, stats))
    assert [d.id for d in kept] == ["en"]
    assert kept[0].metadata["lang"] == "en" and kept[0].metadata["lang_score"] > 0.65
    assert stats.examples["lang_not_kept"][0]["id"] == "de"
    assert sum(stats.dropped.values()) == 2
    noise = Document("zzkx qwv 1234 !!", "noise")
    assert LanguageFilter(min_score=0.99).process(noise) == "lang_score_below_min"
    assert all("lang" in d.metadata and "lang_score" in d.metadata for d in docs)


def test_lowercase_option_changes_the_input():
    step = LanguageFilter(min_score=0.0, lowercase=True)
    step.setup()
    doc = Document("THIS IS AN ENGLISH SENTENCE WRITTEN IN CAPITAL LETTERS ONLY.", "x")
    assert step.process(doc) is None and doc.metadata["lang"] == "en"


# ------------------------------------------------------------------ any fastText LID model (langid.model)


def write_fasttext_model(path, words: dict[str, list[float]], labels: list[str]) -> None:
    """A tiny supervised fastText model in fastText's own binary format (version 12), written by hand.

    Softmax over `labels` of the mean of the input rows of a line's words (and of "</s>", which fastText
    adds at the end of each line); no subwords (minn = maxn = 0), no buckets. Row k of the output matrix
    is the unit vector k, so a word's row is its label scores directly.
    """
    import struct

    dim = len(labels)
    entries = [("</s>", 0), *((w, 0) for w in words), *((lab, 1) for lab in labels)]
    out = [struct.pack("<ii", 793712314, 12)]
    # dim ws epoch minCount neg wordNgrams loss(softmax=3) model(sup=3) bucket minn maxn lrUpdateRate t
    out.append(struct.pack("<12id", dim, 5, 1, 1, 5, 1, 3, 3, 0, 0, 0, 100, 1e-4))
    out.append(struct.pack("<iiiqq", len(entries), len(words) + 1, len(labels), 100, -1))
    for token, kind in entries:
        out.append(token.encode() + b"\0" + struct.pack("<qb", 10, kind))
    rows = [[0.0] * dim, *words.values()]
    out.append(struct.pack("<?qq", False, len(rows), dim))
    out.append(struct.pack(f"<{len(rows) * dim}f", *(x for r in rows for x in r)))
    out.append(struct.pack("<?qq", False, dim, dim))
    out.append(struct.pack(f"<{dim * dim}f", *(float(i == j) for i in range(dim) for j in range(dim))))
    path.write_bytes(b"".join(out))


def test_glotlid_style_labels_are_normalized():
    from roots.data.langid import normalize_label

    assert normalize_label("__label__en") == ("en", None)
    assert normalize_label("__label__eng_Latn") == ("en", "Latn")
    assert normalize_label("__label__cmn_Hani") == ("zh", "Hani")
    assert normalize_label("__label__zho_Hant") == ("zh", "Hant")
    assert normalize_label("__label__arb_Arab") == ("ar", "Arab")
    assert normalize_label("__label__urd_Arab") == ("ur", "Arab")
    assert normalize_label("__label__yue_Hant") == ("yue", "Hant")  # no ISO 639-1 code: kept


def test_any_fasttext_model_by_path(tmp_path):
    """`langid.model: PATH` loads another fastText LID model; GlotLID labels become ROOTS codes."""
    model = tmp_path / "glotlid-tiny.bin"
    write_fasttext_model(model, {"hello": [8.0, 0.0, 0.0], "bonjour": [0.0, 8.0, 0.0], "你好": [0.0, 0.0, 8.0]},
                         ["__label__eng_Latn", "__label__fra_Latn", "__label__cmn_Hani"])
    lid = LanguageIdentifier(model)
    assert lid.languages() == {"en", "fr", "zh"}
    lang, score = lid.predict("bonjour bonjour")
    assert lang == "fr" and 0.9 < score <= 1.0
    step = LanguageFilter(model=str(model), languages=["zh", "en"], min_score=0.5)
    step.setup()
    docs = [Document("hello hello", "a"), Document("bonjour", "b"), Document("你好", "c")]
    kept = list(step.run(docs, StepStats("langid")))
    assert [d.id for d in kept] == ["a", "c"]
    assert kept[1].metadata["lang"] == "zh" and kept[1].metadata["lang_script"] == "Hani"
    with pytest.raises(UserError, match="cannot predict"):
        LanguageFilter(model=str(model), languages=["de"]).setup()
    with pytest.raises(UserError, match="no fastText model"):
        LanguageFilter(model=str(tmp_path / "missing.bin"))
    (tmp_path / "junk.bin").write_bytes(b"not a model")
    with pytest.raises(UserError, match="not a fastText model"):
        LanguageIdentifier(tmp_path / "junk.bin")
