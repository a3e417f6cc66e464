"""
Percolation, the lattice and cluster side of Brill 2024's "subtasks": critical site and bond percolation
on the L x L square lattice, spanning thresholds and p_c, critical Erdős–Rényi graphs G(n, c/n),
critical Poisson Galton–Watson trees (Borel sizes, uniform labelled trees from Prüfer sequences), cluster
sizes and their statistics (τ by maximum likelihood, the Borel χ² test, the fractal dimension D_f, Brill's
cluster dimension D and subtask exponent γ).

Everything here is adjacency matrices, occupied-site masks, cluster labels and numbers: no chain. graphs.py
imports this file and turns a configuration into a walk (graphs.percolation_lattice, critical_er,
critical_trees), so nothing here imports graphs.py. Functions that read a chain (cluster_dimension,
subtask_statistics) take any object with graphs.Graph's name, args and clusters.

Sizes are in nodes (sites); p is an occupation probability; c a mean degree or mean offspring number.
"""

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from scipy.sparse import csgraph
from scipy.special import gammaln, zeta
from scipy.stats import binom, chi2

SITE_PC = 0.59274621  # square-lattice site threshold (Newman & Ziff 2000, numerical)
BOND_PC = 0.5         # square-lattice bond threshold, exact (Kesten 1980)
TAU_2D = 187 / 91     # 2D Fisher exponent: clusters per site n_s ~ s^-τ at p_c (Stauffer & Aharony 1994)
DF_2D = 91 / 48       # 2D fractal dimension: largest cluster mass ~ L^D_f at p_c (Stauffer & Aharony 1994)
TAU_MEAN_FIELD = 5 / 2  # critical Poisson (Erdős–Rényi) graphs: n_s ~ s^-5/2
DF_MEAN_FIELD = 4       # critical clusters in d >= 6 (Bethe lattice): mass ~ radius^4 (Brill 2024's D)


def check_int(name, value, low):
    """value as an int if it is an integer (not a bool) >= low; a ValueError naming it otherwise. graphs.py
    checks its own arguments with it too."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_kind(kind):
    """kind itself if it is 'site' or 'bond'."""
    if kind not in ("site", "bond"):
        raise ValueError(f"kind must be 'site' or 'bond', got {kind!r}")
    return kind


def check_p(p, kind):
    """The occupation probability p as a float in [0, 1]; None is the critical point of the lattice kind."""
    p = (SITE_PC if kind == "site" else BOND_PC) if p is None else p
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0 <= p <= 1:
        raise ValueError(f"p must be a number in [0, 1], got {p!r}")
    return float(p)


def undirected_adjacency(a, b, n):
    """The symmetric 0/1 (n, n) adjacency holding each edge a[e] -- b[e] in both directions (CSR)."""
    return sp.csr_matrix((np.ones(2 * a.size), (np.r_[a, b], np.r_[b, a])), shape=(n, n))


def random_pairs_adjacency(n, m, rng):
    """Symmetric 0/1 adjacency of m distinct uniformly random node pairs out of n(n-1)/2: G(n, m), which
    graphs.erdos_renyi walks on and critical_er_adjacency draws with a binomial m."""
    # pair ids decoded from the lower triangle: id = j(j-1)/2 + i, i < j
    pair = rng.choice(n * (n - 1) // 2, size=m, replace=False)
    j = ((1 + np.sqrt(1 + 8 * pair.astype(np.float64))) // 2).astype(np.int64)
    j -= j * (j - 1) // 2 > pair  # correct float rounding of the square root
    j += (j + 1) * j // 2 <= pair
    i = pair - j * (j - 1) // 2
    return undirected_adjacency(i, j, n)


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
    L = check_int("L", L, 3)
    kind = _check_kind(kind)
    p = check_p(p, kind)
    rng = np.random.default_rng(seed)
    a, b = lattice_bonds(L, periodic)
    if kind == "site":
        occupied = rng.random(L * L) < p
        keep = occupied[a] & occupied[b]
    else:
        occupied = np.ones(L * L, dtype=bool)
        keep = rng.random(a.size) < p
    return undirected_adjacency(a[keep], b[keep], L * L), occupied




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
    s_min = check_int("s_min", s_min, 1)
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
    L = check_int("L", L, 3)
    n_samples = check_int("n_samples", n_samples, 1)
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


def critical_er_adjacency(n_nodes, c=1.0, seed=0):
    """G(n, p) with p = c/(n-1), mean degree c (Poisson in the limit): the symmetric 0/1 adjacency.
    seed: an int or a numpy Generator."""
    n = check_int("nodes", n_nodes, 2)
    if isinstance(c, bool) or not isinstance(c, (int, float, np.integer, np.floating)) or not 0 < c < n - 1:
        raise ValueError(f"c (mean degree) must be a number in (0, nodes - 1), got {c!r}")
    rng = np.random.default_rng(seed)
    n_pairs = n * (n - 1) // 2
    return random_pairs_adjacency(n, int(rng.binomial(n_pairs, c / (n - 1))), rng)


def critical_trees_adjacency(n_nodes, c=1.0, s_max=None, seed=0):
    """
    Brill's ensemble of subtasks (Brill 2024, whose toy data are clusters grown from a seed site on the
    Bethe lattice at p_c): independent Poisson(c) Galton–Watson trees, the mean-field cluster of a random
    site, drawn until they hold >= n_nodes nodes (V overshoots by less than s_max). A tree's size is
    Borel(c) (borel_pmf) conditioned on 2 <= s <= s_max (default n_nodes // 10, so no tree dominates; a
    size-1 tree has no step to take); given its size, a Poisson GW tree is a uniformly random labelled tree
    (Aldous 1991), decoded from a uniform Prüfer sequence. The sizes of this collection fall as
    s^-(τ-1) = s^-3/2 at c = 1, not as the n_s ~ s^-τ of all clusters of one graph (critical_er_adjacency's
    components), so subtasks drawn ∝ size have Zipf frequencies with α = 1 (theory.subtask_alpha).
    Returns (A, params): the (V, V) symmetric 0/1 adjacency of the trees, node ids consecutive within each
    tree, and params = dict(n_nodes, c, s_max) as checked. seed: an int or a numpy Generator (whose stream
    the caller may continue).
    """
    n = check_int("nodes", n_nodes, 2)
    if isinstance(c, bool) or not isinstance(c, (int, float, np.integer, np.floating)) or not 0 < c <= 1:
        raise ValueError(f"c (mean offspring) must be a number in (0, 1], got {c!r}")
    s_max = max(n // 10, 2) if s_max is None else check_int("s_max", s_max, 2)
    rng = np.random.default_rng(seed)
    sizes = _tree_sizes(n, c, s_max, rng)
    offsets = np.r_[0, np.cumsum(sizes)[:-1]]
    edges = [np.array(nx.from_prufer_sequence(rng.integers(0, s, s - 2).tolist()).edges) + offset
             if s > 2 else np.array([[offset, offset + 1]]) for s, offset in zip(sizes, offsets)]
    a, b = np.concatenate(edges).T
    return undirected_adjacency(a, b, int(sizes.sum())), dict(n_nodes=n, c=float(c), s_max=int(s_max))


def _tree_sizes(n, c, s_max, rng):
    """Borel(c) sizes conditioned on 2..s_max, drawn in batches of n/2 + 1 until they hold >= n nodes, then
    cut after the first size that reaches n."""
    support = np.arange(2, s_max + 1)
    pmf = borel_pmf(support, c)
    pmf /= pmf.sum()
    sizes = np.zeros(0, dtype=np.int64)
    while sizes.sum() < n:
        sizes = np.r_[sizes, rng.choice(support, size=n // 2 + 1, p=pmf)]
    return sizes[:np.searchsorted(np.cumsum(sizes), n) + 1]


def forest_nodes(A, occupied):
    """
    The nodes of a forest chain over all clusters of >= 2 nodes (isolated nodes have no step to take):
    (keep, clusters, n_dropped). keep holds their ids ordered by cluster (so the chain is block-diagonal),
    clusters (keep.size,) their cluster numbers 0.. in that order, n_dropped the occupied nodes left out.
    """
    labels, sizes = cluster_sizes(A, occupied)
    keep = np.flatnonzero(np.r_[sizes, 0][labels] >= 2)  # label -1 (unoccupied) reads the appended 0
    if keep.size == 0:
        raise ValueError("empty graph: no cluster has 2 or more nodes")
    keep = keep[np.argsort(labels[keep], kind="stable")]
    clusters = np.unique(labels[keep], return_inverse=True)[1]
    return keep, clusters, int(occupied.sum() - keep.size)


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


def lattice_summary(L, p=None, kind="site", periodic=True, seed=0, s_min=10, n_spanning=0):
    """
    `theory.py graph percolation`'s cluster statistics: the configuration of percolation_adjacency(L, p, kind,
    periodic, seed) (the same one graphs.percolation_lattice walks on) summarised by cluster_statistics,
    with τ's 2D value; n_spanning > 0 adds p_c as the median spanning threshold of that many open lattices,
    its 95% interval and the known p_c.
    """
    A, occupied = percolation_adjacency(L, p, kind, periodic, seed)
    summary = dict(cluster_statistics(cluster_sizes(A, occupied)[1], s_min), tau_theory=TAU_2D)
    if n_spanning:
        p_c, ci = critical_point(spanning_thresholds(L, kind, n_spanning, seed))
        summary.update(p_c_spanning=p_c, p_c_ci=ci, p_c_theory=SITE_PC if kind == "site" else BOND_PC)
    return summary


def critical_er_summary(n_nodes, c=1.0, seed=0, s_min=10):
    """`theory.py graph critical-er`'s cluster statistics: those of critical_er_adjacency(n_nodes, c, seed) with τ's
    mean-field value and the Borel χ² test of its cluster counts (borel_chi2)."""
    sizes = cluster_sizes(critical_er_adjacency(n_nodes, c, seed))[1]
    summary = dict(cluster_statistics(sizes, s_min), tau_theory=TAU_MEAN_FIELD)
    stat, dof, p_value = borel_chi2(sizes, n_nodes, c)
    return dict(summary, borel_chi2=stat, borel_dof=dof, borel_p_value=p_value)
