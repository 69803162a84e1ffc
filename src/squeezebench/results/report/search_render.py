"""A search's section of the report, in Markdown and HTML, and its images.

The section comes before the per-target tables: what the search was asked, what it found
(the answer, in the words the terminal printed), its progress plot, and the sensitivity
table with its plot when the search ran a sensitivity pass.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from squeezebench.results.formatting import md_escape
from squeezebench.results.report.search_data import SearchSection, sensitivity_rows


def search_images(sections: Sequence[SearchSection], directory: Path, stem: str) -> list[Any]:
    """Draw each section's PNGs next to the report (progress, sensitivity)."""
    from squeezebench.results.plot.render import PlotImage
    from squeezebench.results.plot.search_plots import (
        PROGRESS_CAPTION,
        SENSITIVITY_CAPTION,
        progress_png,
        sensitivity_png,
    )

    images = []
    for section in sections:
        drawn = [
            (
                f"progress-{p.column}",
                progress_png(p, f"search progress: {p.text}"),
                PROGRESS_CAPTION,
            )
            for p in section.progress
            if p.points
        ]
        if section.sensitivity and section.sensitivity.get("entries"):
            drawn.append(("sensitivity", sensitivity_png(section.sensitivity), SENSITIVITY_CAPTION))
        for kind, png, caption in drawn:
            path = directory / f"{stem}-{section.slug}-{kind}.png"
            path.write_bytes(png)
            images.append(
                PlotImage(section.slug, kind, path, png, f"{kind}, {section.heading}", caption)
            )
    return images


def search_figures(sections: Sequence[SearchSection]) -> list[Any]:
    """Each section's interactive progress figures (plotly.js)."""
    from squeezebench.results.plot.search_plots import progress_figure

    return [progress_figure(s, p) for s in sections for p in s.progress if p.points]


def section_markdown(section: SearchSection, images: Sequence[Any]) -> list[str]:
    """The section as Markdown lines."""
    lines = [f"## {md_escape(section.heading)}", "", "```", *section.lines, "```", ""]
    lines += [
        f"![{md_escape(image.alt)}]({image.path.name})"
        for image in images
        if image.group == section.slug and image.kind.startswith("progress")
    ]
    lines.append("")
    if section.sensitivity:
        header, rows = sensitivity_rows(section.sensitivity)
        lines += [f"### Sensitivity ({md_escape(section.sensitivity.get('constraint', ''))})", ""]
        lines.append("| " + " | ".join(header) + " |")
        lines.append(
            "| " + " | ".join(":--" if i < 2 else "--:" for i in range(len(header))) + " |"
        )
        lines += ["| " + " | ".join(md_escape(cell) for cell in row) + " |" for row in rows]
        lines += [""] + [f"- {md_escape(note)}" for note in section.sensitivity.get("notes", [])]
        lines += [
            f"\n![{md_escape(image.alt)}]({image.path.name})"
            for image in images
            if image.group == section.slug and image.kind == "sensitivity"
        ]
        lines.append("")
    return lines


def section_html(
    section: SearchSection, images: Sequence[Any], figures: Sequence[Any]
) -> list[str]:
    """The section as HTML: interactive progress figures (else PNGs), the sensitivity table."""
    escape = html.escape
    parts = [
        f'<h2 id="{escape(section.slug)}">{escape(section.heading)}</h2>',
        f'<pre class="answer">{escape(chr(10).join(section.lines))}</pre>',
    ]
    chosen = [f for f in figures if f.group == section.slug]
    for index, figure in enumerate(chosen):
        parts.append(
            f"<figure>{figure.to_html(f'plot-{section.slug}-{index}')}"
            f"<figcaption>{escape(figure.caption)}</figcaption></figure>"
        )
    if not chosen:  # no plotly: the PNGs
        parts += [
            _img(image)
            for image in images
            if image.group == section.slug and image.kind.startswith("progress")
        ]
    if section.sensitivity:
        header, rows = sensitivity_rows(section.sensitivity)
        parts.append(f"<h3>Sensitivity ({escape(section.sensitivity.get('constraint', ''))})</h3>")
        parts.append("<table><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in header))
        parts.append("</tr></thead><tbody>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>")
        parts.append("</tbody></table>")
        notes = section.sensitivity.get("notes", [])
        if notes:
            parts.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>")
        parts += [_img(i) for i in images if i.group == section.slug and i.kind == "sensitivity"]
    return parts


def _img(image: Any) -> str:
    data = base64.b64encode(image.png).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(image.alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(image.caption)}</figcaption></figure>"
    )
