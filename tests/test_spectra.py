import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import graphs  # noqa: E402
import chain  # noqa: E402


def semicircle_cdf(x, radius):
    x = np.clip(x / radius, -1, 1)
    return 0.5 + (x * np.sqrt(1 - x**2) + np.arcsin(x)) / np.pi


def test_er_bulk_is_a_semicircle():
    # adjacency of G(n, m) with mean degree <k> = 10: one Perron outlier near <k> + 1, the rest a Wigner
    # semicircle of radius 2√<k>(1 - <k>/n)^(1/2); 5% covers the finite-n edge and the sparse tails
    g = graphs.erdos_renyi(500, 2500, seed=0)
    A = (g.P > 0).astype(float).toarray()
    k = A.sum() / g.V
    lam = np.linalg.eigvalsh(A)
    radius = 2 * np.sqrt(k * (1 - k / g.V))
    assert abs(lam[-1] - (k + 1)) < 1.0
    bulk = lam[:-1]
    assert np.abs(bulk).max() < 1.05 * radius
    ks = np.abs(np.arange(1, bulk.size + 1) / bulk.size - semicircle_cdf(bulk, radius)).max()
    assert ks < 0.03  # Kolmogorov distance to the semicircle law
    assert 0.95 < chain.adjacency_bulk_edge(g) < 1.05


def test_ba_zipf_slope():
    # unbiased walk: π ∝ degree, and BA degrees P(k) ~ k^-3 give a ranked degree k(r) ~ r^(-1/(γ-1)) = r^-1/2;
    # finite-k corrections (P(k) ∝ 1/(k(k+1)(k+2))) leave the fitted slope within 0.05 of -0.5
    g = graphs.barabasi_albert(20_000, 3, seed=0)
    fit = chain.power_law_fit(np.sort(g.stationary())[::-1], (10, 2000))
    assert abs(fit["slope"] + 0.5) < 0.05 and fit["verdict"] == "power law" and fit["r2"] > 0.98


@pytest.mark.parametrize("build", [
    lambda k: graphs.erdos_renyi(300, 1500, kappa=k, seed=1),
    lambda k: graphs.barabasi_albert(300, 3, kappa=k, seed=2),
    lambda k: graphs.percolation_lattice(24, forest=True, kappa=k, seed=3),
])
def test_joint_matrix_symmetric_for_undirected_walks(build):
    spec = chain.spectrum(build(0.0), window=(5, 50))
    assert spec["row_sum_error"] < 1e-12 and spec["joint_asymmetry"] < 1e-12
    assert chain.spectrum(build(1.0), window=(5, 50))["joint_asymmetry"] > 0.1  # κ bias breaks detailed balance


def test_power_law_fit_verdicts():
    r = np.arange(1, 1001)
    exact = chain.power_law_fit(3.0 * r ** -1.5, (1, 1000))
    assert exact["slope"] == pytest.approx(-1.5) and exact["r2"] == pytest.approx(1) and exact["verdict"] == "power law"
    noisy = 3.0 * r ** -1.5 * np.exp(np.random.default_rng(0).normal(0, 0.05, r.size))
    fit = chain.power_law_fit(noisy, (10, 1000))
    assert abs(fit["slope"] + 1.5) < 4 * fit["slope_se"] and fit["verdict"] == "power law"
    curve = chain.power_law_fit(np.exp(-r / 100), (10, 1000))  # an exponential is a curve in log-log
    assert curve["verdict"] == "not a power law"
    assert chain.power_law_fit(np.ones(50), (1, 50))["verdict"] == "constant"
    with pytest.raises(ValueError, match="window must be"):
        chain.power_law_fit(r ** -1.0, (10, 12))


def test_sparse_and_dense_singular_values_agree():
    g = graphs.erdos_renyi(300, 1500, seed=4)
    dense = chain.singular_values(g.P)
    top = chain.singular_values(g.P, k=20, dense_max=0)
    assert dense.size == 300 and np.allclose(top, dense[:20], rtol=1e-6)


def test_cli_spectrum(tmp_path):
    out, png = tmp_path / "s.json", tmp_path / "s.png"
    r = subprocess.run([sys.executable, str(ROOT / "theory.py"), "graph", "er", "--nodes", "300", "--edges", "1500",
                        "--spectrum", "--window", "5", "40", "--plot", str(png), "--json", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    summary = json.loads(out.read_text())
    assert summary["zipf"]["window"] == [5, 40] and summary["joint"]["verdict"] in ("power law", "not a power law")
    assert png.stat().st_size > 1000
    r = subprocess.run([sys.executable, str(ROOT / "theory.py"), "graph", "er", "--nodes", "300", "--edges", "1500",
                        "--spectrum", "--window", "5", "6"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("error: window must be")
