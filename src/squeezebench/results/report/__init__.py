"""``squeezebench report``: tables, Pareto marks and plots of results folders."""

from squeezebench.results.formatting import (
    short_reason,
)
from squeezebench.results.report.data import (
    BASELINE,
    build_report,
)
from squeezebench.results.report.html import (
    render_html,
)
from squeezebench.results.report.markdown import (
    render_markdown,
)
from squeezebench.results.report.model import (
    BatchEntry,
    Group,
    Problem,
    Report,
    RunInfo,
    Stat,
    VariantEntry,
)
from squeezebench.results.report.table import (
    LEGEND,
    NOISY_MARK,
    PARETO_MARK,
    Cell,
    Flag,
)
from squeezebench.results.report.write import (
    FORMATS,
    REPORT_HINT,
    ReportOutcome,
    default_output,
    write_report,
)

__all__ = [
    "BASELINE",
    "FORMATS",
    "LEGEND",
    "NOISY_MARK",
    "PARETO_MARK",
    "REPORT_HINT",
    "BatchEntry",
    "Cell",
    "Flag",
    "Group",
    "Problem",
    "Report",
    "ReportOutcome",
    "RunInfo",
    "Stat",
    "VariantEntry",
    "build_report",
    "default_output",
    "render_html",
    "render_markdown",
    "short_reason",
    "write_report",
]
