"""Deduplication and decontamination steps (all `needs_corpus`): exact, URL, MinHash, SimHash,
exact substring (suffix array) and evaluation-set decontamination. engine.py holds the shared
out-of-core machinery; text.py the shared shingling."""
