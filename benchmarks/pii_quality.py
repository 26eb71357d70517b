"""PII detection quality: roots' `pii` step vs datatrove's PIIFormatter regexes, on the same labelled text.

Gold: NeMo-Curator's tagged PII examples and presidio-research's generated sentences (emails and IP
addresses; their phones, card numbers, SSNs, dates and addresses are negatives), plus a hand-made set
of look-alikes that must be kept (dates, version numbers, times, numbers). Scored on exact spans, per
kind and micro-averaged over EMAIL + IP_ADDRESS (the kinds both tools cover); also docs/s of redaction.

    python benchmarks/pii_quality.py [--data ../shared/data] [--quick]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

from roots.data.document import Document
from roots.data.pii import RedactPII, find_pii

KINDS = ("EMAIL", "IP_ADDRESS")
NEMO_TAGS = {"email": "EMAIL", "ip_address": "IP_ADDRESS"}
PRESIDIO_TAGS = {"EMAIL_ADDRESS": "EMAIL", "IP_ADDRESS": "IP_ADDRESS"}
LOOKALIKES = [  # (text, gold) hand-made: what must and must not be taken for PII
    ("Released on 2021.10.05 and 05.10.2021.", []),
    ("Upgrade to version 1.2.3.4 or v2.0.1.3 today.", []),
    ("The meeting is at 12:30:45, room 4.2.", []),
    ("Not an address: 999.1.1.1, 01.02.03.04.", []),
    ("Server at 8.8.8.8 answered.", [(10, 17, "IP_ADDRESS")]),
    ("IPv6 2001:db8::ff00:42:8329 is up.", [(5, 27, "IP_ADDRESS")]),
    ("Write to jane.doe@uni-example.edu.", [(9, 33, "EMAIL")]),
    ("Ask @someone_else on the forum.", []),
]


def nemo(path: Path) -> list[tuple[str, list]]:
    out = []
    for record in map(json.loads, path.read_text().splitlines()):
        for line in record["content"].splitlines():
            text, gold, pos = "", [], 0
            for m in re.finditer(r"<(\w+)>(.*?)</\1>", line):
                text += line[pos:m.start()]
                if m.group(1) in NEMO_TAGS:
                    gold.append((len(text), len(text) + len(m.group(2)), NEMO_TAGS[m.group(1)]))
                text += m.group(2)
                pos = m.end()
            if (text := text + line[pos:]).strip():
                out.append((text, gold))
    return out


def presidio(path: Path) -> list[tuple[str, list]]:
    return [(ex["full_text"], [(s["start_position"], s["end_position"], PRESIDIO_TAGS[s["entity_type"]])
                               for s in ex["spans"] if s["entity_type"] in PRESIDIO_TAGS])
            for ex in json.loads(path.read_text())]


def roots_spans(text: str) -> set:
    return {s for s in find_pii(text) if s[2] in KINDS}


def datatrove_detector():
    """Spans that datatrove's PIIFormatter would replace (its regexes and IP validator, all IPs)."""
    from datatrove.pipeline.formatters.pii import PIIFormatter

    fmt = PIIFormatter(only_remove_public_ips=False)

    def spans(text: str) -> set:
        found = {(*m.span(), "EMAIL") for m in fmt.emails_replacer.regex.finditer(text)}
        found |= {(*m.span(), "IP_ADDRESS") for m in fmt.ip_replacer.regex.finditer(text)
                  if fmt.ip_replacer.validator(m.group())}
        return found

    return spans, fmt.format


def evaluate(detect, examples) -> dict[str, dict[str, float]]:
    counts = {k: [0, 0, 0] for k in (*KINDS, "micro")}
    for text, gold in examples:
        found, gold = detect(text), set(gold)
        for kind in KINDS:
            g, f = {x for x in gold if x[2] == kind}, {x for x in found if x[2] == kind}
            for key in (kind, "micro"):
                counts[key][0] += len(g & f)
                counts[key][1] += len(f - g)
                counts[key][2] += len(g - f)
    out = {}
    for key, (tp, fp, fn) in counts.items():
        p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        out[key] = {"precision": p, "recall": r, "f1": 2 * p * r / max(p + r, 1e-12), "tp": tp, "fp": fp, "fn": fn}
    return out


def throughput(fn, texts: list[str], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        for t in texts:
            fn(t)
    return repeat * len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--quick", action="store_true", help="fewer timing repeats")
    args = parser.parse_args()
    pii_dir = args.data / "filtering" / "pii"
    examples = (nemo(pii_dir / "nemo_curator_pii_examples.jsonl")
                + presidio(pii_dir / "presidio_generated_small.json") + LOOKALIKES)
    n_gold = sum(len(g) for _, g in examples)
    print(f"{len(examples)} texts, {n_gold} gold EMAIL/IP_ADDRESS spans")

    step = RedactPII()
    tools = {"roots": (roots_spans, lambda t: step.process(Document(t, "x")))}
    try:
        tools["datatrove"] = datatrove_detector()
    except ImportError as e:
        print(f"datatrove not importable ({e}); anchor skipped")
    texts = [t for t, _ in examples]
    repeat = 20 if args.quick else 200
    results = {}
    for name, (detect, redact) in tools.items():
        results[name] = evaluate(detect, examples)
        for kind, m in results[name].items():
            print(f"{name:9s} {kind:10s} precision {m['precision']:.3f} recall {m['recall']:.3f} "
                  f"f1 {m['f1']:.3f} (tp {m['tp']}, fp {m['fp']}, fn {m['fn']})")
        print(f"{name:9s} redaction {throughput(redact, texts, repeat):,.0f} texts/s "
              f"(2 shared cores, under contention)")
    print(f"RESULT pii_micro_f1 {results['roots']['micro']['f1']:.3f} goal 0.95")


if __name__ == "__main__":
    main()
