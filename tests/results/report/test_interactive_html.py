"""The HTML report's interactive figures: embedded offline, with a fallback to PNGs."""

from __future__ import annotations

import re
import sys
import time

import pytest

from squeezebench.errors import UserError
from squeezebench.results.report import write_report

pytest.importorskip("plotly")
pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _external_references(html: str) -> list[str]:
    """Anything the markup would fetch: src/href attributes, stylesheets, script sources.

    Inline scripts are left out (plotly.js mentions URLs it only fetches for maps and maths,
    which these figures do not use); the figures' own JSON is checked on its own.
    """
    markup = re.sub(r"<script>.*?</script>", "<script></script>", html, flags=re.S)
    found = re.findall(r"""\b(?:src|href)\s*=\s*["']?(?!data:|#)([^"'\s>]+)""", markup)
    found += re.findall(r"<link\b[^>]*>", markup)
    found += re.findall(r"@import\b[^;]*;", markup)
    return found


def test_hundred_variants_render_interactive_offline(synthetic_run) -> None:
    results = synthetic_run(100)
    began = time.perf_counter()
    outcome = write_report(results, fmt="html")
    md = write_report(results, fmt="md", output=results.parent / "report.md")
    elapsed = time.perf_counter() - began
    # A guard against a hang or a quadratic blow-up, not a benchmark (about 5 s here).
    assert elapsed < 120, elapsed
    html = outcome.path.read_text()
    assert outcome.interactive == 2 and outcome.note == ""
    assert html.count("Plotly.newPlot(") == 2
    # plotly.js itself is inlined once: a script element without src, before the figures.
    scripts = re.findall(r"<script\b([^>]*)>", html)
    assert all("src" not in attributes for attributes in scripts)
    from plotly.offline import get_plotlyjs

    assert html.count(get_plotlyjs()[:200]) == 1
    assert _external_references(html) == []
    figures = re.findall(r"Plotly\.newPlot\((.*?)\);</script>", html, flags=re.S)
    assert len(figures) == 2 and not any("http" in figure for figure in figures)
    assert "<img" not in html  # the figures replace the PNGs
    # The PNGs are still written, for the Markdown report and anyone who wants them.
    assert len(outcome.images) == 2 and all(
        p.read_bytes().startswith(PNG_MAGIC) for p in outcome.images
    )
    assert "![size vs accuracy" in md.path.read_text()


def test_without_plotly_html_embeds_the_pngs_with_a_note(synthetic_run, monkeypatch) -> None:
    results = synthetic_run(10)
    monkeypatch.setitem(sys.modules, "plotly", None)  # as if it were not installed
    outcome = write_report(results, fmt="html")
    html = outcome.path.read_text()
    assert outcome.interactive == 0
    assert "Plotly" not in html and "<script" not in html
    assert len(re.findall(r'<img alt="[^"]*" src="data:image/png;base64,', html)) == 2
    assert "Interactive plots need plotly (pip install" in html
    assert "squeezebench[report]" in html
    assert outcome.note.count("\n") == 0


def test_without_matplotlib_html_is_interactive_only(synthetic_run, monkeypatch) -> None:
    results = synthetic_run(10)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    outcome = write_report(results)  # HTML: plotly alone is enough
    assert outcome.format == "html" and outcome.interactive == 2 and outcome.images == []
    monkeypatch.setitem(sys.modules, "plotly", None)
    with pytest.raises(UserError, match=r"pip install 'squeezebench\[report\]'"):
        write_report(results, fmt="html")
    assert write_report(results).format == "md"  # no --format: falls back to Markdown
