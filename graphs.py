"""
A Markov chain as a graph: random-graph ensembles (Erdős–Rényi, Barabási–Albert, any networkx graph or
edge list) -> one row-stochastic sparse transition matrix P over V tokens, and its exact statistics:
stationary distribution, entropy rate, loss floor, spectral gap.

A walk moves from node i to neighbour j with probability P[i, j]. In the κ-biased walk every node ranks
its neighbours in a uniformly random order r = 1..k and moves to the r-th with probability ∝ r^(-κ)
(times the edge weight, if the graph has weights); κ = 0 is the ordinary random walk and κ = 1 gives
Zipf-like transition probabilities.

All entropies and losses are in nats; "per prediction" means per predicted token.

    python graphs.py er --nodes 1000 --edges 5000 --kappa 1
    python graphs.py ba --nodes 1000 --m 5
    python graphs.py file --edges-file edges.txt --directed --json out.json
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
from scipy.sparse.linalg import ArpackNoConvergence, eigs, splu

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
    # derived arrays computed on first use (π, alias tables, device copies); not part of the chain
    cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def V(self):
        return self.P.shape[0]

    def stationary(self):
        """(V,) float64 π with πP = π, Σπ = 1 (unique: P is irreducible). Read-only, cached."""
        if "stationary" not in self.cache:
            pi = _stationary(self.P)
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
            self.cache["spectral_gap"] = 0.0 if _period(self.P) > 1 else _spectral_gap(self.P)
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


def _normalise(v):
    """A real non-negative distribution from an eigenvector of any phase or sign."""
    pi = np.clip((v / v.sum()).real, 0, None)
    return pi / pi.sum()


def _period(P):
    """The period of an irreducible chain: the gcd of its cycle lengths, which is the gcd over the edges
    i -> j of level(i) + 1 - level(j), with levels from a breadth-first search."""
    level = csgraph.shortest_path(P, unweighted=True, indices=0).astype(np.int64)
    rows = np.repeat(np.arange(P.shape[0]), np.diff(P.indptr))
    return int(np.gcd.reduce(level[rows] + 1 - level[P.indices]))


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
    # m distinct pair ids out of n(n-1)/2, decoded from the lower triangle: id = j(j-1)/2 + i, i < j
    pair = rng.choice(n_pairs, size=m, replace=False)
    j = ((1 + np.sqrt(1 + 8 * pair.astype(np.float64))) // 2).astype(np.int64)
    j -= j * (j - 1) // 2 > pair  # correct float rounding of the square root
    j += (j + 1) * j // 2 <= pair
    i = pair - j * (j - 1) // 2
    A = sp.csr_matrix((np.ones(2 * m), (np.r_[i, j], np.r_[j, i])), shape=(n, n))
    args = dict(n_nodes=n, n_edges=m, kappa=float(kappa), seed=seed)
    return from_adjacency(A, False, kappa, rng, "er", args)  # the ranking continues this rng's stream


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


def make(graph="er", nodes=1000, edges=5000, m=5, edges_file=None, directed=False, kappa=0.0, seed=0):
    """Build the Graph named by `graph` in {"er", "ba", "file"}; the other arguments as in the builders."""
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
    raise ValueError(f"graph must be one of 'er', 'ba', 'file', got {graph!r}")


# -----------------------------------------------------------------------------

def main(argv=None):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--kappa", type=float, default=0.0,
                        help="bias exponent: the r-th ranked neighbour gets probability ∝ r^-kappa (0: unbiased)")
    common.add_argument("--seed", type=int, default=0, help="seed for the graph and the neighbour ranking")
    common.add_argument("--json", metavar="PATH", help="also write the summary to PATH as JSON")
    common.add_argument("--spectral-gap", action="store_true",
                        help=f"compute the spectral gap even above {SPECTRAL_GAP_MAX_NNZ} nonzeros (slow)")
    parser = argparse.ArgumentParser(description="Build a random-walk graph and print its exact statistics.")
    sub = parser.add_subparsers(dest="graph", required=True, metavar="{er,ba,file}")
    er = sub.add_parser("er", parents=[common], help="Erdős–Rényi G(n, m)")
    er.add_argument("--nodes", type=int, default=1000, help="number of nodes n")
    er.add_argument("--edges", type=int, default=5000, help="number of undirected edges m")
    ba = sub.add_parser("ba", parents=[common], help="Barabási–Albert preferential attachment")
    ba.add_argument("--nodes", type=int, default=1000, help="number of nodes n")
    ba.add_argument("--m", type=int, default=5, help="edges from each new node to existing nodes")
    fi = sub.add_parser("file", parents=[common], help="an edge-list file")
    fi.add_argument("--edges-file", required=True, help="lines 'u v' or 'u v w'; '#' starts a comment")
    fi.add_argument("--directed", action="store_true", help="edges go u -> v only")
    args = parser.parse_args(argv)
    try:
        g = make(args.graph, nodes=getattr(args, "nodes", 1000), edges=getattr(args, "edges", 5000),
                 m=getattr(args, "m", 5), edges_file=getattr(args, "edges_file", None),
                 directed=getattr(args, "directed", False), kappa=args.kappa, seed=args.seed)
        summary = g.describe(spectral_gap=True if args.spectral_gap else None)
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
