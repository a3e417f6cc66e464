"""
Spectral diagnostics of a Markov chain: is there a power law in its statistics? (Millidge 2025; Maloney,
Roberts & Sully 2022.) Honest power-law fits over a rank window (slope, R², curvature verdict), singular
values of sparse matrices, the spectrum of a chain (its π by rank, the joint distribution diag(π)P of two
consecutive tokens, P itself) and a plot of it.

A chain is anything with the attributes of graphs.Graph that are read here (P, V, directed, stationary(),
spectral_gap()): this file imports no other project file but plotting.py, so graphs.py can import it.
"""

import os

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh, svds

import plotting

SVD_DENSE_MAX = 1000  # up to this many nodes singular values are all computed densely; beyond, the top k
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


def default_window(n):
    """The rank window (lo, hi) of the fits when none is given: ranks 10 .. n/10, at least 10 .. 14 (the
    fewest points power_law_fit accepts) so that small chains still get a fit."""
    return 10, max(n // 10, 14)


def power_law_fit(values, window=None):
    """
    Least-squares fit of log values[r-1] = log C + slope · log r over the ranks r = lo..hi of window
    (1-based, inclusive; default: all ranks with values > 0). Goodness of fit, all in log space:
    r2, max_residual (largest |log residual|, nats; 0.1 = a 10% miss) and curvature: a quadratic term in
    log r, reported as slope_drift (how much the local slope changes from one end of the window to the
    other) with its t statistic. Verdict "not a power law" when the curvature is significant (|t| > 3) and
    drifts the slope by more than 20% of its value (or 0.05, whichever is larger): a curve, not a line;
    "constant" when the values do not change over the window (slope 0 says nothing then).
    Caveat: ranked data have correlated residuals, so slope_se (the OLS one) is a lower bound.
    """
    values = np.asarray(values, dtype=np.float64)
    n_positive = int(np.count_nonzero(values > 0))
    lo, hi = (1, n_positive) if window is None else (int(window[0]), int(window[1]))
    if not (1 <= lo and lo + 4 <= hi <= n_positive) or np.any(values[lo - 1:hi] <= 0):
        raise ValueError(f"window must be 1 <= lo, lo + 4 <= hi <= {n_positive} (ranks with values > 0), "
                         f"got ({lo}, {hi})")
    x, y = np.log(np.arange(lo, hi + 1)), np.log(values[lo - 1:hi])
    (slope, intercept), cov = np.polyfit(x, y, 1, cov="unscaled")
    residual = y - (slope * x + intercept)
    dof = x.size - 2
    sigma2 = residual @ residual / dof if dof > 0 else 0.0
    ss_total = ((y - y.mean()) ** 2).sum()
    r2 = 1 - residual @ residual / ss_total if ss_total > 1e-24 * y.size else 1.0  # a flat run is fitted exactly
    xc = x - x.mean()
    coef2, cov2 = np.polyfit(xc, y, 2, cov="unscaled")
    curve, residual2 = coef2[0], y - np.polyval(coef2, xc)
    sigma2_quad = residual2 @ residual2 / max(x.size - 3, 1)
    curve_t = curve / np.sqrt(max(cov2[0, 0] * sigma2_quad, 1e-300))
    drift = 2 * curve * (x[-1] - x[0])
    curved = abs(curve_t) > 3 and abs(drift) > max(0.2 * abs(slope), 0.05)
    return dict(window=(lo, hi), slope=float(slope), intercept=float(intercept),
                slope_se=float(np.sqrt(cov[0, 0] * sigma2)),
                r2=float(r2), max_residual=float(np.abs(residual).max()), slope_drift=float(drift),
                curvature_t=float(curve_t),
                verdict="constant" if ss_total <= 1e-24 * y.size else "not a power law" if curved else "power law")


def singular_values(M, k=100, dense_max=SVD_DENSE_MAX):
    """Singular values of a sparse matrix, descending: all of them (dense SVD) up to dense_max rows, else the
    top k (ARPACK, scipy.sparse.linalg.svds)."""
    if M.shape[0] <= dense_max:
        return np.linalg.svd(M.toarray(), compute_uv=False)
    k = min(int(k), M.shape[0] - 2)
    return np.sort(svds(M, k=k, return_singular_vectors=False, random_state=0))[::-1]


def adjacency_bulk_edge(graph):
    """For an undirected graph: the largest |eigenvalue| of its 0/1 adjacency other than the Perron one,
    over 2√⟨k⟩, the edge of the Wigner semicircle of an Erdős–Rényi graph with mean degree ⟨k⟩
    (Füredi & Komlós 1981; P ≈ A/⟨k⟩ has its bulk within 2/√⟨k⟩). ~1 for ER; hubs push it above 1."""
    A = (graph.P > 0).astype(np.float64)
    if graph.V <= SVD_DENSE_MAX:
        lam = np.linalg.eigvalsh(A.toarray())
        top, low, second = lam[-1], lam[0], lam[-2]
    else:
        top, second = eigsh(A, k=2, which="LA", return_eigenvectors=False, v0=np.ones(graph.V))[::-1]
        low = eigsh(A, k=1, which="SA", return_eigenvectors=False, v0=np.ones(graph.V))[0]
    return float(max(second, abs(low)) / (2 * np.sqrt(A.nnz / graph.V)))


def spectrum(graph, window=None, k=100):
    """
    Spectral diagnostics of a chain, with power-law fits (power_law_fit) over the rank window (default:
    ranks 10 .. V/10): the rank-frequency of the stationary distribution π (its Zipf slope), the singular
    values of the joint distribution J = diag(π)·P of consecutive tokens (the "data covariance" spectrum
    of Millidge 2025 for a walk; its slope is -(1 + a) in λ_k ~ k^-(1+a)) and of P, the spectral gap, and
    checks: rows of P sum to 1; J is symmetric for an unbiased walk on an undirected graph (detailed
    balance, J_ij = J_ji); the adjacency bulk edge over the ER semicircle radius 2√⟨k⟩.
    """
    V = graph.V
    window = default_window(V) if window is None else window
    pi = graph.stationary()
    J = sp.diags(pi) @ graph.P
    sv_joint, sv_P = singular_values(J.tocsr(), k), singular_values(graph.P, k)
    window_sv = (window[0], min(window[1], sv_joint.size))
    return dict(
        V=V, window=tuple(window),
        zipf=power_law_fit(np.sort(pi)[::-1], window),
        joint=power_law_fit(sv_joint, window_sv),
        transition=power_law_fit(sv_P, (window_sv[0], min(window_sv[1], np.count_nonzero(sv_P > 0)))),
        spectral_gap=graph.spectral_gap(),
        row_sum_error=float(np.abs(np.asarray(graph.P.sum(axis=1)).ravel() - 1).max()),
        joint_asymmetry=float(abs(J - J.T).max() / J.max()),
        semicircle_ratio=None if graph.directed else adjacency_bulk_edge(graph),
        singular_values_joint=sv_joint, singular_values_P=sv_P, stationary_ranked=np.sort(pi)[::-1],
    )




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
    fig, axes = plotting.figure(1, 2, figsize=(10, 4))
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
            plotting.log_ticks(axis)
        ax.legend(fontsize=7)
    axes[0].set(ylabel="stationary probability π", title="token frequencies by rank")
    axes[1].set(ylabel="singular value", title="spectra of consecutive-token statistics")
    fig.suptitle(title, fontsize=10)
    plotting.savefig(fig, path)
