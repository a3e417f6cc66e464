import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import chain  # noqa: E402
import fit  # noqa: E402
import graphs  # noqa: E402
import lawfit  # noqa: E402
import percolation  # noqa: E402
import theory  # noqa: E402


# -----------------------------------------------------------------------------
# the spectral theory: the random-feature ridge check

@pytest.mark.parametrize("a", [0.5, 1.0])
def test_ridge_exponent_matches_prediction(a):
    # the default check (D = 16..256, N = 8D, M = 8192, 3 seeds x 64 teachers): within 0.05 of α_D = a
    r = theory.measure_data_exponent(a)
    assert r["predicted"] == a and abs(r["measured"] - a) < 0.05 and r["se"] < 0.03
    assert np.all(np.diff(r["error"]) < 0)


def test_ridge_error_is_exact_test_error():
    # the closed form Σ λ_k (w_k - v_k)² against a Monte Carlo test set, on a tiny problem
    a, M, D = 1.0, 64, 8
    err = theory.ridge_test_error(a, [D], M=M, ratio=4, n_targets=1, seed=5)[0]
    rng = np.random.default_rng(5)  # replay the draws of ridge_test_error
    lam = np.arange(1, M + 1) ** -(1 + a)
    w = rng.standard_normal((M, 1))
    X = rng.standard_normal((D, M)) * np.sqrt(lam)
    W = rng.standard_normal((4 * D, M))
    phi = X @ W.T / np.sqrt(4 * D)
    beta = np.linalg.pinv(phi) @ (X @ w)
    X_test = rng.standard_normal((200_000, M)) * np.sqrt(lam)
    mc = np.mean((X_test @ w - X_test @ W.T @ beta / np.sqrt(4 * D)) ** 2)
    assert mc == pytest.approx(err, rel=0.02)
    with pytest.raises(ValueError, match="a must be"):
        theory.measure_data_exponent(-1.0)


# -----------------------------------------------------------------------------
# Brill's percolation theory: the exponents against brute-force allocations

def zipf(alpha, K):
    p = np.arange(1, K + 1, dtype=np.float64) ** -(1 + alpha)
    return p / p.sum()


def best_allocations(alpha, beta, K, prices):
    """(N, L) of Brill's allocation problem solved subtask by subtask at each price λ of a parameter:
    subtask k costs p_k if unlearned, p_k n^-β + λ n if learned with n >= 1 parameters. Each λ gives a point
    of the frontier's convex hull; no asymptotics are used."""
    p = zipf(alpha, K)
    N, L = [], []
    for lam in prices:
        n = np.maximum(1.0, (beta * p / lam) ** (1 / (1 + beta)))
        learned = p * n ** -beta + lam * n < p
        N.append(n[learned].sum())
        L.append((p * np.where(learned, n ** -beta, 1.0)).sum())
    return np.array(N), np.array(L)


def slope(x, y):
    return -np.polyfit(np.log(x), np.log(y), 1)[0]


# corrections to the asymptotic slopes decay slowly (as k^-b, b = 1 - (1+α)/(1+β), Brill's break rank k):
# these cases sit well inside each regime, where the fitted windows are within 0.015 of the formulas
@pytest.mark.parametrize("alpha,beta", [(0.5, 2.0), (2.0, 0.5)])  # subtask-limited, manifold-limited
def test_brill_model_exponent_matches_brute_force(alpha, beta):
    N, L = best_allocations(alpha, beta, 2_000_000, np.geomspace(1e-4, 1e-8, 12))
    keep = (N > 300) & (N < 300_000)
    assert keep.sum() >= 6
    pred = theory.brill_exponents(alpha, dim=4.0, c=4.0 * beta)
    assert abs(slope(N[keep], L[keep]) - pred["alpha_N"]) < 0.03
    assert pred["regime"] == ("subtask-limited" if alpha < beta else "manifold-limited")


@pytest.mark.parametrize("alpha,beta", [(1.0, 2.0), (2.0, 0.3)])
def test_brill_data_exponent_matches_brute_force(alpha, beta):
    # subtask k seen D·p_k times errs as (D p_k)^-β, an unseen one (D p_k < 1) costs p_k: direct sums
    p = zipf(alpha, 2_000_000)
    Ds = np.geomspace(1e3, 1e6, 8)
    L = [(p * np.minimum(1.0, (D * p) ** -beta)).sum() for D in Ds]
    assert abs(slope(Ds, L) - theory.brill_exponents(alpha, dim=2.0, c=2.0 * beta)["alpha_D"]) < 0.03


def test_subtask_alpha_from_planted_sizes():
    # sizes i.i.d. from p(s) ∝ s^-1.5 (inverse-CDF draws of a Pareto, floored): subtask masses ∝ s ranked
    # fall as k^-(1+α) with α = (2 - γ)/(γ - 1) = 1; the rank-size slope over the middle ranks checks it
    rng = np.random.default_rng(0)
    s = np.sort(np.floor(rng.random(20_000) ** (-1 / 0.5)))[::-1]
    line = chain.power_law_fit(s, (20, 2000))
    alpha, _ = theory.subtask_alpha(1.5)
    assert alpha == pytest.approx(1.0) and abs(-line["slope"] - (1 + alpha)) < 0.1
    assert theory.subtask_alpha(percolation.TAU_MEAN_FIELD - 1)[0] == pytest.approx(1.0)  # Brill: (3 - τ)/(τ - 2)
    assert theory.subtask_alpha(percolation.TAU_2D)[0] < 0  # all clusters of one lattice
    with pytest.raises(ValueError, match="must be > 1"):
        theory.subtask_alpha(1.0)


def test_critical_trees_give_brill_alpha_one():
    # Brill's mean-field ensemble: γ = 3/2 by MLE on the trees, so α = 1 within 3 standard errors (3σ
    # two-sided: false alarm 0.3%, seeded)
    stats = percolation.subtask_statistics(graphs.critical_trees(50_000, seed=1), s_min=2)
    alpha, se = theory.subtask_alpha(stats["subtask_gamma"], stats["subtask_gamma_se"])
    assert abs(alpha - 1) < 3 * se and se < 0.1


def test_brill_prediction_per_dataset():
    forest = dict(cluster_dimension=4.0, n_subtasks=300, subtask_gamma=1.5, subtask_gamma_se=0.05)
    pred = theory.brill_prediction(forest, c=2.0)  # α = 1, c/D = 1/2: manifold-limited
    assert pred["alpha"] == pytest.approx(1.0) and pred["alpha_se"] == pytest.approx(0.2)
    assert pred["alpha_N"] == pytest.approx(0.5) and pred["alpha_D"] == pytest.approx(0.5)
    assert pred["alpha_N_ci"] == pytest.approx([0.5, 0.5]) and pred["regime"] == "manifold-limited"
    lo, hi = theory.brill_prediction(forest, c=8.0)["alpha_N_ci"]  # c/D = 2: α sets it, α ± se
    assert lo == pytest.approx(0.8) and hi == pytest.approx(1.2)
    one = theory.brill_prediction(dict(cluster_dimension=percolation.DF_2D))
    assert one["alpha_N"] == one["alpha_D"] == pytest.approx(4 / percolation.DF_2D)
    assert theory.brill_prediction(dict(V=10))["alpha_N"] is None  # ER, BA, bigram: no clusters
    lattice = dict(forest, subtask_gamma=percolation.TAU_2D)
    assert theory.brill_prediction(lattice)["alpha_N"] is None


def test_spectral_prediction_and_report(tmp_path, capsys):
    joint_spectrum = dict(slope=-1.8, slope_se=0.01, verdict="power law")
    assert theory.spectral_prediction(joint_spectrum)["alpha_D"] == pytest.approx(0.8)
    assert theory.spectral_prediction(dict(joint_spectrum, verdict="not a power law"))["alpha_D"] is None
    assert theory.spectral_prediction(dict(joint_spectrum, slope=-0.5))["alpha_D"] is None  # a <= 0
    spec, fitted = tmp_path / "spec.json", tmp_path / "fit.json"
    spec.write_text(json.dumps(dict(joint=joint_spectrum, cluster_dimension=4.0, n_subtasks=100, subtask_gamma=1.5,
                                    subtask_gamma_se=0.05)))
    fitted.write_text(json.dumps(dict(joint=dict(alpha=0.3, beta=0.7, ci=dict(alpha=[0.2, 0.4], beta=[0.6, 0.8])))))
    rows = theory.report([("toy", spec, fitted)], c=2.0)
    assert rows[0]["alpha_D"] == pytest.approx(0.8) and rows[0]["beta_ci"] == [0.6, 0.8]
    assert rows[0]["brill_alpha_N"] == pytest.approx(0.5)
    out = capsys.readouterr().out
    assert "| toy | 0.800 ± 0.010 | 0.80 | 1.00 ± 0.20 | 4.00 | 0.50 [0.50, 0.50]" in out
    assert rows[0]["infinite"] is None and "| - (no expected-target runs) |" in out
    # with expected-target runs: the shape of L(N, D = inf) - E beside the prediction, here a planted power law
    N = np.geomspace(1e4, 1e6, 8)
    excess = 30.0 * N ** -0.6 * np.exp(0.01 * np.random.default_rng(0).standard_normal(8))
    shapes = lawfit.compare_shapes(N, excess, n_boot=50, quiet=True)
    points = [dict(run=str(i), N=float(n), excess=float(e)) for i, (n, e) in enumerate(zip(N, excess))]
    fitted.write_text(json.dumps(fit.to_json(dict(joint=json.loads(fitted.read_text())["joint"],
                                                  infinite_data=dict(points=points, unconverged=[], **shapes)))))
    row = theory.report([("toy", spec, fitted)], c=2.0)[0]
    assert row["infinite"]["verdict"] == "power law" and row["infinite"]["alpha"] == pytest.approx(0.6, abs=0.05)
    assert f"power law by {row['infinite']['delta_bic']:.1f} (converged, 8/8 conv.) alpha 0.6" in capsys.readouterr().out
    r = subprocess.run([sys.executable, str(ROOT / "theory.py"), "report", "--rung", "toy", str(spec),
                        str(tmp_path / "missing.json")], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("error:") and "Traceback" not in r.stderr


@pytest.mark.parametrize("args, message", [
    (["ridge", "--a", "nan"], "error: argument --a: not a finite number"),
    (["ridge", "--seeds", "1"], "error: --seeds must be >= 2"),  # one seed has no spread: no standard error
    (["ridge", "--json", "/dev/null/ridge.json"], "error: /dev/null/ridge.json"),  # refused before any work
])
def test_cli_bad_values_are_one_line(args, message):
    r = subprocess.run([sys.executable, str(ROOT / "theory.py"), *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.startswith(message) and r.stderr.count("\n") == 1, r.stderr
    assert r.stdout == ""
