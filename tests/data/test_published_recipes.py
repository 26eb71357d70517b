"""Conformance of the shipped c4 and fineweb recipes with the published pipelines (RECIPES.md §4).

Each test runs the shipped recipe end to end (`run_curation`) on pages the test writes, and checks the
documents that came out: C4's bad words, its three-sentence-span dedup and URL dedup; FineWeb's MinHash
dedup and PII step.
"""

from __future__ import annotations

import json

import pytest

from roots.data.corpus import iter_shard
from roots.data.dedup.sentence import sentence_dedup, sentence_spans
from roots.data.pipeline import CurateConfig, run_curation

pytest.importorskip("langdetect", reason="C4's language step is langdetect (roots[curate])")
pytest.importorskip("fasttext", reason="lid.176 (roots[curate])")

SENTENCES = [
    "The river flows slowly through the old town before it reaches the sea.",
    "Farmers in the valley grow apples, pears and a little wheat every year.",
    "A small museum near the station shows how the bridge was built in stone.",
    "Visitors often walk along the eastern bank when the weather is dry and warm.",
    "The library opens early on weekdays and closes at noon on Saturdays.",
    "Children learn to swim in the public pool during the long summer holidays.",
    "Most houses in the centre have red roofs and narrow wooden windows.",
    "The market sells fresh bread, cheese and fish from the nearby harbour.",
    "An old railway line once carried coal from the hills to the factories.",
    "Local musicians play in the square on the first Friday of each month.",
    "The town council meets in a building that used to be a grain store.",
    "Several footpaths lead from the church up to the forest on the ridge.",
    "In winter the lake sometimes freezes and people skate near the shore.",
    "The bakery on the corner has made the same rye loaf for a hundred years.",
    "Students from the college volunteer at the animal shelter on weekends.",
    "A ferry crosses the bay twice a day when the sea is calm enough.",
    "The hospital was extended last year with a new wing for children.",
    "Cyclists like the flat road that follows the canal towards the city.",
    "Every autumn the school holds a fair to raise money for new books.",
    "The harbour master keeps a record of every boat that enters the port.",
    "Birds gather on the marsh at dawn, and a few rare herons nest there.",
    "The oldest inn in town still serves soup to travellers who arrive late.",
    "A new bus route now connects the villages in the hills with the station.",
    "Gardeners compete each spring to grow the largest pumpkin in the district.",
]


def page(first: int, n: int, extra: str = "") -> str:
    """A page of `n` pool sentences starting at `first`, two per line."""
    sents = [SENTENCES[(first + i) % len(SENTENCES)] for i in range(n)]
    lines = [" ".join(sents[i:i + 2]) for i in range(0, len(sents), 2)]
    if extra:
        lines.append(extra)
    return "\n".join(lines)


def curate(tmp_path, recipe: str, docs: list[dict]) -> dict[str, str]:
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(d) + "\n" for d in docs))
    out = tmp_path / "out"
    run_curation(CurateConfig(recipe=recipe, input=[str(inp)], output=out))
    return {d.id: d.text for shard in sorted((out / "data").glob("*")) for d in iter_shard(shard)}


def test_c4_drops_a_bad_word_page_and_keeps_its_clean_twin(tmp_path):
    """RECIPES.md §4 / C4 §2.2: any LDNOOBW word drops the page (bad words on by default)."""
    clean = page(0, 8)
    dirty = page(0, 7, "The old bastard at the harbour sold the fish before the sun rose.")
    kept = curate(tmp_path, "c4", [{"id": "clean", "text": clean, "url": "https://a.example.org/1"},
                                   {"id": "dirty", "text": dirty, "url": "https://a.example.org/2"}])
    assert set(kept) == {"clean"}
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert {s["name"]: s for s in stats["steps"]}["c4"]["dropped"] == {"c4_badwords": 1}
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert "ldnoobw_en" in [r["name"] for r in record["lists"]]


def test_c4_keeps_a_repeated_three_sentence_span_once(tmp_path):
    """C4 §2.2: all but one of any three-sentence span occurring more than once are discarded; pages
    left under 3 sentences are dropped; one page per URL."""
    shared = " ".join(SENTENCES[20:23])
    a = page(0, 6) + "\n" + shared
    b = shared + "\n" + page(8, 6)
    c = shared  # only the shared span: nothing left after dedup
    d = page(0, 6)  # same URL as a: URL dedup keeps a
    kept = curate(tmp_path, "c4", [
        {"id": "a", "text": a, "url": "https://x.example.org/a"},
        {"id": "b", "text": b, "url": "https://x.example.org/b"},
        {"id": "c", "text": c, "url": "https://x.example.org/c"},
        {"id": "d", "text": d, "url": "https://x.example.org/a"},
    ])
    assert set(kept) == {"a", "b"}
    assert sum(text.count(SENTENCES[21]) for text in kept.values()) == 1
    assert kept["a"].endswith(shared) and SENTENCES[8] in kept["b"]
    stats = {s["name"]: s for s in json.loads((tmp_path / "out" / "stats.json").read_text())["steps"]}
    assert stats["url_dedup"]["dropped"] == {"url_duplicate": 1}
    assert stats["sentence_dedup"]["dropped"] == {"sentence_dedup_too_few_sentences": 1}


def test_sentence_dedup_in_memory():
    """Hand-worked: windows of 3 sentences; the second copy loses exactly the repeated window."""
    s = [f"Sentence number {w} is here." for w in ("one", "two", "three", "four", "five", "six", "seven")]
    first = " ".join(s[:5])
    second = " ".join([s[5], *s[1:4], s[6], "Another one.", "And a last one."])
    out = sentence_dedup([first, second])
    assert out[0] == first
    assert out[1] == " ".join([s[5], s[6], "Another one.", "And a last one."])
    assert sentence_dedup([first, " ".join(s[1:4])]) == [first, None]
    assert len(sentence_spans("One. Two! Three?\nno end here")) == 4


def test_fineweb_drops_a_near_copy_and_redacts_an_email(tmp_path):
    """FineWeb: MinHash 5-grams 14x8 keeps one of near-copies; PII formatting redacts emails."""
    original = page(0, 12)
    near_copy = original.replace("apples", "plums")
    other = page(12, 11, "Write to the town office at info.desk@harbour-town.org for opening times.")
    kept = curate(tmp_path, "fineweb", [{"id": "orig", "text": original}, {"id": "copy", "text": near_copy},
                                        {"id": "other", "text": other}])
    assert set(kept) == {"orig", "other"}
    assert "info.desk@harbour-town.org" not in kept["other"] and "PI:EMAIL" in kept["other"]
    stats = {s["name"]: s for s in json.loads((tmp_path / "out" / "stats.json").read_text())["steps"]}
    assert sum(stats["minhash_dedup"]["dropped"].values()) == 1


def test_c4_language_step_is_langdetect():
    """C4 kept pages langdetect scored English at >= 0.99; the recipe's langid step does the same."""
    from roots.data.document import Document
    from roots.data.recipe import load_recipe

    step = next(s for s in load_recipe("c4").build_steps() if s.name == "langid")
    assert (step.model, step.min_score, step.languages) == ("langdetect", 0.99, ["en"])
    english = Document(page(0, 6), "en")
    assert step.filter(english) is None and english.metadata["lang_score"] >= 0.99
    french = Document("Le fleuve traverse lentement la vieille ville avant d'atteindre la mer. "
                      "Les agriculteurs de la vallée cultivent des pommes et des poires chaque année.", "fr")
    assert step.filter(french) == "lang_not_kept" and french.metadata["lang"] == "fr"


def test_sentence_dedup_keys_documents_by_position_not_id(tmp_path):
    """Two input files whose documents share ids: the span repeated across them is still kept once."""
    shared = " ".join(SENTENCES[20:23])
    for name, first in (("a.jsonl", 0), ("b.jsonl", 8)):
        text = page(first, 6) + "\n" + shared
        (tmp_path / name).write_text(json.dumps({"id": "0", "text": text}) + "\n")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: r\nsteps:\n  - length: {min_words: 1}\n  - sentence_dedup: {}\n")
    out = tmp_path / "out"
    run_curation(CurateConfig(recipe=str(recipe), input=[str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")],
                              output=out))
    texts = [d.text for shard in sorted((out / "data").glob("*")) for d in iter_shard(shard)]
    assert len(texts) == 2 and sum(t.count(SENTENCES[21]) for t in texts) == 1
