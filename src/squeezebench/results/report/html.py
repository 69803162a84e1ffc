"""The report as one self-contained HTML page: CSS and plotly.js inline, or PNGs as base64."""

from __future__ import annotations

import base64
import datetime as dt
import html
from collections.abc import Sequence
from typing import Any

from squeezebench.results.report.model import Report
from squeezebench.results.report.search_render import section_html
from squeezebench.results.report.table import (
    LEGEND,
    Cell,
    Flag,
    aggregation_note,
    cells,
    columns,
    flags,
    report_title,
    run_lines,
)

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1400px; padding: 0 1em; color: #1d1d1f; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d0d4da; padding: 0.3em 0.55em; text-align: right; vertical-align: top; }
th { background: #f2f4f7; }
td:nth-child(1), td:nth-child(2), th:nth-child(1) { text-align: left; }
tr.baseline td:first-child { font-weight: 600; }
tr.error td { background: #fde8e8; } tr.skipped td { background: #f1f1f1; color: #666; }
tr.partial td { background: #fff6e0; }
td.flag { color: #a40000; text-align: left; max-width: 32em; }
tr.skipped td.flag { color: #555; }
td.pareto { font-weight: 600; color: #0b5394; }
td.noisy { background: #fff3c4; }
ul.flags li { margin: 0.15em 0; } .legend, .meta { color: #555; font-size: 0.92em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #e3e6ea; }
div.plot { width: 100%; border: 1px solid #e3e6ea; }
figcaption { color: #555; font-size: 0.9em; }
pre.answer { background: #f6f8fa; padding: 0.8em 1em; border: 1px solid #e3e6ea;
             white-space: pre-wrap; }
"""


def _html_cell(cell: Cell, tag: str = "td") -> str:
    attributes = ""
    if cell.classes:
        attributes += f' class="{" ".join(cell.classes)}"'
    if cell.title:
        attributes += f' title="{html.escape(cell.title)}"'
    return f"<{tag}{attributes}>{html.escape(cell.text)}</{tag}>"


def _flag_list(flagged: Sequence[Flag]) -> list[str]:
    escape = html.escape
    parts = ['<p><strong>Flagged</strong></p><ul class="flags">']
    for flag in flagged:
        detail = (
            f"<details><summary>full reason</summary><pre>{escape(flag.detail)}</pre></details>"
            if flag.detail
            else ""
        )
        parts.append(f"<li>{escape(flag.text)}{detail}</li>")
    parts.append("</ul>")
    return parts


def _plots(group: Any, images: Sequence[Any], figures: Sequence[Any]) -> list[str]:
    """The group's interactive figures, else its PNGs (base64)."""
    escape = html.escape
    parts = []
    chosen = [f for f in figures if f.group == group.slug]
    for index, figure in enumerate(chosen):
        parts.append(
            f"<figure>{figure.to_html(f'plot-{group.slug}-{index}')}"
            f"<figcaption>{escape(figure.caption)}</figcaption></figure>"
        )
    if chosen:
        return parts
    for image in images:
        if image.group != group.slug:
            continue
        data = base64.b64encode(image.png).decode("ascii")
        parts.append(
            f'<figure><img alt="{escape(image.alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{escape(image.caption)}</figcaption></figure>"
        )
    return parts


def render_html(
    report: Report,
    images: Sequence[Any] = (),
    note: str = "",
    figures: Sequence[Any] = (),
    searches: Sequence[Any] = (),
) -> str:
    """The report as one self-contained HTML page: CSS and scripts inline, nothing fetched.

    ``figures`` (:class:`~squeezebench.results.plot.interactive.InteractiveFigure`) are drawn
    by plotly.js, inlined once in the page; without them the ``images`` (PNG) are embedded.
    ``searches`` (:class:`~squeezebench.results.report.search_data.SearchSection`) come
    first: each search's answer, progress and sensitivity.
    """
    escape = html.escape
    title = f"squeezebench report: {report_title(report)}"
    script = ""
    if figures:
        from squeezebench.results.plot.interactive import plotly_js

        script = f"<script>{plotly_js()}</script>"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style>{script}</head><body>",
        f"<h1>{escape(title)}</h1>",
        '<ul class="meta">' + "".join(f"<li>{escape(x)}</li>" for x in run_lines(report)),
        f"<li>generated {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}</li></ul>",
    ]
    if note:
        parts.append(f'<p class="legend">{escape(note)}</p>')
    for section in searches:
        parts += section_html(section, images, figures)
    for group in report.groups:
        parts.append(f'<h2 id="{escape(group.slug)}">{escape(group.title)}</h2>')
        parts.append("<table><thead><tr>")
        parts += [f"<th>{escape(c)}</th>" for c in columns(group)]
        parts.append("</tr></thead><tbody>")
        for entry in group.variants:
            classes = [entry.status] + (["baseline"] if entry.is_baseline else [])
            parts.append(f'<tr class="{" ".join(classes)}">')
            parts += [_html_cell(cell) for cell in cells(group, entry)]
            parts.append("</tr>")
        parts.append("</tbody></table>")
        flagged = flags(group)
        if flagged:
            parts += _flag_list(flagged)
        parts += _plots(group, images, figures)
    parts.append(f'<p class="legend">{escape(LEGEND)}</p>')
    aggregation = aggregation_note(report)
    if aggregation:
        parts.append(f'<p class="legend">{escape(aggregation)}</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
