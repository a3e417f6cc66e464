"""Tests of what the figures claim, read back from matplotlib (compute frontier, excess axes, ticks, labels,
titles), and of Approach 1 on wsd sweeps and the compute frontier against planted truths and brute force."""
import os
import re
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import chain  # noqa: E402
import compute_optimal  # noqa: E402
import graphs  # noqa: E402
import lawfit  # noqa: E402
import plots  # noqa: E402

TRUE = lawfit.CHINCHILLA
A_TRUE = TRUE["beta"] / (TRUE["alpha"] + TRUE["beta"])
TICK = re.compile(r"^(-?[\d.]+[kMBT]?|\$10\^\{-?\d+\}\$)$")  # a plain number (20k, 0.05) or 10^k; never 3.2×10^0


# -----------------------------------------------------------------------------
# Approach 1 on wsd sweeps


def wsd_sweep(schedule, noise=0.001, seed=0, stable=1.2):
    """
    A sweep's N × D grid (12 sizes over 2 decades, 10 token budgets over 3, as sweep.py's grids share D
    across N) from the planted Chinchilla law, each curve's points before the end raised by `stable` as an
    uncooled wsd stable phase would be. (simulate's isoFLOP design would not do: every run there ends on a
    shared budget, where a uniform raise leaves the lowest curve where it was, so even the raised curves
    give the planted a.)
    """
    N, D = (g.ravel() for g in np.meshgrid(np.geomspace(1e7, 1e9, 12), np.geomspace(3e8, 3e11, 10)))
    runs = compute_optimal.planted_runs(TRUE, N, D, noise, seed)
    runs["curves"] = [(c, np.concatenate([stable * l[:-1], l[-1:]])) for c, l in runs["curves"]]
    return dict(runs, schedule=np.full(N.size, schedule))


def envelope(runs, w=None):
    est, why = compute_optimal.envelope_estimator(runs)
    assert why is None
    return est(np.ones(len(runs["L"])) if w is None else w)


def n_star_error(res):
    """rms of log10 N*(C) / true N*(C) over the envelope's points (decades)."""
    true = compute_optimal.compute_optimal_closed_form(TRUE["A"], TRUE["B"], TRUE["alpha"], TRUE["beta"], res["C"])[0]
    return float(np.sqrt(np.mean(np.log10(res["N"] / true) ** 2)))


def test_approach1_on_wsd_uses_the_cooled_final_points():
    # the 12 sizes quantise N* in steps of 0.18 decades and 0.1% noise moves the argmin along the flat
    # iso-FLOP profile: over seeds 0-9 a lands within 0.025 of the planted 0.452, N* within 0.07 decades rms
    wsd = envelope(wsd_sweep("wsd"))
    assert abs(wsd["a"] - A_TRUE) < 0.03 and n_star_error(wsd) < 0.1 and wsd["points"] >= 20
    # the same data read as cosine curves: the envelope jumps to whichever run's cooled end is near each C
    # (a = 0.34, N* off by 0.5 decades rms), so the test can fail
    cosine = envelope(wsd_sweep("cosine"))
    assert abs(cosine["a"] - A_TRUE) > 0.08 and n_star_error(cosine) > 0.3


def test_zero_weight_removes_a_wsd_run_from_its_family():
    runs = wsd_sweep("wsd")
    i = np.flatnonzero((runs["N"] == runs["N"][30]))[4]     # a middle budget: the FLOPs grid stays the same
    w = np.ones(len(runs["L"]))
    w[i] = 0
    keep = w > 0
    fewer = dict(runs, curves=[c for c, k in zip(runs["curves"], keep) if k],
                 **{k: runs[k][keep] for k in ("N", "D", "C", "L", "floor", "schedule")})
    with_zero, without = envelope(runs, w), envelope(fewer)
    assert np.array_equal(with_zero["C"], without["C"]) and np.array_equal(with_zero["N"], without["N"])
    assert not np.array_equal(envelope(runs)["N"], with_zero["N"])    # and that run mattered


def test_family_curve_orders_by_c_and_keeps_the_lowest_loss_at_a_repeated_c():
    C, L = np.array([4.0, 1.0, 2.0, 2.0]), np.array([1.0, 3.0, 2.5, 2.0])
    grid = np.array([0.5, 1.0, 2.0, 4.0, 8.0])
    row = compute_optimal.family_curve(C, L, np.ones(4), grid)
    assert np.allclose(np.exp(row[1:4]), [3.0, 2.0, 1.0]) and np.all(np.isinf(row[[0, 4]]))
    assert np.all(np.isinf(compute_optimal.family_curve(C, L, np.array([1.0, 0, 0, 0]), grid)))  # one point: no curve


def test_cosine_runs_are_read_as_before():
    runs = compute_optimal.simulate(noise=0.01, seed=3, per_budget=8)
    base = envelope(runs)
    for schedule in (None, np.full(len(runs["L"]), "cosine")):
        res = envelope(dict(runs, schedule=schedule))
        assert res["a"] == base["a"] and np.array_equal(res["N"], base["N"])


@pytest.mark.parametrize("ties", [False, True])
def test_pareto_frontier_in_increasing_c_equals_brute_force(ties):
    # shuffled runs, with or without runs sharing a budget (an isoFLOP design); brute force: no other run
    # has as little compute and as low a loss
    rng = np.random.default_rng(0)
    C = rng.choice(np.geomspace(1e15, 1e20, 20), 200) if ties else rng.permutation(np.geomspace(1e15, 1e20, 200))
    L = 2 + 10 * C ** -0.1 * np.exp(0.05 * rng.standard_normal(200))
    front = compute_optimal.pareto_frontier(C, L)
    brute = [i for i in range(200) if not any(C[j] <= C[i] and L[j] <= L[i] for j in range(200) if j != i)]
    assert np.all(np.diff(C[front]) > 0) and sorted(front) == brute and 5 < len(front) < 200


# -----------------------------------------------------------------------------
# fit figures, from a planted fit (no fitting: seconds)


@pytest.fixture(scope="module")
def planted():
    """Shuffled simulated runs with a known floor, and an analyse-like result: the planted law as the joint
    fit, Approaches 1 and 3, bootstrap samples drawn around the truth."""
    rng = np.random.default_rng(0)
    runs = compute_optimal.simulate(noise=0.01, seed=0, per_budget=8)
    order = rng.permutation(len(runs["L"]))
    runs = dict(runs, curves=[runs["curves"][i] for i in order],
                **{k: runs[k][order] for k in ("N", "D", "C", "L", "floor")})
    Ns = compute_optimal.compute_optimal_closed_form(TRUE["A"], TRUE["B"], TRUE["alpha"], TRUE["beta"], runs["C"])[0]
    draws = lambda v: v + 0.02 * rng.standard_normal(50)
    joint = dict(TRUE, a=A_TRUE, b=1 - A_TRUE, rms=0.01, residuals=0.01 * rng.standard_normal(len(order)),
                 _samples={k: draws(v) for k, v in (("alpha", 0.34), ("beta", 0.28), ("a", A_TRUE), ("b", 1 - A_TRUE))})
    joint["ci"] = {k: np.percentile(s, [2.5, 97.5]) for k, s in joint["_samples"].items()}
    a1 = dict(envelope(runs), _samples=dict(a=draws(A_TRUE)), ci=dict(a=[A_TRUE - 0.04, A_TRUE + 0.04]))
    res = dict(input=dict(ci_level=95, n_boot=50), joint=joint,
               compute_optimal=dict(approach1=a1, approach2=dict(skipped="no"), interpolation=dict(skipped="no"),
                                    approach3=dict(a=A_TRUE, b=1 - A_TRUE, C=runs["C"], N=Ns)))
    return res, runs


def tick_labels(fig):
    """The visible major tick labels of every axes of a drawn figure, with their boxes (pixels), per axis."""
    fig.canvas.draw()
    axes = [a for ax in fig.axes for a in (ax.xaxis, ax.yaxis)]
    return [[(t.label1.get_text(), t.label1.get_window_extent()) for t in a.get_major_ticks()
             if t.label1.get_visible() and t.label1.get_text() and a.axes.get_visible()] for a in axes]


@pytest.mark.parametrize("name", ["loss_vs_N", "loss_vs_D", "loss_vs_flops", "residuals"])
def test_ticks_are_readable_and_do_not_overlap(planted, name):
    res, runs = planted
    fig = dict(loss_vs_N=lambda: plots.loss_vs(res, runs, "N"), loss_vs_D=lambda: plots.loss_vs(res, runs, "D"),
               loss_vs_flops=lambda: plots.loss_vs_flops(res, runs),
               residuals=lambda: plots.residuals(res, runs))[name]()
    fig.tight_layout()
    for labels in tick_labels(fig):
        log_axis = all(TICK.match(text.replace("\u2212", "-")) for text, _ in labels)
        boxes = [box for _, box in labels]
        assert all(not a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:]), [t for t, _ in labels]
        assert len(labels) <= 10 and (log_axis or name == "residuals"), [t for t, _ in labels]
    for ax in fig.axes:
        assert (ax.get_label() == "<colorbar>" or ax.get_xlabel()) and ax.get_ylabel()
    plots.plt.close(fig)


def test_frontier_is_drawn_in_increasing_compute(planted):
    res, runs = planted
    fig = plots.loss_vs_flops(res, runs)
    line = next(ln for ln in fig.axes[0].lines if ln.get_label() == "compute frontier")
    assert len(line.get_xdata()) >= 5 and np.all(np.diff(line.get_xdata()) > 0)
    plots.plt.close(fig)


@pytest.mark.parametrize("floor", [True, False])
def test_excess_on_log_axes_when_the_floor_is_known(planted, floor):
    res, runs = planted
    runs = runs if floor else dict(runs, floor=None)
    for fig in (plots.loss_vs(res, runs, "D"), plots.loss_vs_flops(res, runs)):
        ax = fig.axes[0]
        points = ax.collections[0].get_offsets()[:, 1]
        assert ax.get_yscale() == "log" and ("excess" in ax.get_ylabel()) == floor
        assert "nats per token" in ax.get_ylabel()
        assert np.allclose(np.sort(points), np.sort(runs["L"] - (TRUE["E"] if floor else 0)))
        plots.plt.close(fig)


def test_count_baseline_is_drawn_on_the_data_axis(planted):
    """loss vs D shows the count baseline's curve exactly (its excess, nats, against its tokens), labelled, and
    loss vs N does not; a result without one draws no such line."""
    res, runs = planted
    curve = [[D, 0.01, 50.0 / D] for D in np.geomspace(1e3, 1e7, 12)]
    with_counts = dict(res, count_baseline=dict(curve=curve))
    lines = lambda fig: [ln for ln in fig.axes[0].lines if ln.get_label().startswith("count baseline")]
    drawn = lines(plots.loss_vs(with_counts, runs, "D"))
    assert len(drawn) == 1
    assert np.allclose(drawn[0].get_xdata(), [c[0] for c in curve]) and np.allclose(drawn[0].get_ydata(), [c[2] for c in curve])
    assert not lines(plots.loss_vs(with_counts, runs, "N")) and not lines(plots.loss_vs(res, runs, "D"))
    plots.plt.close("all")


def test_bootstrap_panels_have_axis_labels_and_a_legend(planted):
    res, _ = planted
    fig = plots.bootstrap_histograms(res)
    shown = [ax for ax in fig.axes if ax.axison]
    assert len(shown) == 5 and all(ax.get_xlabel() and ax.get_ylabel() for ax in shown)
    texts = [t.get_text() for ax in shown if ax.get_legend() for t in ax.get_legend().get_texts()]
    assert "estimate (all runs)" in texts and "95% interval" in texts
    plots.plt.close(fig)


# -----------------------------------------------------------------------------
# spectrum and parameter-efficiency figures (each saves and closes its figure: it is caught before)


@pytest.fixture
def saved(monkeypatch):
    """The figures plots.savefig is given, kept open."""
    figs = []
    monkeypatch.setattr(plots, "savefig", lambda fig, path, dpi=100: figs.append(fig) or path)
    return figs


def test_spectrum_title_in_words_and_no_numerical_zeros(saved):
    g = graphs.barabasi_albert(100, 3, seed=0)
    spec = chain.spectrum(g, (5, 20))
    sv = spec["singular_values_joint"]
    assert np.any(sv < plots.ZERO_RELATIVE * sv.max())           # this chain has rounding zeros to drop
    title = plots.chain_title(g.name, g.args)
    plots.plot_spectrum(spec, "unused.png", title=title)
    fig = saved[0]
    assert fig._suptitle.get_text() == title and not set("{}'") & set(title) and title.startswith("Barabási–Albert")
    for ax in fig.axes:
        dots = [ln.get_ydata() for ln in ax.lines if ln.get_linestyle() == "None"]
        assert all(y.min() >= plots.ZERO_RELATIVE * y.max() for y in dots)
    plots.plt.close(fig)


def test_efficiency_legends_in_words(saved):
    rng = np.random.default_rng(0)
    N = np.geomspace(1e4, 1e5, 6)
    labels = ["param=mup, base_width=16, embed_lr_mult=1.0", "param=sp, base_width=64, embed_lr_mult=4.0"]
    families = {lab: (N, 2.4 + k * N ** -0.5 * np.exp(0.001 * rng.standard_normal(6)))
                for lab, k in zip(labels, (5, 6))}
    laws = lawfit.compare_families(families, labels[0], n_boot=20, quiet=True)
    plots.plot_efficiency(laws, labels[0], "unused.png", floor=2.3)
    texts = [t.get_text() for ax in saved[0].axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    assert texts and not any("=" in t.split(":")[0] for t in texts)
    assert {t.split(":")[0] for t in texts} == {"μP, base width 16", "SP, embedding lr × 4"}
    assert "μP, base width 16" in saved[0].axes[1].get_title()
    plots.plt.close(saved[0])
