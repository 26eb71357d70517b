"""Conformance of the c4 step with RECIPES.md §4 (C4 paper values): each line and document rule."""

from __future__ import annotations

import pytest

from roots.common.errors import UserError
from roots.data.document import Document
from roots.data.filters.c4 import C4

GOOD = [
    "The river flows past the old mill every day.",
    "Farmers bring their grain to the miller in autumn.",
    "Tourists often stop to watch the wheel turn slowly.",
]


def run(lines: list[str], **params) -> tuple[str | None, str]:
    """(reason, resulting text) of the c4 step on a document made of `lines`."""
    doc = Document("\n".join(lines), "t")
    step = C4(**params)
    step.setup()
    return step.process(doc), doc.text


def kept_lines(extra: str, **params) -> list[str]:
    reason, text = run([*GOOD, extra], **params)
    assert reason is None
    return text.split("\n")


def test_paper_defaults_not_datatrove_swap():
    """RECIPES.md §4: C4 paper values, >= 5 words per line and >= 3 sentences (datatrove swaps them)."""
    assert (C4().min_words_per_line, C4().min_sentences) == (5, 3)


def test_min_words_per_line():
    """RECIPES.md §4: keep lines with >= 5 words."""
    assert kept_lines("One two three four five.")[-1] == "One two three four five."
    assert kept_lines("One two three four.") == GOOD


@pytest.mark.parametrize("end", [".", "?", "!", '"', "'"])
def test_terminal_punctuation_kept(end):
    """RECIPES.md §4: keep lines ending in terminal punctuation (. ? ! " ')."""
    line = "He said it was a fine day" + end
    assert kept_lines(line)[-1] == line


@pytest.mark.parametrize("line", ["A line with no final mark at all", "And then it trailed off...",
                                  "A line that ends with a colon:"])
def test_lines_without_terminal_punctuation_removed(line):
    """RECIPES.md §4: lines not ending in terminal punctuation (an ellipsis is not one) are removed."""
    assert kept_lines(line) == GOOD


def test_min_sentences():
    """RECIPES.md §4: keep documents with >= 3 sentences."""
    assert run(GOOD)[0] is None
    assert run(GOOD[:2])[0] == "c4_too_few_sentences"
    # sentences are counted inside lines too: one line with three sentences is enough
    assert run(["It rained. The river rose quickly. Everyone stayed home today."])[0] is None


def test_sentences_counted_after_line_removal():
    """RECIPES.md §4: the sentence count is over the kept lines only."""
    assert run([*GOOD[:2], "Short line here."])[0] == "c4_too_few_sentences"


@pytest.mark.parametrize("line", ["Please enable JavaScript to view this page now.",
                                  "By using this site you agree to our privacy policy.",
                                  "This website uses cookies to improve your experience."])
def test_javascript_and_policy_lines_removed(line):
    """RECIPES.md §4: drop lines containing "javascript" or cookie/policy phrases."""
    assert kept_lines(line) == GOOD


def test_long_word_line_removed():
    """RECIPES.md §4: drop lines with a word > 1000 characters."""
    inside = "A b c d " + "e" * 1000 + " f."
    assert kept_lines(inside)[-1] == inside
    assert kept_lines("A b c d " + "e" * 1001 + " f.") == GOOD


@pytest.mark.parametrize("mark", ["[1]", "[23]", "[edit]", "[citation needed]"])
def test_citation_marks_stripped(mark):
    """RECIPES.md §4: strip citation marks ([1], [edit], [citation needed])."""
    line = f"The mill was built in the year 1820.{mark}"
    assert kept_lines(line)[-1] == "The mill was built in the year 1820."


def test_lorem_ipsum_drops_document():
    """RECIPES.md §4: drop the document on "lorem ipsum"."""
    assert run([*GOOD, "Lorem ipsum dolor sit amet, consectetur."])[0] == "c4_lorem_ipsum"


def test_curly_bracket_drops_document():
    """RECIPES.md §4: drop the document on "{"."""
    assert run([*GOOD, "The function returns { a value } here."])[0] == "c4_curly_bracket"


def test_untouched_document_keeps_its_text_object():
    doc = Document("\n".join(GOOD), "t")
    text = doc.text
    assert C4().process(doc) is None and doc.text is text


def test_badwords_user_file(tmp_path):
    """RECIPES.md §4 (C4 bad-words list, user-supplied): whole words, case-insensitive."""
    words = tmp_path / "badwords.txt"
    words.write_text("darn\nheck no\n\n")
    assert run([*GOOD, "Well darn, the mill wheel broke again."], badwords_file=str(words))[0] == "c4_badwords"
    assert run([*GOOD, "Well HECK NO, the wheel broke again."], badwords_file=str(words))[0] == "c4_badwords"
    assert run([*GOOD, "The darning needle was lost in the hay."], badwords_file=str(words))[0] is None


def test_badwords_missing_file():
    with pytest.raises(UserError, match="badwords_file"):
        C4(badwords_file="/nonexistent/badwords.txt").setup()


def test_empty_document():
    assert run([""])[0] == "c4_too_few_sentences"
