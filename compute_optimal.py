"""
Compute-optimal allocation N*(C) ∝ C^a, D*(C) ∝ C^b from runs, by Hoffmann et al. 2022's Approaches 1-3.

Each data-driven method is an estimator: a function of run weights w (all ones for the fit itself,
multinomial counts for a bootstrap resample) returning the exponents a, b and its compute-optimal points;
`estimate_with_bootstrap` runs one on the data and on resamples. Approach 1: the lower envelope of the
training curves; Approach 2: parabolas through isoFLOP profiles; Approach 3: the closed form of the joint
law. `simulate` plants a known law on an isoFLOP design (`planted_runs`: on any N, D), and `isoflop_bias`
measures Approach 2's bias on such designs. The fourth method, at the end: a small neural-network
interpolation of L(N, D) (Barkeshli et al. 2026) minimised along iso-FLOP lines C = 6ND within the range of
the data; the network is written out in numpy (forward pass and its gradient by hand) so that the fit on the
data and every bootstrap refit are one vectorised L-BFGS problem each (lawfit.lbfgs): one network per row
of parameters.

Units: N in parameters, D in tokens, C in FLOPs, L in nats per token. Logs are natural.
"""
import math

import numpy as np

from lawfit import CHINCHILLA, bootstrap, chinchilla_loss, lbfgs, log_floor


def cluster_log(x, tol):
    """Labels grouping values whose log lies within tol of the smallest log in the group (tol = 0.1 is about
    10%); no chaining, so evenly spread values give groups of width tol, not one group."""
    order = np.argsort(x)
    labels, first, k = np.empty(len(x), int), -np.inf, -1
    for i, lx in zip(order, np.log(x[order])):
        if lx - first > tol:
            first, k = lx, k + 1
        labels[i] = k
    return labels


def pareto_frontier(C, L):
    """Runs on the compute frontier, in increasing compute: lower loss than every run with less compute (FLOPs)
    and than every other run with as much (of equal (C, L), the first)."""
    order = np.lexsort((L, C))                       # by C, then L: of runs with equal C the lowest comes first
    keep = L[order] < np.minimum.accumulate(np.concatenate([[np.inf], L[order][:-1]]))
    return order[keep]


def power_law_exponent(C, Y):
    """Least-squares fit of log Y = log k + a·log C, i.e. Y ≈ k·C^a: returns (a, k); NaN with fewer than 2 C."""
    if np.unique(C).size < 2:
        return math.nan, math.nan
    a, logk = np.polyfit(np.log(C), np.log(Y), 1)
    return float(a), float(np.exp(logk))


def optimum_result(C, Nopt, Dopt, **extra):
    """Exponents of N* ∝ C^a and D* ∝ C^b (prefactors k_N, k_D) through compute-optimal points."""
    a, kN = power_law_exponent(C, Nopt)
    b, kD = power_law_exponent(C, Dopt)
    return dict(a=a, b=b, k_N=kN, k_D=kD, C=np.asarray(C), N=np.asarray(Nopt), D=np.asarray(Dopt), **extra)


def wsd_mask(runs):
    """Which runs had a wsd schedule (runs["schedule"], "cosine" or "wsd" per run; absent or None: all cosine)."""
    schedule = runs.get("schedule")
    return np.zeros(len(runs["L"]), bool) if schedule is None else np.asarray(schedule) == "wsd"


def family_curve(C, L, w, grid):
    """log L (nats) on the FLOPs grid through a wsd family's final points of weight w > 0, ordered by C and
    interpolated in log-log (the lowest L at a repeated C); inf outside their C range or with < 2 budgets."""
    m = w > 0
    o = np.lexsort((L[m], C[m]))
    c, first = np.unique(C[m][o], return_index=True)
    row = np.full(grid.size, np.inf)
    if c.size >= 2:
        inside = (grid >= c[0]) & (grid <= c[-1])
        row[inside] = np.interp(np.log(grid[inside]), np.log(c), np.log(L[m][o][first]))
    return row


def envelope_estimator(runs, n_grid=40):
    """
    Approach 1 (Hoffmann et al. 2022, §3.1): the lower envelope of the loss-vs-FLOPs training curves. On a
    log-spaced FLOPs grid, the curve that is lowest (log-log interpolated) gives N*(C), and its tokens at
    that point D*(C). Grid points won by the smallest or largest model whose curve reaches that C are dropped:
    the optimum may lie beyond the models tried. A wsd run's curve is not used: before its cooldown the loss is
    far above that of a run cooled at that C; instead the final (cooled) points of each model size's wsd runs,
    ordered by C, form that size's curve. A zero weight removes a run, and its point from its size's curve.
    """
    C, L, N, fpt = runs["C"], runs["L"], runs["N"], runs["C"] / runs["D"]   # fpt: FLOPs per token of each run
    wsd = wsd_mask(runs)
    families = [f for f in (np.flatnonzero(wsd & (N == n)) for n in np.unique(N[wsd])) if np.unique(C[f]).size >= 2]
    curves = runs["curves"] or []
    have = [i for i, (c, l) in enumerate(curves) if len(c) >= 2 and not wsd[i]]
    if len(have) + len(families) < 3:
        return None, "fewer than 3 runs (or model sizes of wsd runs) have training curves"
    spans = [(curves[i][0].min(), curves[i][0].max()) for i in have] + [(C[f].min(), C[f].max()) for f in families]
    grid = np.geomspace(min(s[0] for s in spans), max(s[1] for s in spans), n_grid)
    M = np.full((len(L), n_grid), np.inf)
    for i in have:
        c, l = curves[i]
        inside = (grid >= c.min()) & (grid <= c.max())
        M[i, inside] = np.interp(np.log(grid[inside]), np.log(c), np.log(l))

    def estimate(w):
        Mw = np.where(w[:, None] > 0, M, np.inf)
        for f in families:  # in the row of the family's first run: N and FLOPs per token are the same for all
            Mw[f[0]] = family_curve(C[f], L[f], w[f], grid)
        win = np.argmin(Mw, 0)
        reach = np.isfinite(Mw)                                        # the runs whose curve reaches C
        ok = (N[win] > np.where(reach, N[:, None], np.inf).min(0)) & (N[win] < np.where(reach, N[:, None], -np.inf).max(0))
        return optimum_result(grid[ok], N[win[ok]], grid[ok] / fpt[win[ok]], points=int(ok.sum()))
    return estimate, None


def parabola_min(x, L, w):
    """The minimiser of a weighted least-squares parabola L ≈ c0 + c1·x + c2·x², NaN unless convex with its
    minimum inside the x range."""
    if np.unique(x[w > 0]).size < 3:
        return math.nan
    c2, c1, _ = np.polyfit(x, L, 2, w=np.sqrt(w))
    xm = -c1 / (2 * c2) if c2 > 0 else math.nan
    return xm if x[w > 0].min() < xm < x[w > 0].max() else math.nan


def isoflop_profiles(runs, w, tol):
    """
    IsoFLOP profiles as (C, N, D, L, weights). Runs are grouped into budgets of log C within tol (cluster_log;
    an isoFLOP design, as Hoffmann et al.'s); if fewer than 3 budgets have 3 model sizes (an N × D
    grid), each model size's final losses are interpolated in log C to shared budgets instead.
    """
    N, D, C, L = runs["N"], runs["D"], runs["C"], runs["L"]
    labels = cluster_log(C, tol)
    profiles = []
    for k in np.unique(labels):
        m = (labels == k) & (w > 0)
        if np.unique(N[m]).size >= 3:
            profiles.append((float(np.exp(np.mean(np.log(C[m])))), N[m], D[m], L[m], w[m]))
    if len(profiles) >= 3:
        return profiles, "budgets"
    models = [N == n for n in np.unique(N)]
    profiles = []
    for c in np.geomspace(C.min(), C.max(), 12):
        pts = []
        for m in models:
            m = m & (w > 0)
            if np.unique(C[m]).size >= 2 and C[m].min() <= c <= C[m].max():
                o = np.argsort(C[m])
                fpt = np.mean(C[m] / D[m])
                pts.append((N[m][0], c / fpt, np.exp(np.interp(np.log(c), np.log(C[m][o]), np.log(L[m][o])))))
        if len(pts) >= 3:
            n, d, l = map(np.array, zip(*pts))
            profiles.append((c, n, d, l, np.ones(len(n))))
    return profiles, "interpolated on the N x D grid"


def isoflop_estimator(runs, tol=0.1):
    """
    Approach 2 (Hoffmann et al. 2022, §3.2): per compute budget a parabola in log N (and one in log D) fitted
    to the final losses; its minimum gives N*(C) (and D*(C)); power laws through the minima give a and b.
    The parabola is only an approximation of the true profile, which is asymmetric: N* is biased as the
    budget's N range widens (see --simulate).
    """
    def estimate(w):
        profiles, how = isoflop_profiles(runs, w, tol)
        pts = [(c, np.exp(parabola_min(np.log(n), l, pw)), np.exp(parabola_min(np.log(d), l, pw)))
               for c, n, d, l, pw in profiles]
        pts = [p for p in pts if np.all(np.isfinite(p))]
        if len(pts) < 3:
            return dict(a=math.nan, b=math.nan, _profiles=profiles, how=how)
        c, n, d = map(np.array, zip(*pts))
        return optimum_result(c, n, d, _profiles=profiles, how=how, budgets=len(profiles))
    first = estimate(np.ones(len(runs["L"])))
    if not np.isfinite(first["a"]):
        return None, f"fewer than 3 FLOP budgets with an interior parabola minimum ({len(first['_profiles'])} budgets of 3+ model sizes)"
    return estimate, None


def compute_optimal_closed_form(A, B, alpha, beta, C):
    """
    Approach 3 (Hoffmann et al. 2022, eq. 4): minimising E + A/N^α + B/D^β subject to C = 6ND gives
    N*(C) = G·(C/6)^a and D*(C) = G^(−1)·(C/6)^b, with a = β/(α+β), b = α/(α+β), G = (αA/(βB))^(1/(α+β)).
    Returns (N* parameters, D* tokens, a, b, G).
    """
    G = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
    a, b = beta / (alpha + beta), alpha / (alpha + beta)
    C = np.asarray(C, float)
    return G * (C / 6) ** a, (C / 6) ** b / G, a, b, G


def planted_runs(law, N, D, noise=0.01, seed=0, curve_points=16, source="planted"):
    """
    Runs of N parameters and D tokens (arrays) drawn from a known L(N, D): losses carry log-normal noise,
    L·exp(noise·ε) with ε ~ N(0, 1). Each run has a training curve of curve_points losses at D·t tokens, t
    log-spaced over [10^−1.5, 1] (the law at those tokens, i.e. as if each point were a finished run); its last
    point is the run's final loss.
    """
    rng = np.random.default_rng(seed)
    Dt = D[:, None] * np.geomspace(10 ** -1.5, 1, curve_points)
    Lt = chinchilla_loss(N[:, None], Dt, **law) * np.exp(noise * rng.standard_normal(Dt.shape))
    return dict(N=N, D=D, C=6 * N * D, L=Lt[:, -1], floor=np.full(N.size, law["E"]), curves=list(zip(6 * N[:, None] * Dt, Lt)),
                N_alt=None, n_def="total", not_ok=0, source=source)


def simulate(law=CHINCHILLA, budgets=(6e18, 3e21, 9), per_budget=28, width=1.5, noise=0.01, seed=0, curve_points=16,
             centre=None):
    """
    Runs drawn from a known L(N, D) (planted_runs) on an isoFLOP design like Hoffmann et al.'s: `budgets` =
    (lo, hi, count) log-spaced compute budgets C (FLOPs), each with per_budget model sizes N spanning `width`
    decades centred on the true N*(C) (or, given centre = a', on N* of the middle budget times (C/C_mid)^a', a
    guessed allocation), and D = C/(6N) tokens.
    """
    Cb = np.geomspace(budgets[0], budgets[1], int(budgets[2]))
    Nstar = compute_optimal_closed_form(law["A"], law["B"], law["alpha"], law["beta"], Cb)[0]
    if centre is not None:
        mid = len(Cb) // 2
        Nstar = Nstar[mid] * (Cb / Cb[mid]) ** centre
    N = (Nstar[:, None] * 10 ** np.linspace(-width / 2, width / 2, per_budget)).ravel()
    D = np.repeat(Cb, per_budget) / (6 * N)
    return planted_runs(law, N, D, noise, seed, curve_points,
                        f"simulate: {int(budgets[2])} budgets {budgets[0]:.3g}..{budgets[1]:.3g} FLOPs x {per_budget} "
                        f"sizes over {width} decades, noise {noise}, seed {seed}")


def isoflop_bias(law=CHINCHILLA, budgets=(6e18, 3e21, 9), per_budget=28, widths=(0.5, 1, 1.5, 2, 3, 4), tol=0.1,
                 guess=0.6):
    """
    Approach 2 on noise-free simulated isoFLOP designs of growing width (decades of N per budget): with the
    windows centred on the true N*, the asymmetric profile biases N* by a constant factor (a is unbiased); with
    windows centred on a guessed allocation N ∝ C^guess, the bias varies with C and a is biased too.
    """
    rows = []
    for width in widths:
        row = dict(width=width, a_true=compute_optimal_closed_form(law["A"], law["B"], law["alpha"], law["beta"], 1)[2])
        for name, centre in (("centred", None), ("guessed", guess)):
            runs = simulate(law, budgets, per_budget, width, noise=0.0, centre=centre)
            r = isoflop_estimator(runs, tol)[0](np.ones(len(runs["L"])))
            Ntrue = compute_optimal_closed_form(law["A"], law["B"], law["alpha"], law["beta"], r["C"])[0] if "C" in r else np.nan
            row.update({f"a_{name}": r["a"], f"N_ratio_{name}": float(np.median(r["N"] / Ntrue)) if "N" in r else np.nan})
        rows.append(row)
    return rows


def estimate_with_bootstrap(name, estimator, n, n_boot, seed, quiet, batched=False, units=None):
    """Run a compute-optimal estimator on all runs and on n_boot resamples of the resampling units (one label
    per run, lawfit.bootstrap; default: runs); {'skipped': why} if it cannot run. batched: the estimator takes
    every resample's weights (n_boot, n) in one call and returns a list."""
    est, why = estimator
    if est is None:
        return dict(skipped=why)
    res = est(np.ones(n))
    if not np.isfinite(res["a"]):
        return dict(skipped="too few compute-optimal points")
    boot = bootstrap(est if batched else lambda W: [est(w) for w in W], n, n_boot, seed, name, quiet,
                     chunk=n_boot if batched else 1, units=units)
    return dict(res, ci={k: boot["ci"][k] for k in ("a", "b")}, n_boot=n_boot, _samples=boot["samples"])

# -----------------------------------------------------------------------------
# the fourth method: a neural-network interpolation of L(N, D), minimised along iso-FLOP lines

NET_HIDDEN = 16           # units in each of the two tanh layers
NET_STEPS = 500           # L-BFGS iterations per network
NET_WEIGHT_DECAY = 1e-5   # λ on the squared weights (not the biases): keeps the tanh units out of saturation
# W1, b1, W2, b2, w3, b3
NET_SHAPES = ((NET_HIDDEN, 2), (NET_HIDDEN,), (NET_HIDDEN, NET_HIDDEN), (NET_HIDDEN,), (NET_HIDDEN,), ())


def net_layers(theta):
    """The layers of k networks from theta (k, P): W1 (k, H, 2), b1 (k, H), W2 (k, H, H), b2 (k, H),
    w3 (k, H), b3 (k,)."""
    out, at = [], 0
    for shape in NET_SHAPES:
        size = math.prod(shape)
        out.append(theta[:, at:at + size].reshape(len(theta), *shape))
        at += size
    return out


def net_init(seed):
    """One network's parameters (P,): PyTorch's default Linear init, U(±1/√fan_in) for weights and biases."""
    rng, parts = np.random.default_rng(seed), []
    for shape, fan_in in zip(NET_SHAPES, (2, 2, NET_HIDDEN, NET_HIDDEN, NET_HIDDEN, NET_HIDDEN)):
        parts.append(rng.uniform(-1, 1, math.prod(shape)) / math.sqrt(fan_in))
    return np.concatenate(parts)


def net_forward(theta, X):
    """Outputs (k, n) of k networks at inputs X (n, 2), and the hidden activations for the gradient."""
    W1, b1, W2, b2, w3, b3 = net_layers(theta)
    h1 = np.tanh(np.einsum("nj,kij->kni", X, W1) + b1[:, None])
    h2 = np.tanh(np.einsum("kni,kji->knj", h1, W2) + b2[:, None])
    return np.einsum("kni,ki->kn", h2, w3) + b3[:, None], (h1, h2)


def net_objective(theta, X, logL, logE, W, scale):
    """
    For k networks f (theta (k, P)) with run weights W (k, n) summing to 1 per row: Σ w·(log(E + e^f) − log L)²
    + λ·|weights|², with f = zs·net(X) + zm (scale = (zm, zs): the output standardised like log(L − E)), so
    the residuals are in log L like those of the other fits. Returns the objectives (k,) and gradients (k, P).
    """
    zm, zs = scale
    out, (h1, h2) = net_forward(theta, X)
    f = out * zs + zm
    fit = np.logaddexp(logE, f)
    r = fit - logL
    W1, _, W2, _, w3, _ = net_layers(theta)
    loss = np.sum(W * r * r, 1) + NET_WEIGHT_DECAY * sum(np.sum(w.reshape(len(w), -1) ** 2, 1) for w in (W1, W2, w3))
    d_out = 2 * W * r * np.exp(f - fit) * zs                           # d loss / d out: σ(f − log E) = e^(f − fit)
    d_a2 = d_out[:, :, None] * w3[:, None] * (1 - h2 ** 2)
    d_a1 = np.einsum("knj,kji->kni", d_a2, W2) * (1 - h1 ** 2)
    grads = (np.einsum("kni,nj->kij", d_a1, X) + 2 * NET_WEIGHT_DECAY * W1, d_a1.sum(1),
             np.einsum("knj,kni->kji", d_a2, h1) + 2 * NET_WEIGHT_DECAY * W2, d_a2.sum(1),
             np.einsum("kn,kni->ki", d_out, h2) + 2 * NET_WEIGHT_DECAY * w3, d_out.sum(1))
    return loss, np.concatenate([g.reshape(len(theta), -1) for g in grads], 1)


def fit_networks(X, logL, logE, W, seed=0):
    """
    One 2-layer tanh MLP f(x) ≈ log(L − E) per row of run weights W (k, n), on standardised inputs X (n, 2) =
    (log N, log D), all from the same seeded start and fitted at once by L-BFGS (see net_objective). Returns k
    functions f_i of (m, 2) inputs giving (m,) outputs.
    """
    W = np.atleast_2d(W) / np.atleast_2d(W).sum(1, keepdims=True)
    z = np.log(np.maximum(np.exp(logL) - np.exp(logE), 1e-3 * np.exp(logL)))    # output scale: log(L − E)
    scale = float(z.mean()), float(z.std())
    theta0 = np.tile(net_init(seed), (len(W), 1))
    theta, _, _ = lbfgs(lambda th, rows: net_objective(th, X, logL, logE, W[rows], scale), theta0, max_iter=NET_STEPS,
                        ftol=1e-15, gtol=1e-12)
    return [lambda x, th=th: net_forward(th[None], x)[0][0] * scale[1] + scale[0] for th in theta]


def isoflop_minima(f, budgets, lo, hi, points=801):
    """
    Minimise f(log N, log D) along each iso-FLOP line D = C/(6N) within the box lo ≤ (log N, log D) ≤ hi:
    the best of a fine grid in log N, refined by the parabola through its neighbours. Budgets whose minimum
    falls on the box's edge are dropped. Returns [(C, N*, D*)].
    """
    out = []
    for c in budgets:
        lN = np.linspace(max(lo[0], math.log(c / 6) - hi[1]), min(hi[0], math.log(c / 6) - lo[1]), points)
        if lN[0] >= lN[-1]:
            continue
        v = f(np.stack([lN, math.log(c / 6) - lN], 1))
        i = int(np.argmin(v))
        if 0 < i < points - 1:
            n = math.exp(lN[i] + 0.5 * (lN[1] - lN[0]) * (v[i - 1] - v[i + 1]) / (v[i - 1] - 2 * v[i] + v[i + 1]))
            out.append((c, n, c / (6 * n)))
    return out


def interpolation_estimator(runs, E, budgets, seed=0):
    """
    Compute-optimal curves from a neural interpolation of the data (Barkeshli et al. 2026): fit_networks to the
    runs (E: the floor or the fitted E, nats), then isoflop_minima within the data's range of N and D.
    estimate(w) takes run weights w (n,), or (k, n) for k fits at once (then returns a list of k results).
    """
    X = np.log(np.stack([runs["N"], runs["D"]], 1))
    mu, sd = X.mean(0), X.std(0)
    logL, logE = np.log(runs["L"]), float(log_floor(E))

    def optimum(f):
        pts = isoflop_minima(lambda x: f((x - mu) / sd), budgets, X.min(0), X.max(0))
        if len(pts) < 3:
            return dict(a=math.nan, b=math.nan)
        c, n, d = map(np.array, zip(*pts))
        return optimum_result(c, n, d, E=E)

    def estimate(w):
        results = [optimum(f) for f in fit_networks((X - mu) / sd, logL, logE, w, seed)]
        return results if np.ndim(w) == 2 else results[0]
    return estimate, None
