"""
Fitting one scaling law to runs the Chinchilla way (Hoffmann et al. 2022, Approach 3; Besiroglu et al. 2024).

A law is a spec: `law(θ)` giving log L̂ and its Jacobian, a grid of starts, and `unpack` from θ to named
parameters. `fit_law` minimises the Huber loss (δ = 1e-3) on log L, summed over runs, by L-BFGS from the
grid starts with the lowest objective; `bootstrap_law` refits it on resamples (multinomial weights over the
resampling units: runs, or blocks of runs that are not independent) for percentile intervals. Laws:
E + Σ A_k·x_k^(−α_k) (joint L(N, D), one-dimensional power laws), E + A·exp(−x/scale), Kaplan et al. 2020's
L(N, D), and the separable E + (B + A/N^α)/D^β. Parameter efficiency (compare_families) compares families
of runs (SP, μP) by the ratio of N at equal loss of their laws L(N); compare_shapes tells a power law, an
exponential and a threshold in N apart by BIC (the model-size term of fit.infinite_data). The optimiser, at the end, is L-BFGS
(Nocedal & Wright, Alg. 7.4) vectorised over many small independent problems: the fits refine a few grid
starts per bootstrap resample, thousands of 5-parameter problems, and one numpy step for all of them beats a
Python loop of scipy calls by orders of magnitude (bench_fit.py).

Units: N in parameters, D in tokens, C in FLOPs, L in nats per token. Logs are natural.
"""
import itertools
import math
import sys
import time

import numpy as np
from scipy.optimize import least_squares
from scipy.special import expit


DELTA = 1e-3        # Huber δ on log L (Hoffmann et al. 2022)
N_BOOT = 1000       # bootstrap resamples
BOOT_MAX_ITER = 300  # L-BFGS iterations of a bootstrap refit: those still moving at 300 crawl along a flat
                    # ridge of an unidentified parameter; identified ones' intervals are the same at 1000
KEEP = 8            # grid starts, best by objective value, that L-BFGS refines
TRIES = 8           # shorter steps 1/2, .., 1/2^8 tried in one evaluation: a backtrack costs one call, not eight
CI = 95             # percent, two-sided percentile interval
# Hoffmann et al.'s grid of starts: α, β ∈ {0, .5, .., 2}; e = log E ∈ {-1, -.5, .., 1}; a, b = log A, log B ∈ {0, 5, .., 25}
EXPONENT_GRID = np.arange(0.0, 2.01, 0.5)
LOG_E_GRID = np.arange(-1.0, 1.01, 0.5)
LOG_A_GRID = np.arange(0.0, 25.1, 5.0)
# the exponential alternative L = E + A·exp(-k·x/x_max) has its own scales
EXP_RATE_GRID = np.array([0.5, 1, 2, 4, 8, 16, 32.0])
EXP_LOG_A_GRID = np.arange(-2.0, 3.1, 1.0)
CHINCHILLA = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)   # Hoffmann et al. 2022, eq. 10
ORDER_STATISTIC = "inverted_cdf"   # draw_interval: quantiles that are draws themselves, so inf stays inf


def chinchilla_loss(N, D, E, A, B, alpha, beta):
    """L(N, D) = E + A/N^α + B/D^β in nats, for N parameters and D tokens (Hoffmann et al. 2022, eq. 2)."""
    return E + A / N ** alpha + B / D ** beta

# -----------------------------------------------------------------------------
# laws, written as log L̂ so that the Huber loss acts on log L; each returns (log L̂, d log L̂ / dθ)


def lse_law(theta, F, e=None):
    """
    log L̂ = logsumexp(e, a_1 − α_1·f_1, .., a_K − α_K·f_K), i.e. L̂ = E + Σ_k A_k·exp(−α_k·f_k) with
    E = exp(e), A_k = exp(a_k). With features f_k = log x_k this is a sum of power laws, e.g. Hoffmann et al.'s
    L = E + A/N^α + B/D^β for F = [log N, log D]; with f = x/x_max it is an exponential law.
    theta: (S, P) for S parameter vectors, [e, a_1..a_K, α_1..α_K], or without e when e is given (a fixed
    log E, scalar or one per point; −inf leaves E out). F: (n, K). Returns (S, n) and (S, n, P).
    """
    S, (n, K), free = theta.shape[0], F.shape, e is None
    a, alpha = theta[:, free:free + K], theta[:, free + K:]
    e_row = theta[:, :1] if free else np.broadcast_to(e, (n,))[None]
    terms = np.concatenate([np.broadcast_to(e_row, (S, n))[:, None], a[:, :, None] - alpha[:, :, None] * F.T], 1)
    top = terms.max(1)
    p = np.exp(terms - top[:, None])
    total = p.sum(1)
    soft = p / total[:, None]
    jac = ([soft[:, 0]] if free else []) + [soft[:, 1 + k] for k in range(K)] + [-soft[:, 1 + k] * F[:, k] for k in range(K)]
    return top + np.log(total), np.stack(jac, -1)


def kaplan_law(theta, F):
    """
    Kaplan et al. 2020, eq. (1.5): L = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D, so
    log L̂ = α_D · logsumexp((α_N/α_D)·(n_c − log N), d_c − log D). theta: (S, 4) = [α_N, α_D, n_c, d_c]
    with N_c = exp(n_c) parameters and D_c = exp(d_c) tokens; F: (n, 2) = [log N, log D].
    """
    aN, aD, nc, dc = (theta[:, i:i + 1] for i in range(4))
    u1, u2 = aN / aD * (nc - F[:, 0]), dc - F[:, 1]
    s = np.logaddexp(u1, u2)
    w1 = np.exp(u1 - s)
    jac = np.stack([w1 * (nc - F[:, 0]), s - w1 * u1, w1 * aN, aD * (1 - w1)], -1)
    return aD * s, jac


def separable_law(theta, F, e):
    """
    log L̂ for L̂ = E + (B + A/N^α)/D^β = E + B·D^(−β) + A·N^(−α)·D^(−β): the data term's prefactor depends on
    N, and every model size reaches E as D grows (no N-limited floor). theta: (S, 4) = [a, b, α, β] with
    A = exp(a), B = exp(b); F: (n, 2) = [log N, log D]; e: the fixed log E (scalar or one per point).
    """
    a, b, alpha, beta = (theta[:, i:i + 1] for i in range(4))
    fN, fD = F[:, 0], F[:, 1]
    terms = np.stack([np.broadcast_to(np.broadcast_to(e, fN.shape), a.shape[:1] + fN.shape), b - beta * fD,
                      a - alpha * fN - beta * fD], 1)
    top = terms.max(1)
    p = np.exp(terms - top[:, None])
    total = p.sum(1)
    s1, s2 = p[:, 1] / total, p[:, 2] / total
    return top + np.log(total), np.stack([s2, s1, -s2 * fN, -(s1 + s2) * fD], -1)


def huber_loss(r, delta=DELTA):
    """Huber(r) = r²/2 for |r| ≤ δ, else δ·(|r| − δ/2): quadratic for small residuals, linear for outliers."""
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def huber_objective(theta, law, logL, W, delta=DELTA):
    """
    For each row θ_m of theta (M, P) with its run weights W_m (M, n): Σ_i W_mi·Huber_δ(log L̂_i − log L_i), a
    sum over runs (a mean shrinks the objective until L-BFGS stops early, a known bug of prior work), and its
    gradient (M, P).
    """
    pred, jac = law(theta)
    r = pred - logL
    return np.sum(W * huber_loss(r, delta), 1), np.einsum("mn,mnp->mp", W * np.clip(r, -delta, delta), jac)


def minimise(law, logL, starts, W=None, delta=DELTA, keep=KEEP, warm=None, screened=None, max_iter=1000):
    """
    For each weight vector W_b (rows of W, (B, n); all ones by default): L-BFGS from the `keep` grid starts with
    the lowest objective under W_b, and from warm (P,) if given, all run at once; the lowest objective of each
    wins, converged or not (a start still creeping down a flat ridge is a better answer than a worse point
    where another stopped), and its own convergence is reported. `screened` is the (S, n) matrix of per-run
    Huber losses at the starts, reusable across bootstrap resamples, where only W changes.
    Returns theta (B, P), loss (B,), converged (B,).
    """
    W = np.ones((1, len(logL))) if W is None else np.atleast_2d(W)
    if screened is None:
        screened = huber_loss(law(starts)[0] - logL, delta)
    order = np.argsort(np.nan_to_num(W @ screened.T, nan=np.inf), 1)[:, :keep]       # (B, keep)
    x0 = starts[order]                                                                # (B, keep, P)
    if warm is not None:
        x0 = np.concatenate([np.broadcast_to(warm, (len(W), 1, starts.shape[1])), x0], 1)
    B, K, P = x0.shape
    Wk = np.repeat(W, K, 0)
    x, f, ok = lbfgs(lambda X, rows: huber_objective(X, law, logL, Wk[rows], delta), x0.reshape(B * K, P),
                     max_iter=max_iter)
    pick = np.arange(B) * K + np.argmin(np.where(np.isfinite(f), f, np.inf).reshape(B, K), 1)
    return x[pick], f[pick], ok[pick]


# -----------------------------------------------------------------------------
# the laws we fit, as specs: a law of θ, a grid of starts, and `unpack` from θ to named parameters


def log_floor(E):
    """log E for a fixed floor; E = 0 (omitted) gives −inf."""
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(E, float))


def sum_of_terms_spec(F, E, grids, unpack_terms):
    """
    A spec for lse_law with features F (n, K) and E fitted (None), fixed (nats, scalar or one per run) or omitted
    (0): starts on the product of the log-E grid (when fitted) and `grids`; unpack_terms(E, rest of θ) → dict.
    """
    starts = np.array(list(itertools.product(*([LOG_E_GRID] if E is None else []), *grids)))
    unpack = (lambda th: unpack_terms(math.exp(th[0]), th[1:])) if E is None else (lambda th: unpack_terms(float(np.mean(E)), th))
    return dict(law=lambda th: lse_law(th, F, None if E is None else log_floor(E)), starts=starts, unpack=unpack)


def joint_spec(N, D, E=None):
    """
    L(N, D) = E + A/N^α + B/D^β (Hoffmann et al. 2022, eq. 2) with E fitted (None), fixed (nats, scalar or
    one per run) or omitted (0). Derived: the compute-optimal exponents a = β/(α+β), b = α/(α+β) and G.
    """
    def unpack(E_, th):
        a, b, alpha, beta = th
        with np.errstate(all="ignore"):
            G = (alpha * np.exp(a) / (beta * np.exp(b))) ** (1 / (alpha + beta))
            return dict(E=E_, A=math.exp(min(a, 700)), B=math.exp(min(b, 700)), alpha=alpha, beta=beta,
                        a=beta / (alpha + beta), b=alpha / (alpha + beta), G=G)
    return sum_of_terms_spec(np.log(np.stack([N, D], 1)), E, [LOG_A_GRID, LOG_A_GRID, EXPONENT_GRID, EXPONENT_GRID], unpack)


def separable_spec(N, D, E):
    """L(N, D) = E + (B + A/N^α)/D^β with E fixed to the floor (nats, scalar or one per run): the alternative
    to joint_spec where the model size changes how fast the data term falls rather than adding a term of
    its own (see separable_law). Starts on joint_spec's grid."""
    F = np.log(np.stack([N, D], 1))
    starts = np.array(list(itertools.product(LOG_A_GRID, LOG_A_GRID, EXPONENT_GRID, EXPONENT_GRID)))

    def unpack(th):
        return dict(E=float(np.mean(E)), A=math.exp(min(th[0], 700)), B=math.exp(min(th[1], 700)), alpha=th[2],
                    beta=th[3])
    return dict(law=lambda th: separable_law(th, F, log_floor(E)), starts=starts, unpack=unpack)


def power_law_spec(x, E=None, exponential=False):
    """
    One law of one variable x (N parameters, D tokens or C FLOPs): L = E + A·x^(−α), with E fitted (None),
    fixed to the floor (nats) or omitted (0, a pure power law A·x^(−α)); or, for comparison, the exponential
    L = E + A·exp(−x/scale) with E fitted.
    """
    def unpack(E_, th):
        a, k = th
        if exponential:
            return dict(E=E_, A=math.exp(min(a, 700)), scale=x.max() / k if k else math.inf)
        return dict(E=E_, A=math.exp(min(a, 700)), alpha=k)
    if exponential:
        return sum_of_terms_spec((x / x.max())[:, None], None, [EXP_LOG_A_GRID, EXP_RATE_GRID], unpack)
    return sum_of_terms_spec(np.log(x)[:, None], E, [LOG_A_GRID, EXPONENT_GRID], unpack)


def kaplan_spec(N, D):
    """Kaplan et al. 2020's L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D; starts above the data's N and D."""
    F = np.log(np.stack([N, D], 1))
    offsets = np.arange(0.0, 20.1, 5.0)
    exps = [0.05, 0.1, 0.2, 0.4]
    starts = np.array(list(itertools.product(exps, exps, F[:, 0].max() + offsets, F[:, 1].max() + offsets)))

    def unpack(th):
        return dict(alpha_N=th[0], alpha_D=th[1], N_c=math.exp(min(th[2], 700)), D_c=math.exp(min(th[3], 700)))
    return dict(law=lambda th: kaplan_law(th, F), starts=starts, unpack=unpack)


def fit_law(spec, L, delta=DELTA, keep=KEEP):
    """Fit a spec to losses L (nats): named parameters, Huber loss, convergence, residuals r = log L − log L̂."""
    logL = np.log(L)
    theta, loss, converged = (v[0] for v in minimise(spec["law"], logL, spec["starts"], delta=delta, keep=keep))
    resid = logL - spec["law"](theta[None])[0][0]
    return dict(spec["unpack"](theta), loss=float(loss), converged=bool(converged), theta=theta, residuals=resid,
                rms=float(np.sqrt(np.mean(resid ** 2))), n=len(L), n_starts=len(spec["starts"]))


def joint_fit(N, D, L, E=None, delta=DELTA, keep=KEEP):
    """The Chinchilla fit of L(N, D) = E + A/N^α + B/D^β (see joint_spec, fit_law)."""
    return fit_law(joint_spec(N, D, E), L, delta, keep)

# -----------------------------------------------------------------------------
# bootstrap


def unit_index(units):
    """Each run's unit as an integer 0..U−1, units numbered in order of first appearance (labels: any values
    np.unique can sort, one per run)."""
    _, first, inverse = np.unique(np.asarray(units), return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inverse.ravel()]


def resample_weights(n, n_boot, seed, units=None):
    """
    Bootstrap weights (n_boot, n) of n runs: the U resampling units (`units`, one label per run; None: each run
    its own) drawn with replacement as multinomial counts, each run weighted by its unit's count, so runs that
    are not independent (a wsd stable phase and its budgets) enter or leave a resample together. Units are
    numbered in order of first appearance: with every run its own unit, W is the run-level draw of the same
    seed bit for bit. Returns (W, U).
    """
    index = np.arange(n) if units is None else unit_index(units)
    U = int(index.max()) + 1
    counts = np.random.default_rng(seed).multinomial(U, np.full(U, 1.0 / U), size=n_boot)
    return counts[:, index].astype(float), U


def bootstrap(refit, n, n_boot=N_BOOT, seed=0, label="", quiet=False, chunk=1, units=None):
    """
    Non-parametric bootstrap over resampling units (resample_weights; default: runs): n_boot resamples, each
    given as weights w (so a refit sees every run, weighted by how often its unit was drawn). refit(W) takes a
    (k, n) batch of them, `chunk` at a time, and returns one dict of numbers per resample. Returns the samples,
    the number of units and the CI% percentile interval of each number (NaN samples left out; NaN intervals
    from a single unit, where every resample is the data itself). Progress and ETA go to stderr.
    """
    W, U = resample_weights(n, n_boot, seed, units)
    rows, t0, shown = [], time.time(), 0.0
    for i in range(0, n_boot, chunk):
        for res in refit(W[i:i + chunk]):
            rows.append({k: float(v) for k, v in res.items() if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)})
        elapsed, done = time.time() - t0, len(rows)
        if not quiet and (elapsed - shown > 1 or done == n_boot):
            shown = elapsed
            print(f"\r  bootstrap {label}: {done}/{n_boot}, {elapsed:.0f} s, ETA {elapsed / done * (n_boot - done):.0f} s   ",
                  end="\n" if done == n_boot else "", file=sys.stderr, flush=True)
    samples = {k: np.array([r.get(k, np.nan) for r in rows]) for k in dict.fromkeys(k for r in rows for k in r)}
    ci = {k: percentile_interval(v) if U > 1 else [np.nan, np.nan] for k, v in samples.items()}
    return dict(ci=ci, n_boot=n_boot, units=U, samples=samples)


def percentile_interval(samples, level=CI):
    """[lo, hi], the central level% of the finite samples (NaN when there are none)."""
    s = samples[np.isfinite(samples)]
    return [float(np.percentile(s, 50 - level / 2)), float(np.percentile(s, 50 + level / 2))] if s.size else [np.nan, np.nan]


def bootstrap_law(spec, L, fit, delta=DELTA, n_boot=N_BOOT, seed=0, label="", quiet=False, units=None):
    """Bootstrap a fitted spec over `units` (see bootstrap; default: runs): each resample's L-BFGS starts from
    the full-data optimum and from the grid start that screens best on that resample; resamples are refitted
    all at once (lbfgs, below), vectorised."""
    logL = np.log(L)
    screened = huber_loss(spec["law"](spec["starts"])[0] - logL, delta)

    def refit(W):
        theta, _, _ = minimise(spec["law"], logL, spec["starts"], W, delta, keep=1, warm=fit["theta"], screened=screened,
                               max_iter=BOOT_MAX_ITER)
        return [spec["unpack"](th) for th in theta]
    return bootstrap(refit, len(L), n_boot, seed, label, quiet, chunk=N_BOOT, units=units)

# -----------------------------------------------------------------------------
# parameter efficiency: how many parameters each parametrization needs to reach a loss (fit.py --compare)
#
# At one training budget D (tokens), each family of runs (a parametrization: SP with the best learning rate
# of a grid at each width, SP with a raised embedding learning rate, μP with one learning rate transferred
# from its base width) gives one law L(N) = E_D + A·N^(−α), fitted like every law here, with E_D fitted: at
# a finite D the loss tends to a D-limited value above the floor, not to the floor itself.
# The comparison is the ratio of N at equal loss, N_f(L*) / N_ref(L*), with N(L) = (A / (L − E_D))^(1/α)
# the inverse of a family's law and L* the lowest loss that every family reaches inside its own grid (the
# largest of the families' best losses), so that no family's N(L*) is an extrapolation: a ratio of 2 means
# family f needs twice the parameters of the reference for the same loss; infinite when f's law never gets
# down to L*. Its 95% interval comes from bootstrap draws of both laws (runs resampled within each family,
# independently; draw i of each taken together). Barkeshli et al. (2026) report that μP is the more
# parameter-efficient: a ratio above 1 for SP against μP.


def n_at_loss(E, A, alpha, L):
    """N (parameters) at which E + A·N^(−α) = L: (A/(L − E))^(1/α), inf where L <= E (never reached)."""
    E, A, alpha, L = np.broadcast_arrays(*(np.asarray(v, float) for v in (E, A, alpha, L)))
    gap = L - E
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        N = np.exp((np.log(A) - np.log(np.where(gap > 0, gap, np.nan))) / alpha)
    return np.where(gap > 0, N, np.inf)


def family_law(N, L, n_boot, seed, label, quiet):
    """One family's L(N) = E_D + A·N^(−α): the fit, its bootstrap intervals and draws (E, A, alpha)."""
    spec = power_law_spec(N)
    law = fit_law(spec, L)
    boot = bootstrap_law(spec, L, law, n_boot=n_boot, seed=seed, label=label, quiet=quiet)
    draws = {k: boot["samples"][k] for k in ("E", "A", "alpha")}
    return dict(N=N, L=L, E=law["E"], A=law["A"], alpha=law["alpha"], rms=law["rms"],
                ci={k: boot["ci"][k] for k in ("E", "alpha")}, _draws=draws)


def draw_interval(samples):
    """The central CI% of samples as draws themselves (order statistics), so infinite draws stay infinite;
    NaN draws (failed refits) are left out."""
    samples = samples[~np.isnan(samples)]
    return [float(np.quantile(samples, q, method=ORDER_STATISTIC)) for q in ((50 - CI / 2) / 100, (50 + CI / 2) / 100)]


def common_loss(families):
    """L* (nats): the lowest loss that every family reaches within its own grid, max over families of their
    best loss, so that each family's N(L*) is read inside its measured N range, not extrapolated."""
    return float(max(np.min(L) for _, L in families.values()))


def ratio_at(law, ref, target):
    """N_f(L*)/N_ref(L*) at L* = target (nats): the fits' ratio, its interval over the paired bootstrap draws,
    and the fraction of draws in which f's law never gets down to L*."""
    d, r = law["_draws"], ref["_draws"]
    draws = n_at_loss(d["E"], d["A"], d["alpha"], target) / n_at_loss(r["E"], r["A"], r["alpha"], target)
    N_ref = float(n_at_loss(ref["E"], ref["A"], ref["alpha"], target))
    ratio = float(n_at_loss(law["E"], law["A"], law["alpha"], target)) / N_ref
    return dict(L=target, N_ref=N_ref, ratio=ratio, ci=draw_interval(draws),
                never_reached=float(np.mean(~np.isfinite(draws))))


def compare_families(families, reference, n_boot=1000, seed=0, quiet=False):
    """
    families: {label: (N, L)} arrays of one point per width (the best lr of each, one D). Returns
    {label: law} (family_law, plus 'ratio' against the reference at common_loss for the others). Each family
    is bootstrapped with its own seed: its runs are resampled independently of every other family's.
    """
    if reference not in families:
        raise ValueError(f"reference family {reference!r} is not among {', '.join(families)}")
    laws = {label: family_law(np.asarray(N, float), np.asarray(L, float), n_boot, seed + i, label, quiet)
            for i, (label, (N, L)) in enumerate(families.items())}
    target = common_loss(families)
    for label, law in laws.items():
        if label != reference:
            law["ratio"] = ratio_at(law, laws[reference], target)
    return laws

# -----------------------------------------------------------------------------
# the shape of the model-size term (fit.infinite_data): y = log(L(N, D = ∞) − E) against N as a power law, an
# exponential or a threshold, each fitted by least squares on y and compared by BIC (Schwarz 1978)

SHAPE_PARAMS = {"power law": 2, "exponential": 2, "threshold": 4}  # parameters of each shape
MIN_SHAPE_POINTS = 3   # points compare_shapes needs: the 2-parameter shapes with a degree of freedom left
EXCESS_MIN = 1e-6      # nats: the excess is clipped here before its log; about one float32 ulp of a loss near
                       # 8 nats (4.8e-7 at 4), so a smaller excess is rounding, not measurement
STEEPEST = 100.0       # the threshold's largest k, per unit log N: its step's 10-90% rise, 2·log(9)/k, is then
                       # 0.044 in log N, finer than any width grid resolves, so an exact step stays a finite optimum
THRESHOLD_RATES = (1.0, 4.0, 16.0)  # grid starts of k, per unit log N


def shape_curve(shape, theta, logN):
    """
    y = log excess (log nats) at log N (N in parameters) of one shape: power law, θ = [a, α]: a − α·log N;
    exponential, θ = [a, s]: a − N/s (s in parameters); threshold, θ = [lo, hi, k, log N_c]: a logistic step in
    log N, lo + (hi − lo)/(1 + exp(k·(log N − log N_c))), at hi well below N_c and lo well above, k > 0.
    """
    if shape == "power law":
        return theta[0] - theta[1] * logN
    if shape == "exponential":
        return theta[0] - np.exp(logN) / theta[1]
    lo, hi, k, c = theta
    return lo + (hi - lo) * expit(-k * (logN - c))


def linear_shape(shape, logN, y, w):
    """The power law [a, α] or the exponential [a, s] by weighted linear least squares in (a, α) or (a, 1/s),
    N scaled by its largest value for conditioning; s = inf where the fitted 1/s is 0."""
    top = logN.max()
    x = logN if shape == "power law" else np.exp(logN - top)
    sw = np.sqrt(w)
    (a, b), *_ = np.linalg.lstsq(np.stack([sw, -sw * x], 1), sw * y, rcond=None)
    return np.array([a, b]) if shape == "power law" else np.array([a, math.exp(top) / b if b else math.inf])


def threshold_jacobian(theta, logN):
    """d y / d θ of the threshold (n, 4), θ = [lo, hi, k, log N_c]."""
    lo, hi, k, c = theta
    s = expit(-k * (logN - c))
    ds = (hi - lo) * s * (1 - s)
    return np.stack([1 - s, s, -ds * (logN - c), ds * k], 1)


def threshold_starts(logN, y):
    """Grid starts of the threshold: the levels at the data's extremes, k from THRESHOLD_RATES, log N_c midway
    between neighbouring measured log N (at most 6 of the midpoints, evenly chosen)."""
    xs = np.unique(logN)
    mids = (xs[1:] + xs[:-1]) / 2
    mids = mids[np.unique(np.linspace(0, len(mids) - 1, min(6, len(mids))).round().astype(int))]
    return np.array([[y.min(), y.max(), k, c] for k in THRESHOLD_RATES for c in mids])


def threshold_shape(logN, y, w, starts, keep=None):
    """
    The threshold θ by scipy.optimize.least_squares (trust-region reflective, analytic Jacobian) on the
    residuals weighted by w, from the `keep` starts of lowest weighted RSS (all by default); the lowest cost
    wins. Bounds: log N_c within the measured log N (a step outside the data is not in it), and k from
    4·log(9)/(the log N range) to STEEPEST: the 10-90% rise, 2·log(9)/k in log N, spans at most half the
    measured range, so the step and a level on either side are in the data; a gentler logistic is a smooth
    decline, which with lo → −∞, hi → ∞, k → 0 bends into the power law's line, 2 parameters dearer.
    """
    k_min = min(4 * math.log(9) / np.ptp(logN), STEEPEST / 2)
    bounds = ([-np.inf, -np.inf, k_min, logN.min()], [np.inf, np.inf, STEEPEST, logN.max()])
    sw = np.sqrt(w)
    cost = [np.sum(w * (shape_curve("threshold", th, logN) - y) ** 2) for th in starts]
    fits = [least_squares(lambda th: sw * (shape_curve("threshold", th, logN) - y), np.clip(x0, *bounds),
                          jac=lambda th: sw[:, None] * threshold_jacobian(th, logN), bounds=bounds)
            for x0 in starts[np.argsort(cost)[:keep]]]
    return min(fits, key=lambda f: f.cost).x


def shape_bic(shape, theta, logN, y):
    """BIC = n·log(RSS/n) + p·log n (Schwarz 1978) of a shape on y: Gaussian residuals of one unknown variance,
    the same for every shape, so it is not counted in p; RSS floored at 1e-300 (an exact fit). Also the rms."""
    n, rss = len(y), float(np.sum((shape_curve(shape, theta, logN) - y) ** 2))
    return n * math.log(max(rss, 1e-300) / n) + SHAPE_PARAMS[shape] * math.log(n), math.sqrt(rss / n)


def shape_entry(shape, theta, ci, rms):
    """One shape's fit as reported: its parameters by name (N_c in parameters), the interval of its bootstrapped
    one, the rms residual in log excess, and θ for plotting (to_json leaves θ out)."""
    names = dict(zip({"power law": ("a", "alpha"), "exponential": ("a", "s"),
                      "threshold": ("lo", "hi", "k", "log_N_c")}[shape], map(float, theta)))
    if shape == "threshold":
        names["N_c"] = math.exp(names.pop("log_N_c"))
    return dict(names, ci=ci, rms=rms, theta=theta)


def compare_shapes(N, excess, n_boot=N_BOOT, seed=0, units=None, quiet=False):
    """
    Which shape y = log excess follows in N (parameters): the power law, the exponential and, with more points
    than its 4 parameters, the threshold (shape_curve), each fitted by least squares on y (excess in nats,
    clipped at EXCESS_MIN), compared by BIC (shape_bic): the verdict is the lowest, delta_bic the runner-up's
    excess over it. Percentile intervals (CI%) of α, s and N_c from n_boot resamples of the units
    (resample_weights; None: each point its own), every shape refitted on each, the threshold from its
    full-data optimum and the grid start that screens best on the resample.
    """
    logN, excess = np.log(np.asarray(N, float)), np.asarray(excess, float)
    y = np.log(np.maximum(excess, EXCESS_MIN))
    n, starts = len(y), threshold_starts(logN, y)
    shapes = [s for s, p in SHAPE_PARAMS.items() if n > p]

    def fit_all(w, keep=None, warm=None):
        fits = {s: linear_shape(s, logN, y, w) for s in shapes if s != "threshold"}
        if "threshold" in shapes:
            fits["threshold"] = threshold_shape(logN, y, w, starts if warm is None else np.vstack([warm, starts]), keep)
        return fits

    def drawn(w):  # the bootstrapped number of each shape: α, s, N_c
        f = fit_all(w, 2, fits.get("threshold"))
        return dict(alpha=f["power law"][1], s=f["exponential"][1],
                    **({"N_c": math.exp(f["threshold"][3])} if "threshold" in f else {}))
    fits = fit_all(np.ones(n))
    bic = {s: shape_bic(s, fits[s], logN, y) for s in fits}
    boot = bootstrap(lambda W: [drawn(w) for w in W], n, n_boot, seed, "shapes of L(N, D = ∞) − E", quiet, units=units)
    ranked = sorted(bic, key=lambda s: bic[s][0])
    out = dict(verdict=ranked[0], delta_bic=bic[ranked[1]][0] - bic[ranked[0]][0], runner_up=ranked[1], n=n,
               units=boot["units"], clipped=int(np.sum(excess < EXCESS_MIN)), _samples=boot["samples"],
               bic={s: bic[s][0] if s in bic else None for s in SHAPE_PARAMS})
    for shape, key in (("power law", "alpha"), ("exponential", "s"), ("threshold", "N_c")):
        out[shape.replace(" ", "_")] = shape_entry(shape, fits[shape], boot["ci"][key], bic[shape][1]) \
            if shape in fits else dict(skipped=f"{n} points; its {SHAPE_PARAMS[shape]} parameters need at least "
                                                f"{SHAPE_PARAMS[shape] + 1}")
    return out


# -----------------------------------------------------------------------------
# the optimiser: L-BFGS on many problems at once


def descent_direction(g, gamma, S, Y, rho, rows):
    """d = −H·g for the problems `rows` by the two-loop recursion over the history S, Y (m, M, P) and
    rho = 1/(s·y) (m, M), oldest first; where that is not downhill, the scaled steepest descent −γ·g.
    Returns d (k, P) and the slope g·d (k,)."""
    S, Y, rho, gr = S[:, rows], Y[:, rows], rho[:, rows], g[rows]
    q, coef = gr.copy(), np.empty(rho.shape)
    for i in reversed(range(len(S))):
        coef[i] = rho[i] * np.einsum("kp,kp->k", S[i], q)
        q -= coef[i][:, None] * Y[i]
    d = gamma[rows, None] * q
    for i in range(len(S)):
        d += S[i] * (coef[i] - rho[i] * np.einsum("kp,kp->k", Y[i], d))[:, None]
    d = -d
    slope = np.einsum("kp,kp->k", gr, d)
    uphill = ~(slope < 0)
    d[uphill] = -gr[uphill] * gamma[rows][uphill, None]
    slope[uphill] = np.einsum("kp,kp->k", gr[uphill], d[uphill])
    return d, slope


def backtrack(fun, x, f, rows, d, slope, halvings=60):
    """Armijo backtracking: from x[rows] along d, the longest step t = 2^−i (i < halvings) whose objective
    falls by 1e-4·t·slope; t = 1 first, then TRIES shorter lengths per evaluation. Returns the new points,
    objectives and gradients, and `pending` (no step was accepted)."""
    P = d.shape[1]
    xn = x[rows] + d
    fn, gn = fun(xn, rows)
    pending = ~(fn <= f[rows] + 1e-4 * slope)  # most steps are accepted whole: try t = 1 alone first
    for first in range(1, halvings, TRIES):
        p = np.flatnonzero(pending)
        if p.size == 0:
            break
        t = 0.5 ** np.arange(first, min(first + TRIES, halvings))                       # (m,)
        X = x[rows[p]][:, None] + t[None, :, None] * d[p][:, None]                     # (p, m, P)
        F, G = fun(X.reshape(-1, P), np.repeat(rows[p], len(t)))
        F, G = F.reshape(len(p), len(t)), G.reshape(len(p), len(t), P)
        ok = F <= f[rows[p], None] + 1e-4 * t[None] * slope[p, None]
        hit = ok.any(1)
        best = np.argmax(ok, 1)[hit]                                                   # the longest accepted
        q = p[hit]
        xn[q], fn[q], gn[q] = X[hit, best], F[hit, best], G[hit, best]
        pending[q] = False
    return xn, fn, gn, pending


def curvature_pair(x, g, rows, moved_ok, xn, gn, gamma):
    """The step's (s, y, 1/(s·y)) for every problem (zeros where it did not move or s·y ≤ 0, so the pair is
    ignored), updating the initial scaling γ = s·y / y·y in place where the curvature is positive."""
    moved = rows[moved_ok]
    s, y = np.zeros_like(x), np.zeros_like(x)
    s[moved], y[moved] = xn[moved_ok] - x[moved], gn[moved_ok] - g[moved]
    sy = np.einsum("mp,mp->m", s, y)
    curved = sy > 1e-300                                      # keep only pairs with positive curvature
    rho = np.where(curved, 1 / np.where(curved, sy, 1), 0.0)
    s[~curved], y[~curved] = 0, 0
    gamma[curved] = sy[curved] / np.einsum("mp,mp->m", y[curved], y[curved])
    return s, y, rho


def lbfgs(fun, x0, memory=10, max_iter=1000, ftol=1e-15, gtol=1e-12):
    """
    L-BFGS on M independent problems at once: fun(X, rows) returns the objectives (k,) and gradients (k, P)
    of problems `rows` at X (k, P) (a row may repeat). Each problem has its own curvature history and
    backtracking (Armijo) line search, and stops when its objective falls by less than ftol·max(|f|, 1), its
    largest gradient component is below gtol, or no step decreases it (the optimum to machine precision).
    Returns (x (M, P), f (M,), converged (M,)); not converged means max_iter ran out or f is not finite.
    """
    x = np.array(x0, float)
    f, g = fun(x, np.arange(len(x)))
    gamma = 1 / np.maximum(np.linalg.norm(g, axis=1), 1e-300)     # first step of length 1, as in scipy's L-BFGS-B
    S, Y, rho = np.zeros((0,) + x.shape), np.zeros((0,) + x.shape), np.zeros((0, len(x)))  # the last `memory` steps
    active = np.isfinite(f) & (np.abs(g).max(1) > gtol)
    converged = ~active & np.isfinite(f)
    for _ in range(max_iter):
        rows = np.flatnonzero(active)
        if rows.size == 0:
            break
        d, slope = descent_direction(g, gamma, S, Y, rho, rows)
        xn, fn, gn, pending = backtrack(fun, x, f, rows, d, slope)
        s, y, r = curvature_pair(x, g, rows, ~pending, xn, gn, gamma)
        S, Y, rho = np.concatenate([S, s[None]])[-memory:], np.concatenate([Y, y[None]])[-memory:], \
            np.concatenate([rho, r[None]])[-memory:]
        moved = rows[~pending]
        f_old = f[moved]
        x[moved], f[moved], g[moved] = xn[~pending], fn[~pending], gn[~pending]
        done = np.zeros(len(x), bool)
        done[rows[pending]] = True
        done[moved] = (f_old - f[moved] <= ftol * np.maximum(np.maximum(np.abs(f_old), np.abs(f[moved])), 1)) | \
                      (np.abs(g[moved]).max(1) <= gtol)
        done &= active
        converged |= done & np.isfinite(f)
        active &= ~done
    return x, f, converged
