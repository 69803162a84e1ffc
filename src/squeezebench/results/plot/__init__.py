"""Report plots (matplotlib, imported only when a plot is drawn)."""

from squeezebench.results.plot.render import (
    DOMINATED_COLOR,
    DPI,
    FRONT_COLOR,
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
    "render_plots",
]
