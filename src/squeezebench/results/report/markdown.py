"""The report as Markdown; plots are linked as the PNG files written next to it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from squeezebench.results.formatting import md_escape
from squeezebench.results.report import table
from squeezebench.results.report.model import Report
from squeezebench.results.report.search_render import section_markdown


def render_markdown(
    report: Report, images: Sequence[Any] = (), note: str = "", searches: Sequence[Any] = ()
) -> str:
    """The report as Markdown; ``images`` (PNG files next to it) are linked by file name;
    ``searches`` (each search's answer, progress and sensitivity) come first."""
    lines = [f"# squeezebench report: {md_escape(table.report_title(report))}", ""]
    lines += [f"- {md_escape(line)}" for line in table.run_lines(report)]
    lines.append("")
    if note:
        lines += [f"> {note}", ""]
    aggregation = table.aggregation_note(report)
    for section in searches:
        lines += section_markdown(section, images)
    for group in report.groups:
        lines += [f"## {md_escape(group.title)}", ""]
        header = table.columns(group)
        lines.append("| " + " | ".join(md_escape(c) for c in header) + " |")
        lines.append(
            "| " + " | ".join(":--" if i < 2 else "--:" for i in range(len(header))) + " |"
        )
        for entry in group.variants:
            texts = []
            for cell in table.cells(group, entry):
                text = md_escape(cell.text)
                if "baseline" in cell.classes or ("pareto" in cell.classes and text):
                    text = f"**{text}**"
                texts.append(text)
            lines.append("| " + " | ".join(texts) + " |")
        lines.append("")
        flagged = table.flags(group)
        if flagged:
            lines += ["Flagged:", ""] + [f"- {md_escape(flag.text)}" for flag in flagged] + [""]
        for image in images:
            if image.group == group.slug:
                lines += [f"![{md_escape(image.alt)}]({image.path.name})", ""]
    lines += [f"_{table.LEGEND}_", ""]
    if aggregation:
        lines += [f"_{aggregation}_", ""]
    return "\n".join(lines)
