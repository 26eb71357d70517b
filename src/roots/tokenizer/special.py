"""The special token ids of a tokenizer, read in one place: objectives, export, generation and serving."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SENTENCE_ENDS = (".", "!", "?", "。")


@dataclass(frozen=True)
class SpecialIds:
    """EOS ends a document (and, as roots starts every document with it, stands in for a missing BOS and
    pad); the rest serve the encoder and span-corruption objectives."""

    eos: int | None
    bos: int | None = None
    pad: int | None = None
    cls: int | None = None
    sep: int | None = None
    mask: int | None = None
    sentinels: tuple[int, ...] = ()
    sentence_ends: tuple[int, ...] = ()  # tokens that end a sentence, where MLM pairs split

    @classmethod
    def from_tokenizer(cls, tok: Any) -> SpecialIds:
        """The ids of a roots `Tokenizer` (its roles, guessed from the usual names for external ones)."""
        eos = tok.eos_id
        ends = tuple(i for t in SENTENCE_ENDS if (i := tok.token_to_id(t)) is not None)
        return cls(eos=eos, bos=tok.bos_id if tok.bos_id is not None else eos,
                   pad=tok.pad_id if tok.pad_id is not None else eos, cls=tok.cls_id, sep=tok.sep_id,
                   mask=tok.mask_id, sentinels=tuple(tok.sentinel_ids), sentence_ends=ends)
