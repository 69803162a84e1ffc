"""Report plots: static PNGs (matplotlib) and interactive HTML figures (plotly), both optional
and imported only when a plot is drawn."""

from squeezebench.results.plot.figure import (
    DOMINATED_COLOR,
    DPI,
    FRONT_COLOR,
)
from squeezebench.results.plot.interactive import plotly_available
from squeezebench.results.plot.render import (
    PlotImage,
    matplotlib_available,
    render_plots,
)

__all__ = [
    "DOMINATED_COLOR",
    "DPI",
    "FRONT_COLOR",
    "PlotImage",
    "matplotlib_available",
    "plotly_available",
    "render_plots",
]
