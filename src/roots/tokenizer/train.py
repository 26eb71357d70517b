"""`roots tokenizer train`: learn a vocabulary from a corpus and save it as a tokenizer folder."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from roots.common.records import write_run_record
from roots.tokenizer.tokenizer import Tokenizer


@dataclass
class TokenizerTrainConfig:
    input: str = field(metadata={"help": "curated corpus folder, corpus shard, or .txt files / folder"})
    output: str = field(metadata={"help": "tokenizer folder to write (tokenizer.json + meta.json)"})
    kind: Literal["bpe", "wordpiece", "unigram", "char"] = field(
        default="bpe", metadata={"help": "bpe: byte-level GPT-2 style; wordpiece: BERT; unigram: T5; "
                                         "char: one token per character (nanoGPT ids)"})
    vocab_size: int = field(default=8192, metadata={"help": "vocabulary size, special tokens included"})
    min_frequency: int = field(default=2, metadata={"help": "bpe/wordpiece: minimum pair frequency to merge"})
    pattern: Literal["gpt2", "llama3"] = field(
        default="gpt2", metadata={"help": "bpe pre-tokenization regex (llama3 splits digits in threes)"})
    lowercase: bool = field(default=False, metadata={"help": "wordpiece: lowercase + strip accents (uncased)"})
    sentinels: int = field(default=100, metadata={"help": "unigram: number of <extra_id_N> sentinel tokens"})
    max_bytes: int = field(default=0, metadata={"help": "train on about this many bytes of text (0 = all)"})


def run(config: TokenizerTrainConfig) -> int:
    """Train, save, record the run and print a one-line summary."""
    start = time.time()
    tok = Tokenizer.train(config.input, config.kind, config.vocab_size, min_frequency=config.min_frequency,
                          pattern=config.pattern, lowercase=config.lowercase, sentinels=config.sentinels,
                          max_bytes=config.max_bytes, show_progress=True)
    out = tok.save(config.output)
    training = tok.meta["training"]
    write_run_record(out, "tokenizer train", config, seconds=round(time.time() - start, 2),
                     documents=training["documents"], skipped=training["skipped"])
    specials = ", ".join(f"{role}={info['id']}" for role, info in tok.meta["special_tokens"].items())
    skipped = f"; skipped {training['skipped']}" if training["skipped"] else ""
    print(f"trained a {config.kind} tokenizer ({tok.vocab_size} tokens; {specials}) on "
          f"{training['documents']} documents ({training['bytes'] / 1e6:.1f} MB) -> {out}/tokenizer.json"
          f"{skipped}")
    return 0
