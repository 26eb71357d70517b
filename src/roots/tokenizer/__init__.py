"""Tokenizers (HF tokenizers underneath) and token shards.

`Tokenizer` (tokenizer.py) trains, saves, loads and encodes; kinds.py builds the four kinds (byte-level
BPE, WordPiece, Unigram, char-level); shards.py encodes a corpus into memory-mappable token shards.
"""
