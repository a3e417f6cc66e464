"""
Random-graph ensembles as Markov chains over tokens: Erdős–Rényi, Barabási–Albert, any networkx graph or
edge list, a token corpus's bigrams, walks on percolation clusters and on critical trees. Each builder
returns a chain.Graph (one row-stochastic sparse P over V tokens, with its exact stationary distribution,
entropy rate in nats per token, loss floor and spectral gap), and `make` builds any of them by name.

Imports point one way: this file -> chain.py (the chain, its statistics and spectra) and percolation.py
(lattices, clusters, trees: adjacency matrices only); none of them imports this file. A library only: the
command line that prints a chain's summary, cluster statistics and spectra is `python theory.py graph NAME`
(theory.py holds its parser, summary and plot); `python graphs.py NAME ...` still works and runs exactly that.
"""

import inspect
import math
import os
import re
import sys

import networkx as nx
import numpy as np
import scipy.sparse as sp

import cli
import percolation
from chain import Graph, check_kappa, check_nonnegative, default_window, from_adjacency, kappa_biased, power_law_fit
from percolation import check_int


# -----------------------------------------------------------------------------
# ensembles

def erdos_renyi(n_nodes, n_edges, *, kappa=0.0, seed=0):
    """G(n, m): uniform over simple undirected graphs on n_nodes nodes with exactly n_edges edges."""
    n = check_int("nodes", n_nodes, 2)
    m = check_int("edges", n_edges, 1)
    check_kappa(kappa)
    n_pairs = n * (n - 1) // 2
    if m > n_pairs:
        raise ValueError(f"edges must be <= n(n-1)/2 = {n_pairs} for {n} nodes, got {m}")
    rng = np.random.default_rng(seed)
    A = percolation.random_pairs_adjacency(n, m, rng)
    args = dict(n_nodes=n, n_edges=m, kappa=float(kappa), seed=seed)
    return from_adjacency(A, False, kappa, rng, "er", args)  # the ranking continues this rng's stream


def barabasi_albert(n_nodes, m, *, kappa=0.0, seed=0):
    """Preferential attachment: each new node links to m existing nodes chosen ∝ degree (networkx)."""
    n = check_int("nodes", n_nodes, 2)
    m = check_int("m", m, 1)
    if m >= n:
        raise ValueError(f"m must be < nodes for Barabási–Albert, got m={m}, nodes={n}")
    check_kappa(kappa)
    G = nx.barabasi_albert_graph(n, m, seed=seed)
    args = dict(n_nodes=n, m=m, kappa=float(kappa), seed=seed)
    return from_adjacency(nx.to_scipy_sparse_array(G, format="csr"), False, kappa, seed, "ba", args)


def from_networkx(G, *, kappa=0.0, seed=0):
    """Any networkx graph, directed or not; the edge attribute 'weight' is used where present."""
    A = nx.to_scipy_sparse_array(G, weight="weight", dtype=np.float64, format="csr")
    args = dict(n_nodes=G.number_of_nodes(), n_edges=G.number_of_edges(), kappa=float(kappa), seed=seed)
    return from_adjacency(A, G.is_directed(), kappa, seed, "networkx", args)


def read_edge_file(path, *, directed=False):
    """
    A networkx graph from lines "u v" or "u v w" (whitespace or commas; '#' starts a comment; labels are
    any strings, nodes numbered in order of first appearance; a repeated edge keeps its last weight).
    """
    raw = cli.read_regular(path)
    try:
        text = raw.decode("utf-8-sig")  # -sig: a byte-order mark is not part of the first node's label
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


def from_edge_file(path, *, directed=False, kappa=0.0, seed=0):
    """A Graph from an edge-list file (see read_edge_file)."""
    check_kappa(kappa)
    G = read_edge_file(path, directed=directed)
    A = nx.to_scipy_sparse_array(G, weight="weight", dtype=np.float64, format="csr")
    args = dict(path=str(path), directed=bool(directed), kappa=float(kappa), seed=seed)
    return from_adjacency(A, directed, kappa, seed, "file", args)


# -----------------------------------------------------------------------------
# the bigram chain of a token corpus (teacher.py tokenizes one)

SMOOTHING_MAX_ENTRIES = 50_000_000  # add-k smoothing stores all V² entries of P: 0.6 GB as CSR at this size


def bigram(tokens, V, *, smoothing=0.0, name="bigram", args=None):
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
    t, V = _check_bigram(tokens, V, smoothing)
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


def _check_bigram(tokens, V, smoothing):
    """(tokens as int64, V as int) if they make a bigram chain; a ValueError naming the bad one otherwise."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 1 or tokens.size < 2 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"tokens must be a 1-D integer array of >= 2 token ids, got shape {tokens.shape} "
                         f"of {tokens.dtype}")
    V = check_int("V", V, 2)
    if tokens.min() < 0 or tokens.max() >= V:
        raise ValueError(f"token ids must be in [0, V={V}), got {tokens.min()}..{tokens.max()}")
    check_nonnegative("smoothing", smoothing)
    if smoothing > 0 and V * V > SMOOTHING_MAX_ENTRIES:
        raise ValueError(f"smoothing fills all V² = {V * V:.2g} entries of P, above the limit "
                         f"{SMOOTHING_MAX_ENTRIES:.0e}")
    return tokens.astype(np.int64), V


def _zipf(counts):
    """chain.power_law_fit of the nonzero counts sorted by rank over ranks 10 .. V/10 (spectrum's window), or None."""
    ranked = np.sort(counts[counts > 0])[::-1]
    if ranked.size < 14:
        return None
    lo, hi = default_window(counts.size)
    return power_law_fit(ranked, (lo, min(hi, ranked.size)))



# -----------------------------------------------------------------------------
# walks on percolation clusters and critical trees (percolation.py draws the configurations)

def _forest(A, occupied, kappa, rng, name, args):
    """The block-diagonal chain over all clusters of >= 2 nodes (nodes ordered by cluster). Isolated nodes
    (clusters of size 1) have no step to take and are dropped, counted in n_dropped."""
    keep, clusters, n_dropped = percolation.forest_nodes(A, occupied)
    P = kappa_biased(A[keep][:, keep], check_kappa(kappa), rng)
    return Graph(P=P, name=name, args=args, n_dropped=n_dropped, clusters=clusters)


def percolation_lattice(L, *, p=None, kind="site", periodic=True, forest=False, kappa=0.0, seed=0):
    """
    A walk on a percolation configuration of the L x L square lattice (see percolation.percolation_adjacency;
    p=None is the critical point: site 0.5927, bond 1/2). forest=False: the largest cluster only. forest=True:
    every cluster of >= 2 sites as one block-diagonal chain whose stationary start picks a cluster with
    probability ∝ its size (Graph.stationary): power-law distributed subtasks at p_c, n_s ~ s^-187/91.
    """
    check_kappa(kappa)
    rng = np.random.default_rng(seed)  # the configuration, then the neighbour ranking, from one stream
    A, occupied = percolation.percolation_adjacency(L, p, kind, periodic, rng)
    args = dict(L=int(L), p=percolation.check_p(p, kind), kind=kind, periodic=bool(periodic), forest=bool(forest),
                kappa=float(kappa), seed=seed)
    if forest:
        return _forest(A, occupied, kappa, rng, "percolation", args)
    site = np.flatnonzero(occupied)
    return from_adjacency(A[site][:, site], False, kappa, rng, "percolation", args)


def critical_er(n_nodes, *, c=1.0, forest=False, kappa=0.0, seed=0):
    """
    A walk on G(n, c/(n-1)) (percolation.critical_er_adjacency); c = 1 is the critical point, where the
    component of a random vertex is a Borel(1)-sized tree (percolation.borel_pmf) and clusters per vertex
    fall as n_s ~ s^-5/2 up to s ~ n^(2/3). forest=False: the largest component; forest=True: all
    components of >= 2 nodes (see percolation_lattice).
    """
    check_kappa(kappa)
    rng = np.random.default_rng(seed)
    A = percolation.critical_er_adjacency(n_nodes, c, rng)
    args = dict(n_nodes=int(n_nodes), c=float(c), forest=bool(forest), kappa=float(kappa), seed=seed)
    if forest:
        return _forest(A, np.ones(A.shape[0], dtype=bool), kappa, rng, "critical-er", args)
    return from_adjacency(A, False, kappa, rng, "critical-er", args)


def critical_trees(n_nodes, *, c=1.0, s_max=None, kappa=0.0, seed=0):
    """
    A walk on Brill's subtasks: independent critical Poisson Galton–Watson trees of Borel sizes 2..s_max
    holding >= n_nodes nodes (percolation.critical_trees_adjacency), always a forest: a stationary walk
    starts in a tree with probability ∝ its size, so subtask frequencies are Zipf with α = 1 at c = 1.
    """
    check_kappa(kappa)
    rng = np.random.default_rng(seed)  # the trees, then the neighbour ranking, from one stream
    A, params = percolation.critical_trees_adjacency(n_nodes, c, s_max, rng)
    args = dict(params, kappa=float(kappa), seed=seed)
    return _forest(A, np.ones(A.shape[0], dtype=bool), kappa, rng, "critical-trees", args)


def make(name, *, nodes=1000, edges=5000, m=5, edges_file=None, directed=False, kappa=0.0, seed=0, L=256, p=None,
         kind="site", periodic=True, forest=False, c=1.0, s_max=None):
    """The Graph named `name` in {"er", "ba", "file", "percolation", "critical-er", "critical-trees"}; each
    keyword goes to the builders that take it and is ignored by the others (nodes: er, ba, critical-er,
    critical-trees; edges: er; m: ba; edges_file, directed: file; L, p, kind, periodic: percolation; forest:
    percolation, critical-er; c: critical-er, critical-trees; s_max: critical-trees, always a forest; kappa,
    seed: all). The defaults are train.RunConfig's (seed is its graph_seed, periodic its `not open`), and the
    command line (theory.py graph) takes its defaults from here: one flag, one graph, whichever program reads it."""
    if name == "file":
        if edges_file is None:
            raise ValueError("graph 'file' needs an edges file")
        return from_edge_file(edges_file, directed=directed, kappa=kappa, seed=seed)
    if directed:
        raise ValueError(f"directed applies to edge files only, not to graph {name!r}")
    if name == "er":
        return erdos_renyi(nodes, edges, kappa=kappa, seed=seed)
    if name == "ba":
        return barabasi_albert(nodes, m, kappa=kappa, seed=seed)
    if name == "percolation":
        return percolation_lattice(L, p=p, kind=kind, periodic=periodic, forest=forest, kappa=kappa, seed=seed)
    if name == "critical-er":
        return critical_er(nodes, c=c, forest=forest, kappa=kappa, seed=seed)
    if name == "critical-trees":
        return critical_trees(nodes, c=c, s_max=s_max, kappa=kappa, seed=seed)
    raise ValueError("graph must be one of 'er', 'ba', 'file', 'percolation', 'critical-er', 'critical-trees', "
                     f"got {name!r}")


# make's defaults, which are train.RunConfig's, are the command line's: `python theory.py graph er` and `python
# train.py --graph er` walk on the same graph, and a flag there means what the flag of that name means here.
DEFAULTS = {k: v.default for k, v in inspect.signature(make).parameters.items() if v.default is not v.empty}


if __name__ == "__main__":  # the command line lives in theory.py, which imports this file: exec it, no import cycle
    os.execv(sys.executable, [sys.executable, os.path.join(os.path.dirname(sys.argv[0]), "theory.py"), "graph",
                              *sys.argv[1:]])
