"""The four tokenizer kinds, each built and trained with HF tokenizers and saved as a tokenizer.json.

- bpe (GPT-2 / Llama 3): byte-level BPE, lossless on any UTF-8; EOS `<|endoftext|>`.
- wordpiece (BERT): BertNormalizer + BertPreTokenizer + WordPiece; [PAD] [UNK] [CLS] [SEP] [MASK] = 0..4,
  [SEP] separates documents, `[CLS] x [SEP]` post-processing for transformers users.
- unigram (T5): NFKC + Metaspace + Unigram; <pad> </s> <unk> = 0, 1, 2 and <extra_id_N> sentinels at the
  top of the vocabulary, `x </s>` post-processing.
- char (nanoGPT char-level): one token per character, ids = sorted characters, then `<|endoftext|>` and
  `<unk>`.

Each builder takes an iterator of texts and returns the trained `tokenizers.Tokenizer`; `ROLES` names what
each special token is for (eos, pad, unk, ...), which `Tokenizer` records in meta.json.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["bpe", "wordpiece", "unigram", "char"]
KINDS: tuple[str, ...] = ("bpe", "wordpiece", "unigram", "char")

# GPT-2's split is built into HF's ByteLevel pre-tokenizer; Llama 3 (= tiktoken cl100k) splits digits
# into groups of at most three and keeps punctuation runs apart, which compresses numbers and code better.
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# role -> token string, per kind; a role missing from a kind does not apply to it
ROLES: dict[str, dict[str, str]] = {
    "bpe": {"eos": "<|endoftext|>"},
    # BERT separates documents (and segments) with [SEP]
    "wordpiece": {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]",
                  "eos": "[SEP]"},
    "unigram": {"pad": "<pad>", "eos": "</s>", "unk": "<unk>"},
    "char": {"eos": "<|endoftext|>", "unk": "<unk>"},
}


@dataclass
class TrainOptions:
    """Knobs shared by the builders (each uses the ones that apply to its kind)."""

    vocab_size: int = 8192
    min_frequency: int = 2
    pattern: Literal["gpt2", "llama3"] = "gpt2"
    lowercase: bool = False
    sentinels: int = 100
    show_progress: bool = False


def sentinel_token(i: int) -> str:
    return f"<extra_id_{i}>"


def _special_tokens(kind: str) -> list[str]:
    return list(dict.fromkeys(ROLES[kind].values()))  # unique, in role order


def train_bpe(texts: Iterable[str], opt: TrainOptions) -> Any:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    if opt.pattern == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=opt.vocab_size, min_frequency=opt.min_frequency, show_progress=opt.show_progress,
        special_tokens=_special_tokens("bpe"),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes: nothing is ever unknown
    )
    tok.train_from_iterator(texts, trainer)
    return tok


def train_wordpiece(texts: Iterable[str], opt: TrainOptions) -> Any:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=opt.lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    trainer = trainers.WordPieceTrainer(
        vocab_size=opt.vocab_size, min_frequency=opt.min_frequency, show_progress=opt.show_progress,
        special_tokens=_special_tokens("wordpiece"), continuing_subword_prefix="##",
        # every kept character costs two entries (x and ##x): cap the alphabet, rarer ones become [UNK]
        limit_alphabet=max(opt.vocab_size // 8, 100),
    )
    tok.train_from_iterator(texts, trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    return tok


def train_unigram(texts: Iterable[str], opt: TrainOptions) -> Any:
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )

    tok = Tokenizer(models.Unigram())
    # T5's sentencepiece normalizer is NFKC plus collapsing runs of spaces
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(
        vocab_size=max(opt.vocab_size - opt.sentinels, 16), show_progress=opt.show_progress,
        special_tokens=_special_tokens("unigram"), unk_token="<unk>",
    )
    tok.train_from_iterator(texts, trainer)
    # T5 puts the sentinels at the top of the vocabulary, <extra_id_0> last
    tok.add_special_tokens([sentinel_token(i) for i in reversed(range(opt.sentinels))])
    eos = tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B:1 </s>:1", special_tokens=[("</s>", eos)]
    )
    return tok


def train_char(texts: Iterable[str], opt: TrainOptions) -> Any:
    """nanoGPT's char-level vocabulary (ids = sorted characters) as an HF WordLevel tokenizer.

    Every character of the corpus is kept unless that exceeds `vocab_size`, in which case the rarest
    ones map to <unk>. The special tokens come after the characters so the character ids are exactly
    nanoGPT's `stoi`.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(text)
    specials = _special_tokens("char")
    keep = max(opt.vocab_size - len(specials), 1)
    chars = sorted(c for c, _ in counts.most_common(keep))
    vocab = {c: i for i, c in enumerate(chars)}
    for s in specials:
        vocab[s] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.FixedLength(length=1)  # every character is its own word
    tok.decoder = decoders.Fuse()  # concatenate, no spaces between tokens
    tok.add_special_tokens(specials)
    return tok


BUILDERS = {"bpe": train_bpe, "wordpiece": train_wordpiece, "unigram": train_unigram, "char": train_char}
