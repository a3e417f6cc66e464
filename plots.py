"""
Every figure of the project, and the one matplotlib preamble they share: a file backend (no display on
servers or in CI), one way to save a figure, axis labels of parameter counts and readable ticks on log axes.
The figures: the plots of `python fit.py ... --plot DIR` (loss vs N and vs D with the joint law, loss vs
FLOPs with the frontier and the compute-optimal fits, IsoFLOP parabolas, bootstrap distributions,
residuals; the model-size term L(N, D = ∞) − E of expected-target runs beside the sampled-target runs'
excess), the parameter-efficiency comparison of `fit.py --compare` and the spectrum of a chain
(`graphs.py --spectrum --plot`). Each takes numbers computed elsewhere (fit.analyse, lawfit.compare_families,
chain.spectrum) and draws them; nothing is fitted here.

Units: N in parameters, D in tokens, C in FLOPs, L in nats per token. Where runs carry a known floor, losses
are drawn as the excess L − floor on log axes.
"""
import math
import os

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.ticker import (FixedLocator, FuncFormatter, LogLocator, MaxNLocator,  # noqa: E402
                               NullFormatter)

from compute_optimal import cluster_log, compute_optimal_closed_form, pareto_frontier  # noqa: E402
from lawfit import EXCESS_MIN, chinchilla_loss, n_at_loss, shape_curve  # noqa: E402

# plain's abbreviations, (from, unit, suffix): trillion, billion, million, thousand (from 10,000: 5000 stays 5000)
SUFFIXES = ((1e12, 1e12, "T"), (1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "k"))
# an axis of N says which parameter count it is (fit.py --n-def; model.GPT.param_counts)
N_LABELS = dict(total="parameters, total", non_embedding="non-embedding parameters, readout included",
                kaplan="Kaplan's: the blocks' parameters")
DPI = 110  # the figures of fit.py --plot and --compare
# fit.py --plot: each compute-optimal method's colour and name, each bootstrapped number in words
COLOURS = dict(approach1="C1", approach2="C2", approach3="C3", interpolation="C4")
NAMES = dict(joint="joint law", approach1="Approach 1", approach2="Approach 2", approach3="Approach 3",
             interpolation="interpolation")
SYMBOLS = dict(alpha="α (exponent of N)", beta="β (exponent of D)", a="a (N* ∝ C^a)", b="b (D* ∝ C^b)")
PARAM_WORDS = dict(mup="μP", sp="SP")                              # family_words: config fields in words
FIELD_WORDS = dict(base_width="base width", embed_lr_mult="embedding lr ×", n_layer="layers", lr="lr")
ZERO_RELATIVE = 1e-12  # plot_spectrum: below this times the largest, a value is a numerical zero (rounding ~1e-16)
CHAIN_NAMES = {"er": "Erdős–Rényi graph", "ba": "Barabási–Albert graph", "networkx": "networkx graph",
               "file": "graph from an edge list", "percolation": "walk on percolation clusters",
               "critical-er": "Erdős–Rényi graph G(n, c/n)", "critical-trees": "critical Galton–Watson trees",
               "bigram": "bigram chain of a text"}
ARG_WORDS = dict(  # chain_title: each builder argument in words ('' leaves it out)
    n_nodes=lambda v: f"{v:,} nodes", n_edges=lambda v: f"{v:,} edges", m=lambda v: f"m = {v} edges per new node",
    L=lambda v: f"{v} × {v} sites", p=lambda v: f"p = {v:.4g}", kind=lambda v: f"{v} percolation",
    periodic=lambda v: "periodic" if v else "open boundaries",
    forest=lambda v: "all clusters" if v else "largest cluster",
    c=lambda v: f"mean degree c = {v:g}", directed=lambda v: "directed" if v else "",
    kappa=lambda v: "unbiased walk (κ = 0)" if v == 0 else f"walk biased with κ = {v:g}", seed=lambda v: f"seed {v}",
    V=lambda v: f"V = {v:,} tokens", n_tokens=lambda v: f"{v:,} tokens of text", n_seen=lambda v: "",
    smoothing=lambda v: f"add-{v:g} smoothing" if v else "", path=lambda v: os.path.basename(v),
    tokens=lambda v: os.path.basename(v))


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

# -----------------------------------------------------------------------------
# the plots of fit.py --plot: each takes fit.analyse's result and the runs it fitted


def joint_law(res):
    """The fitted joint law's parameters, as chinchilla_loss takes them."""
    return {k: res["joint"][k] for k in ("E", "A", "B", "alpha", "beta")}


def floor_of(runs):
    """(floor per run, one floor for the fitted lines, y label), nats per token: with a known floor the plots
    show the excess L − floor on log axes (the loss itself would squash the curves onto the floor); without,
    zeros and the loss."""
    if runs.get("floor") is None:
        return np.zeros(len(runs["L"])), 0.0, "loss L (nats per token)"
    return runs["floor"], float(np.mean(runs["floor"])), "excess loss L − floor (nats per token)"


def positive(y):
    """y with values <= 0 as NaN: a fitted law minus the floor can dip below 0, which a log axis cannot show."""
    return np.where(y > 0, y, np.nan)


def sci(v):
    """A number as mathtext m×10^k, e.g. 7.5×10¹⁰."""
    k = math.floor(math.log10(v))
    return f"${v / 10 ** k:.2g}\\times10^{{{k}}}$"


def loss_vs(res, runs, xname):
    """Loss (or excess over a known floor) vs N (colour: D) or vs D (colour: N), with the joint law at four
    quantiles of the other axis."""
    yname = "D" if xname == "N" else "N"
    label = dict(N=n_label(runs.get("n_def")), D="D (tokens)")
    x, y, law = runs[xname], runs[yname], joint_law(res)
    floor, ref, ylabel = floor_of(runs)
    fig, ax = figure(figsize=(6.5, 4.5))
    norm = LogNorm(y.min(), y.max())
    sc = ax.scatter(x, runs["L"] - floor, c=y, norm=norm, cmap="viridis", s=12)
    xs = np.geomspace(x.min(), x.max(), 100)
    for yv in np.quantile(y, [0.05, 0.35, 0.65, 0.95]):
        Lfit = chinchilla_loss(xs, yv, **law) if xname == "N" else chinchilla_loss(yv, xs, **law)
        ax.plot(xs, positive(Lfit - ref), color=plt.cm.viridis(norm(yv)), lw=1.5)
    if law["E"] - ref > 0:  # E fitted above the floor (or no floor): the lines level off there
        ax.axhline(law["E"] - ref, color="gray", ls=":", lw=1,
                   label=f"fitted E{' − floor' if ref else ''} = {law['E'] - ref:.3g} nats")
    if xname == "D" and res.get("count_baseline"):  # what estimating P from counts reaches with the same tokens
        D, _, excess = np.array(res["count_baseline"]["curve"]).T
        ax.plot(D, positive(excess), color="black", ls="--", lw=1.2, label="count baseline (add-k, k by leave-one-out)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    ax.set(xscale="log", yscale="log", xlabel=label[xname], ylabel=ylabel,
           title=f"{'excess loss' if ref else 'loss'} vs {xname}; lines: joint fit at four values of {yname}")
    ax.title.set_fontsize(10)
    cb = fig.colorbar(sc, ax=ax, label=label[yname])
    for axis in (ax.xaxis, ax.yaxis, cb.ax.yaxis):
        log_ticks(axis)
    return fig


def optimal_N(res, name, co, cs):
    """N*(C) of one compute-optimal method at budgets cs (FLOPs): Approach 3's closed form, else k_N·C^a."""
    if name == "approach3":
        j = res["joint"]
        return compute_optimal_closed_form(j["A"], j["B"], j["alpha"], j["beta"], cs)[0]
    return co["k_N"] * cs ** co["a"]


def loss_vs_flops(res, runs):
    """Left: curves, final losses and the frontier (in increasing C) vs FLOPs, with the joint law along each
    method's N*(C), as the excess over a known floor; right: N*(C) of each method (and the planted truth under
    --simulate)."""
    C, L, law = runs["C"], runs["L"], joint_law(res)
    floor, ref, ylabel = floor_of(runs)
    fig, (ax, bx) = figure(1, 2, figsize=(12, 4.8))
    for (c, l), f in zip(runs["curves"] or [], floor):
        ax.plot(c, positive(l - f), color="0.8", lw=0.5, zorder=0)
    ax.scatter(C, L - floor, s=8, c="C0", label="runs (final loss)")
    front = pareto_frontier(C, L - floor)
    ax.plot(C[front], L[front] - floor[front], "k-", lw=1.5, label="compute frontier")
    cs = np.geomspace(C.min(), C.max(), 100)
    for name, co in res["compute_optimal"].items():
        if "skipped" in co:
            continue
        nstar = optimal_N(res, name, co, cs)
        ax.plot(cs, positive(chinchilla_loss(nstar, cs / (6 * nstar), **law) - ref), color=COLOURS[name], lw=1,
                ls="--", label=f"joint law at {NAMES[name]}'s N*(C)")
        bx.plot(cs, nstar, color=COLOURS[name], label=f"{NAMES[name]}: a = {co['a']:.3f}")
        bx.scatter(co["C"], co["N"], color=COLOURS[name], s=10)
    if "truth" in res:
        t = res["truth"]
        bx.plot(cs, compute_optimal_closed_form(t["A"], t["B"], t["alpha"], t["beta"], cs)[0], "k:",
                label=f"truth: a = {t['a']:.3f}")
    ax.set(xscale="log", yscale="log", xlabel="C (FLOPs)", ylabel=ylabel,
           title=f"{'excess loss' if ref else 'loss'} vs compute (grey: training curves)")
    ax.legend(fontsize=7)
    bx.set(xscale="log", yscale="log", xlabel="C (FLOPs)", ylabel=n_label(runs.get("n_def"), "N*"),
           title="compute-optimal model size N*(C) ∝ C^a")
    bx.legend(fontsize=8)
    for axis in (ax.xaxis, ax.yaxis, bx.xaxis, bx.yaxis):
        log_ticks(axis)
    return fig


def isoflop(res):
    """Approach 2's profiles, loss vs N per budget, with their parabolas in log N; None without profiles."""
    co2 = res["compute_optimal"]["approach2"]
    if "_profiles" not in co2:
        return None
    profiles = co2["_profiles"]
    fig, ax = figure(figsize=(8, 4.5))
    every = math.ceil(len(profiles) / 12)                 # at most 12 legend entries
    for i, (c, n, d, l, pw) in enumerate(profiles):
        color = plt.cm.plasma(i / max(1, len(profiles) - 1))
        ax.scatter(n, l, s=8, color=color)
        c2, c1, c0 = np.polyfit(np.log(n), l, 2)
        xs = np.linspace(np.log(n).min(), np.log(n).max(), 100)
        ax.plot(np.exp(xs), c0 + c1 * xs + c2 * xs ** 2, color=color, lw=1,
                label=f"C = {sci(c)} FLOPs" if i % every == 0 else None)
    ax.set(xscale="log", xlabel=n_label(res.get("input", {}).get("n_def")), ylabel="loss L (nats per token)",
           title=f"IsoFLOP profiles ({co2['how']})")
    log_ticks(ax.xaxis)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), title="budget", title_fontsize=7)  # off the data
    return fig


def bootstrap_histograms(res):
    """Histograms of the bootstrap samples of the joint α, β, a, b and of each bootstrapped method's a, with
    the estimate from all runs (black) and its percentile interval (red, dashed)."""
    keys = [("joint", k) for k in ("alpha", "beta", "a", "b")]
    keys += [(n, "a") for n in ("approach1", "approach2", "interpolation") if "_samples" in res["compute_optimal"][n]]
    cols = min(4, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = figure(rows, cols, figsize=(3.2 * cols, 2.9 * rows), squeeze=False)
    for ax, (src, key) in zip(axes.flat, keys):
        fit = res[src] if src == "joint" else res["compute_optimal"][src]
        s = fit["_samples"][key]
        ok = s[np.isfinite(s)]
        ax.hist(ok, bins=40, color="C0")
        if ok.size and np.ptp(ok) < 1e-9:  # every resample agrees to rounding: show a readable window, not 1e-16s
            ax.set_xlim(ok.mean() - 0.05, ok.mean() + 0.05)
        ax.axvline(fit[key], color="k", lw=1, label="estimate (all runs)")
        for q, label in zip(fit["ci"][key], (f"{res['input']['ci_level']:g}% interval", None)):
            ax.axvline(q, color="C3", ls="--", lw=1, label=label)
        counted = f"{ok.size} of {len(s)}" if ok.size < len(s) else f"{len(s)}"  # a method may not run on a resample
        ax.set(title=f"{NAMES[src]} ({counted} resamples)", xlabel=SYMBOLS[key], ylabel="resamples")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes.flat[len(keys):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    inp = res["input"]  # fit.analyse names the units it resampled; a hand-made result may not
    drawn = f"{inp['units']} units, each a {inp['bootstrap_unit']}" if "units" in inp else "the runs"
    fig.suptitle(f"bootstrap distributions: resamples of {drawn}; each resample refitted", fontsize=10)
    return fig


def residuals(res, runs):
    """The joint fit's residuals log L − log L̂ against N, D and L."""
    j = res["joint"]
    fig, axes = figure(1, 3, figsize=(13, 3.6))
    names = (("N", n_label(runs.get("n_def"))), ("D", "D (tokens)"), ("L", "loss L (nats per token)"))
    for ax, (k, name) in zip(axes, names):
        ax.scatter(runs[k], j["residuals"], s=8)
        ax.axhline(0, color="k", lw=0.8)
        ax.set(xscale="linear" if k == "L" else "log", xlabel=name, ylabel="log L − log L̂ (fit)")
        if k != "L":
            log_ticks(ax.xaxis)
    axes[0].set_title(f"joint-fit residuals, rms {j['rms']:.3g}")
    return fig


def plot_all(res, runs, outdir):
    """Every plot as a PNG in outdir; returns the file names written."""
    figures = {"loss_vs_N.png": loss_vs(res, runs, "N"), "loss_vs_D.png": loss_vs(res, runs, "D"),
               "loss_vs_flops.png": loss_vs_flops(res, runs), "isoflop.png": isoflop(res),
               "bootstrap.png": bootstrap_histograms(res), "residuals.png": residuals(res, runs)}
    saved = []
    for name, fig in figures.items():
        if fig is not None:
            savefig(fig, os.path.join(outdir, name), dpi=DPI)
            saved.append(name)
    return saved

# -----------------------------------------------------------------------------
# parameter efficiency (fit.py --compare): one law L(N) per family at one D, and N at equal loss


def short_value(value):
    """A config value as text, numbers without a trailing '.0': '4.0' -> '4'."""
    try:
        return f"{float(value):g}"
    except ValueError:
        return value


def family_words(label):
    """A family label ('param=mup, base_width=16, embed_lr_mult=1.0', fit.family_label's form) in words:
    'μP, base width 16'. Fields are named by FIELD_WORDS (else 'field value'); a multiplier of 1 (the
    default) is left out, and so is SP's base width (SP has none: mup.width_mult)."""
    fields = dict(part.split("=", 1) for part in label.split(", ") if "=" in part)
    words = []
    for field, value in fields.items():
        if field == "param":
            words.append(PARAM_WORDS.get(value, value))
        elif not (field.endswith("_mult") and short_value(value) == "1"
                  or field == "base_width" and fields.get("param") == "sp"):
            words.append(f"{FIELD_WORDS.get(field, field.replace('_', ' '))} {short_value(value)}")
    return ", ".join(words) or label


def plot_efficiency(laws, reference, path, runs=None, floor=0.0, n_def=None):
    """Left: the excess L − floor (nats; floor 0: the loss itself) against N per family with its law, and every
    lr tried, faint, when runs {label: (N, L)} are given; right: the N ratio against the reference at every
    loss all families reach inside their grids, with the reported L* and its interval. Families are named in
    words (family_words); the N axis names its count (n_def, n_label)."""
    fig, (left, right) = figure(1, 2, figsize=(12, 4.5))
    ref = laws[reference]
    grid = np.geomspace(min(l["N"].min() for l in laws.values()), max(l["N"].max() for l in laws.values()), 100)
    losses = np.linspace(max(l["L"].min() for l in laws.values()), min(l["L"].max() for l in laws.values()), 50)
    top = max(l["L"].max() for l in laws.values()) - floor
    for i, (label, law) in enumerate(laws.items()):
        color, name = f"C{i}", family_words(label)
        if runs and label in runs:
            N, L = runs[label]
            kept = L - floor <= 1.5 * top  # diverged runs would squash the axes
            left.scatter(N[kept], L[kept] - floor, s=8, color=color, alpha=0.25)
        left.scatter(law["N"], law["L"] - floor, color=color, label=f"{name}: α = {law['alpha']:.2f}")
        left.plot(grid, law["E"] + law["A"] * grid ** -law["alpha"] - floor, color=color, lw=1)
        if label != reference:
            N_ref = n_at_loss(ref["E"], ref["A"], ref["alpha"], losses)
            right.plot(losses, n_at_loss(law["E"], law["A"], law["alpha"], losses) / N_ref, color=color, label=name)
            r = law["ratio"]
            if math.isfinite(r["ratio"]):  # an infinite end of the interval is drawn to the top of the axes
                ci = np.minimum(np.array(r["ci"]), 1e3 * r["ratio"])
                right.errorbar([r["L"]], [r["ratio"]], yerr=np.abs(ci[:, None] - r["ratio"]), fmt="o", color=color,
                               capsize=3)
    left.set(xscale="log", yscale="log", xlabel=n_label(n_def),
             title="best lr of each width, one D; faint: every lr",
             ylabel="excess loss L − floor (nats per token)" if floor else "loss L (nats per token)")
    right.axhline(1, color="gray", lw=0.8)
    right.set(yscale="log", xlabel="loss L* (nats per token)", ylabel="N(L*) / N_ref(L*) (ratio of parameters)",
              title=f"parameters for equal loss, against {family_words(reference)}")
    right.title.set_fontsize(10)
    for axis in (left.xaxis, left.yaxis, right.yaxis):
        log_ticks(axis)
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    return savefig(fig, path, dpi=DPI)

# -----------------------------------------------------------------------------
# the spectrum of a chain (chain.spectrum; graphs.py --spectrum --plot)


def chain_title(name, args):
    """A chain's name and builder arguments (Graph.name, Graph.args) in words, for a plot title:
    'Barabási–Albert graph: 1,000 nodes, m = 3, unbiased walk, seed 0'. Unknown arguments read 'name value';
    nested ones (a bigram's Zipf fit) are left out."""
    words = [ARG_WORDS.get(k, lambda v, k=k: f"{k.replace('_', ' ')} {v}")(v) for k, v in (args or {}).items()
             if not isinstance(v, (dict, list))]
    return f"{CHAIN_NAMES.get(name, name)}: {', '.join(w for w in words if w)}"


def plot_spectrum(spec, path, title=""):
    """Two log-log panels: π by rank and the singular values of diag(π)P and of P, each with its fitted line
    over the window, labelled with the slope and the verdict (PNG). Values below ZERO_RELATIVE times a
    series' largest are numerical zeros (a dense SVD's rounding), not spectrum: they are left out, and counted
    in the legend. title: e.g. chain_title(graph.name, graph.args)."""
    fig, axes = figure(1, 2, figsize=(10, 4))
    panels = [(axes[0], [("π (rank-frequency)", spec["stationary_ranked"], spec["zipf"])]),
              (axes[1], [("σ of diag(π)P", spec["singular_values_joint"], spec["joint"]),
                         ("σ of P", spec["singular_values_P"], spec["transition"])])]
    for ax, curves in panels:
        for label, values, fit in curves:
            r = np.arange(1, values.size + 1)
            shown = values > ZERO_RELATIVE * values.max()
            dropped = f" ({values.size - shown.sum()} numerical zeros left out)" if not shown.all() else ""
            line, = ax.loglog(r[shown], values[shown], ".", ms=2, label=label + dropped)
            lo, hi = fit["window"]
            rw = np.arange(lo, hi + 1)
            ax.loglog(rw, np.exp(fit["intercept"]) * rw ** fit["slope"], "-", color=line.get_color(), lw=1,
                      label=f"fit over ranks {lo}–{hi}: slope {fit['slope']:.3f}, "
                            f"R² {fit['r2']:.3f}, {fit['verdict']}")
        ax.set_xlabel("rank")
        for axis in (ax.xaxis, ax.yaxis):
            log_ticks(axis)
        ax.legend(fontsize=7)
    axes[0].set(ylabel="stationary probability π", title="token frequencies by rank")
    axes[1].set(ylabel="singular value", title="spectra of consecutive-token statistics")
    fig.suptitle(title, fontsize=10)
    savefig(fig, path)

# -----------------------------------------------------------------------------
# the model-size term (fit.py --plot, with expected-target runs): L − E against N for both training targets

SHAPE_LINES = {"power law": "-", "exponential": "--", "threshold": "-."}  # plot_infinite: each fitted shape's line
MAX_BUDGET_LINES = 8  # sampled_panel: more budgets than this are drawn as the largest D of each N


def sampled_panel(ax, runs):
    """The sampled-target runs' excess L − floor (nats) against N, one line per budget D (runs whose log D
    lies within 0.1 share one, cluster_log), or the largest D of each N when there are more than
    MAX_BUDGET_LINES budgets; a note where there are none with a known floor."""
    if runs is None or not len(runs["L"]) or runs.get("floor") is None:
        ax.text(0.5, 0.5, "no sampled-target runs\nwith a known floor", ha="center", va="center",
                transform=ax.transAxes, color="0.4")
        return
    N, D, excess = runs["N"], runs["D"], runs["L"] - runs["floor"]
    labels = cluster_log(D, 0.1)
    groups = [labels == k for k in np.unique(labels)]
    largest = len(groups) > MAX_BUDGET_LINES
    if largest:
        top = [max(np.flatnonzero(N == n), key=lambda i: D[i]) for n in np.unique(N)]
        groups = [np.isin(np.arange(len(N)), top)]
    norm = LogNorm(D.min(), D.max() * (1 + 1e-9))
    for keep in groups:
        order = np.argsort(N[keep])
        d = float(np.exp(np.mean(np.log(D[keep]))))
        label = "largest D of each N" if largest else f"D = {plain(d)} tokens"
        ax.plot(N[keep][order], positive(excess[keep][order]), "o-", ms=4, lw=1.2, color=plt.cm.viridis(norm(d)),
                label=label)
    ax.legend(fontsize=7, title="training budget", title_fontsize=7, loc="best")


def expected_panel(ax, inf):
    """The expected-target runs' final excess (nats; converged filled, unconverged hollow, clipped at
    EXCESS_MIN) against N, with each fitted shape over the converged runs' N: the verdict solid and thick,
    the others thin, each with its BIC in the legend; and the verdict over every run at its budget (at_budget)."""
    pts = inf["points"]
    N, excess = np.array([p["N"] for p in pts], float), np.maximum([p["excess"] for p in pts], EXCESS_MIN)
    done = np.array([p["converged"] for p in pts], bool)
    if done.any():
        ax.scatter(N[done], excess[done], s=30, color="C3", zorder=3, label="converged (fitted)")
    if (~done).any():
        ax.scatter(N[~done], excess[~done], s=30, facecolors="none", edgecolors="C3", zorder=3,
                   label="not converged (left out)")
    if "at_budget" in inf:  # every run at its budget: an upper bound where a run is unconverged
        every, xs = inf["at_budget"], np.log(np.geomspace(N.min(), N.max(), 200))
        ax.plot(np.exp(xs), np.exp(shape_curve(every["verdict"], every[every["verdict"].replace(" ", "_")]["theta"], xs)),
                color="C0", lw=1.5, label=f"every run at its budget: {every['verdict']}, ΔBIC {every['delta_bic']:.1f} "
                                          f"to the {every['runner_up']}")
    if inf.get("verdict") is None:
        return
    xs = np.log(np.geomspace(N[done].min(), N[done].max(), 200))
    for shape, bic in inf["bic"].items():
        if bic is None:
            continue
        won = shape == inf["verdict"]
        label = (f"{shape}, the verdict: BIC {bic:.1f}, ΔBIC {inf['delta_bic']:.1f} to the {inf['runner_up']}"
                 if won else f"{shape}: BIC {bic:.1f}")
        ax.plot(np.exp(xs), np.exp(shape_curve(shape, inf[shape.replace(" ", "_")]["theta"], xs)), color="k",
                ls=SHAPE_LINES[shape], lw=1.8 if won else 0.8, alpha=1 if won else 0.6, label=label)


def plot_infinite(inf, runs, outdir):
    """infinite_data.png in outdir, two panels sharing log axes: L − E (nats per token, E the floor)
    against N: left, the sampled-target runs at their budgets D (sampled_panel; runs: records.load_runs'
    arrays, or None); right, the expected-target runs, L(N, D = ∞) − E, with the fitted shapes
    (expected_panel; inf: fit.infinite_data's result). Returns the file name."""
    fig, (left, right) = figure(1, 2, figsize=(12, 5.4), sharex=True, sharey=True)
    sampled_panel(left, runs)
    expected_panel(right, inf)
    left.set(title="sampled target: L(N, D) − E at each budget D", ylabel="excess loss L − E (nats per token)")
    right.set(title="expected target: L(N, D = ∞) − E (final excess)")
    for ax in (left, right):
        ax.set(xscale="log", yscale="log", xlabel=n_label(inf["n_def"]))
        ax.title.set_fontsize(10)
    right.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1, title_fontsize=7,  # off the data
                 title=f"no shape fitted: {inf['skipped']}" if inf.get("skipped") else None)
    for axis in (left.xaxis, left.yaxis):  # shared with the right panel's
        log_ticks(axis)
    savefig(fig, os.path.join(outdir, "infinite_data.png"), dpi=DPI)
    return "infinite_data.png"
