"""
Random-graph ensembles as Markov chains over tokens: Erdős–Rényi, Barabási–Albert, any networkx graph or
edge list, a token corpus's bigrams, walks on percolation clusters and on critical trees. Each builder
returns a chain.Graph (one row-stochastic sparse P over V tokens, with its exact stationary distribution,
entropy rate in nats per token, loss floor and spectral gap), and `make` builds any of them by name.

Imports point one way: this file -> chain.py (the chain and its statistics), percolation.py (lattices,
clusters, trees: adjacency matrices only) and spectra.py (power-law fits and spectra); none of them imports
this file. The command line prints a chain's summary, its cluster statistics and spectra:

    python graphs.py er --nodes 1000 --edges 5000 --kappa 1
    python graphs.py ba --nodes 1000 --m 5
    python graphs.py file --edges-file edges.txt --directed --json out.json
    python graphs.py percolation --L 256 --kind bond --forest --spanning 200
    python graphs.py critical-er --nodes 1000000 --forest
    python graphs.py critical-trees --nodes 4096 --json trees.json
    python graphs.py ba --nodes 1000 --m 3 --spectrum --window 10 100 --plot ba.png
    python graphs.py bigram --tokens data/kjv-bpe2048/train.bin --V 2048 --spectrum
"""

import math
import re

import networkx as nx
import numpy as np
import scipy.sparse as sp

import cli
import files
import percolation
import spectra
from chain import SPECTRAL_GAP_MAX_NNZ, Graph, check_kappa, check_nonnegative, from_adjacency, kappa_biased
from percolation import check_int


# -----------------------------------------------------------------------------
# ensembles

def erdos_renyi(n_nodes, n_edges, kappa=0.0, seed=0):
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


def barabasi_albert(n_nodes, m, kappa=0.0, seed=0):
    """Preferential attachment: each new node links to m existing nodes chosen ∝ degree (networkx)."""
    n = check_int("nodes", n_nodes, 2)
    m = check_int("m", m, 1)
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
    raw = files.read_regular(path)
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
    """spectra.power_law_fit of the nonzero counts sorted by rank over ranks 10 .. V/10 (spectrum's window), or None."""
    ranked = np.sort(counts[counts > 0])[::-1]
    if ranked.size < 14:
        return None
    lo, hi = spectra.default_window(counts.size)
    return spectra.power_law_fit(ranked, (lo, min(hi, ranked.size)))



# -----------------------------------------------------------------------------
# walks on percolation clusters and critical trees (percolation.py draws the configurations)

def _forest(A, occupied, kappa, rng, name, args):
    """The block-diagonal chain over all clusters of >= 2 nodes (nodes ordered by cluster). Isolated nodes
    (clusters of size 1) have no step to take and are dropped, counted in n_dropped."""
    keep, clusters, n_dropped = percolation.forest_nodes(A, occupied)
    P = kappa_biased(A[keep][:, keep], check_kappa(kappa), rng)
    return Graph(P=P, name=name, args=args, n_dropped=n_dropped, clusters=clusters)


def percolation_lattice(L, p=None, kind="site", periodic=True, forest=False, kappa=0.0, seed=0):
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


def critical_er(n_nodes, c=1.0, forest=False, kappa=0.0, seed=0):
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


def critical_trees(n_nodes, c=1.0, s_max=None, kappa=0.0, seed=0):
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
# command line: build one chain, print its summary (and write it as JSON)

def _parents():
    """The flag groups the subcommands share: walk (κ, seed), common (outputs, spectra), clusters."""
    walk = cli.Parser(add_help=False)
    walk.add_argument("--kappa", type=cli.parse_float, default=0.0,
                      help="bias exponent: the r-th ranked neighbour gets probability ∝ r^-kappa (0: unbiased)")
    walk.add_argument("--seed", type=cli.parse_int, default=0, help="seed for the graph and the neighbour ranking")
    common = cli.Parser(add_help=False)
    common.add_argument("--json", metavar="PATH", help="also write the summary to PATH as JSON")
    common.add_argument("--spectral-gap", action="store_true",
                        help=f"compute the spectral gap even above {SPECTRAL_GAP_MAX_NNZ} nonzeros (slow)")
    common.add_argument("--spectrum", action="store_true",
                        help="also print spectral diagnostics: Zipf slope of π, singular values of diag(π)P "
                             "and P with power-law fits and verdicts, semicircle ratio")
    common.add_argument("--window", type=cli.parse_int, nargs=2, metavar=("LO", "HI"), default=None,
                        help="rank window of the power-law fits (default: 10 .. V/10)")
    common.add_argument("--top-k", type=cli.parse_count, default=100,
                        help=f"singular values computed above {spectra.SVD_DENSE_MAX} nodes (all of them below)")
    common.add_argument("--plot", metavar="PATH", help="with --spectrum: save the spectra as a PNG")
    clusters = cli.Parser(add_help=False)
    clusters.add_argument("--forest", action="store_true",
                          help="walk on all clusters of >= 2 nodes, started at a uniformly random node "
                               "(default: the largest cluster only)")
    clusters.add_argument("--s-min", type=cli.parse_int, default=10, help="smallest cluster size in the fit of tau")
    return walk, common, clusters


def build_parser():
    """The command line: one subcommand per ensemble, each with its builder's arguments."""
    walk, common, clusters = _parents()
    parser = cli.Parser(description="Build a random-walk graph and print its exact statistics.")
    sub = parser.add_subparsers(dest="graph", required=True,
                                metavar="{er,ba,file,percolation,critical-er,critical-trees,bigram}")
    er = sub.add_parser("er", parents=[walk, common], help="Erdős–Rényi G(n, m)")
    er.add_argument("--nodes", type=cli.parse_count, default=1000, help="number of nodes n")
    er.add_argument("--edges", type=cli.parse_count, default=5000, help="number of undirected edges m")
    ba = sub.add_parser("ba", parents=[walk, common], help="Barabási–Albert preferential attachment")
    ba.add_argument("--nodes", type=cli.parse_count, default=1000, help="number of nodes n")
    ba.add_argument("--m", type=cli.parse_count, default=5, help="edges from each new node to existing nodes")
    fi = sub.add_parser("file", parents=[walk, common], help="an edge-list file")
    fi.add_argument("--edges-file", required=True, help="lines 'u v' or 'u v w'; '#' starts a comment")
    fi.add_argument("--directed", action="store_true", help="edges go u -> v only")
    pe = sub.add_parser("percolation", parents=[walk, common, clusters], help="percolation on the L x L square lattice")
    pe.add_argument("--L", type=cli.parse_count, default=256, help="lattice side (L x L sites)")
    pe.add_argument("--p", type=cli.parse_float, default=None, help="occupation probability (default: the "
                    f"critical point, site {percolation.SITE_PC}, bond {percolation.BOND_PC})")
    pe.add_argument("--kind", choices=["site", "bond"], default="site", help="site or bond percolation")
    pe.add_argument("--open", action="store_true", help="open boundaries (default: periodic)")
    pe.add_argument("--spanning", type=cli.parse_count, default=0, metavar="N",
                    help="also estimate p_c as the median spanning threshold of N open L x L lattices")
    ce = sub.add_parser("critical-er", parents=[walk, common, clusters],
                        help="Erdős–Rényi G(n, c/n), critical at c = 1")
    ce.add_argument("--nodes", type=cli.parse_count, default=100_000, help="number of nodes n")
    ce.add_argument("--c", type=cli.parse_float, default=1.0, help="mean degree (1: critical)")
    ct = sub.add_parser("critical-trees", parents=[walk, common],
                        help="independent critical Poisson Galton–Watson trees (Brill's Bethe-lattice clusters)")
    ct.add_argument("--nodes", type=cli.parse_count, default=4096, help="nodes to fill (V overshoots by < s_max)")
    ct.add_argument("--c", type=cli.parse_float, default=1.0, help="mean offspring (1: critical)")
    ct.add_argument("--s-max", type=cli.parse_int, default=None, help="largest tree (default: nodes // 10)")
    ct.add_argument("--s-min", type=cli.parse_int, default=2, help="smallest tree size in the fit of gamma "
                    "(Borel(1) is within 5%% of its s^-3/2 asymptote from s = 2)")
    bi = sub.add_parser("bigram", parents=[common], help="the bigram chain of a token file")
    bi.add_argument("--tokens", required=True, metavar="FILE",
                    help="raw uint16 token ids, e.g. data/kjv-bpe2048/train.bin from `teacher.py prepare`")
    bi.add_argument("--V", type=cli.parse_count, required=True, help="vocabulary size (token ids are 0 .. V-1)")
    bi.add_argument("--smoothing", type=cli.parse_float, default=0.0, help="add-k smoothing of the bigram counts")
    return parser


def read_tokens(path):
    """A raw file of native uint16 token ids (as teacher.py writes train.bin and val.bin)."""
    raw = files.read_regular(path)
    if len(raw) % 2:
        raise ValueError(f"{path}: {len(raw)} bytes is not a whole number of uint16 token ids")
    return np.frombuffer(raw, dtype=np.uint16)


def _build(args):
    """The chain a parsed command line names."""
    if args.graph == "bigram":
        return bigram(read_tokens(args.tokens), args.V, args.smoothing, args=dict(tokens=args.tokens))
    if args.graph == "critical-trees":
        return critical_trees(args.nodes, args.c, args.s_max, args.kappa, args.seed)
    return make(args.graph, nodes=getattr(args, "nodes", 1000), edges=getattr(args, "edges", 5000),
                m=getattr(args, "m", 5), edges_file=getattr(args, "edges_file", None),
                directed=getattr(args, "directed", False), kappa=args.kappa, seed=args.seed,
                L=getattr(args, "L", 256), p=getattr(args, "p", None), kind=getattr(args, "kind", "site"),
                periodic=not getattr(args, "open", False), forest=getattr(args, "forest", False),
                c=getattr(args, "c", 1.0))


def _cluster_summary(graph, args):
    """Cluster statistics of the percolation ensembles (none for ER, BA, files and bigrams): τ of the
    configuration, p_c from spanning, the Borel test, Brill's cluster dimension D and subtask exponent γ."""
    summary = {}
    if args.graph == "percolation":
        summary.update(percolation.lattice_summary(args.L, args.p, args.kind, not args.open, args.seed,
                                                   args.s_min, args.spanning))
    if args.graph == "critical-er":
        summary.update(percolation.critical_er_summary(args.nodes, args.c, args.seed, args.s_min))
    dimension = percolation.cluster_dimension(graph)
    if dimension is not None:
        summary.update(cluster_dimension=dimension)
    if graph.clusters is not None:
        summary.update(percolation.subtask_statistics(graph, args.s_min))
    return summary


def summarise(graph, args):
    """Graph.describe, the cluster statistics and, with --spectrum or --plot, the spectra's fits (the
    plot is written here); arrays are left out of the summary."""
    summary = graph.describe(spectral_gap=True if args.spectral_gap else None)
    summary.update(_cluster_summary(graph, args))
    if args.spectrum or args.plot:
        spec = spectra.spectrum(graph, args.window, args.top_k)
        if args.plot:
            spectra.plot_spectrum(spec, args.plot, title=spectra.chain_title(graph.name, graph.args))
        summary.update({key: value for key, value in spec.items() if not isinstance(value, np.ndarray)
                        and key not in ("V", "spectral_gap")})
    return summary


def print_summary(summary):
    """One 'key: value' line per entry (floats to 6 significant digits), and why a spectral gap is missing."""
    for key, value in summary.items():
        print(f"{key}: {value:.6g}" if isinstance(value, float) else f"{key}: {value}")
    if summary["spectral_gap"] is None:
        print(f"(spectral gap skipped above {SPECTRAL_GAP_MAX_NNZ} nonzeros; --spectral-gap forces it)")


def main(argv=None):
    """Parse; before any work, refuse an output that cannot be written, holds what another program wrote or
    is an input; build, summarise, print, write."""
    args = build_parser().parse_args(argv)
    inputs = [("--edges-file", getattr(args, "edges_file", None)), ("--tokens", getattr(args, "tokens", None))]
    cli.guarded(files.check_distinct, inputs, [("--json", args.json), ("--plot", args.plot)])
    for path, kind in ((args.json, "json"), (args.plot, "png")):
        if path:
            cli.guarded(files.check_writable, path, kind=kind)
    graph = cli.guarded(_build, args)
    summary = cli.guarded(summarise, graph, args)
    print_summary(summary)
    if args.json:
        cli.guarded(files.write_json, args.json, files.strict(summary), indent=2)


if __name__ == "__main__":
    main()
