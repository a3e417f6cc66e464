"""
A Markov chain over V tokens: one row-stochastic sparse transition matrix P (Graph) and its exact
statistics, the stationary distribution π, the entropy rate, the loss floor, the period, the spectral
gap and the spectra (power-law fits of π by rank and of the singular values of diag(π)P and P); and the one
way to make P from a weighted adjacency matrix, with the κ-biased neighbour ranking.

A walk moves from node i to neighbour j with probability P[i, j]. In the κ-biased walk every node ranks
its neighbours in a uniformly random order r = 1..k and moves to the r-th with probability ∝ r^(-κ)
(times the edge weight, if the graph has weights); κ = 0 is the ordinary random walk and κ = 1 gives
Zipf-like transition probabilities. graphs.py builds the ensembles on top of this file.

All entropies and losses are in nats; "per prediction" means per predicted token.
"""

import itertools
import math
import sys
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph
from scipy.sparse.linalg import ArpackNoConvergence, eigs, eigsh, splu, svds
from scipy.special import entr

DENSE_MAX = 64  # below this many nodes eigenproblems are solved densely (ARPACK needs V > k + 1)
# ARPACK's |λ_2| slows down sharply on large dense expanders (0.4 s at 20K nodes/200K nonzeros, 16 s at
# 50K/1M, 3 min at 50K/4M), where λ_2 sits at the edge of a crowded bulk: describe() skips it above this
SPECTRAL_GAP_MAX_NNZ = 400_000
SVD_DENSE_MAX = 1000  # up to this many nodes singular values are all computed densely; beyond, the top k


@dataclass
class Graph:
    """A random walk on a graph: P is V x V CSR (float64), rows sum to 1, column indices sorted; a stored
    entry is an edge, its probability > 0 unless a large kappa underflowed it to 0."""
    P: sp.csr_matrix
    name: str                # ensemble: "er", "ba", "networkx", "file"
    args: dict               # the builder's arguments, JSON-serialisable
    n_dropped: int = 0       # nodes dropped outside the largest (strongly) connected component
    directed: bool = False
    # forest chains (percolation, critical ER): (V,) cluster id of each node, clusters numbered 0.. in node
    # order (P is block-diagonal); None for an irreducible chain
    clusters: np.ndarray = field(default=None, repr=False, compare=False)
    # derived arrays computed on first use (π, alias tables, device copies); not part of the chain
    cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def V(self):
        return self.P.shape[0]

    def stationary(self):
        """
        (V,) float64 π with πP = π, Σπ = 1. Unique when P is irreducible. For a forest (self.clusters set)
        πP = π has one solution per cluster; we take the one in which each cluster's mass is its share of
        the nodes, |c| / V: the distribution of a walk started at a uniformly random node after it has
        mixed inside its cluster, so a cluster ("subtask") is drawn with probability ∝ its size.
        Read-only, cached.
        """
        if "stationary" not in self.cache:
            forest = self.clusters is not None and self.clusters[-1] > 0
            pi = _forest_stationary(self.P, self.clusters) if forest else _stationary(self.P)
            pi.flags.writeable = False
            self.cache["stationary"] = pi
        return self.cache["stationary"]

    def row_entropy(self):
        """(V,) H(P_i) = -Σ_j P_ij log P_ij in nats: the loss floor of predicting the step out of node i."""
        rows = np.repeat(np.arange(self.V), np.diff(self.P.indptr))
        # entr: -p log p with 0 log 0 = 0, for the entries a large kappa underflows to 0 (rank^-kappa < 1e-308)
        return np.bincount(rows, weights=entr(self.P.data), minlength=self.V)

    def entropy_rate(self):
        """Σ_i π_i H(P_i): nats per token of a stationary walk."""
        return float(self.stationary() @ self.row_entropy())

    def start_distribution(self, start="stationary"):
        """(V,) distribution of a walk's first token: "stationary" (π) or "uniform"."""
        if start == "stationary":
            return self.stationary()
        if start == "uniform":
            return np.full(self.V, 1.0 / self.V)
        raise ValueError(f"start must be 'stationary' or 'uniform', got {start!r}")

    def loss_floor(self, start="stationary", length=50):
        """
        The minimum expected next-token loss, nats per prediction, of a walk whose first token is drawn
        from `start`, averaged over `length` predictions (DESIGN.md, "Floor"):
            (1/T) Σ_{t=0}^{T-1} Σ_i p_t(i) H(P_i),   p_0 = start,  p_{t+1} = p_t P.
        With a stationary start every p_t = π, so this is the entropy rate.
        """
        if not (isinstance(length, (int, np.integer)) and length >= 1):
            raise ValueError(f"length must be a positive integer, got {length!r}")
        p, H, PT = self.start_distribution(start), self.row_entropy(), self.P.T.tocsr()
        total = 0.0
        for _ in range(length):
            total += p @ H
            p = PT @ p
        return float(total / length)

    def spectral_gap(self):
        """
        1 - |λ_2|: one minus the second-largest eigenvalue modulus of P. A periodic chain (bipartite
        graphs: trees, grids, even cycles) has d eigenvalues on the unit circle and gap exactly 0.
        Slow on large dense graphs (minutes at 50K nodes, 2M edges): see SPECTRAL_GAP_MAX_NNZ.
        NaN if ARPACK does not converge.
        """
        if "spectral_gap" not in self.cache:
            forest = self.clusters is not None and self.clusters[-1] > 0  # λ = 1 is repeated: gap 0
            # the period of the class where π lives: node 0 may be transient (a bigram chain's unseen token)
            gap_zero = forest or _period(self.P, int(np.argmax(self.stationary()))) > 1
            self.cache["spectral_gap"] = 0.0 if gap_zero else _spectral_gap(self.P)
        return self.cache["spectral_gap"]

    def n_edges(self):
        """Edges of the underlying graph: undirected edges (self-loops included) counted once."""
        if self.directed:
            return int(self.P.nnz)
        n_loops = int(np.count_nonzero(self.P.diagonal()))
        return (self.P.nnz - n_loops) // 2 + n_loops

    def describe(self, length=50, spectral_gap=None):
        """
        A summary dict: size, out-degree statistics, entropy rate and loss floors (nats), spectral gap.
        spectral_gap: True computes it, False skips it (None in the dict), None computes it only when P
        has at most SPECTRAL_GAP_MAX_NNZ nonzeros.
        """
        degree = np.diff(self.P.indptr)
        if spectral_gap is None:
            spectral_gap = self.P.nnz <= SPECTRAL_GAP_MAX_NNZ
        return dict(
            name=self.name, args=self.args, V=self.V, n_edges=self.n_edges(), directed=self.directed,
            n_dropped=self.n_dropped,
            degree_min=int(degree.min()), degree_mean=float(degree.mean()),
            degree_max=int(degree.max()), degree_std=float(degree.std()),
            entropy_rate=self.entropy_rate(),
            log_mean_degree=float(np.log(degree.mean())),  # the entropy rate of a regular graph, κ=0
            loss_floor_stationary=self.loss_floor("stationary", length),
            loss_floor_uniform=self.loss_floor("uniform", length),
            spectral_gap=self.spectral_gap() if spectral_gap else None,
        )


def _stationary(P):
    """
    The left Perron vector of an irreducible stochastic P, normalised to sum 1. ARPACK is fast on
    well-mixing chains (ER, BA: a second at 50K nodes, 4M nonzeros) but stalls on slowly mixing ones
    (long paths, cycles, κ-biased drifts); those are sparse enough for an exact sparse LU solve.
    """
    V = P.shape[0]
    if V <= DENSE_MAX:
        lam, vecs = np.linalg.eig(P.T.toarray())
        pi = _normalise(vecs[:, np.argmin(np.abs(lam - 1))])
    else:
        try:  # 'LR': 1 has the largest real part, also when a periodic chain has -1 on the unit circle
            pi = _normalise(eigs(P.T, k=1, which="LR", tol=1e-14, maxiter=30, v0=np.ones(V))[1][:, 0])
        except ArpackNoConvergence:
            pi = None
        if pi is None or np.abs(P.T @ pi - pi).sum() > 1e-12:
            # π(I - P) = 0 with π_V = 1 fixed: the other V - 1 unknowns solve a nonsingular system
            M = (sp.identity(V, format="csc") - P.T).tocsc()
            pi = _normalise(np.append(splu(M[:-1, :-1]).solve(-M[:-1, -1].toarray().ravel()), 1.0))
    return _converged(P, pi)


def _forest_stationary(P, clusters):
    """
    π of a block-diagonal chain with cluster c holding mass |c| / V. Inside each cluster π ∝ degree when
    that is stationary (unbiased walks: detailed balance); otherwise one node per cluster is pinned to 1 and
    the rest of π(I - P) = 0 is one sparse LU solve (nonsingular: each block minus a node is).
    """
    V = P.shape[0]
    start = np.flatnonzero(np.r_[True, clusters[1:] != clusters[:-1]])  # each cluster's first node
    x = np.diff(P.indptr).astype(np.float64)
    if np.abs(P.T @ x - x).sum() > 1e-9 * x.sum():
        free = np.setdiff1d(np.arange(V), start)
        M = (sp.identity(V, format="csr") - P.T).tocsr()
        x = np.ones(V)
        x[free] = splu(M[free][:, free].tocsc()).solve(-(M[free][:, start] @ np.ones(start.size)))
    size = np.bincount(clusters)
    pi = x / np.bincount(clusters, weights=x)[clusters] * size[clusters] / V
    return _converged(P, pi)


def _converged(P, pi):
    """pi if it solves πP = π to 1e-9 (L1); a ValueError otherwise: a chain too ill-conditioned for float64,
    such as edge weights spanning hundreds of orders of magnitude, whose far rows round to zero."""
    residual = np.abs(P.T @ pi - pi).sum()
    if not residual <= 1e-9:
        raise ValueError(f"stationary distribution did not converge (|πP - π|_1 = {residual:.1e}): the chain is "
                         "too ill-conditioned for float64 (edge weights spanning too many orders of magnitude?)")
    return pi


def _normalise(v):
    """A real non-negative distribution from an eigenvector of any phase or sign (NaN from a degenerate one,
    which _converged refuses: no warning)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        pi = np.clip((v / v.sum()).real, 0, None)
        return pi / pi.sum()


def _period(P, start=0):
    """The period of the closed class holding node `start` (of an irreducible chain, any node): the gcd of
    its cycle lengths, which is the gcd over its edges i -> j of level(i) + 1 - level(j), with levels from a
    breadth-first search from `start`. Nodes it cannot reach (transient ones outside the class) are left out."""
    level = csgraph.shortest_path(P, unweighted=True, indices=start)
    reached = np.isfinite(level)
    level = np.where(reached, level, 0).astype(np.int64)
    rows = np.repeat(np.arange(P.shape[0]), np.diff(P.indptr))
    inside = reached[rows]  # edges out of a closed class stay inside it
    return int(np.gcd.reduce(level[rows[inside]] + 1 - level[P.indices[inside]]))


def _spectral_gap(P):
    if P.shape[0] <= DENSE_MAX:
        lam = np.linalg.eigvals(P.toarray())
    else:
        try:
            lam = eigs(P, k=4, which="LM", tol=1e-8, return_eigenvectors=False, v0=np.ones(P.shape[0]))
        except ArpackNoConvergence:
            return float("nan")
    lam = np.delete(lam, np.argmin(np.abs(lam - 1)))  # drop the Perron eigenvalue 1
    return float(max(0.0, 1 - np.abs(lam).max()))


# -----------------------------------------------------------------------------
# from an adjacency matrix to a chain

def check_nonnegative(name, value):
    """value as a float if it is a finite number >= 0 (not a bool); a ValueError naming it otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_kappa(kappa):
    """κ, the neighbour-ranking bias exponent, as a float: a finite number >= 0."""
    return check_nonnegative("kappa", kappa)



def _largest_component(A, directed):
    """Restrict A to its largest connected component (strongly connected, if directed)."""
    _, labels = csgraph.connected_components(A, directed=directed, connection="strong")
    keep = np.flatnonzero(labels == np.bincount(labels).argmax())
    if keep.size < 2:
        kind = "strongly connected component" if directed else "connected component"
        raise ValueError(f"empty graph: the largest {kind} has {keep.size} node(s); a walk needs 2 or more")
    return A[keep][:, keep], A.shape[0] - keep.size


def kappa_biased(A, kappa, rng):
    """
    Row-normalised A with the κ bias: each row ranks its entries in a uniformly random order r = 1..k and
    entry r gets weight A_ij · r^(-κ). Vectorised: one sort of (row, random key) over all stored entries.
    """
    A = A.tocsr(copy=True)
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    if kappa > 0:
        # the key sorts by row, then by random low bits (ties, p ~ k² / 2^shift, keep CSR order)
        shift = 63 - max(1, int(A.shape[0]).bit_length())
        key = (rows.astype(np.int64) << shift) | rng.integers(0, 2**shift, A.nnz)
        order = np.argsort(key, kind="stable")
        rank = np.empty(A.nnz)
        rank[order] = np.arange(A.nnz) - A.indptr[rows[order]] + 1
        A.data *= rank ** -kappa
    A.data /= np.bincount(rows, weights=A.data, minlength=A.shape[0])[rows]
    return A


def from_adjacency(A, directed, kappa, seed, name, args):
    """A Graph from a non-negative weighted adjacency matrix (A_ij = weight of edge i -> j).
    seed (an int or a numpy Generator) drives the neighbour ranking."""
    kappa = check_kappa(kappa)
    A = sp.csr_matrix(A, dtype=np.float64)
    if not np.isfinite(A.data).all():
        raise ValueError("edge weights must be finite")
    if (A.data < 0).any():
        raise ValueError("edge weights must be >= 0")
    A.eliminate_zeros()
    A.sum_duplicates()  # also sorts the column indices
    # Directed: only the largest strongly connected component is kept. This removes sinks (no out-edges)
    # and makes the chain irreducible, so π is unique; edges leaving the component are dropped too.
    A, n_dropped = _largest_component(A, directed)
    if n_dropped:
        print(f"graphs: dropped {n_dropped} of {A.shape[0] + n_dropped} nodes outside the largest "
              f"{'strongly ' if directed else ''}connected component", file=sys.stderr)
    P = kappa_biased(A, kappa, np.random.default_rng(seed))
    return Graph(P=P, name=name, args=args, n_dropped=n_dropped, directed=directed)


# -----------------------------------------------------------------------------
# spectra: is there a power law in a chain's statistics? (Millidge 2025; Maloney, Roberts & Sully 2022)
# Honest power-law fits over a rank window (slope, R², curvature verdict), singular values of sparse
# matrices, and the spectrum of a chain: its π by rank, the joint distribution diag(π)P of two consecutive
# tokens and P itself. plots.plot_spectrum draws it.

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


# -----------------------------------------------------------------------------
# the count baseline: P estimated from the transitions a learner has seen

SMOOTHING_GRID = np.logspace(-8, 1, 91)  # add-k values the leave-one-out rule chooses among (k -> 0: the MLE)


def entry_rows(graph):
    """The row of each nonzero of P, in P's CSR order."""
    return np.repeat(np.arange(graph.V, dtype=np.int64), np.diff(graph.P.indptr))


def row_totals(counts, graph):
    """c_i for each nonzero (i, j) of P: the total count of its row, counts being per nonzero."""
    rows = entry_rows(graph)
    return np.bincount(rows, weights=counts, minlength=graph.V)[rows]


def token_array(tokens):
    """Tokens (a tensor on any device, or an array) as an int64 numpy array."""
    return np.asarray(tokens.cpu() if hasattr(tokens, "cpu") else tokens, dtype=np.int64)


def transition_counts(batches, graph):
    """How often each transition (each nonzero of P, in P's CSR order) occurs in the walks of batches (an
    iterable of (B, T+1) token tensors or arrays): a learner that saw those D = B·T predictions knows these."""
    P = graph.P
    keys = entry_rows(graph) * graph.V + P.indices  # sorted: CSR rows in order, columns sorted within a row
    counts = np.zeros(P.nnz, dtype=np.int64)
    for b in map(token_array, batches):
        pairs = (b[:, :-1] * graph.V + b[:, 1:]).ravel()
        counts += np.bincount(np.searchsorted(keys, pairs), minlength=P.nnz)
    return counts


def loo_smoothing(counts, graph, grid=SMOOTHING_GRID):
    """The add-k smoothing of q(j|i) = (c_ij + k) / (c_i + k·V) that maximises the leave-one-out
    log-likelihood of the training transitions themselves, Σ c_ij log((c_ij − 1 + k) / (c_i − 1 + k·V))
    (Ney, Essen & Kneser 1994 set their discounts by leave-one-out): a rule that looks at the training data
    only, never at the eval set. Only observed transitions enter (c_ij ≥ 1), and they lie on P's support."""
    c, total = counts.astype(float), row_totals(counts, graph)
    seen = c > 0
    scores = [np.sum(c[seen] * (np.log(c[seen] - 1 + k) - np.log(total[seen] - 1 + k * graph.V))) for k in grid]
    return float(grid[int(np.argmax(scores))])


def count_loss(counts, k, eval_tokens, graph):
    """The expected eval loss, nats per prediction, of the add-k count estimate q of P: the mean over the
    eval inputs x of −Σ_j P[x, j] log q(j | x), with q(j|i) = (c_ij + k) / (c_i + k·V) (an unseen row: the
    uniform 1/V). eval_tokens: the (n, T+1) eval walks; minus the eval floor it is the count learner's excess."""
    terms = -graph.P.data * (np.log(counts + k) - np.log(row_totals(counts, graph) + k * graph.V))
    cross_entropy = np.bincount(entry_rows(graph), weights=terms, minlength=graph.V)  # per row of P, nats
    return float(cross_entropy[token_array(eval_tokens)[:, :-1].ravel()].mean())


def count_curve(graph, budgets, stream, eval_tokens):
    """The count baseline along token budgets (predictions, ascending): for each D, the add-k estimate of P
    from the first D / (B·T) batches of stream (the (B, T+1) training walks a run sees: walks.fresh_batches
    of its seed), k chosen by loo_smoothing, and its expected eval loss. Returns [(D, k, loss)]."""
    counts, seen, out, first = None, 0, [], next(stream)
    per_batch = first.shape[0] * (first.shape[1] - 1)
    stream = itertools.chain([first], stream)
    for D in budgets:
        new = max(0, math.ceil(D / per_batch) - seen)
        more = transition_counts((next(stream) for _ in range(new)), graph)
        counts, seen = more if counts is None else counts + more, seen + new
        k = loo_smoothing(counts, graph)
        out.append((seen * per_batch, k, count_loss(counts, k, eval_tokens, graph)))
    return out


def count_baseline(graph, eval_tokens, floor, best, stream):
    """
    The count estimator against trained models: count_curve on stream (a run's training walks) on a log grid
    from 1k tokens to the largest budget and at every budget D of best ({D: the models' best excess, nats}), and
    at each D the count estimator's
    excess, the tokens it needs to reach the models' excess (where its curve first falls to it, interpolated in
    log-log) and the models' token multiplier D / those tokens. floor: the eval set's (eval_floor).
    """
    grid = sorted({int(d) for d in np.geomspace(1000, max(best), 30)} | set(best))
    curve = count_curve(graph, grid, stream, eval_tokens)
    excess = np.array([loss for _, _, loss in curve]) - floor
    points = []
    for D, target in sorted(best.items()):
        below = np.flatnonzero(excess <= target)
        i = int(below[0]) if len(below) else 0
        at = math.exp(np.interp(math.log(target), np.log([excess[i], excess[i - 1]]),
                                np.log([grid[i], grid[i - 1]]))) if i else None
        points.append(dict(D=D, model_excess=target, count_excess=float(excess[grid.index(D)]), count_tokens=at,
                           multiplier=D / at if at else None))
    return dict(curve=[[D, k, float(e)] for D, (_, k, _), e in zip(grid, curve, excess)], points=points)
