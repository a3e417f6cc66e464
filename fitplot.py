"""
The plots of `python fit.py ... --plot DIR`: loss vs N and vs D with the joint law, loss vs FLOPs with the
frontier and the compute-optimal fits, IsoFLOP parabolas, bootstrap distributions, residuals.

Each plot takes fit.analyse's result and the runs it fitted (N parameters, D tokens, C FLOPs, L nats per
token). Where the runs carry a known floor, losses are drawn as the excess L − floor on log axes.
"""
import math
import os

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.ticker import MaxNLocator

import plotting
from compute_optimal import compute_optimal_closed_form, pareto_frontier
from lawfit import chinchilla_loss

plt = plotting.plt
DPI = 110
COLOURS = dict(approach1="C1", approach2="C2", approach3="C3", interpolation="C4")
NAMES = dict(joint="joint law", approach1="Approach 1", approach2="Approach 2", approach3="Approach 3",
             interpolation="interpolation")
SYMBOLS = dict(alpha="α (exponent of N)", beta="β (exponent of D)", a="a (N* ∝ C^a)", b="b (D* ∝ C^b)")


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
    label = dict(N=plotting.n_label(runs.get("n_def")), D="D (tokens)")
    x, y, law = runs[xname], runs[yname], joint_law(res)
    floor, ref, ylabel = floor_of(runs)
    fig, ax = plotting.figure(figsize=(6.5, 4.5))
    norm = LogNorm(y.min(), y.max())
    sc = ax.scatter(x, runs["L"] - floor, c=y, norm=norm, cmap="viridis", s=12)
    xs = np.geomspace(x.min(), x.max(), 100)
    for yv in np.quantile(y, [0.05, 0.35, 0.65, 0.95]):
        Lfit = chinchilla_loss(xs, yv, **law) if xname == "N" else chinchilla_loss(yv, xs, **law)
        ax.plot(xs, positive(Lfit - ref), color=plt.cm.viridis(norm(yv)), lw=1.5)
    if law["E"] - ref > 0:  # E fitted above the floor (or no floor): the lines level off there
        ax.axhline(law["E"] - ref, color="gray", ls=":", lw=1,
                   label=f"fitted E{' − floor' if ref else ''} = {law['E'] - ref:.3g} nats")
        ax.legend(fontsize=8)
    ax.set(xscale="log", yscale="log", xlabel=label[xname], ylabel=ylabel,
           title=f"{'excess loss' if ref else 'loss'} vs {xname}; lines: joint fit at four values of {yname}")
    ax.title.set_fontsize(10)
    cb = fig.colorbar(sc, ax=ax, label=label[yname])
    for axis in (ax.xaxis, ax.yaxis, cb.ax.yaxis):
        plotting.log_ticks(axis)
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
    fig, (ax, bx) = plotting.figure(1, 2, figsize=(12, 4.8))
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
    bx.set(xscale="log", yscale="log", xlabel="C (FLOPs)", ylabel=plotting.n_label(runs.get("n_def"), "N*"),
           title="compute-optimal model size N*(C) ∝ C^a")
    bx.legend(fontsize=8)
    for axis in (ax.xaxis, ax.yaxis, bx.xaxis, bx.yaxis):
        plotting.log_ticks(axis)
    return fig


def isoflop(res):
    """Approach 2's profiles, loss vs N per budget, with their parabolas in log N; None without profiles."""
    co2 = res["compute_optimal"]["approach2"]
    if "_profiles" not in co2:
        return None
    profiles = co2["_profiles"]
    fig, ax = plotting.figure(figsize=(8, 4.5))
    every = math.ceil(len(profiles) / 12)                 # at most 12 legend entries
    for i, (c, n, d, l, pw) in enumerate(profiles):
        color = plt.cm.plasma(i / max(1, len(profiles) - 1))
        ax.scatter(n, l, s=8, color=color)
        c2, c1, c0 = np.polyfit(np.log(n), l, 2)
        xs = np.linspace(np.log(n).min(), np.log(n).max(), 100)
        ax.plot(np.exp(xs), c0 + c1 * xs + c2 * xs ** 2, color=color, lw=1,
                label=f"C = {sci(c)} FLOPs" if i % every == 0 else None)
    ax.set(xscale="log", xlabel=plotting.n_label(res.get("input", {}).get("n_def")), ylabel="loss L (nats per token)",
           title=f"IsoFLOP profiles ({co2['how']})")
    plotting.log_ticks(ax.xaxis)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), title="budget", title_fontsize=7)  # off the data
    return fig


def bootstrap_histograms(res):
    """Histograms of the bootstrap samples of the joint α, β, a, b and of each bootstrapped method's a, with
    the estimate from all runs (black) and its percentile interval (red, dashed)."""
    keys = [("joint", k) for k in ("alpha", "beta", "a", "b")]
    keys += [(n, "a") for n in ("approach1", "approach2", "interpolation") if "_samples" in res["compute_optimal"][n]]
    cols = min(4, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plotting.figure(rows, cols, figsize=(3.2 * cols, 2.9 * rows), squeeze=False)
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
    fig, axes = plotting.figure(1, 3, figsize=(13, 3.6))
    names = (("N", plotting.n_label(runs.get("n_def"))), ("D", "D (tokens)"), ("L", "loss L (nats per token)"))
    for ax, (k, name) in zip(axes, names):
        ax.scatter(runs[k], j["residuals"], s=8)
        ax.axhline(0, color="k", lw=0.8)
        ax.set(xscale="linear" if k == "L" else "log", xlabel=name, ylabel="log L − log L̂ (fit)")
        if k != "L":
            plotting.log_ticks(ax.xaxis)
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
            plotting.savefig(fig, os.path.join(outdir, name), dpi=DPI)
            saved.append(name)
    return saved
