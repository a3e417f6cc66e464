"""
Data-side theories of the scaling exponents: what each predicts for a dataset, and checks of each where it
must hold. fit.py measures the exponents; this file says what they should be.

Spectral (Maloney, Roberts & Sully 2022, "A solvable model of neural scaling laws", arXiv 2210.16859;
Bahri, Dyer, Kaplan, Lee & Sharma 2021, "Explaining neural scaling laws", arXiv 2102.06701; Millidge 2025):
  - latent data x ∈ R^M, Gaussian, covariance diag(λ_k) with λ_k = k^-(1+a), k = 1..M;
  - target y = w · x with w_k i.i.d. N(0, 1), no label noise (target power per mode λ_k ~ k^-(1+a): the
    "matching source condition" under which the exponent below holds);
  - N linear random features φ(x) = W x / √N, W_ij i.i.d. N(0, 1) (MRS's solvable linear model);
  - ridgeless regression (minimum-norm interpolation) of y on φ from D samples.
Prediction: with N >> D (the data-limited regime) the test error falls as D^-a (MRS, the P-scaling of
their L(N, P); Bahri et al.'s resolution-limited exponent for this spectrum). Heuristic: D samples
resolve the top ~D modes and the error is the target power left in the others, Σ_{k>D} k^-(1+a) ~ D^-a/a.
The check (ridge) keeps N/D fixed (N = ratio · D), so the finite-N factor is a constant and leaves the
exponent alone, and M >> D so the truncated tail, ~(D/M)^a of the error, is negligible.
For a walk, the "covariance" spectrum is taken to be the singular values σ_k of its joint distribution
J = diag(π)·P of consecutive tokens (chain.spectrum); σ_k ~ k^-(1+a) predicts α_D = α_N = a (MRS 2022,
N counting features, not transformer parameters). No prediction when the fit says "not a power law" or
a <= 0 (a spectrum that does not decay faster than 1/k).

Percolation (Brill 2024, "Neural scaling laws rooted in the data distribution", arXiv 2412.07942): a
dataset is a set of clusters ("subtasks"), each a data manifold of the clusters' fractal dimension D, used
with frequencies p_k ∝ k^-(1+α). A model spends n_k parameters (or sees n_k samples) on subtask k and errs
there as n_k^-c/D (c = 4: piecewise-linear approximation, Sharma & Kaplan 2022; c = 2: piecewise-constant,
the nearest-neighbour regression of Brill's experiments); an unlearned subtask costs its frequency. The
best allocation gives two regimes, α_N = min(α, c/D): subtask-limited (the quanta model, Michaud et al.
2023) or manifold-limited (Sharma & Kaplan). Percolation sets α through the cluster-size exponent τ and D
through the clusters' geometry (subtask_alpha, brill_exponents).

What both theories read of a dataset, `graph` prints (and writes with --json, as `report` takes it): one
chain's exact summary, its percolation cluster statistics and its spectra (graphs.py builds the chain;
`python graphs.py NAME ...` runs this same command):

    python theory.py graph er --nodes 1000 --edges 5000 --kappa 1 --graph-seed 3
    python theory.py graph ba --nodes 1000 --m 5
    python theory.py graph file --edges-file edges.txt --directed --json out.json
    python theory.py graph percolation --L 256 --kind bond --forest --spanning 200
    python theory.py graph critical-er --nodes 1000000 --forest
    python theory.py graph critical-trees --nodes 4096 --json trees.json
    python theory.py graph ba --nodes 1000 --m 3 --spectrum --window 10 100 --plot ba.png
    python theory.py graph bigram --tokens data/kjv-bpe2048/train.bin --V 2048 --spectrum
    python theory.py ridge --a 1.0 2.0 --json ridge.json
    python theory.py report --rung trees trees.json out/ladder/trees/fit.json --rung er er.json fit_er.json
"""

import numpy as np

import cli
import graphs
import percolation
import records
from chain import SPECTRAL_GAP_MAX_NNZ, SVD_DENSE_MAX, spectrum
from graphs import DEFAULTS
from plots import chain_title, plot_spectrum


def predicted_data_exponent(a):
    """α_D = a: test error ∝ D^-a for covariance spectrum λ_k ~ k^-(1+a) (MRS 2022; Bahri et al. 2021)."""
    return float(a)


def spectral_prediction(joint_fit):
    """
    From a power-law fit of the joint spectrum (chain.power_law_fit's dict: slope = -(1 + a), slope_se,
    verdict): dict(a, a_se, alpha_D, alpha_N, note), the exponents None when there is nothing to predict.
    """
    a, a_se = -joint_fit["slope"] - 1, joint_fit["slope_se"]
    if joint_fit["verdict"] != "power law":
        note = "no prediction: the spectrum is not a power law over the window"
    elif a <= 0:
        note = "no prediction: the spectrum decays no faster than 1/k (a <= 0)"
    else:
        return dict(a=a, a_se=a_se, alpha_D=predicted_data_exponent(a), alpha_N=a, note="MRS 2022: α_D = α_N = a")
    return dict(a=a, a_se=a_se, alpha_D=None, alpha_N=None, note=note)


def subtask_alpha(gamma, gamma_se=0.0):
    """
    (α, se): the Zipf exponent of subtask frequencies p_k ∝ k^-(1+α) (k = 1 the most used) when subtask
    sizes are distributed as p(s) ~ s^-γ and a subtask is used with probability ∝ its size. The k-th largest
    of n sizes is s_k ~ (k/n)^-1/(γ-1), so 1 + α = 1/(γ - 1): α = (2 - γ)/(γ - 1); se by the delta method,
    |dα/dγ| = 1/(γ - 1)². Brill's clusters of random sites of a critical lattice have γ = τ - 1, hence his
    α = (3 - τ)/(τ - 2): 1 in mean field (τ = 5/2: graphs.critical_trees), 17 in 2D (τ = 187/91). All the
    clusters of one lattice have γ = τ > 2, so α < 0: most of the mass sits in the many smallest clusters.
    """
    if not gamma > 1:
        raise ValueError(f"the size exponent gamma must be > 1, got {gamma!r}")
    return (2 - gamma) / (gamma - 1), gamma_se / (gamma - 1) ** 2


def brill_exponents(alpha, dim, c=4.0):
    """
    Brill 2024's exponents for subtasks with Zipf exponent α > 0 (alpha=None: one subtask, a single
    manifold), each a manifold of dimension dim = D learned with error n^-c/D from n parameters or samples:
        α_N = min(α, c/D)            the best allocation of N parameters (a subtask needs n >= 1 to count
                                     as learned): subtask-limited (α < c/D) or manifold-limited
        α_D = min(α/(1+α), c/D)      subtask k is seen D·p_k times; those never seen leave D^-α/(1+α), as
                                     in the quanta model (Michaud et al. 2023)
    One manifold: α_N = α_D = c/D (Sharma & Kaplan 2022). Returns dict(alpha_N, alpha_D, regime), the
    exponents None when α <= 0 (frequencies that are no power law: the theory predicts nothing).
    """
    if not (dim > 0 and c > 0):
        raise ValueError(f"need dim > 0 and c > 0, got dim={dim!r}, c={c!r}")
    manifold = c / dim
    if alpha is None:
        return dict(alpha_N=manifold, alpha_D=manifold, regime="one manifold")
    if alpha <= 0:
        return dict(alpha_N=None, alpha_D=None, regime="no prediction: subtask frequencies α <= 0")
    return dict(alpha_N=min(alpha, manifold), alpha_D=min(alpha / (1 + alpha), manifold),
                regime="subtask-limited" if alpha < manifold else "manifold-limited")


def brill_prediction(graph_summary, c=4.0):
    """
    Brill's prediction for a dataset from its theory.py graph --json summary: a forest (subtask_gamma) gives α
    and its se through subtask_alpha; one cluster (cluster_dimension but no subtasks) is one manifold;
    anything else (ER, BA, bigram: one component with no cluster dimension) gets no prediction. Returns
    dict(alpha, alpha_se, D, alpha_N, alpha_D and their [lo, hi] from α ± se, regime).
    """
    dim, gamma = graph_summary.get("cluster_dimension"), graph_summary.get("subtask_gamma")
    none = dict(alpha=None, alpha_se=None, D=dim, alpha_N=None, alpha_D=None, alpha_N_ci=None, alpha_D_ci=None)
    if dim is None:
        return dict(none, regime="no prediction: no clusters with a dimension")
    if "n_subtasks" not in graph_summary:
        return dict(none, **brill_exponents(None, dim, c))
    if gamma is None:
        return dict(none, regime="no prediction: too few subtasks to fit their size exponent")
    alpha, se = subtask_alpha(gamma, graph_summary["subtask_gamma_se"])
    pred = dict(none, alpha=alpha, alpha_se=se, **brill_exponents(alpha, dim, c))
    if pred["alpha_N"] is not None:
        ends = [brill_exponents(a, dim, c) for a in (max(alpha - se, 1e-9), alpha + se)]
        pred.update(alpha_N_ci=[e["alpha_N"] for e in ends], alpha_D_ci=[e["alpha_D"] for e in ends])
    return pred


def report(rungs, c=4.0):
    """
    Predicted next to measured exponents, one row per rung (name, theory.py graph --json file, fit.py --json
    file): the spectral theory's α_D = α_N (needs the file's --spectrum fits), Brill's α_N and α_D (needs
    its cluster statistics), the measured α (model) and β (data) of fit.py's joint law
    L = E + A/N^α + B/D^β with their bootstrap intervals, and, where the fit file has expected-target runs
    (fit.py's infinite_data), the shape of L(N, D = ∞) − E measured apart: the α a prediction of α_N meets
    there, if that term is a power law at all. Returns the rows; prints a markdown table.
    """
    rows = []
    for name, graph_path, fit_path in rungs:
        spec = cli.read_json(graph_path, "theory.py graph --json")
        fitted = cli.read_json(fit_path, "fit.py --json", "joint")
        joint, infinite = fitted["joint"], records.infinite_cell(fitted.get("infinite_data"))
        if "joint" not in spec:
            raise ValueError(f"{graph_path}: no 'joint' spectrum fit; write it with theory.py graph ... --spectrum "
                             "--json")
        spectral = spectral_prediction(spec["joint"])
        brill = {f"brill_{k}": v for k, v in brill_prediction(spec, c).items()}
        ci = joint.get("ci", {})
        rows.append(dict(rung=name, **spectral, **brill, alpha=joint["alpha"], alpha_ci=ci.get("alpha"),
                         beta=joint["beta"], beta_ci=ci.get("beta"), infinite=infinite))
    fmt = lambda x: "—" if x is None else f"{x:.2f}"
    interval = lambda c: "" if not c else f" [{c[0]:.2f}, {c[1]:.2f}]"
    print(f"| rung | a (joint spectrum) | spectral α_D = α_N | subtask α | D | Brill α_N (c={c:g}) | Brill α_D "
          "| measured α (model) | measured β (data) | measured L(N, D = ∞) − E | notes |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        alpha = "—" if r["brill_alpha"] is None else f"{r['brill_alpha']:.2f} ± {r['brill_alpha_se']:.2f}"
        print(f"| {r['rung']} | {r['a']:.3f} ± {r['a_se']:.3f} | {fmt(r['alpha_D'])} | {alpha} "
              f"| {fmt(r['brill_D'])} | {fmt(r['brill_alpha_N'])}{interval(r['brill_alpha_N_ci'])} "
              f"| {fmt(r['brill_alpha_D'])}{interval(r['brill_alpha_D_ci'])} "
              f"| {r['alpha']:.2f}{interval(r['alpha_ci'])} | {r['beta']:.2f}{interval(r['beta_ci'])} "
              f"| {records.infinite_text(r['infinite'])} "
              f"| spectral: {r['note']}; Brill: {r['brill_regime']} |")
    return rows


def ridge_test_error(a, n_samples, M=8192, ratio=8, n_targets=64, seed=0):
    """
    Exact test errors E_x[(y - f(x))²] of ridgeless random-feature regression trained on the first D of
    one nested sequence of samples, for each D in n_samples (N = ratio·D features: the first N rows of one
    W), averaged over n_targets independent teachers w fitted on the same data. Exact because f is linear
    in x: f(x) = v·x with v = Wᵀβ/√N, so the error is Σ_k λ_k (w_k - v_k)².
    """
    rng = np.random.default_rng(seed)
    lam = np.arange(1, M + 1, dtype=np.float64) ** -(1 + a)
    w = rng.standard_normal((M, n_targets))
    D_max = max(n_samples)
    X = rng.standard_normal((D_max, M)) * np.sqrt(lam)
    W = rng.standard_normal((ratio * D_max, M))
    y = X @ w
    features = X @ W.T  # (D_max, N_max); φ = features / √N
    errors = []
    for D in n_samples:
        N = ratio * D
        phi = features[:D, :N] / np.sqrt(N)
        K = phi @ phi.T
        jitter = 1e-12 * np.trace(K) / D  # numerical only: far below the tail's implicit ridge
        beta = phi.T @ np.linalg.solve(K + jitter * np.eye(D), y[:D])
        v = W[:N].T @ beta / np.sqrt(N)
        errors.append(float((lam @ (w - v) ** 2).mean()))
    return np.array(errors)


def measure_data_exponent(a, n_samples=(16, 32, 64, 128, 256), n_seeds=3, M=8192, ratio=8, seed=0):
    """
    The measured α_D: minus the least-squares slope of log(mean error over seeds) vs log D, with a standard
    error from the spread of the per-seed slopes. Returns dict(a, predicted, measured, se, D, error).
    """
    if not (isinstance(a, (int, float)) and a > 0):
        raise ValueError(f"a must be a number > 0, got {a!r}")
    if len(n_samples) < 3 or min(n_samples) < 2 or max(n_samples) * 4 > M:
        raise ValueError(f"need >= 3 sample sizes D >= 2 with 4·max(D) <= M={M}, got {list(n_samples)}")
    errors = np.array([ridge_test_error(a, n_samples, M, ratio, seed=seed + s) for s in range(n_seeds)])
    logD = np.log(n_samples)
    slope = np.polyfit(logD, np.log(errors.mean(axis=0)), 1)[0]
    per_seed = np.polyfit(logD, np.log(errors).T, 1)[0]
    se = per_seed.std(ddof=1) / np.sqrt(n_seeds) if n_seeds > 1 else float("nan")
    return dict(a=float(a), predicted=predicted_data_exponent(a), measured=float(-slope), se=float(se),
                D=list(map(int, n_samples)), error=errors.mean(axis=0).tolist())


# -----------------------------------------------------------------------------
# graph: build one chain, print its summary, cluster statistics and spectra (and write them as JSON)

def _parents():
    """The parent parsers whose flags the subcommands share: walk (κ, graph seed), common (outputs, spectra),
    clusters."""
    walk = cli.Parser(add_help=False)
    walk.add_argument("--kappa", type=cli.parse_float, default=DEFAULTS["kappa"],
                      help="bias exponent: the r-th ranked neighbour gets probability ∝ r^-kappa (0: unbiased)")
    walk.add_argument("--graph-seed", type=cli.parse_int, default=DEFAULTS["seed"],
                      help="seed for the graph and the neighbour ranking (train.py's --graph-seed)")
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
                        help=f"singular values computed above {SVD_DENSE_MAX} nodes (all of them below)")
    common.add_argument("--plot", metavar="PATH", help="with --spectrum: save the spectra as a PNG")
    clusters = cli.Parser(add_help=False)
    clusters.add_argument("--forest", action="store_true",
                          help="walk on all clusters of >= 2 nodes, started at a uniformly random node "
                               "(default: the largest cluster only)")
    clusters.add_argument("--s-min", type=cli.parse_int, default=10, help="smallest cluster size in the fit of tau")
    return walk, common, clusters


def parser_graph(parser):
    """theory.py graph's subcommands: one per ensemble, each with its builder's arguments."""
    walk, common, clusters = _parents()
    sub = parser.add_subparsers(dest="graph", required=True,
                                metavar="{er,ba,file,percolation,critical-er,critical-trees,bigram}")
    er = sub.add_parser("er", parents=[walk, common], help="Erdős–Rényi G(n, m)")
    er.add_argument("--nodes", type=cli.parse_count, default=DEFAULTS["nodes"], help="number of nodes n")
    er.add_argument("--edges", type=cli.parse_count, default=DEFAULTS["edges"],
                    help="number of undirected edges m")
    ba = sub.add_parser("ba", parents=[walk, common], help="Barabási–Albert preferential attachment")
    ba.add_argument("--nodes", type=cli.parse_count, default=DEFAULTS["nodes"], help="number of nodes n")
    ba.add_argument("--m", type=cli.parse_count, default=DEFAULTS["m"],
                    help="edges from each new node to existing nodes")
    fi = sub.add_parser("file", parents=[walk, common], help="an edge-list file")
    fi.add_argument("--edges-file", required=True, help="lines 'u v' or 'u v w'; '#' starts a comment")
    fi.add_argument("--directed", action="store_true", help="edges go u -> v only")
    pe = sub.add_parser("percolation", parents=[walk, common, clusters], help="percolation on the L x L square lattice")
    pe.add_argument("--L", type=cli.parse_count, default=DEFAULTS["L"], help="lattice side (L x L sites)")
    pe.add_argument("--p", type=cli.parse_float, default=DEFAULTS["p"], help="occupation probability (default: the "
                    f"critical point, site {percolation.SITE_PC}, bond {percolation.BOND_PC})")
    pe.add_argument("--kind", choices=["site", "bond"], default=DEFAULTS["kind"], help="site or bond percolation")
    pe.add_argument("--open", action="store_true", help="open boundaries (default: periodic)")
    pe.add_argument("--spanning", type=cli.parse_count, default=0, metavar="N",
                    help="also estimate p_c as the median spanning threshold of N open L x L lattices")
    ce = sub.add_parser("critical-er", parents=[walk, common, clusters],
                        help="Erdős–Rényi G(n, c/n), critical at c = 1")
    ce.add_argument("--nodes", type=cli.parse_count, default=DEFAULTS["nodes"],  # train.py's n, the same graph
                    help="number of nodes n (the fit of τ and the Borel test want 10^5 or more)")
    ce.add_argument("--c", type=cli.parse_float, default=DEFAULTS["c"], help="mean degree (1: critical)")
    ct = sub.add_parser("critical-trees", parents=[walk, common],
                        help="independent critical Poisson Galton–Watson trees (Brill's Bethe-lattice clusters)")
    ct.add_argument("--nodes", type=cli.parse_count, default=DEFAULTS["nodes"],
                    help="nodes to fill (V overshoots by < s_max)")
    ct.add_argument("--c", type=cli.parse_float, default=DEFAULTS["c"], help="mean offspring (1: critical)")
    ct.add_argument("--s-max", type=cli.parse_int, default=DEFAULTS["s_max"],
                    help="largest tree (default: nodes // 10)")
    ct.add_argument("--s-min", type=cli.parse_int, default=2, help="smallest tree size in the fit of gamma "
                    "(Borel(1) is within 5%% of its s^-3/2 asymptote from s = 2)")
    bi = sub.add_parser("bigram", parents=[common], help="the bigram chain of a token file")
    bi.add_argument("--tokens", required=True, metavar="FILE",
                    help="raw uint16 token ids, e.g. data/kjv-bpe2048/train.bin from `teacher.py prepare`")
    bi.add_argument("--V", type=cli.parse_count, required=True, help="vocabulary size (token ids are 0 .. V-1)")
    bi.add_argument("--smoothing", type=cli.parse_float, default=0.0, help="add-k smoothing of the bigram counts")


def read_tokens(path):
    """A raw file of native uint16 token ids (as teacher.py writes train.bin and val.bin)."""
    raw = cli.read_regular(path)
    if len(raw) % 2:
        raise ValueError(f"{path}: {len(raw)} bytes is not a whole number of uint16 token ids")
    return np.frombuffer(raw, dtype=np.uint16)


def _build(args):
    """The chain a parsed command line names: bigram here, the rest through make with the flags the
    subcommand has (make's defaults for the others)."""
    if args.graph == "bigram":
        return graphs.bigram(read_tokens(args.tokens), args.V, smoothing=args.smoothing, args=dict(tokens=args.tokens))
    flags = {k: getattr(args, k) for k in DEFAULTS if k != "seed" and hasattr(args, k)}
    return graphs.make(args.graph, seed=args.graph_seed, periodic=not getattr(args, "open", False), **flags)


def _cluster_summary(graph, args):
    """Cluster statistics of the percolation ensembles (none for ER, BA, files and bigrams): τ of the
    configuration, p_c from spanning, the Borel test, Brill's cluster dimension D and subtask exponent γ."""
    summary = {}
    if args.graph == "percolation":
        summary.update(percolation.lattice_summary(args.L, args.p, args.kind, not args.open, args.graph_seed,
                                                   args.s_min, args.spanning))
    if args.graph == "critical-er":
        summary.update(percolation.critical_er_summary(args.nodes, args.c, args.graph_seed, args.s_min))
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
        spec = spectrum(graph, args.window, args.top_k)
        if args.plot:
            plot_spectrum(spec, args.plot, title=chain_title(graph.name, graph.args))
        summary.update({key: value for key, value in spec.items() if not isinstance(value, np.ndarray)
                        and key not in ("V", "spectral_gap")})
    return summary


def print_summary(summary):
    """One 'key: value' line per entry (floats to 6 significant digits), and why a spectral gap is missing."""
    for key, value in summary.items():
        print(f"{key}: {value:.6g}" if isinstance(value, float) else f"{key}: {value}")
    if summary["spectral_gap"] is None:
        print(f"(spectral gap skipped above {SPECTRAL_GAP_MAX_NNZ} nonzeros; --spectral-gap forces it)")


def run_graph(args):
    """theory.py graph: before any work, refuse an output that cannot be written, holds what another program
    wrote or is an input; build, summarise, print, write."""
    inputs = [("--edges-file", getattr(args, "edges_file", None)), ("--tokens", getattr(args, "tokens", None))]
    cli.guarded(cli.check_distinct, inputs, [("--json", args.json), ("--plot", args.plot)])
    for path, kind in ((args.json, "json"), (args.plot, "png")):
        if path:
            cli.guarded(cli.check_writable, path, kind=kind)
    graph = cli.guarded(_build, args)
    summary = cli.guarded(summarise, graph, args)
    print_summary(summary)
    if args.json:
        cli.guarded(cli.write_json, args.json, cli.strict(summary), indent=2)


# -----------------------------------------------------------------------------
# command line

def build_parser():
    """The command line: graph (what the theories read of a dataset), ridge (the spectral theory's check) and
    report (predicted vs measured)."""
    parser = cli.Parser(description="Data-side theories of scaling exponents: datasets, checks and predictions.")
    sub = parser.add_subparsers(dest="command", required=True)
    parser_graph(sub.add_parser("graph", help="build a random-walk graph and print its exact statistics",
                                description="Build a random-walk graph and print its exact statistics."))
    ridge = sub.add_parser("ridge", help="random-feature ridge check: measured vs predicted data exponent")
    ridge.add_argument("--a", type=cli.parse_float, nargs="+", default=[1.0, 2.0], help="spectrum λ_k = k^-(1+a)")
    ridge.add_argument("--D", type=cli.parse_count, nargs="+", default=[16, 32, 64, 128, 256],
                       help="training set sizes")
    ridge.add_argument("--M", type=cli.parse_count, default=8192, help="latent dimension (>> D)")
    ridge.add_argument("--ratio", type=cli.parse_count, default=8, help="random features per sample, N = ratio · D")
    ridge.add_argument("--seeds", type=cli.parse_count, default=3,
                       help="independent draws averaged (>= 2: the standard error is their spread)")
    ridge.add_argument("--json", metavar="PATH", help="also write the results to PATH as JSON")
    rep = sub.add_parser("report", help="predicted vs measured exponents for swept datasets")
    rep.add_argument("--rung", nargs=3, action="append", required=True, metavar=("NAME", "GRAPH_JSON", "FIT_JSON"),
                     help="a dataset: its `theory.py graph ... --spectrum --json` output and its "
                          "fit.py --json output")
    rep.add_argument("--c", type=cli.parse_float, default=4.0,
                     help="Brill's approximation order: error n^-c/D (4: piecewise linear, 2: nearest neighbour)")
    rep.add_argument("--json", metavar="PATH", help="also write the rows to PATH as JSON")
    return parser


def run_ridge(args):
    """theory.py ridge: the measured data exponent next to the predicted one, for each a."""
    cli.in_range("seeds", args.seeds, 2)
    cli.in_range("ratio", args.ratio, 1)
    results = [measure_data_exponent(a, args.D, args.seeds, args.M, args.ratio) for a in args.a]
    for r in results:
        print(f"a={r['a']:g}: predicted α_D={r['predicted']:.3f}  measured {r['measured']:.3f} ± {r['se']:.3f}")
    return results


def run_report(args):
    """theory.py report; a file without the keys it needs is one error line, like a missing file."""
    try:
        return report(args.rung, args.c)
    except KeyError as e:
        raise ValueError(f"missing key {e} in a --rung file")


def main(argv=None):
    """Parse, refuse an unwritable --json before any work, run the command, write its results."""
    args = build_parser().parse_args(argv)
    if args.command == "graph":
        return run_graph(args)
    if args.json:
        cli.guarded(cli.check_writable, args.json)
    results = cli.guarded(run_report if args.command == "report" else run_ridge, args)
    if args.json:
        cli.guarded(cli.write_json, args.json, results, indent=2)


if __name__ == "__main__":
    main()
