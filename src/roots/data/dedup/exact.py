"""Exact document dedup (hash of the normalized text) and URL dedup (first occurrence of a URL wins)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from roots.data.dedup.engine import KeyBatch, KeyedDedup
from roots.data.dedup.text import Normalization, hash_str, words
from roots.data.document import Document


@dataclass
class ExactDedup(KeyedDedup):
    """Keep the first of documents whose normalized texts are equal (whitespace never matters).

    normalization "none" compares the exact words (ROOTS' MD5 exact dedup), "lower" ignores case,
    "full" also punctuation, accents and digits. Documents without words have no key and are kept
    (dropping empty documents is a filter's job).
    """

    name = "exact_dedup"
    drop_reason = "exact_duplicate"
    normalization: Normalization = "none"
    cluster_ids: bool = False

    def doc_keys(self, docs: list[Document]) -> KeyBatch:
        texts = [" ".join(words(d.text, self.normalization)) for d in docs]
        keys = np.fromiter((hash_str(t) for t in texts), dtype=np.uint64, count=len(texts))
        return KeyBatch(keys[None, :], np.array([bool(t) for t in texts]))


def normalize_url(url: str) -> str:
    """The URL as a key: surrounding space and the #fragment (same page) ignored, scheme and host lowercased."""
    url = url.strip().split("#", 1)[0]
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{slash}{path}"


@dataclass
class UrlDedup(KeyedDedup):
    """Keep the first document of each URL (`metadata["url"]`); documents without a URL are kept."""

    name = "url_dedup"
    drop_reason = "url_duplicate"
    cluster_ids: bool = False

    def doc_keys(self, docs: list[Document]) -> KeyBatch:
        urls = [d.metadata.get("url") for d in docs]
        urls = [normalize_url(u) if isinstance(u, str) else "" for u in urls]
        keys = np.fromiter((hash_str(u) for u in urls), dtype=np.uint64, count=len(urls))
        return KeyBatch(keys[None, :], np.array([bool(u) for u in urls]))


def exact_dedup(texts: list[str], normalization: Normalization = "none") -> list[int]:
    """Indices of the texts kept by exact dedup (in-memory, same code as the step)."""
    return ExactDedup(normalization=normalization).dedup_texts(texts)


def url_dedup(urls: list[str | None]) -> list[int]:
    """Indices of the first occurrence of each URL (None = no URL, always kept)."""
    docs = [Document("", str(i), {"url": u}) for i, u in enumerate(urls)]
    labels = UrlDedup().cluster_docs(docs)
    return np.flatnonzero(labels == np.arange(len(labels))).tolist()
