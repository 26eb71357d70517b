import gzip

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
