"""ROOTS perplexity as BigScience scored it: SentencePiece pieces + n-gram LM (the edugp/kenlm layout)."""

from __future__ import annotations

import json
import shutil

import pytest

from roots.cli import main
from roots.common.errors import UserError
from roots.data.document import Document
from roots.data.filters.roots import RootsPerplexity
from roots.data.lm import NgramLM, PieceScorer, load_scorer

pytest.importorskip("sentencepiece", reason="SentencePiece LMs need sentencepiece (roots[curate])")

REFERENCE = [
    "The river flows slowly through the old town before it reaches the sea.",
    "Farmers in the valley grow apples, pears and a little wheat every year.",
    "A small museum near the station shows how the bridge was built in 1890.",
    "Visitors often walk along the eastern bank when the weather is dry and warm.",
    "The library opens early on weekdays and closes at noon on Saturdays.",
    "Children learn to swim in the public pool during the long summer holidays.",
    "Most houses in the centre have red roofs and narrow wooden windows.",
    "The market sells fresh bread, cheese and fish from the nearby harbour.",
] * 20


@pytest.fixture(scope="module")
def piece_lm(tmp_path_factory):
    root = tmp_path_factory.mktemp("lm")
    (root / "ref.txt").write_text("\n".join(REFERENCE) + "\n")
    assert main(["lm", "train", "--input", str(root / "ref.txt"), "--output", str(root / "lm"), "--order", "3",
                 "--sentencepiece-vocab", "120"]) == 0
    return root / "lm"


def test_lm_train_writes_a_sentencepiece_model(piece_lm):
    meta = json.loads((piece_lm / "meta.json").read_text())
    assert meta["sp_model"] == "model.sp.model" and (piece_lm / "model.sp.model").is_file()
    assert "SentencePiece" in meta["normalization"]
    arpa_unigrams = NgramLM.from_arpa(piece_lm / "model.arpa").logp
    assert any(g[0].startswith("▁") for g in arpa_unigrams)  # the LM's vocabulary is pieces


def test_scores_pieces_as_bigscience(piece_lm):
    """ppl = 10^(-log10 p(<s> pieces </s>) / (pieces + 1)) over the normalized text, digits as 0."""
    scorer = load_scorer(piece_lm, "roots")
    assert isinstance(scorer, PieceScorer)
    text = "The market sells 42 fresh   loaves.\nThe river flows."
    pieces = scorer.pieces(text)
    assert "\n" not in pieces and "00" in pieces.replace("▁", "")  # newlines removed, digits -> 0
    words = pieces.split()
    expected = 10 ** (-scorer.lm.score(words) / (len(words) + 1))
    assert scorer.document_perplexity(text) == pytest.approx(expected)
    in_domain = scorer.document_perplexity("The library opens early on weekdays and closes at noon.")
    off_domain = scorer.document_perplexity("Quantum chromodynamics describes gluons binding quarks.")
    assert in_domain < off_domain


def test_edugp_layout_loads_bigscience_style_models(piece_lm, tmp_path):
    """A folder holding {lang}.arpa (or .arpa.bin) + {lang}.sp.model, as edugp/kenlm publishes them."""
    shutil.copy(piece_lm / "model.arpa", tmp_path / "en.arpa")
    shutil.copy(piece_lm / "model.sp.model", tmp_path / "en.sp.model")
    step = RootsPerplexity(lang="en", model=str(tmp_path), backend="roots", max_perplexity=1e9)
    doc = Document("The river flows slowly through the old town.", "d")
    assert step.filter(doc) is None
    own = round(load_scorer(piece_lm, "roots").document_perplexity(doc.text), 1)
    assert doc.metadata["perplexity"] == own
    with pytest.raises(UserError, match=r"fr\.arpa\.bin"):
        load_scorer(tmp_path, "roots", lang="fr")


def test_a_kenlm_binary_without_kenlm_is_one_clear_error(tmp_path, piece_lm):
    try:
        import kenlm  # noqa: F401
        pytest.skip("kenlm is installed: the binary would load")
    except ImportError:
        pass
    (tmp_path / "en.arpa.bin").write_bytes(b"mmap lm http://kheafield.com/code format version 5\x00" + bytes(64))
    shutil.copy(piece_lm / "model.sp.model", tmp_path / "en.sp.model")
    with pytest.raises(UserError, match="pip install kenlm"):
        load_scorer(tmp_path, "auto", lang="en")
