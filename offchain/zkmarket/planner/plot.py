"""Sample size and cost against the tolerance, as a PNG.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, no global state),
so it works headless and from concurrent tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

__all__ = ["sweep_grid", "sweep", "plot_sweep"]


def sweep_grid(center: float, *, span: float = 4.0, points: int = 41, upper: float = 0.9) -> list[float]:
    """Tolerances from center/span to min(center*span, upper), log-spaced, with center itself included.

    Log spacing because sample sizes scale like 1/F and 1/eps^2: equal steps on a log axis.
    """
    if not 0.0 < center < 1.0:
        raise ValueError(f"center must be strictly between 0 and 1, got {center!r}")
    if span <= 1.0 or points < 2:
        raise ValueError("span must be > 1 and points >= 2")
    hi = max(min(center * span, upper), center)
    grid = {float(x) for x in np.geomspace(center / span, hi, points)} | {center}
    return sorted(grid)


def sweep(grid: Sequence[float], sample_size: Callable[[float], int],
          cost: Callable[[int], int | None]) -> list[tuple[float, int, int | None]]:
    """(tolerance, sample size, cost) for each tolerance of the grid."""
    rows = []
    for x in grid:
        n = sample_size(x)
        rows.append((x, n, cost(n)))
    return rows


def plot_sweep(rows: Sequence[tuple[float, int, int | None]], chosen: float, path: str | Path, *,
               xlabel: str, title: str, cost_label: str | None = None) -> Path:
    """Writes a PNG: sample size (and, when costs are given, cost) against the tolerance.

    Args:
        rows: (tolerance, sample size, cost or None) from ``sweep``.
        chosen: the tolerance the user asked about, marked on each panel.
        path: the PNG to write.
        xlabel: the tolerance's name, e.g. "tampered fraction F".
        title: the figure's title (states the confidence).
        cost_label: the cost axis label with its unit; None draws only the sample size.
    """
    if not rows:
        raise ValueError("nothing to plot")
    xs = np.array([r[0] for r in rows], dtype=float)
    ns = np.array([r[1] for r in rows], dtype=float)
    with_cost = cost_label is not None and all(r[2] is not None for r in rows)
    fig = Figure(figsize=(7.0, 6.5 if with_cost else 4.0), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2 if with_cost else 1, 1, sharex=True, squeeze=False)[:, 0]
    i = int(np.argmin(np.abs(xs - chosen)))

    def panel(ax, ys, ylabel: str, fmt: str, plain_ticks: bool) -> None:
        ax.plot(xs, ys, marker=".", linewidth=1.5)
        ax.plot([xs[i]], [ys[i]], "o", color="tab:red", zorder=3)
        ax.annotate(fmt.format(ys[i]), (xs[i], ys[i]), textcoords="offset points", xytext=(8, 8), color="tab:red")
        ax.set_xscale("log")
        if (ys > 0).all():
            ax.set_yscale("log")
            if plain_ticks:  # counts read better as 200 than as 2x10^2
                ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
                ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:,.0f}"))
                ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)

    panel(axes[0], ns, "sample size N", "N = {:,.0f}", True)
    if with_cost:
        costs = np.array([float(r[2]) for r in rows])  # type: ignore[arg-type]  # display only
        panel(axes[1], costs, str(cost_label), "{:,.0f}", False)
    axes[-1].set_xlabel(xlabel)
    x_axis = axes[-1].xaxis
    x_axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    x_axis.set_major_formatter(FuncFormatter(lambda x, _: f"{x * 100:g}%"))
    x_axis.set_minor_formatter(NullFormatter())
    axes[0].set_title(title)
    out = Path(path)
    fig.savefig(out, format="png")
    return out
