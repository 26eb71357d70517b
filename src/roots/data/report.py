"""The funnel report of a curation run: OUT/stats.json -> OUT/report.html + OUT/funnel.png.

The figure has the shape of RefinedWeb's funnel (Penedo et al. 2023, Fig. 2): one bar per step with
the share of the input's documents and characters still kept after it. The HTML page adds the drop
counts by reason per step and the example dropped documents that StepStats keeps for each reason.
It is self-contained: the PNG is embedded (base64) and also written next to it.
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roots.common.errors import UserError
from roots.common.io import atomic_write


@dataclass
class FunnelRow:
    """One bar of the funnel: what is left after `name`, as a share of the input."""

    name: str
    docs: int
    chars: int
    docs_pct: float
    chars_pct: float


@dataclass
class ReportConfig:
    output: Path = field(metadata={"help": "a curation output folder holding stats.json"})


def load_stats(out_dir: Path) -> dict[str, Any]:
    path = Path(out_dir) / "stats.json"
    if not path.is_file():
        raise UserError(f"{path} not found: `roots report` reads the stats.json a curation run writes")
    try:
        stats = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UserError(f"{path} is not valid JSON ({e}); rerun the curation to rewrite it") from e
    if not isinstance(stats, dict) or not isinstance(stats.get("steps"), list):
        raise UserError(f"{path}: expected an object with a 'steps' list")
    return stats


def funnel(stats: dict[str, Any]) -> list[FunnelRow]:
    """The input row, then one row per step; shares are of the input (reader documents, first step's
    characters, since readers do not count characters)."""
    steps = stats["steps"]
    docs0 = (stats.get("reader") or {}).get("docs") or (steps[0]["docs_in"] if steps else 0)
    chars0 = steps[0]["chars_in"] if steps else (stats.get("output") or {}).get("chars", 0)

    def pct(x: int, total: int) -> float:
        return 100.0 * x / total if total else 0.0

    rows = [FunnelRow("input", docs0, chars0, 100.0 if docs0 else 0.0, 100.0 if chars0 else 0.0)]
    for s in steps:
        label = f"{s['name']} (NOT APPLIED)" if s.get("not_applied") else s["name"]
        rows.append(FunnelRow(label, s["docs_out"], s["chars_out"], pct(s["docs_out"], docs0),
                              pct(s["chars_out"], chars0)))
    return rows


def plot_funnel(rows: list[FunnelRow], title: str) -> bytes:
    """PNG bytes of the funnel: per step, two bars (% documents, % characters kept)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(rows) + 2), 4.2), dpi=110)
    try:
        bars_docs = ax.bar(x - 0.2, [r.docs_pct for r in rows], 0.4, label="% documents kept", color="#3b6ea8")
        ax.bar(x + 0.2, [r.chars_pct for r in rows], 0.4, label="% characters kept", color="#e0a040")
        ax.bar_label(bars_docs, fmt="%.1f", fontsize=7, padding=2)
        ax.set_xticks(x, [r.name for r in rows], rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 110)
        ax.set_ylabel("% of the input still kept")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8, loc="upper right")
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    return buf.getvalue()


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(stats: dict[str, Any], rows: list[FunnelRow], png: bytes) -> str:
    e = html.escape
    name = str(stats.get("recipe", "curation"))
    parts = [f"<h1>Curation report: {e(name)}</h1>"]
    reader = stats.get("reader") or {}
    output = stats.get("output") or {}
    parts.append(f"<p>{e(str(stats.get('inputs', '?')))} input file(s), {e(str(reader.get('docs', '?')))} "
                 f"documents read, {e(str(output.get('docs', '?')))} documents "
                 f"({e(str(output.get('chars', '?')))} characters) written to "
                 f"{len(output.get('shards') or [])} shard(s) in {e(str(stats.get('time_s', '?')))} s.</p>")
    for s in stats["steps"]:
        if s.get("not_applied"):
            parts.append(f"<p class=err><b>NOT APPLIED: {e(s['name'])}</b> kept every document without checking "
                         f"it: {e(s['not_applied'])}</p>")
    if reader.get("skipped"):
        parts.append("<h2>Reader skips</h2>" + _table(["reason", "documents"], list(reader["skipped"].items())))
    parts.append('<h2>Funnel</h2><img alt="funnel" src="data:image/png;base64,'
                 + base64.b64encode(png).decode() + '">')
    parts.append(_table(["step", "documents kept", "% documents", "characters kept", "% characters"],
                        [[r.name, r.docs, f"{r.docs_pct:.2f}", r.chars, f"{r.chars_pct:.2f}"] for r in rows]))
    by_lang = stats.get("by_lang") or {}
    if by_lang:
        parts.append("<h2>By language</h2>" + _table(
            ["language", "identified", "kept", "% kept", "dropped most by"],
            [[lang, r["identified"], r["kept"], f"{100 * r['kept'] / r['identified']:.1f}" if r["identified"] else "-",
              max(r["dropped"], key=r["dropped"].get) if r["dropped"] else "-"] for lang, r in by_lang.items()]))
    parts.append("<h2>Steps</h2>")
    for s in stats["steps"]:
        parts.append(f"<h3>{e(s['name'])}{' (NOT APPLIED)' if s.get('not_applied') else ''}</h3>")
        speed = "" if s.get("docs_per_s") is None else f", {s['docs_per_s']} docs/s"
        parts.append(f"<p>{s['docs_in']} documents in, {s['docs_out']} out; {s.get('time_s', 0)} s{speed}</p>")
        dropped = s.get("dropped") or {}
        if dropped:
            parts.append(_table(["reason", "dropped", "% of step input"],
                                [[r, n, f"{100 * n / s['docs_in']:.2f}" if s["docs_in"] else "-"]
                                 for r, n in sorted(dropped.items(), key=lambda kv: -kv[1])]))
        for err in s.get("errors") or []:
            parts.append(f"<p class=err>error: {e(err)}</p>")
        for reason, examples in (s.get("examples") or {}).items():
            items = "".join(f"<li><b>{e(str(ex.get('id')))}</b> {e(str(ex.get('url') or ''))}"
                            f"<pre>{e(str(ex.get('text', '')))}</pre></li>" for ex in examples)
            parts.append(f"<details><summary>examples dropped as {e(reason)}</summary><ul>{items}</ul>"
                         "</details>")
    style = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse;"
             "margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
             "td:first-child{text-align:left}pre{white-space:pre-wrap;background:#f6f6f6;padding:4px}"
             ".err{color:#a00}img{max-width:100%}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>roots report: {e(name)}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")


def write_report(out_dir: Path) -> Path:
    """(Re)write OUT/report.html and OUT/funnel.png from OUT/stats.json; returns the HTML path."""
    out_dir = Path(out_dir)
    stats = load_stats(out_dir)
    rows = funnel(stats)
    png = plot_funnel(rows, f"{stats.get('recipe', 'curation')}: share of the input kept after each step")
    with atomic_write(out_dir / "funnel.png", "wb") as f:
        f.write(png)
    path = out_dir / "report.html"
    with atomic_write(path) as f:
        f.write(render_html(stats, rows, png))
    return path


def run(config: ReportConfig) -> int:
    """`roots report --output OUT`."""
    path = write_report(config.output)
    print(f"report: wrote {path} and {path.parent / 'funnel.png'}")
    return 0
