"""
The one matplotlib preamble: a file backend (no display on servers or in CI), one way to save a figure and
readable ticks on log axes.
"""
import math
import os

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullFormatter  # noqa: E402

# plain's abbreviations, (from, unit, suffix): trillion, billion, million, thousand (from 10,000: 5000 stays 5000)
SUFFIXES = ((1e12, 1e12, "T"), (1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "k"))
# an axis of N says which parameter count it is (fit.py --n-def; model.GPT.param_counts)
N_LABELS = dict(total="parameters, total", non_embedding="non-embedding parameters, readout included",
                kaplan="Kaplan's: the blocks' parameters")


def n_label(n_def, symbol="N"):
    """The axis label of symbol (N, or N* for the compute-optimal size) for a parameter count's name (a CSV's
    column name as it is)."""
    return f"{symbol} ({N_LABELS.get(n_def, n_def or 'parameters')})"


def figure(*args, **kwargs):
    """plt.subplots with the project's defaults."""
    return plt.subplots(*args, **kwargs)


def savefig(fig, path, dpi=100):
    """Save fig to path (directories created), then close it so long sweeps do not accumulate figures."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def plain(v, _pos=None):
    """A tick value as a short plain number: 0.02, 2.5, 300, 5000, 20k, 1.5M, 2B (k, M, B, T: thousand,
    million, billion, trillion)."""
    for start, unit, suffix in SUFFIXES:
        if abs(v) >= start:
            return f"{v / unit:.4g}{suffix}"
    return f"{v:.6g}"  # tick values are round: 6 digits only keep 2.025 from printing as 2.02


def power_of_ten(v, _pos=None):
    """A decade tick as 10^k (mathtext)."""
    return f"$10^{{{round(math.log10(v))}}}$" if v > 0 else ""


def log_tick_values(lo, hi):
    """Major tick values for a log axis over lo .. hi: over 2 decades or more, the decades (every k-th when
    there are more than 8); else the first of 1, 2 and 5 / 1, 2, 3 and 5 / 1 to 9 times each decade that puts
    3 ticks in view; else (under about a third of a decade) about 5 evenly spaced round values."""
    decades = np.arange(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    if hi >= 100 * lo:
        decades = decades[decades % math.ceil(decades.size / 8) == 0]
        return 10.0 ** decades[(10.0 ** decades >= lo) & (10.0 ** decades <= hi)]
    for subs in ((1, 2, 5), (1, 2, 3, 5), tuple(range(1, 10))):
        ticks = np.sort((np.array(subs)[:, None] * 10.0 ** decades).ravel())
        if np.count_nonzero((ticks >= lo) & (ticks <= hi)) >= 3:
            return ticks[(ticks >= lo) & (ticks <= hi)]
    ticks = MaxNLocator(5).tick_values(lo, hi)
    return ticks[(ticks >= lo) & (ticks <= hi)]


def log_ticks(axis):
    """Readable ticks on a log-scaled matplotlib Axis (ax.xaxis, ax.yaxis, a colorbar's axis) for its current
    limits (log_tick_values): decades written 10^k unless all lie in 0.001 .. 1000, other ticks as plain
    numbers; unlabelled minor ticks at the other integers times each decade."""
    lo, hi = sorted(axis.get_view_interval())
    ticks = log_tick_values(lo, hi)
    axis.set_major_locator(FixedLocator(ticks))
    powers = hi >= 100 * lo and not (ticks.min() >= 1e-3 and ticks.max() <= 1e3)
    axis.set_major_formatter(FuncFormatter(power_of_ten if powers else plain))
    axis.set_minor_locator(LogLocator(10, subs=tuple(range(2, 10))))
    axis.set_minor_formatter(NullFormatter())
