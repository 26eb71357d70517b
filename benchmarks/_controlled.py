"""A controlled corpus with a known share of junk, for benchmarks that must see real effects.

Clean documents are real text: WikiText-2 valid paragraphs, tinyshakespeare passages (../shared/data/lm)
and the Python documentation text the quickstart uses (pydoc topics + stdlib docstrings). Junk is made
from real text too, in the kinds a crawl holds: navigation and link boilerplate (anchor texts of the
crawl's pages), script/style code of those pages, keyword spam (one clean sentence repeated) and word
salad (a clean document's words shuffled). Every document carries `junk: true/false`.
"""

from __future__ import annotations

import gzip
import html
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"
_BLANK = re.compile(r"\n[ \t]*\n")


def _chunks(text: str, min_chars: int, max_chars: int) -> Iterator[str]:
    """Consecutive paragraphs joined into documents of min_chars..max_chars characters."""
    buf: list[str] = []
    size = 0
    for p in _BLANK.split(text):
        p = p.strip()
        if not p or p.startswith("= "):  # WikiText headings
            continue
        buf.append(p)
        size += len(p)
        if size >= min_chars:
            yield "\n\n".join(buf)[:max_chars]
            buf, size = [], 0


def clean_documents(data: Path, per_source: int, seed: int = 0) -> list[dict]:
    """`per_source` documents from each of WikiText-2, tinyshakespeare and the Python docs, shuffled."""
    import sys

    sys.path.insert(0, str(REPO / "src"))
    from roots.workflows.quickstart import pydoc_topics, stdlib_docstrings

    docs: list[dict] = []
    with gzip.open(data / "lm" / "wikitext-2" / "valid.txt.gz", "rt", encoding="utf-8") as f:
        wiki = list(_chunks(f.read(), 800, 3000))
    with gzip.open(data / "lm" / "tinyshakespeare_input.txt.gz", "rt", encoding="utf-8") as f:
        shakespeare = list(_chunks(f.read(), 800, 3000))
    python = [r["text"][:3000] for r in [*pydoc_topics(), *stdlib_docstrings()] if len(r["text"]) >= 800]
    rng = random.Random(seed)
    for name, texts in (("wikitext", wiki), ("shakespeare", shakespeare), ("python_docs", python)):
        rng.shuffle(texts)
        docs += [{"text": t, "source": name, "junk": False} for t in texts[:per_source]]
    rng.shuffle(docs)
    return docs


def crawl_boilerplate(data: Path) -> tuple[list[str], list[str]]:
    """(anchor texts, script/style code) of the HTML pages in ../shared/data/web/warc."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    anchors, code = [], []
    for path in sorted((data / "web" / "warc").glob("*.warc.gz")):
        with open(path, "rb") as f:
            for record in ArchiveIterator(f, record_types=WarcRecordType.response):
                page = record.reader.read().decode("utf-8", errors="replace")
                anchors += [html.unescape(re.sub(r"<[^>]+>", "", a)).strip()
                            for a in re.findall(r"<a\b[^>]*>(.*?)</a>", page, flags=re.S | re.I)]
                code += [c.strip() for c in re.findall(r"<(?:script|style)\b[^>]*>(.*?)</(?:script|style)>", page,
                                                       flags=re.S | re.I) if len(c.strip()) > 200]
    anchors = [a for a in anchors if 0 < len(a) < 60]
    return anchors, code


def junk_documents(n: int, clean: list[dict], anchors: list[str], code: list[str], seed: int = 0) -> list[dict]:
    """`n` junk documents of four kinds, round-robin."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = ("boilerplate", "code", "spam", "word_salad")[i % 4]
        source = rng.choice(clean)["text"]
        if kind == "boilerplate":
            text = "\n".join(" | ".join(rng.choice(anchors) for _ in range(rng.randint(3, 8))) for _ in range(15))
        elif kind == "code":
            text = rng.choice(code)[:3000]
        elif kind == "spam":
            sentence = rng.choice([s for s in re.split(r"(?<=[.!?])\s+", source) if len(s) > 20] or [source[:80]])
            text = " ".join([sentence] * rng.randint(10, 30))[:3000]
        else:
            words = source.split()
            rng.shuffle(words)
            text = " ".join(words)
        out.append({"text": text, "source": kind, "junk": True})
    return out


def controlled_corpus(data: Path, n_docs: int, junk_share: float, seed: int = 0, clean: list[dict] | None = None,
                      boilerplate: tuple[list[str], list[str]] | None = None) -> list[dict]:
    """`n_docs` documents, `junk_share` of them junk, shuffled (clean ones taken from `clean` when given)."""
    clean = clean if clean is not None else clean_documents(data, n_docs, seed)
    anchors, code = boilerplate or crawl_boilerplate(data)
    n_junk = round(n_docs * junk_share)
    if len(clean) < n_docs - n_junk:
        raise SystemExit(f"only {len(clean)} clean documents for {n_docs - n_junk} asked")
    docs = clean[: n_docs - n_junk] + junk_documents(n_junk, clean, anchors, code, seed)
    random.Random(seed).shuffle(docs)
    return docs


def write_jsonl(path: Path, docs: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for i, d in enumerate(docs):
            f.write(json.dumps({"id": f"{path.stem}-{i}", "text": d["text"], "source": d["source"],
                                "junk": d["junk"]}, ensure_ascii=False) + "\n")
    return path
