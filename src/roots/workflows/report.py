"""The run report people want to look at: one self-contained HTML page with PNG figures beside it.

Sections are plain data (title, paragraphs, tables, figures, preformatted samples), so quickstart and
ablations build the same kind of page; figures are PNG files referenced by relative path.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roots.common.io import atomic_write

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#1d2733;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #dde3ea;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}td,th{border:1px solid #d5dbe3;padding:.3em .7em;
text-align:left}th{background:#f3f6f9}td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #e5e9ef;margin:.4em 0}pre{background:#f6f8fa;padding:.7em;white-space:pre-wrap;
border-radius:4px;font-size:.88em}.muted{color:#66727f;font-size:.9em}
"""


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[tuple[list[str], list[list[Any]]]] = field(default_factory=list)  # (header, rows)
    figures: list[tuple[Path, str]] = field(default_factory=list)  # (png path, caption)
    samples: list[tuple[str, str]] = field(default_factory=list)  # (prompt, continuation)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f'<td class="num">{value:.4f}</td>'
    if isinstance(value, int):
        return f'<td class="num">{value:,}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def write_html_report(path: Path, title: str, sections: list[Section], subtitle: str = "") -> Path:
    """Write the page; figure paths are made relative to the page's folder (they must lie under it)."""
    path = Path(path)
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
           f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    if subtitle:
        out.append(f"<p class='muted'>{html.escape(subtitle)}</p>")
    for s in sections:
        out.append(f"<h2>{html.escape(s.title)}</h2>")
        out.extend(f"<p>{html.escape(p)}</p>" for p in s.paragraphs)
        for header, rows in s.tables:
            out.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
            out.extend("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
            out.append("</table>")
        for fig, caption in s.figures:
            rel = os.path.relpath(fig, path.parent)
            out.append(f"<figure><img src='{html.escape(rel)}' alt='{html.escape(caption)}'>"
                       f"<figcaption class='muted'>{html.escape(caption)}</figcaption></figure>")
        for prompt, continuation in s.samples:
            out.append(f"<pre><b>{html.escape(prompt)}</b>{html.escape(continuation)}</pre>")
    out.append("</body></html>\n")
    with atomic_write(path) as f:
        f.write("\n".join(out))
    return path
