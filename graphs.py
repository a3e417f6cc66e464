"""
A Markov chain as a graph: random-graph ensembles (Erdős–Rényi, Barabási–Albert, any networkx graph or
edge list, critical percolation on the square lattice, critical Erdős–Rényi, critical Galton–Watson trees)
-> one row-stochastic sparse transition matrix P over V tokens, and its exact statistics: stationary
distribution, entropy rate, loss floor, spectral gap; cluster statistics (τ, D_f, p_c, subtask sizes);
spectra with honest power-law fits.

A walk moves from node i to neighbour j with probability P[i, j]. In the κ-biased walk every node ranks
its neighbours in a uniformly random order r = 1..k and moves to the r-th with probability ∝ r^(-κ)
(times the edge weight, if the graph has weights); κ = 0 is the ordinary random walk and κ = 1 gives
Zipf-like transition probabilities.

All entropies and losses are in nats; "per prediction" means per predicted token.

    python graphs.py er --nodes 1000 --edges 5000 --kappa 1
    python graphs.py ba --nodes 1000 --m 5
    python graphs.py file --edges-file edges.txt --directed --json out.json
    python graphs.py percolation --L 256 --kind bond --forest --spanning 200
    python graphs.py critical-er --nodes 1000000 --forest
    python graphs.py critical-trees --nodes 4096 --json trees.json
    python graphs.py ba --nodes 1000 --m 3 --spectrum --window 10 100 --plot ba.png
    python graphs.py bigram --tokens data/kjv-bpe2048/train.bin --V 2048 --spectrum
"""

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph
from scipy.optimize import minimize_scalar
from scipy.sparse.linalg import ArpackNoConvergence, eigs, eigsh, splu, svds
from scipy.special import gammaln, zeta
from scipy.stats import binom, chi2

DENSE_MAX = 64  # below this many nodes eigenproblems are solved densely (ARPACK needs V > k + 1)
# ARPACK's |λ_2| slows down sharply on large dense expanders (0.4 s at 20K nodes/200K nonzeros, 16 s at
# 50K/1M, 3 min at 50K/4M), where λ_2 sits at the edge of a crowded bulk: describe() skips it above this
SPECTRAL_GAP_MAX_NNZ = 400_000


@dataclass
class Graph:
    """A random walk on a graph: P is V x V CSR (float64), rows sum to 1, column indices sorted."""
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
        p = self.P.data  # stored entries are all > 0
        rows = np.repeat(np.arange(self.V), np.diff(self.P.indptr))
        return np.bincount(rows, weights=-p * np.log(p), minlength=self.V)

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
    residual = np.abs(P.T @ pi - pi).sum()
    if residual > 1e-9:
        raise RuntimeError(f"stationary distribution did not converge: |πP - π|_1 = {residual:.1e}")
    return pi


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
    residual = np.abs(P.T @ pi - pi).sum()
    if residual > 1e-9:
        raise RuntimeError(f"stationary distribution did not converge: |πP - π|_1 = {residual:.1e}")
    return pi


def _normalise(v):
    """A real non-negative distribution from an eigenvector of any phase or sign."""
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

def check_kappa(kappa):
    if isinstance(kappa, bool) or not isinstance(kappa, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(kappa) and kappa >= 0):
        raise ValueError(f"kappa must be a finite number >= 0, got {kappa!r}")
    return float(kappa)


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


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
# ensembles

def erdos_renyi(n_nodes, n_edges, kappa=0.0, seed=0):
    """G(n, m): uniform over simple undirected graphs on n_nodes nodes with exactly n_edges edges."""
    n = _check_int("nodes", n_nodes, 2)
    m = _check_int("edges", n_edges, 1)
    check_kappa(kappa)
    n_pairs = n * (n - 1) // 2
    if m > n_pairs:
        raise ValueError(f"edges must be <= n(n-1)/2 = {n_pairs} for {n} nodes, got {m}")
    rng = np.random.default_rng(seed)
    A = _random_pairs_adjacency(n, m, rng)
    args = dict(n_nodes=n, n_edges=m, kappa=float(kappa), seed=seed)
    return from_adjacency(A, False, kappa, rng, "er", args)  # the ranking continues this rng's stream


def _random_pairs_adjacency(n, m, rng):
    """Symmetric 0/1 adjacency of m distinct uniformly random node pairs out of n(n-1)/2."""
    # pair ids decoded from the lower triangle: id = j(j-1)/2 + i, i < j
    pair = rng.choice(n * (n - 1) // 2, size=m, replace=False)
    j = ((1 + np.sqrt(1 + 8 * pair.astype(np.float64))) // 2).astype(np.int64)
    j -= j * (j - 1) // 2 > pair  # correct float rounding of the square root
    j += (j + 1) * j // 2 <= pair
    i = pair - j * (j - 1) // 2
    return sp.csr_matrix((np.ones(2 * m), (np.r_[i, j], np.r_[j, i])), shape=(n, n))


def barabasi_albert(n_nodes, m, kappa=0.0, seed=0):
    """Preferential attachment: each new node links to m existing nodes chosen ∝ degree (networkx)."""
    n = _check_int("nodes", n_nodes, 2)
    m = _check_int("m", m, 1)
    if m >= n:
        raise ValueError(f"m must be < nodes for Barabási–Albert, got m={m}, nodes={n}")
    check_kappa(kappa)
    G = nx.barabasi_albert_graph(n, m, seed=seed)
    args = dict(n_nodes=n, m=m, kappa=float(kappa), seed=seed)
    return from_adjacency(nx.to_scipy_sparse_array(G, format="csr"), False, kappa, seed, "ba", args)


def from_networkx(G, kappa=0.0, seed=0):
    """Any networkx graph, directed or not; the edge attribute 'weight' is used where present."""
    A = nx.to_scipy_sparse_array(G, weight="weight", dtype=np.float64, format="csr")
    args = dict(n_nodes=G.number_of_nodes(), n_edges=G.number_of_edges(), kappa=float(kappa), seed=seed)
    return from_adjacency(A, G.is_directed(), kappa, seed, "networkx", args)


def read_edge_file(path, directed=False):
    """
    A networkx graph from lines "u v" or "u v w" (whitespace or commas; '#' starts a comment; labels are
    any strings, nodes numbered in order of first appearance; a repeated edge keeps its last weight).
    """
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        lineno = raw[:e.start].count(b"\n") + 1
        raise ValueError(f"{path}:{lineno}: not UTF-8 text") from None
    G = nx.DiGraph() if directed else nx.Graph()
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = [x for x in re.split(r"[,\s]+", line.split("#", 1)[0]) if x]
        if not fields:
            continue
        weight = _edge_weight(fields)
        if weight is None:
            raise ValueError(f"{path}:{lineno}: expected 'u v' or 'u v w' with a finite weight w >= 0, "
                             f"got {line.strip()!r}")
        G.add_edge(fields[0], fields[1], weight=weight)
    if G.number_of_edges() == 0:
        raise ValueError(f"{path}: no edges")
    return G


def _edge_weight(fields):
    """The weight of an edge line split into 2 or 3 fields (1 if unweighted); None if malformed."""
    if len(fields) == 2:
        return 1.0
    try:
        weight = float(fields[2]) if len(fields) == 3 else math.nan
    except ValueError:
        return None
    return weight if math.isfinite(weight) and weight >= 0 else None


def from_edge_file(path, directed=False, kappa=0.0, seed=0):
    """A Graph from an edge-list file (see read_edge_file)."""
    check_kappa(kappa)
    G = read_edge_file(path, directed)
    A = nx.to_scipy_sparse_array(G, weight="weight", dtype=np.float64, format="csr")
    args = dict(path=str(path), directed=bool(directed), kappa=float(kappa), seed=seed)
    return from_adjacency(A, directed, kappa, seed, "file", args)


# -----------------------------------------------------------------------------
# the bigram chain of a token corpus (teacher.py tokenizes one)

SMOOTHING_MAX_ENTRIES = 50_000_000  # add-k smoothing stores all V² entries of P: 0.6 GB as CSR at this size


def bigram(tokens, V, smoothing=0.0, name="bigram", args=None):
    """
    The bigram chain of a token sequence over all V ids (ids stay the tokenizer's, so walks decode to text):
    P[i, j] = C[i, j] / Σ_j C[i, j], C[i, j] = how often token j follows token i. The sequence is read as a
    loop, its last token followed by its first (one transition in len(tokens), as if the text restarted), so
    that every token that occurs has a successor and its row is its observed successors: no sinks. Then each
    token is entered as often as it is left, and the stationary distribution is exactly the unigram one,
    π = u = occurrences / len(tokens); the occurring tokens form one closed class (the loop visits them all),
    irreducible, and the entropy rate is the corpus's conditional entropy H(next | current), nats per token.
    Tokens that never occur have no counts: their row is u, as if a new document started there, so P is
    row-stochastic; nothing leads to them (transient, π = 0), and each such row stores one entry per
    occurring token.
    smoothing = k > 0 adds k to every one of the V² counts (dense: refused above SMOOTHING_MAX_ENTRIES); all
    rows are then positive and π is solved for.
    args: the caller's description of the corpus (JSON-serialisable), to which are added V, n_tokens, n_seen
    (distinct tokens that occur), smoothing and zipf: the power_law_fit of the tokens' occurrence counts by rank
    over ranks 10 .. V/10 as in spectrum() (fewer if fewer tokens occur; None below 14 distinct tokens).
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 1 or tokens.size < 2 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"tokens must be a 1-D integer array of >= 2 token ids, got shape {tokens.shape} "
                         f"of {tokens.dtype}")
    V = _check_int("V", V, 2)
    if tokens.min() < 0 or tokens.max() >= V:
        raise ValueError(f"token ids must be in [0, V={V}), got {tokens.min()}..{tokens.max()}")
    if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(smoothing) and smoothing >= 0):
        raise ValueError(f"smoothing must be a finite number >= 0, got {smoothing!r}")
    if smoothing > 0 and V * V > SMOOTHING_MAX_ENTRIES:
        raise ValueError(f"smoothing fills all V² = {V * V:.2g} entries of P, above the limit "
                         f"{SMOOTHING_MAX_ENTRIES:.0e}")
    t = tokens.astype(np.int64)
    counts = np.bincount(t, minlength=V)
    C = sp.coo_matrix((np.ones(t.size), (t, np.roll(t, -1))), shape=(V, V)).tocsr()  # duplicates summed
    u = counts / t.size
    if smoothing > 0:
        dense = C.toarray() + smoothing
        P = sp.csr_matrix(dense / dense.sum(axis=1, keepdims=True))
    else:
        seen, unseen = np.flatnonzero(counts), np.flatnonzero(counts == 0)
        restart = sp.csr_matrix((np.tile(u[seen], unseen.size),
                                 (np.repeat(unseen, seen.size), np.tile(seen, unseen.size))), shape=(V, V))
        P = (sp.diags(1.0 / np.maximum(counts, 1)) @ C + restart).tocsr()  # row sums of C are the counts
    P.sort_indices()
    args = dict(args or {}, V=V, n_tokens=int(t.size), n_seen=int(np.count_nonzero(counts)),
                smoothing=float(smoothing), zipf=_zipf(counts))
    graph = Graph(P=P, name=name, args=args, directed=True)
    if smoothing == 0:
        pi = u.copy()
        pi.flags.writeable = False
        graph.cache["stationary"] = pi
    return graph


def _zipf(counts):
    """power_law_fit of the nonzero counts sorted by rank over ranks 10 .. V/10 (spectrum's window), or None."""
    ranked = np.sort(counts[counts > 0])[::-1]
    if ranked.size < 14:
        return None
    return power_law_fit(ranked, (10, min(max(counts.size // 10, 14), ranked.size)))


# -----------------------------------------------------------------------------
# percolation: critical lattices and critical Poisson random graphs (Brill 2024's "subtasks" are clusters)

SITE_PC = 0.59274621  # square-lattice site threshold (Newman & Ziff 2000, numerical)
BOND_PC = 0.5         # square-lattice bond threshold, exact (Kesten 1980)
TAU_2D = 187 / 91     # 2D Fisher exponent: clusters per site n_s ~ s^-τ at p_c (Stauffer & Aharony 1994)
DF_2D = 91 / 48       # 2D fractal dimension: largest cluster mass ~ L^D_f at p_c (Stauffer & Aharony 1994)
TAU_MEAN_FIELD = 5 / 2  # critical Poisson (Erdős–Rényi) graphs: n_s ~ s^-5/2
DF_MEAN_FIELD = 4       # critical clusters in d >= 6 (Bethe lattice): mass ~ radius^4 (Brill 2024's D)


def _check_kind(kind):
    if kind not in ("site", "bond"):
        raise ValueError(f"kind must be 'site' or 'bond', got {kind!r}")
    return kind


def _check_p(p, kind):
    p = (SITE_PC if kind == "site" else BOND_PC) if p is None else p
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0 <= p <= 1:
        raise ValueError(f"p must be a number in [0, 1], got {p!r}")
    return float(p)


def lattice_bonds(L, periodic=True):
    """(a, b): the nearest-neighbour bonds of the L x L square lattice, site (i, j) numbered i*L + j."""
    site = np.arange(L * L).reshape(L, L)
    if periodic:
        right, down = np.roll(site, -1, axis=1), np.roll(site, -1, axis=0)
        return np.r_[site.ravel(), site.ravel()], np.r_[right.ravel(), down.ravel()]
    return np.r_[site[:, :-1].ravel(), site[:-1, :].ravel()], np.r_[site[:, 1:].ravel(), site[1:, :].ravel()]


def percolation_adjacency(L, p=None, kind="site", periodic=True, seed=0):
    """
    One L x L percolation configuration: (A, occupied). A is the symmetric 0/1 adjacency over all L² sites
    holding the open bonds between occupied sites; occupied is the (L²,) mask of occupied sites. Site
    percolation occupies each site with probability p (all bonds between occupied sites open); bond
    percolation opens each bond with probability p (all sites occupied). p=None: the critical point.
    seed: an int or a numpy Generator (whose stream the caller may continue).
    """
    L = _check_int("L", L, 3)
    kind = _check_kind(kind)
    p = _check_p(p, kind)
    rng = np.random.default_rng(seed)
    a, b = lattice_bonds(L, periodic)
    if kind == "site":
        occupied = rng.random(L * L) < p
        keep = occupied[a] & occupied[b]
    else:
        occupied = np.ones(L * L, dtype=bool)
        keep = rng.random(a.size) < p
    a, b = a[keep], b[keep]
    A = sp.csr_matrix((np.ones(2 * a.size), (np.r_[a, b], np.r_[b, a])), shape=(L * L, L * L))
    return A, occupied


def cluster_sizes(A, occupied=None):
    """
    Clusters = connected components of the undirected adjacency A, restricted to the occupied nodes (all,
    if None): (labels, sizes), labels (V,) numbered 0..n_clusters-1 (-1 for unoccupied nodes) and sizes
    (n_clusters,) in nodes. Isolated occupied nodes are clusters of size 1.
    """
    _, labels = csgraph.connected_components(A, directed=False)
    occupied = np.ones(A.shape[0], dtype=bool) if occupied is None else np.asarray(occupied, dtype=bool)
    _, compact = np.unique(labels[occupied], return_inverse=True)
    labels = np.full(A.shape[0], -1, dtype=np.int64)
    labels[occupied] = compact
    return labels, np.bincount(compact)


def tau_mle(sizes, s_min=1, s_max=None):
    """
    Maximum-likelihood exponent τ of a discrete power law p(s) = s^-τ / Z(τ), s_min <= s <= s_max, fitted to
    the cluster sizes in that range (Clauset, Shalizi & Newman 2009, eq. 3.5; Z = ζ(τ, s_min) - ζ(τ, s_max+1),
    just ζ(τ, s_min) with no upper cutoff), and its standard error from the curvature of the log-likelihood
    (their eq. 3.6): σ = 1 / sqrt(n d²/dτ² log Z). Returns (tau, se, n) with n the number of sizes used.
    """
    s_min = _check_int("s_min", s_min, 1)
    s = np.asarray(sizes, dtype=np.float64)
    s = s[(s >= s_min) & (s <= (np.inf if s_max is None else s_max))]
    if s.size < 10 or np.all(s == s_min):
        raise ValueError(f"tau_mle needs >= 10 sizes >= s_min={s_min}, not all equal; got {s.size}")
    mean_log = np.log(s).mean()

    def log_norm(tau):
        return np.log(zeta(tau, s_min) - (0.0 if s_max is None else zeta(tau, s_max + 1)))

    tau = minimize_scalar(lambda tau: log_norm(tau) + tau * mean_log, bounds=(1.0 + 1e-6, 10.0),
                          method="bounded", options=dict(xatol=1e-10)).x
    h = 1e-4
    d2 = (log_norm(tau + h) - 2 * log_norm(tau) + log_norm(tau - h)) / h**2
    return float(tau), float(1 / np.sqrt(s.size * d2)), int(s.size)


def spanning_thresholds(L, kind="site", n_samples=200, seed=0, n_bisect=16):
    """
    (n_samples,) spanning thresholds on the open L x L lattice. Each sample draws one uniform u per site
    (site) or bond (bond) and occupies it at p iff u < p, so "a cluster joins the top row to the bottom row"
    is monotone in p and all samples are bisected at once (n_bisect halvings, resolution 2^-n_bisect).
    The spanning probability is R_L(p) = mean(thresholds <= p); its median p with R_L = 1/2 estimates p_c,
    since the square lattice's crossing probability at p_c tends to 1/2 (Ziff 1992; Cardy 1992).
    """
    L = _check_int("L", L, 3)
    n_samples = _check_int("n_samples", n_samples, 1)
    kind = _check_kind(kind)
    rng = np.random.default_rng(seed)
    a, b = lattice_bonds(L, periodic=False)
    if kind == "site":
        u = rng.random((n_samples, L * L))
        key = np.maximum(u[:, a], u[:, b])  # a bond is open iff both its sites are occupied
    else:
        key = rng.random((n_samples, a.size))
    offset = (np.arange(n_samples) * L * L)[:, None]
    a, b = (a + offset).ravel(), (b + offset).ravel()
    n = n_samples * L * L
    lo, hi = np.zeros(n_samples), np.ones(n_samples)
    for _ in range(n_bisect):
        mid = (lo + hi) / 2
        keep = (key < mid[:, None]).ravel()
        A = sp.csr_matrix((np.ones(keep.sum()), (a[keep], b[keep])), shape=(n, n))
        labels = csgraph.connected_components(A, directed=False)[1].reshape(n_samples, L * L)
        at_top = np.zeros(n, dtype=bool)
        at_top[labels[:, :L]] = True  # a site alone spans nothing: L >= 3 rows
        spans = at_top[labels[:, -L:]].any(axis=1)
        hi, lo = np.where(spans, mid, hi), np.where(spans, lo, mid)
    return hi


def critical_point(thresholds, confidence=0.95):
    """(p_c, (low, high)): the median spanning threshold and its distribution-free order-statistic interval."""
    t = np.sort(thresholds)
    k_lo, k_hi = binom.ppf([(1 - confidence) / 2, (1 + confidence) / 2], t.size, 0.5).astype(int)
    return float(np.median(t)), (float(t[max(k_lo - 1, 0)]), float(t[min(k_hi, t.size - 1)]))


def largest_cluster_scaling(Ls, p=None, kind="site", periodic=True, n_samples=4, seed=0):
    """
    Mean largest-cluster mass M(L) (sites) over n_samples lattices for each L, and the exponent of
    M ~ L^D_f by least squares in log-log with its standard error: (masses, D_f, se). At p_c, D_f = 91/48.
    """
    if len(Ls) < 3:
        raise ValueError(f"largest_cluster_scaling needs >= 3 lattice sizes, got {len(Ls)}")
    def largest(L, sample_seed):
        return cluster_sizes(*percolation_adjacency(L, p, kind, periodic, sample_seed))[1].max()

    masses = np.array([np.mean([largest(L, seed + 1000 * i + r) for r in range(n_samples)])
                       for i, L in enumerate(Ls)])
    fit = np.polyfit(np.log(Ls), np.log(masses), 1, cov=True)
    return masses, float(fit[0][0]), float(np.sqrt(fit[1][0, 0]))


def borel_pmf(s, c=1.0):
    """Borel law P(S = s) = e^(-cs) (cs)^(s-1) / s!, s >= 1: the total progeny of a Poisson(c) Galton–Watson
    tree (Borel 1942), hence the size of a random vertex's component in G(n, c/n), n -> ∞, c <= 1."""
    s = np.asarray(s, dtype=np.float64)
    return np.exp(-c * s + (s - 1) * np.log(c * s) - gammaln(s + 1))


def _forest(A, occupied, kappa, rng, name, args):
    """The block-diagonal chain over all clusters of >= 2 nodes (nodes ordered by cluster). Isolated nodes
    (clusters of size 1) have no step to take and are dropped, counted in n_dropped."""
    labels, sizes = cluster_sizes(A, occupied)
    keep = np.flatnonzero(np.r_[sizes, 0][labels] >= 2)  # label -1 (unoccupied) reads the appended 0
    if keep.size == 0:
        raise ValueError("empty graph: no cluster has 2 or more nodes")
    keep = keep[np.argsort(labels[keep], kind="stable")]
    clusters = np.unique(labels[keep], return_inverse=True)[1]
    P = kappa_biased(A[keep][:, keep], check_kappa(kappa), rng)
    return Graph(P=P, name=name, args=args, n_dropped=int(occupied.sum() - keep.size), clusters=clusters)


def percolation_lattice(L, p=None, kind="site", periodic=True, forest=False, kappa=0.0, seed=0):
    """
    A walk on a percolation configuration of the L x L square lattice (see percolation_adjacency; p=None
    is the critical point: site 0.5927, bond 1/2). forest=False: the largest cluster only. forest=True:
    every cluster of >= 2 sites as one block-diagonal chain whose stationary start picks a cluster with
    probability ∝ its size (Graph.stationary): power-law distributed subtasks at p_c, n_s ~ s^-187/91.
    """
    check_kappa(kappa)
    rng = np.random.default_rng(seed)  # the configuration, then the neighbour ranking, from one stream
    A, occupied = percolation_adjacency(L, p, kind, periodic, rng)
    args = dict(L=int(L), p=_check_p(p, kind), kind=kind, periodic=bool(periodic), forest=bool(forest),
                kappa=float(kappa), seed=seed)
    if forest:
        return _forest(A, occupied, kappa, rng, "percolation", args)
    site = np.flatnonzero(occupied)
    return from_adjacency(A[site][:, site], False, kappa, rng, "percolation", args)


def critical_er_adjacency(n_nodes, c=1.0, seed=0):
    """G(n, p) with p = c/(n-1), mean degree c (Poisson in the limit): the symmetric 0/1 adjacency.
    seed: an int or a numpy Generator."""
    n = _check_int("nodes", n_nodes, 2)
    if isinstance(c, bool) or not isinstance(c, (int, float, np.integer, np.floating)) or not 0 < c < n - 1:
        raise ValueError(f"c (mean degree) must be a number in (0, nodes - 1), got {c!r}")
    rng = np.random.default_rng(seed)
    n_pairs = n * (n - 1) // 2
    return _random_pairs_adjacency(n, int(rng.binomial(n_pairs, c / (n - 1))), rng)


def critical_er(n_nodes, c=1.0, forest=False, kappa=0.0, seed=0):
    """
    A walk on G(n, c/(n-1)); c = 1 is the critical point, where the component of a random vertex is a
    Borel(1)-sized tree (borel_pmf) and clusters per vertex fall as n_s ~ s^-5/2 up to s ~ n^(2/3).
    forest=False: the largest component; forest=True: all components of >= 2 nodes (see percolation_lattice).
    """
    check_kappa(kappa)
    rng = np.random.default_rng(seed)
    A = critical_er_adjacency(n_nodes, c, rng)
    args = dict(n_nodes=int(n_nodes), c=float(c), forest=bool(forest), kappa=float(kappa), seed=seed)
    if forest:
        return _forest(A, np.ones(A.shape[0], dtype=bool), kappa, rng, "critical-er", args)
    return from_adjacency(A, False, kappa, rng, "critical-er", args)


def critical_trees(n_nodes, c=1.0, s_max=None, kappa=0.0, seed=0):
    """
    Brill's ensemble of subtasks (Brill 2024, whose toy data are clusters grown from a seed site on the
    Bethe lattice at p_c): independent Poisson(c) Galton–Watson trees, the mean-field cluster of a random
    site, drawn until they hold >= n_nodes nodes (V overshoots by less than s_max). A tree's size is
    Borel(c) (borel_pmf) conditioned on 2 <= s <= s_max (default n_nodes // 10, so no tree dominates; a
    size-1 tree has no step to take); given its size, a Poisson GW tree is a uniformly random labelled tree
    (Aldous 1991), decoded from a uniform Prüfer sequence. The sizes of this collection fall as
    s^-(τ-1) = s^-3/2 at c = 1, not as the n_s ~ s^-τ of all clusters of one graph (critical_er's
    forest), so subtasks drawn ∝ size have Zipf frequencies with α = 1 (theory.subtask_alpha). The chain is
    the forest; a stationary walk starts in a tree with probability ∝ its size.
    """
    n = _check_int("nodes", n_nodes, 2)
    if isinstance(c, bool) or not isinstance(c, (int, float, np.integer, np.floating)) or not 0 < c <= 1:
        raise ValueError(f"c (mean offspring) must be a number in (0, 1], got {c!r}")
    s_max = max(n // 10, 2) if s_max is None else _check_int("s_max", s_max, 2)
    check_kappa(kappa)
    rng = np.random.default_rng(seed)
    support = np.arange(2, s_max + 1)
    pmf = borel_pmf(support, c)
    pmf /= pmf.sum()
    sizes = np.zeros(0, dtype=np.int64)
    while sizes.sum() < n:
        sizes = np.r_[sizes, rng.choice(support, size=n // 2 + 1, p=pmf)]
    sizes = sizes[:np.searchsorted(np.cumsum(sizes), n) + 1]
    offsets = np.r_[0, np.cumsum(sizes)[:-1]]
    edges = [np.array(nx.from_prufer_sequence(rng.integers(0, s, s - 2).tolist()).edges) + offset
             if s > 2 else np.array([[offset, offset + 1]]) for s, offset in zip(sizes, offsets)]
    a, b = np.concatenate(edges).T
    V = int(sizes.sum())
    A = sp.csr_matrix((np.ones(2 * a.size), (np.r_[a, b], np.r_[b, a])), shape=(V, V))
    args = dict(n_nodes=n, c=float(c), s_max=int(s_max), kappa=float(kappa), seed=seed)
    return _forest(A, np.ones(V, dtype=bool), kappa, rng, "critical-trees", args)


def cluster_statistics(sizes, s_min=10):
    """Cluster-size summary: count, largest cluster's mass (nodes) and share of all nodes, τ by MLE
    (None when fewer than 10 clusters reach s_min)."""
    if sizes.size == 0:
        raise ValueError("no occupied sites: no clusters")
    enough = np.count_nonzero(sizes >= s_min) >= 10 and sizes.max() > s_min
    tau, se, n_fit = tau_mle(sizes, s_min) if enough else (None, None, int(np.count_nonzero(sizes >= s_min)))
    return dict(n_clusters=int(sizes.size), largest_cluster=int(sizes.max()),
                largest_fraction=float(sizes.max() / sizes.sum()), tau_mle=tau, tau_se=se,
                tau_s_min=int(s_min), tau_n=n_fit)


def cluster_dimension(graph):
    """
    Brill 2024's D for a chain built of percolation clusters, from its ensemble and arguments: 91/48 for the
    square lattice at or below p_c (fractal clusters), 2 above it (compact clusters: the lattice's own d),
    4 for critical or subcritical Poisson clusters (mean field, d >= 6). None for anything else: ER, BA,
    bigram chains and supercritical Poisson graphs have no cluster dimension.
    """
    if graph.name == "percolation":
        return DF_2D if graph.args["p"] <= (SITE_PC if graph.args["kind"] == "site" else BOND_PC) else 2.0
    if graph.name in ("critical-er", "critical-trees") and graph.args["c"] <= 1:
        return DF_MEAN_FIELD
    return None


def subtask_statistics(graph, s_min=10):
    """
    Brill's subtasks are a forest's clusters, each drawn with probability ∝ its size: their number and the
    exponent γ of their size distribution p(s) ~ s^-γ by MLE (tau_mle) over sizes >= s_min, cut off at the
    ensemble's s_max when it has one (critical_trees); γ is None when fewer than 10 clusters reach s_min.
    theory.subtask_alpha turns γ into the Zipf exponent of the subtask frequencies.
    """
    if graph.clusters is None:
        raise ValueError(f"{graph.name} is one connected chain, not a forest of subtasks")
    sizes = np.bincount(graph.clusters)
    enough = np.count_nonzero(sizes >= s_min) >= 10 and sizes.max() > s_min
    gamma, se, n_fit = tau_mle(sizes, s_min, graph.args.get("s_max")) if enough else (None, None, 0)
    return dict(n_subtasks=int(sizes.size), subtask_gamma=gamma, subtask_gamma_se=se, subtask_gamma_n=n_fit,
                subtask_s_min=int(s_min))


def borel_chi2(sizes, n_nodes, c=1.0, s_max=15):
    """
    Pearson χ² of the cluster counts N_s of a G(n, c/n) graph against n·Borel_c(s)/s (the number of
    components of size s: a random vertex's component is Borel, and each component has s vertices), bins
    s = 1..s_max and one tail bin s > s_max. The counts are ~ independent Poisson, so χ² ~ χ²(s_max + 1).
    Returns (statistic, degrees of freedom, p-value).
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    observed = np.bincount(np.minimum(sizes, s_max + 1), minlength=s_max + 2)[1:]
    s = np.arange(1, n_nodes + 1)
    expected = n_nodes * borel_pmf(s, c) / s
    expected = np.r_[expected[:s_max], expected[s_max:].sum()]
    stat = float(((observed - expected) ** 2 / expected).sum())
    return stat, s_max + 1, float(chi2.sf(stat, s_max + 1))


# -----------------------------------------------------------------------------
# spectral diagnostics: is there a power law in this chain's statistics? (Millidge 2025; Maloney et al. 2022)

SVD_DENSE_MAX = 1000  # up to this many nodes singular values are all computed densely; beyond, the top k


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
    window = (10, max(V // 10, 14)) if window is None else window
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


def plot_spectrum(spec, path, title=""):
    """Two log-log panels: π by rank and the singular values of diag(π)P and of P, each with its fitted line
    over the window, labelled with the slope and the verdict (PNG)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    panels = [(axes[0], [("π (rank-frequency)", spec["stationary_ranked"], spec["zipf"])]),
              (axes[1], [("σ of diag(π)P", spec["singular_values_joint"], spec["joint"]),
                         ("σ of P", spec["singular_values_P"], spec["transition"])])]
    for ax, curves in panels:
        for label, values, fit in curves:
            r = np.arange(1, values.size + 1)
            line, = ax.loglog(r[values > 0], values[values > 0], ".", ms=2, label=label)
            lo, hi = fit["window"]
            rw = np.arange(lo, hi + 1)
            ax.loglog(rw, np.exp(fit["intercept"]) * rw ** fit["slope"], "-", color=line.get_color(), lw=1,
                      label=f"slope {fit['slope']:.3f}, R² {fit['r2']:.3f}: {fit['verdict']}")
        ax.set_xlabel("rank")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("probability")
    axes[1].set_ylabel("singular value")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def make(graph="er", nodes=1000, edges=5000, m=5, edges_file=None, directed=False, kappa=0.0, seed=0,
         L=256, p=None, kind="site", periodic=True, forest=False, c=1.0):
    """Build the Graph named by `graph` in {"er", "ba", "file", "percolation", "critical-er",
    "critical-trees"}; the other arguments as in the builders (L, p, kind, periodic, forest: percolation;
    nodes, c, forest: critical-er; nodes, c: critical-trees, always a forest)."""
    if graph == "file":
        if edges_file is None:
            raise ValueError("graph 'file' needs an edges file")
        return from_edge_file(edges_file, directed, kappa, seed)
    if directed:
        raise ValueError(f"directed applies to edge files only, not to graph {graph!r}")
    if graph == "er":
        return erdos_renyi(nodes, edges, kappa, seed)
    if graph == "ba":
        return barabasi_albert(nodes, m, kappa, seed)
    if graph == "percolation":
        return percolation_lattice(L, p, kind, periodic, forest, kappa, seed)
    if graph == "critical-er":
        return critical_er(nodes, c, forest, kappa, seed)
    if graph == "critical-trees":
        return critical_trees(nodes, c, kappa=kappa, seed=seed)
    raise ValueError("graph must be one of 'er', 'ba', 'file', 'percolation', 'critical-er', 'critical-trees', "
                     f"got {graph!r}")


# -----------------------------------------------------------------------------

def read_tokens(path):
    """A raw file of native uint16 token ids (as teacher.py writes train.bin and val.bin)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) % 2:
        raise ValueError(f"{path}: {len(raw)} bytes is not a whole number of uint16 token ids")
    return np.frombuffer(raw, dtype=np.uint16)


def main(argv=None):
    walk = argparse.ArgumentParser(add_help=False)
    walk.add_argument("--kappa", type=float, default=0.0,
                      help="bias exponent: the r-th ranked neighbour gets probability ∝ r^-kappa (0: unbiased)")
    walk.add_argument("--seed", type=int, default=0, help="seed for the graph and the neighbour ranking")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", metavar="PATH", help="also write the summary to PATH as JSON")
    common.add_argument("--spectral-gap", action="store_true",
                        help=f"compute the spectral gap even above {SPECTRAL_GAP_MAX_NNZ} nonzeros (slow)")
    common.add_argument("--spectrum", action="store_true",
                        help="also print spectral diagnostics: Zipf slope of π, singular values of diag(π)P "
                             "and P with power-law fits and verdicts, semicircle ratio")
    common.add_argument("--window", type=int, nargs=2, metavar=("LO", "HI"), default=None,
                        help="rank window of the power-law fits (default: 10 .. V/10)")
    common.add_argument("--top-k", type=int, default=100,
                        help=f"singular values computed above {SVD_DENSE_MAX} nodes (all of them below)")
    common.add_argument("--plot", metavar="PATH", help="with --spectrum: save the spectra as a PNG")
    clusters = argparse.ArgumentParser(add_help=False)
    clusters.add_argument("--forest", action="store_true",
                          help="walk on all clusters of >= 2 nodes, started at a uniformly random node "
                               "(default: the largest cluster only)")
    clusters.add_argument("--s-min", type=int, default=10, help="smallest cluster size in the fit of tau")
    parser = argparse.ArgumentParser(description="Build a random-walk graph and print its exact statistics.")
    sub = parser.add_subparsers(dest="graph", required=True,
                                metavar="{er,ba,file,percolation,critical-er,critical-trees,bigram}")
    er = sub.add_parser("er", parents=[walk, common], help="Erdős–Rényi G(n, m)")
    er.add_argument("--nodes", type=int, default=1000, help="number of nodes n")
    er.add_argument("--edges", type=int, default=5000, help="number of undirected edges m")
    ba = sub.add_parser("ba", parents=[walk, common], help="Barabási–Albert preferential attachment")
    ba.add_argument("--nodes", type=int, default=1000, help="number of nodes n")
    ba.add_argument("--m", type=int, default=5, help="edges from each new node to existing nodes")
    fi = sub.add_parser("file", parents=[walk, common], help="an edge-list file")
    fi.add_argument("--edges-file", required=True, help="lines 'u v' or 'u v w'; '#' starts a comment")
    fi.add_argument("--directed", action="store_true", help="edges go u -> v only")
    pe = sub.add_parser("percolation", parents=[walk, common, clusters], help="percolation on the L x L square lattice")
    pe.add_argument("--L", type=int, default=256, help="lattice side (L x L sites)")
    pe.add_argument("--p", type=float, default=None,
                    help=f"occupation probability (default: the critical point, site {SITE_PC}, bond {BOND_PC})")
    pe.add_argument("--kind", choices=["site", "bond"], default="site", help="site or bond percolation")
    pe.add_argument("--open", action="store_true", help="open boundaries (default: periodic)")
    pe.add_argument("--spanning", type=int, default=0, metavar="N",
                    help="also estimate p_c as the median spanning threshold of N open L x L lattices")
    ce = sub.add_parser("critical-er", parents=[walk, common, clusters],
                        help="Erdős–Rényi G(n, c/n), critical at c = 1")
    ce.add_argument("--nodes", type=int, default=100_000, help="number of nodes n")
    ce.add_argument("--c", type=float, default=1.0, help="mean degree (1: critical)")
    ct = sub.add_parser("critical-trees", parents=[walk, common],
                        help="independent critical Poisson Galton–Watson trees (Brill's Bethe-lattice clusters)")
    ct.add_argument("--nodes", type=int, default=4096, help="nodes to fill (V overshoots by < s_max)")
    ct.add_argument("--c", type=float, default=1.0, help="mean offspring (1: critical)")
    ct.add_argument("--s-max", type=int, default=None, help="largest tree (default: nodes // 10)")
    ct.add_argument("--s-min", type=int, default=2, help="smallest tree size in the fit of gamma (Borel(1) "
                    "is within 5%% of its s^-3/2 asymptote from s = 2)")
    bi = sub.add_parser("bigram", parents=[common], help="the bigram chain of a token file")
    bi.add_argument("--tokens", required=True, metavar="FILE",
                    help="raw uint16 token ids, e.g. data/kjv-bpe2048/train.bin from `teacher.py prepare`")
    bi.add_argument("--V", type=int, required=True, help="vocabulary size (token ids are 0 .. V-1)")
    bi.add_argument("--smoothing", type=float, default=0.0, help="add-k smoothing of the bigram counts")
    args = parser.parse_args(argv)
    try:
        if args.graph == "bigram":
            g = bigram(read_tokens(args.tokens), args.V, args.smoothing, args=dict(tokens=args.tokens))
        elif args.graph == "critical-trees":
            g = critical_trees(args.nodes, args.c, args.s_max, args.kappa, args.seed)
        else:
            g = make(args.graph, nodes=getattr(args, "nodes", 1000), edges=getattr(args, "edges", 5000),
                     m=getattr(args, "m", 5), edges_file=getattr(args, "edges_file", None),
                     directed=getattr(args, "directed", False), kappa=args.kappa, seed=args.seed,
                     L=getattr(args, "L", 256), p=getattr(args, "p", None), kind=getattr(args, "kind", "site"),
                     periodic=not getattr(args, "open", False), forest=getattr(args, "forest", False),
                     c=getattr(args, "c", 1.0))
        summary = g.describe(spectral_gap=True if args.spectral_gap else None)
        if args.graph == "percolation":
            A, occupied = percolation_adjacency(args.L, args.p, args.kind, not args.open, args.seed)
            summary.update(cluster_statistics(cluster_sizes(A, occupied)[1], args.s_min), tau_theory=TAU_2D)
            if args.spanning:
                p_c, ci = critical_point(spanning_thresholds(args.L, args.kind, args.spanning, args.seed))
                summary.update(p_c_spanning=p_c, p_c_ci=ci, p_c_theory=SITE_PC if args.kind == "site" else BOND_PC)
        if args.graph == "critical-er":
            sizes = cluster_sizes(critical_er_adjacency(args.nodes, args.c, args.seed))[1]
            summary.update(cluster_statistics(sizes, args.s_min), tau_theory=TAU_MEAN_FIELD)
            stat, dof, p_value = borel_chi2(sizes, args.nodes, args.c)
            summary.update(borel_chi2=stat, borel_dof=dof, borel_p_value=p_value)
        if cluster_dimension(g) is not None:
            summary.update(cluster_dimension=cluster_dimension(g))
        if g.clusters is not None:
            summary.update(subtask_statistics(g, args.s_min))
        if args.spectrum or args.plot:
            spec = spectrum(g, args.window, args.top_k)
            if args.plot:
                plot_spectrum(spec, args.plot, title=f"{g.name} {g.args}")
            summary.update({key: value for key, value in spec.items() if not isinstance(value, np.ndarray)
                            and key not in ("V", "spectral_gap")})
        for key, value in summary.items():
            print(f"{key}: {value:.6g}" if isinstance(value, float) else f"{key}: {value}")
        if summary["spectral_gap"] is None:
            print(f"(spectral gap skipped above {SPECTRAL_GAP_MAX_NNZ} nonzeros; --spectral-gap forces it)")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(summary, f, indent=2)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
