"""
Scaling laws from run records: fits, bootstrap confidence intervals and compute-optimal curves.

    python fit.py RESULTS... [--json out.json] [--plot DIR]
    python fit.py data.csv --n-col N --d-col D --loss-col loss
    python fit.py --simulate

Reads only records on disk (JSON Lines, see DESIGN.md) or a CSV of (N, D, loss), and reports:
1. one-dimensional laws L(N) at fixed D, L(D) at fixed N and L(C) along the frontier, each as a pure power
   law, as E + A·x^(−α) with E fitted or fixed to the known floor, and an exponential alternative, with the
   evidence (BIC) for one over the other;
2. the joint law L(N, D) = E + A/N^α + B/D^β fitted the Chinchilla way (Hoffmann et al. 2022, eq. 2 and
   Approach 3; Besiroglu et al. 2024): Huber loss (δ = 1e-3) on log L, summed over runs, with log L̂ written
   as a log-sum-exp, minimised by L-BFGS from a grid of starts; and Kaplan et al. 2020's
   L = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D;
3. non-parametric bootstrap over runs for every parameter and derived quantity (percentile intervals);
4. how the exponents move with the fit window, with E fitted/fixed/omitted and with N total/non-embedding;
5. compute-optimal N*(C) ∝ C^a and D*(C) ∝ C^b by Hoffmann et al.'s Approaches 1-3 and by minimising a
   small neural-network interpolation of L(N, D) along iso-FLOP lines (Barkeshli et al. 2026).

Units: N in parameters, D in tokens, C in FLOPs, L in nats per token. Logs are natural.
"""
import os
# Every fit here is tiny (5 parameters, hundreds of points): BLAS threads only spin against the optimiser's
# loop (they made scipy's L-BFGS-B 35x slower on a 2-core machine). Must be set before numpy loads OpenBLAS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import csv
import itertools
import json
import math
import sys
import time

import numpy as np

DELTA = 1e-3        # Huber δ on log L (Hoffmann et al. 2022)
N_BOOT = 1000       # bootstrap resamples
NN_BOOT = 20        # bootstrap refits of the interpolation network (each takes ~2 s)
KEEP = 8            # grid starts, best by objective value, that L-BFGS refines
CI = 95             # percent, two-sided percentile interval
MIN_POINTS_1D = 5   # distinct x a one-dimensional law needs: 3 parameters and 2 degrees of freedom left
# Hoffmann et al.'s grid of starts: α, β ∈ {0, .5, .., 2}; e = log E ∈ {-1, -.5, .., 1}; a, b = log A, log B ∈ {0, 5, .., 25}
EXPONENT_GRID = np.arange(0.0, 2.01, 0.5)
LOG_E_GRID = np.arange(-1.0, 1.01, 0.5)
LOG_A_GRID = np.arange(0.0, 25.1, 5.0)
# the exponential alternative L = E + A·exp(-k·x/x_max) has its own scales
EXP_RATE_GRID = np.array([0.5, 1, 2, 4, 8, 16, 32.0])
EXP_LOG_A_GRID = np.arange(-2.0, 3.1, 1.0)
CHINCHILLA = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)   # Hoffmann et al. 2022, eq. 10


class FitError(ValueError):
    """Bad input: reported as one line on stderr, exit status 2."""


def warn(msg):
    print(f"warning: {msg}", file=sys.stderr)

# -----------------------------------------------------------------------------
# reading runs


def read_records(path):
    """Run records from one JSON Lines file; a line that does not parse (a crash mid-write) is skipped with a warning."""
    records = []
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                warn(f"{path}:{i}: skipping a line that is not JSON (truncated write?)")
    return records


def record_files(paths):
    """The files behind the given paths: directories give their *.jsonl files, sorted."""
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith(".jsonl"))
        elif os.path.isfile(p):
            files.append(p)
        else:
            raise FitError(f"{p}: no such file or directory")
    return files


def best_runs(records, warn_edge=True):
    """
    One record per configuration (same data, model and tokens; differing only in lr and seed): at the learning
    rate with the lowest seed-mean final loss, with `loss` and `curve` averaged over that lr's seeds.
    Adds `seeds`, `lr_grid` and `lr_edge` (True when the best lr is the smallest or largest tried, so the true
    optimum may lie outside the grid; warned about unless warn_edge is False).
    """
    groups = {}
    for r in records:
        key = json.dumps([r.get(k) for k in ("dataset", "dataset_args", "V", "param", "n_layer", "width",
                                             "n_head", "block_size", "batch_size", "tokens")] + [r["params"]["total"]], sort_keys=True)
        groups.setdefault(key, []).append(r)
    best = []
    for group in groups.values():
        by_lr = {}
        for r in group:
            by_lr.setdefault(r.get("lr"), []).append(r)
        lrs = sorted(by_lr, key=lambda lr: (lr is None, lr))
        lr = min(lrs, key=lambda lr: np.mean([r["loss"] for r in by_lr[lr]]))
        seeds = by_lr[lr]
        out = dict(seeds[0], loss=float(np.mean([r["loss"] for r in seeds])), seeds=len(seeds), lr_grid=lrs,
                   lr_edge=len(lrs) > 1 and lr in (lrs[0], lrs[-1]), curve=mean_curve(seeds))
        if out["lr_edge"] and warn_edge:
            warn(f"run {out.get('run')}: best lr {lr} is at the edge of the lr grid {lrs[0]}..{lrs[-1]}")
        best.append(out)
    return best


def mean_curve(records):
    """The seed-mean of the records' curves when they share their token grid, else the first record's curve."""
    curves = [r.get("curve") or [] for r in records]
    grids = {tuple(t for t, _ in c) for c in curves}
    if len(grids) != 1 or not curves[0]:
        return curves[0]
    return [[t, float(np.mean([c[i][1] for c in curves]))] for i, (t, _) in enumerate(curves[0])]


def runs_from_records(records, n_def="total"):
    """
    Arrays of one point per record: N (parameters, `params[n_def]`), D (tokens), C (FLOPs), L (nats), floor
    (nats), and each record's curve put on the FLOPs axis, C(t) = flops/tokens · tokens_t.
    """
    pts = [(r["params"][n_def], r["tokens"], r["flops"], r["loss"], r.get("floor")) for r in records]
    other = "non_embedding" if n_def == "total" else "total"
    n_other = [r["params"].get(other) for r in records]
    N, D, C, L, floor = (np.array([np.nan if v is None else v for v in col], float) for col in zip(*pts)) if pts else [np.zeros(0)] * 5
    curves = [(np.array([t for t, _ in r.get("curve") or []], float) * r["flops"] / r["tokens"],
               np.array([l for _, l in r.get("curve") or []], float)) for r in records]
    return dict(N=N, D=D, C=C, L=L, floor=floor if np.all(np.isfinite(floor)) else None, curves=curves,
                N_alt=(other, np.array([np.nan if v is None else v for v in n_other], float)), n_def=n_def)


def read_csv(path, n_col="N", d_col="D", loss_col="loss", c_col=None):
    """Points from a CSV: N, D and loss columns, or N, C and loss with D = C/(6N) tokens when c_col is given."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise FitError(f"{path}: no rows")
    cols = [n_col, c_col if c_col else d_col, loss_col]
    missing = [c for c in cols if c not in rows[0]]
    if missing:
        raise FitError(f"{path}: no column {', '.join(map(repr, missing))} (columns: {', '.join(rows[0])})")
    try:
        N, X, L = (np.array([float(r[c]) for r in rows]) for c in cols)
    except ValueError as e:
        raise FitError(f"{path}: {e}")
    D, C = (X / (6 * N), X) if c_col else (X, 6 * N * X)
    return dict(N=N, D=D, C=C, L=L, floor=None, curves=None, N_alt=None, n_def=n_col)


def load_runs(paths, args):
    """Runs from CSV files or run records (ok runs only, reduced by best_runs unless args.all_runs)."""
    csvs = [p for p in paths if p.endswith(".csv")]
    if csvs and len(csvs) < len(paths):
        raise FitError("give either CSV files or run records, not both")
    if csvs:
        parts = [read_csv(p, args.n_col, args.d_col, args.loss_col, args.c_col) for p in csvs]
        runs = {k: np.concatenate([p[k] for p in parts]) for k in ("N", "D", "C", "L")}
        runs.update(floor=None, curves=None, N_alt=None, n_def=args.n_col, source=", ".join(csvs), not_ok=0)
        return runs
    records = [r for f in record_files(paths) for r in read_records(f)]
    if not records:
        raise FitError(f"no run records in {', '.join(paths)}")
    ok = [r for r in records if r.get("status") == "ok"]
    try:
        runs = runs_from_records(ok if args.all_runs else best_runs(ok), args.n_def)
    except (KeyError, TypeError, ValueError) as e:
        raise FitError(f"a run record lacks or mangles the key {e}")
    runs.update(source=", ".join(paths), not_ok=len(records) - len(ok), records=len(ok))
    return runs


def check_runs(runs):
    """Refuse what cannot be fitted: no points, non-positive or non-finite values, fewer points than the 5
    parameters of the joint law, or all-equal N or D."""
    n = len(runs["L"])
    if n == 0:
        raise FitError("no usable runs")
    for k in ("N", "D", "C", "L"):
        bad = ~(np.isfinite(runs[k]) & (runs[k] > 0))
        if bad.any():
            raise FitError(f"{bad.sum()} of {n} runs have a non-positive or non-finite {k} "
                           f"(first: row {np.argmax(bad) + 1}, {k} = {runs[k][np.argmax(bad)]})")
    if n < 5:
        raise FitError(f"{n} runs are fewer than the 5 parameters of L(N, D) = E + A/N^α + B/D^β")
    for k in ("N", "D"):
        if np.unique(runs[k]).size < 2:
            raise FitError(f"all runs have the same {k} = {runs[k][0]:.4g}; L(N, D) needs at least two values")


def subset(runs, keep):
    """The runs selected by a boolean mask or index array (curves and floors follow)."""
    idx = np.arange(len(runs["L"]))[keep]
    out = dict(runs, **{k: runs[k][idx] for k in ("N", "D", "C", "L")})
    out["floor"] = None if runs["floor"] is None else runs["floor"][idx]
    out["curves"] = None if runs["curves"] is None else [runs["curves"][i] for i in idx]
    out["N_alt"] = None if runs["N_alt"] is None else (runs["N_alt"][0], runs["N_alt"][1][idx])
    return out

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


def lbfgs(fun, x0, memory=10, max_iter=1000, ftol=1e-15, gtol=1e-12):
    """
    L-BFGS (Nocedal & Wright, Alg. 7.4) on M independent problems at once: fun(X, rows) returns the objectives
    (k,) and gradients (k, P) of problems `rows` at X (k, P). Each problem has its own curvature history and
    backtracking (Armijo) line search, and stops when its objective falls by less than ftol·max(|f|, 1), its
    largest gradient component is below gtol, or no step decreases it (the optimum to machine precision).
    Returns (x (M, P), f (M,), converged (M,)); not converged means max_iter ran out or f is not finite.
    """
    x = np.array(x0, float)
    f, g = fun(x, np.arange(len(x)))
    gamma = 1 / np.maximum(np.linalg.norm(g, axis=1), 1e-300)     # first step of length 1, as in scipy's L-BFGS-B
    history = []                                                  # (s, y, 1/(s·y)) of the last `memory` steps
    active = np.isfinite(f) & (np.abs(g).max(1) > gtol)
    converged = ~active & np.isfinite(f)
    for _ in range(max_iter):
        rows = np.flatnonzero(active)
        if rows.size == 0:
            break
        q, coef = g[rows].copy(), []
        for s, y, rho in reversed(history):                       # two-loop recursion: d = −H·g
            c = rho[rows] * np.sum(s[rows] * q, 1)
            q -= c[:, None] * y[rows]
            coef.append(c)
        d = gamma[rows, None] * q
        for (s, y, rho), c in zip(history, reversed(coef)):
            d += s[rows] * (c - rho[rows] * np.sum(y[rows] * d, 1))[:, None]
        d = -d
        slope = np.sum(g[rows] * d, 1)
        uphill = ~(slope < 0)
        d[uphill] = -g[rows][uphill] * gamma[rows][uphill, None]
        slope[uphill] = np.sum(g[rows][uphill] * d[uphill], 1)
        t = np.ones(rows.size)
        xn, (fn, gn) = x[rows] + d, fun(x[rows] + d, rows)
        pending = ~(fn <= f[rows] + 1e-4 * t * slope)
        for _ in range(60):                                       # halve the step until the objective falls enough
            if not pending.any():
                break
            p = np.flatnonzero(pending)
            t[p] *= 0.5
            xn[p] = x[rows[p]] + t[p, None] * d[p]
            fn[p], gn[p] = fun(xn[p], rows[p])
            pending[p] = ~(fn[p] <= f[rows[p]] + 1e-4 * t[p] * slope[p])
        moved = rows[~pending]
        s, y = np.zeros_like(x), np.zeros_like(x)
        s[moved], y[moved] = xn[~pending] - x[moved], gn[~pending] - g[moved]
        sy = np.sum(s * y, 1)
        curved = sy > 1e-300                                      # keep only pairs with positive curvature
        rho = np.where(curved, 1 / np.where(curved, sy, 1), 0.0)
        s[~curved], y[~curved] = 0, 0
        gamma[curved] = sy[curved] / np.sum(y[curved] ** 2, 1)
        history = (history + [(s, y, rho)])[-memory:]
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


def minimise(law, logL, starts, W=None, delta=DELTA, keep=KEEP, warm=None, screened=None):
    """
    For each weight vector W_b (rows of W, (B, n); all ones by default): L-BFGS from the `keep` grid starts with
    the lowest objective under W_b, and from warm (P,) if given, all run at once; the best converged optimum of
    each wins (the best of all if none converged). `screened` is the (S, n) matrix of per-run Huber losses at
    the starts, reusable across bootstrap resamples, where only W changes.
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
    x, f, ok = lbfgs(lambda X, rows: huber_objective(X, law, logL, Wk[rows], delta), x0.reshape(B * K, P))
    score, okk = np.where(np.isfinite(f), f, np.inf).reshape(B, K), ok.reshape(B, K)
    best = np.where(okk.any(1), np.argmin(np.where(okk, score, np.inf), 1), np.argmin(score, 1))
    pick = np.arange(B) * K + best
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


def bootstrap(refit, n, n_boot=N_BOOT, seed=0, label="", quiet=False, chunk=1):
    """
    Non-parametric bootstrap over runs: n_boot resamples of the n runs drawn with replacement, each given as
    multinomial counts w (so a refit sees every run, weighted by how often it was drawn). refit(W) takes a
    (k, n) batch of them, `chunk` at a time, and returns one dict of numbers per resample. Returns the samples
    and the CI% percentile interval of each number (NaN samples left out). Progress and ETA go to stderr.
    """
    W = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float)
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
    return dict(ci={k: percentile_interval(v) for k, v in samples.items()}, n_boot=n_boot, samples=samples)


def percentile_interval(samples, level=CI):
    """[lo, hi], the central level% of the finite samples (NaN when there are none)."""
    s = samples[np.isfinite(samples)]
    return [float(np.percentile(s, 50 - level / 2)), float(np.percentile(s, 50 + level / 2))] if s.size else [np.nan, np.nan]


def bootstrap_law(spec, L, fit, delta=DELTA, n_boot=N_BOOT, seed=0, label="", quiet=False):
    """Bootstrap a fitted spec: each resample's L-BFGS starts from the full-data optimum and from the grid
    start that screens best on that resample; resamples are refitted 100 at a time, vectorised."""
    logL = np.log(L)
    screened = huber_loss(spec["law"](spec["starts"])[0] - logL, delta)

    def refit(W):
        theta, _, _ = minimise(spec["law"], logL, spec["starts"], W, delta, keep=1, warm=fit["theta"], screened=screened)
        return [spec["unpack"](th) for th in theta]
    return bootstrap(refit, len(L), n_boot, seed, label, quiet, chunk=100)


# -----------------------------------------------------------------------------
# one-dimensional laws: L(N) at fixed D, L(D) at fixed N, L(C) along the frontier


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


def largest_slice(x, y, tol):
    """The runs sharing the largest value of y (within tol in log) that have MIN_POINTS_1D distinct x, or None."""
    labels = cluster_log(y, tol)
    for k in sorted(set(labels), key=lambda k: -y[labels == k].mean()):
        if np.unique(x[labels == k]).size >= MIN_POINTS_1D:
            return labels == k
    return None


def pareto_frontier(C, L):
    """Runs on the compute frontier: lower loss than every run with less compute (FLOPs)."""
    order = np.argsort(C)
    keep = L[order] < np.minimum.accumulate(np.concatenate([[np.inf], L[order][:-1]]))
    return np.sort(order[keep])


def evidence(power, expo):
    """
    BIC evidence for L = E + A·x^(−α) over L = E + A·exp(−x/scale): ΔBIC = BIC_exp − BIC_power from Gaussian
    likelihoods of the log residuals (both have 3 parameters); strength on Kass & Raftery's (1995) scale.
    """
    n = len(power["residuals"])
    rss = [max(float(np.sum(f["residuals"] ** 2)), 1e-300) for f in (power, expo)]
    dbic = n * math.log(rss[1] / rss[0])
    strength = next(s for bound, s in ((10, "very strong"), (6, "strong"), (2, "positive"), (0, "weak"))
                    if abs(dbic) >= bound)
    return dict(delta_bic=dbic, favoured="power law" if dbic > 0 else "exponential", strength=strength)


def one_dim_laws(runs, floor=None, delta=DELTA, n_boot=N_BOOT, seed=0, tol=0.1, quiet=False):
    """
    For L(N) at the largest D, L(D) at the largest N and L(C) along the frontier: the power law with E
    fitted ('free'), fixed to the floor ('floor', when known), omitted ('pure'), and the exponential ('exp'),
    each with bootstrap intervals; and the evidence for the power law over the exponential.
    """
    N, D, C, L = runs["N"], runs["D"], runs["C"], runs["L"]
    slices = {"N": (largest_slice(N, D, tol), N, "D", D), "D": (largest_slice(D, N, tol), D, "N", N),
              "C": (pareto_frontier(C, L), C, None, None)}
    out = {}
    for axis, (keep, x, fixed, y) in slices.items():
        if keep is None or np.unique(x[keep]).size < MIN_POINTS_1D:
            out[axis] = dict(skipped=f"no {'frontier' if fixed is None else fixed + ' value'} with {MIN_POINTS_1D} "
                                     f"distinct {axis}")
            continue
        idx = np.arange(len(L))[keep]
        xs, Ls = x[idx], L[idx]
        forms = dict(free=power_law_spec(xs), pure=power_law_spec(xs, E=0.0), exp=power_law_spec(xs, exponential=True))
        if floor is not None:
            forms["floor"] = power_law_spec(xs, E=floor[idx])
        res = dict(slice="compute frontier" if fixed is None else f"{fixed} = {np.mean(y[idx]):.4g}", n=len(xs), x=xs, L=Ls, _idx=idx)
        for name, spec in forms.items():
            f = fit_law(spec, Ls, delta)
            res[name] = dict(f, ci=bootstrap_law(spec, Ls, f, delta, n_boot, seed, f"L({axis}) {name}", quiet)["ci"])
        res["evidence"] = evidence(res["free"], res["exp"])
        out[axis] = res
    return out

# -----------------------------------------------------------------------------
# compute-optimal N*(C) and D*(C): each method is an estimator, a function of run weights w (all ones for the
# fit itself, multinomial counts for a bootstrap resample), returning the exponents a, b and its points.


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


def envelope_estimator(runs, n_grid=40):
    """
    Approach 1 (Hoffmann et al. 2022, §3.1): the lower envelope of the loss-vs-FLOPs training curves. On a
    log-spaced FLOPs grid, the run whose (log-log interpolated) curve is lowest gives N*(C), and its tokens at
    that point D*(C). Grid points won by the smallest or largest model whose curve reaches that C are dropped:
    the optimum may lie beyond the models tried.
    """
    curves = runs["curves"] or []
    have = [i for i, (c, l) in enumerate(curves) if len(c) >= 2]
    if len(have) < 3:
        return None, "fewer than 3 runs have training curves"
    lo, hi = min(curves[i][0].min() for i in have), max(curves[i][0].max() for i in have)
    grid = np.geomspace(lo, hi, n_grid)
    M = np.full((len(curves), n_grid), np.inf)
    for i in have:
        c, l = curves[i]
        inside = (grid >= c.min()) & (grid <= c.max())
        M[i, inside] = np.interp(np.log(grid[inside]), np.log(c), np.log(l))
    N, fpt = runs["N"], runs["C"] / runs["D"]     # FLOPs per token of each run

    def estimate(w):
        Mw = np.where(w[:, None] > 0, M, np.inf)
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


def fit_network(X, logL, logE, w, seed=0, hidden=16, steps=500, weight_decay=1e-5):
    """
    A 2-layer tanh MLP f(x) ≈ log(L − E) on standardised inputs X (n, 2) = (log N, log D), fitted by L-BFGS
    (float64, seeded) to Σ w·(log(E + e^f) − log L)² / Σ w + λ·|W|², so that its residuals are in log L like
    those of the other fits. Returns f as a function of (m, 2) numpy inputs.
    """
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                    # a tiny network: threads only add overhead
    try:
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(2, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, hidden),
                                  torch.nn.Tanh(), torch.nn.Linear(hidden, 1)).double()
        Xt, yt, wt = torch.tensor(X), torch.tensor(logL), torch.tensor(w / w.sum())
        z = np.log(np.maximum(np.exp(logL) - np.exp(logE), 1e-3 * np.exp(logL)))    # output scale: log(L − E)
        zm, zs = float(z.mean()), float(z.std())
        opt = torch.optim.LBFGS(net.parameters(), max_iter=steps, history_size=50, line_search_fn="strong_wolfe",
                                tolerance_grad=1e-12, tolerance_change=1e-15)

        def closure():
            opt.zero_grad()
            f = net(Xt)[:, 0] * zs + zm
            loss = (wt * (torch.logaddexp(torch.tensor(logE, dtype=torch.float64), f) - yt) ** 2).sum()
            loss = loss + weight_decay * sum((p ** 2).sum() for n, p in net.named_parameters() if "weight" in n)
            loss.backward()
            return loss
        opt.step(closure)
    finally:
        torch.set_num_threads(threads)

    def f(x):
        with torch.no_grad():
            return net(torch.tensor(x))[:, 0].numpy() * zs + zm
    return f


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
    Compute-optimal curves from a neural interpolation of the data (Barkeshli et al. 2026): fit_network to the
    runs (E: the floor or the fitted E, nats), then isoflop_minima within the data's range of N and D.
    """
    X = np.log(np.stack([runs["N"], runs["D"]], 1))
    mu, sd = X.mean(0), X.std(0)
    logL, logE = np.log(runs["L"]), float(log_floor(E))

    def estimate(w):
        f = fit_network((X - mu) / sd, logL, logE, w, seed)
        pts = isoflop_minima(lambda x: f((x - mu) / sd), budgets, X.min(0), X.max(0))
        if len(pts) < 3:
            return dict(a=math.nan, b=math.nan)
        c, n, d = map(np.array, zip(*pts))
        return optimum_result(c, n, d, E=E)
    return estimate, None

# -----------------------------------------------------------------------------
# planted data


def chinchilla_loss(N, D, E, A, B, alpha, beta):
    """L(N, D) = E + A/N^α + B/D^β in nats, for N parameters and D tokens (Hoffmann et al. 2022, eq. 2)."""
    return E + A / N ** alpha + B / D ** beta


def simulate(law=CHINCHILLA, budgets=(6e18, 3e21, 9), per_budget=28, width=1.5, noise=0.01, seed=0, curve_points=16,
             centre=None):
    """
    Runs drawn from a known L(N, D) on an isoFLOP design like Hoffmann et al.'s: `budgets` = (lo, hi, count)
    log-spaced compute budgets C (FLOPs), each with per_budget model sizes N spanning `width` decades centred on
    the true N*(C) (or, given centre = a', on N* of the middle budget times (C/C_mid)^a', a guessed allocation),
    and D = C/(6N) tokens. Losses carry log-normal noise, L·exp(noise·ε) with ε ~ N(0, 1). Each
    run has a training curve of curve_points losses at D·t tokens, t log-spaced over [10^−1.5, 1] (the law at
    those tokens, i.e. as if each point were a finished run); its last point is the run's final loss.
    """
    rng = np.random.default_rng(seed)
    Cb = np.geomspace(budgets[0], budgets[1], int(budgets[2]))
    Nstar = compute_optimal_closed_form(law["A"], law["B"], law["alpha"], law["beta"], Cb)[0]
    if centre is not None:
        mid = len(Cb) // 2
        Nstar = Nstar[mid] * (Cb / Cb[mid]) ** centre
    N = (Nstar[:, None] * 10 ** np.linspace(-width / 2, width / 2, per_budget)).ravel()
    D = np.repeat(Cb, per_budget) / (6 * N)
    Dt = D[:, None] * np.geomspace(10 ** -1.5, 1, curve_points)
    Lt = chinchilla_loss(N[:, None], Dt, **law) * np.exp(noise * rng.standard_normal(Dt.shape))
    return dict(N=N, D=D, C=6 * N * D, L=Lt[:, -1], floor=np.full(N.size, law["E"]), curves=list(zip(6 * N[:, None] * Dt, Lt)),
                N_alt=None, n_def="total", not_ok=0,
                source=f"simulate: {int(budgets[2])} budgets {budgets[0]:.3g}..{budgets[1]:.3g} FLOPs x {per_budget} "
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


# -----------------------------------------------------------------------------
# sensitivity: the critique of common practice made visible


def sensitivity(runs, E=None, laws=None, delta=DELTA, frac=0.2):
    """
    How the exponents move: the joint α, β, a and the one-dimensional α_N, α_D, α_C (E fitted) with E fitted,
    fixed to the floor or omitted; with the smallest or largest frac of runs dropped (by C for the joint law,
    by x for the one-dimensional laws); and with the other parameter count as N.
    """
    laws = {k: v for k, v in (laws or {}).items() if "skipped" not in v}
    n_drop = lambda n: max(1, int(round(frac * n)))

    def one_dim(x_of, pick):
        out = {}
        for axis, law in laws.items():
            x = x_of(axis, law)
            keep = pick(x)
            ok = np.unique(x[keep]).size >= MIN_POINTS_1D - 1
            out[f"alpha_{axis}"] = fit_law(power_law_spec(x[keep]), law["L"][keep], delta)["alpha"] if ok else math.nan
        return out

    def row(variant, r, E_, one):
        f = joint_fit(r["N"], r["D"], r["L"], E_, delta)
        return dict(variant=variant, alpha=f["alpha"], beta=f["beta"], a=f["a"], E=f["E"], **one)

    own_x = lambda axis, law: law["x"]
    everything = lambda x: np.ones(len(x), bool)
    smallest = lambda x: np.argsort(np.argsort(x)) >= n_drop(len(x))
    largest = lambda x: np.argsort(np.argsort(x)) < len(x) - n_drop(len(x))
    base = "E fitted" if E is None else "E = floor"
    E_of = lambda keep: None if E is None else np.broadcast_to(E, runs["L"].shape)[keep]
    rows = [row("E fitted", runs, None, {f"alpha_{k}": v["free"]["alpha"] for k, v in laws.items()})]
    if runs["floor"] is not None:
        rows.append(row("E = floor", runs, runs["floor"], {f"alpha_{k}": v["floor"]["alpha"] for k, v in laws.items()}))
    rows.append(row("E omitted (pure power laws)", runs, 0.0, {f"alpha_{k}": v["pure"]["alpha"] for k, v in laws.items()}))
    pct = f"{round(100 * frac)}%"
    for name, pick in (("smallest", smallest), ("largest", largest)):
        keep = pick(runs["C"])
        rows.append(row(f"{base}, drop {name} {pct}", subset(runs, keep), E_of(keep), one_dim(own_x, pick)))
    if runs["N_alt"] is not None and np.all(np.isfinite(runs["N_alt"][1])) and np.all(runs["N_alt"][1] > 0):
        name, N_alt = runs["N_alt"]
        alt_x = lambda axis, law: N_alt[law["_idx"]] if axis == "N" else law["x"]
        rows.append(row(f"{base}, N = {name}", dict(runs, N=N_alt), E, one_dim(alt_x, everything)))
    return rows

# -----------------------------------------------------------------------------
# everything at once


def estimate_with_bootstrap(name, estimator, n, n_boot, seed, quiet):
    """Run a compute-optimal estimator on all runs and on n_boot resamples; {'skipped': why} if it cannot run."""
    est, why = estimator
    if est is None:
        return dict(skipped=why)
    res = est(np.ones(n))
    if not np.isfinite(res["a"]):
        return dict(skipped="too few compute-optimal points")
    boot = bootstrap(lambda W: [est(w) for w in W], n, n_boot, seed, name, quiet)
    return dict(res, ci={k: boot["ci"][k] for k in ("a", "b")}, n_boot=n_boot, _samples=boot["samples"])


def analyse(runs, E=None, delta=DELTA, n_boot=N_BOOT, nn_boot=NN_BOOT, seed=0, tol=0.1, quiet=False):
    """
    Every fit on one set of runs (dict of N, D, C, L arrays, floor, curves; see runs_from_records), E being
    None (fitted), the floor (nats, scalar or per run) or 0 (omitted) for the joint law and Approach 3.
    Returns a dict ready for JSON, except keys starting with '_' (bootstrap samples, for plots).
    """
    check_runs(runs)
    N, D, C, L = runs["N"], runs["D"], runs["C"], runs["L"]
    n = len(L)
    out = dict(input=dict(source=runs.get("source"), runs=n, not_ok=runs.get("not_ok", 0), n_def=runs.get("n_def"),
                          E="fitted" if E is None else "fixed", delta=delta, n_boot=n_boot, ci_level=CI, seed=seed))
    for name, spec in (("joint", joint_spec(N, D, E)), ("kaplan", kaplan_spec(N, D))):
        f = fit_law(spec, L, delta)
        boot = bootstrap_law(spec, L, f, delta, n_boot, seed, name, quiet)
        out[name] = dict(f, ci=boot["ci"], _samples=boot["samples"])
    out["laws_1d"] = one_dim_laws(runs, runs["floor"], delta, n_boot, seed, tol, quiet)
    j = out["joint"]
    budgets = np.geomspace(C.min(), C.max(), 12)
    Ns, Ds, a, b, G = compute_optimal_closed_form(j["A"], j["B"], j["alpha"], j["beta"], budgets)
    E_nn = float(np.mean(runs["floor"])) if runs["floor"] is not None else j["E"]
    out["compute_optimal"] = dict(
        approach1=estimate_with_bootstrap("approach 1", envelope_estimator(runs), n, n_boot, seed, quiet),
        approach2=estimate_with_bootstrap("approach 2", isoflop_estimator(runs, tol), n, n_boot, seed, quiet),
        approach3=dict(a=a, b=b, G=G, C=budgets, N=Ns, D=Ds, ci={k: j["ci"][k] for k in ("a", "b", "G")}),
        interpolation=estimate_with_bootstrap("interpolation", interpolation_estimator(runs, E_nn, budgets, seed),
                                              n, nn_boot, seed, quiet))
    out["sensitivity"] = sensitivity(runs, E, out["laws_1d"], delta)
    return out

# -----------------------------------------------------------------------------
# output: a readable table, JSON, plots


def fmt(v):
    return "nan" if v is None or not np.isfinite(v) else f"{v:.4g}"


def with_ci(fit, key):
    lo, hi = fit.get("ci", {}).get(key, (None, None))
    return f"{fmt(fit[key]):>9} [{fmt(lo)}, {fmt(hi)}]"


def report(res, truth=None):
    """The results as a readable text table (truth: the planted law, in --simulate)."""
    inp, j, k = res["input"], res["joint"], res["kaplan"]
    lines = [f"{inp['runs']} runs from {inp['source']} ({inp['not_ok']} not ok, left out); N = {inp['n_def']}; "
             f"Huber δ = {inp['delta']:g} on log L; {inp['ci_level']}% percentile intervals from {inp['n_boot']} "
             f"bootstrap resamples over runs", ""]
    true = lambda key: f"   truth {fmt(truth[key])}" if truth and key in truth else ""
    lines.append(f"Joint law L(N, D) = E + A/N^α + B/D^β (Hoffmann et al. 2022), E {inp['E']}")
    for key in ("E", "A", "B", "alpha", "beta", "a", "b", "G"):
        lines.append(f"  {key:6} {with_ci(j, key)}{true(key)}")
    lines.append(f"  Huber loss {j['loss']:.4g} (sum over runs), {'converged' if j['converged'] else 'NOT converged'}, "
                 f"best of L-BFGS from the {KEEP} best of {j['n_starts']} grid starts; rms residual {j['rms']:.3g} in log L")
    lines += ["", "Kaplan et al. 2020 law L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D"]
    for key in ("alpha_N", "alpha_D", "N_c", "D_c"):
        lines.append(f"  {key:7} {with_ci(k, key)}")
    lines.append(f"  Huber loss {k['loss']:.4g}, {'converged' if k['converged'] else 'NOT converged'}; rms residual {k['rms']:.3g}")
    lines += ["", "One-dimensional laws: L = E + A·x^(−α) with E fitted (free), fixed to the floor (floor) or omitted (pure);"
                  " exp: L = E + A·exp(−x/scale)"]
    for axis, law in res["laws_1d"].items():
        if "skipped" in law:
            lines.append(f"  L({axis}): skipped, {law['skipped']}")
            continue
        lines.append(f"  L({axis}) at {law['slice']}, {law['n']} runs")
        for form in ("free", "floor", "pure", "exp"):
            if form in law:
                f = law[form]
                shape = "scale" if form == "exp" else "alpha"
                lines.append(f"    {form:5} E {with_ci(f, 'E')}  A {with_ci(f, 'A')}  {shape} {with_ci(f, shape)}  "
                             f"loss {f['loss']:.3g}  rms {f['rms']:.3g}")
        ev = law["evidence"]
        lines.append(f"    evidence: {ev['favoured']}, ΔBIC(exp − power) = {ev['delta_bic']:.3g} ({ev['strength']})")
    lines += ["", "Compute-optimal allocation N*(C) ∝ C^a, D*(C) ∝ C^b"]
    for name, co in res["compute_optimal"].items():
        if "skipped" in co:
            lines.append(f"  {name:13} skipped: {co['skipped']}")
        else:
            lines.append(f"  {name:13} a {with_ci(co, 'a')}   b {with_ci(co, 'b')}")
    if truth:
        lines.append(f"  {'truth':13} a {fmt(truth['a']):>9}   b {fmt(truth['b']):>9}")
    lines += ["", "Sensitivity of the exponents (joint α, β, a; one-dimensional α_N, α_D, α_C, with E fitted unless the row says)"]
    cols = [c for c in ("alpha", "beta", "a", "alpha_N", "alpha_D", "alpha_C") if c in res["sensitivity"][0]]
    lines.append(f"  {'variant':34}" + "".join(f"{c:>9}" for c in cols))
    for row in res["sensitivity"]:
        lines.append(f"  {row['variant']:34}" + "".join(f"{fmt(row.get(c)):>9}" for c in cols))
    if "isoflop_bias" in res:
        lines += ["", "Approach 2 on noise-free isoFLOP designs: the parabola's bias as the N range per budget widens,",
                  "with the N windows centred on the true N*(C), or on a guessed N ∝ C^0.6 through the middle budget"]
        lines.append(f"  {'decades':>8} {'true a':>8} {'a centred':>10} {'N*/true':>8} {'a guessed':>10} {'N*/true':>8}")
        for row in res["isoflop_bias"]:
            lines.append(f"  {row['width']:8.3g} {fmt(row['a_true']):>8} {fmt(row['a_centred']):>10} "
                         f"{fmt(row['N_ratio_centred']):>8} {fmt(row['a_guessed']):>10} {fmt(row['N_ratio_guessed']):>8}")
    return "\n".join(lines)


def to_json(obj):
    """JSON-ready copy: arrays to lists, NaN and inf to null, keys starting with '_' and fit internals left out."""
    if isinstance(obj, dict):
        return {k: to_json(v) for k, v in obj.items() if not k.startswith("_") and k != "theta"}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [to_json(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    return obj


def plot_all(res, runs, outdir):
    """PNGs: loss vs N (colour: D) and vs D (colour: N) with the joint fit, loss vs FLOPs with the frontier and
    the four compute-optimal fits, IsoFLOP parabolas, bootstrap distributions of the exponents, residuals."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(outdir, exist_ok=True)
    N, D, C, L = runs["N"], runs["D"], runs["C"], runs["L"]
    j = res["joint"]
    law = {k: j[k] for k in ("E", "A", "B", "alpha", "beta")}
    saved = []

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, name), dpi=110)
        plt.close(fig)
        saved.append(name)

    for x, y, xname, yname, unit in ((N, D, "N", "D", "parameters"), (D, N, "D", "N", "tokens")):
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        norm = matplotlib.colors.LogNorm(y.min(), y.max())
        sc = ax.scatter(x, L, c=y, norm=norm, cmap="viridis", s=12)
        xs = np.geomspace(x.min(), x.max(), 100)
        for yv in np.quantile(y, [0.05, 0.35, 0.65, 0.95]):
            Lfit = chinchilla_loss(xs, yv, **law) if xname == "N" else chinchilla_loss(yv, xs, **law)
            ax.plot(xs, Lfit, color=plt.cm.viridis(norm(yv)), lw=1.5)
        ax.axhline(j["E"], color="gray", ls=":", lw=1, label=f"E = {j['E']:.3g}")
        ax.set(xscale="log", yscale="log", xlabel=f"{xname} ({unit})", ylabel="loss (nats)",
               title=f"loss vs {xname}; lines: joint fit at four {yname}")
        fig.colorbar(sc, ax=ax, label=yname)
        ax.legend()
        save(fig, f"loss_vs_{xname}.png")

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.8))
    for c, l in (runs["curves"] or []):
        ax.plot(c, l, color="0.8", lw=0.5, zorder=0)
    ax.scatter(C, L, s=8, c="C0", label="runs (final loss)")
    front = pareto_frontier(C, L)
    ax.plot(C[front], L[front], "k-", lw=1.5, label="compute frontier")
    cs = np.geomspace(C.min(), C.max(), 100)
    colors = dict(approach1="C1", approach2="C2", approach3="C3", interpolation="C4")
    for name, co in res["compute_optimal"].items():
        if "skipped" in co:
            continue
        if name == "approach3":
            nstar = compute_optimal_closed_form(j["A"], j["B"], j["alpha"], j["beta"], cs)[0]
        else:
            nstar = co["k_N"] * cs ** co["a"]
        ax.plot(cs, chinchilla_loss(nstar, cs / (6 * nstar), **law), color=colors[name], lw=1, ls="--",
                label=f"joint law at {name}'s N*(C)")
        bx.plot(cs, nstar, color=colors[name], label=f"{name}: a = {co['a']:.3f}")
        bx.scatter(co["C"], co["N"], color=colors[name], s=10)
    if "truth" in res:
        t = res["truth"]
        bx.plot(cs, compute_optimal_closed_form(t["A"], t["B"], t["alpha"], t["beta"], cs)[0], "k:", label=f"truth: a = {t['a']:.3f}")
    ax.set(xscale="log", yscale="log", xlabel="C (FLOPs)", ylabel="loss (nats)", title="loss vs compute")
    ax.legend(fontsize=7)
    bx.set(xscale="log", yscale="log", xlabel="C (FLOPs)", ylabel="N* (parameters)", title="compute-optimal N*(C) ∝ C^a")
    bx.legend(fontsize=8)
    save(fig, "loss_vs_flops.png")

    co2 = res["compute_optimal"]["approach2"]
    if "_profiles" in co2:
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        every = math.ceil(len(co2["_profiles"]) / 12)                 # at most 12 legend entries
        for i, (c, n, d, l, pw) in enumerate(co2["_profiles"]):
            color = plt.cm.plasma(i / max(1, len(co2["_profiles"]) - 1))
            ax.scatter(n, l, s=8, color=color)
            c2, c1, c0 = np.polyfit(np.log(n), l, 2)
            xs = np.linspace(np.log(n).min(), np.log(n).max(), 100)
            ax.plot(np.exp(xs), c0 + c1 * xs + c2 * xs ** 2, color=color, lw=1, label=f"C = {c:.2g}" if i % every == 0 else None)
        ax.set(xscale="log", xlabel="N (parameters)", ylabel="loss (nats)", title=f"IsoFLOP profiles ({co2['how']})")
        ax.legend(fontsize=6, ncol=2)
        save(fig, "isoflop.png")

    keys = [("joint", "alpha"), ("joint", "beta"), ("joint", "a"), ("joint", "b")]
    keys += [(n, "a") for n in ("approach1", "approach2", "interpolation") if "_samples" in res["compute_optimal"][n]]
    fig, axes = plt.subplots(1, len(keys), figsize=(2.6 * len(keys), 3))
    for ax, (src, key) in zip(axes, keys):
        fit = res[src] if src == "joint" else res["compute_optimal"][src]
        s = fit["_samples"][key]
        ax.hist(s[np.isfinite(s)], bins=40, color="C0")
        ax.axvline(fit[key], color="k", lw=1)
        for q in fit["ci"][key]:
            ax.axvline(q, color="C3", ls="--", lw=1)
        ax.set(title=f"{src}: {key}", yticks=[])
    save(fig, "bootstrap.png")

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    r = j["residuals"]
    for ax, (x, name) in zip(axes, ((N, "N (parameters)"), (D, "D (tokens)"), (L, "loss (nats)"))):
        ax.scatter(x, r, s=8)
        ax.axhline(0, color="k", lw=0.8)
        ax.set(xscale="linear" if x is L else "log", xlabel=name, ylabel="log L − log L̂")
    axes[0].set_title(f"joint-fit residuals, rms {j['rms']:.3g}")
    save(fig, "residuals.png")
    return saved


def parse_floor(runs, floor):
    """The E of the joint fit: None (fitted) without --floor, each run's floor with a bare --floor, or a
    given value in nats (which then also serves as every run's known floor)."""
    if floor is None:
        return None
    if floor == "records":
        if runs["floor"] is None:
            raise FitError("these runs carry no floor; give one as --floor VALUE (nats)")
        return runs["floor"]
    try:
        value = float(floor)
    except ValueError:
        raise FitError(f"--floor {floor!r} is not a number")
    if not value > 0:
        raise FitError(f"--floor must be positive, got {value}")
    runs["floor"] = np.full(len(runs["L"]), value)
    return runs["floor"]


def main(argv=None):
    p = argparse.ArgumentParser(description="Fit scaling laws to run records (JSON Lines files or directories) or "
                                            "to a CSV of N, D and loss; see the module docstring.")
    p.add_argument("paths", nargs="*", help="run records (*.jsonl files or directories of them) or CSV files")
    p.add_argument("--n-col", default="N", help="CSV column of N, parameters (default N)")
    p.add_argument("--d-col", default="D", help="CSV column of D, tokens (default D)")
    p.add_argument("--loss-col", default="loss", help="CSV column of the final loss, nats (default loss)")
    p.add_argument("--c-col", default=None, help="CSV column of C, FLOPs; then D = C/(6N) and --d-col is not used")
    p.add_argument("--n-def", choices=("total", "non_embedding"), default="total", help="which parameter count of a "
                   "run record is N (default total; the sensitivity table shows the other)")
    p.add_argument("--floor", nargs="?", const="records", default=None, metavar="VALUE",
                   help="fix E of the joint law to each record's exact floor, or to VALUE nats, instead of fitting it")
    p.add_argument("--all-runs", action="store_true", help="fit every ok run, not only the best lr per (N, D)")
    p.add_argument("--delta", type=float, default=DELTA, help="Huber δ on log L (default 1e-3)")
    p.add_argument("--boot", type=int, default=N_BOOT, help="bootstrap resamples (default 1000)")
    p.add_argument("--nn-boot", type=int, default=NN_BOOT, help="bootstrap refits of the interpolation network (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap, the network and --simulate")
    p.add_argument("--iso-tol", type=float, default=0.1, help="runs whose log C (log D, log N for slices) lie "
                   "within this of their group's smallest share a budget (default 0.1, about 10%%)")
    p.add_argument("--json", metavar="PATH", help="write the numbers as JSON")
    p.add_argument("--plot", metavar="DIR", help="write PNG plots into DIR")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--simulate", action="store_true", help="fit runs drawn from a known L(N, D) instead of files")
    p.add_argument("--sim-law", default="1.69,406.4,410.7,0.34,0.28", help="E,A,B,alpha,beta of the planted law "
                   "(default Hoffmann et al.'s)")
    p.add_argument("--sim-budgets", default="6e18,3e21,9", help="lo,hi,count: log-spaced compute budgets, FLOPs")
    p.add_argument("--sim-per-budget", type=int, default=28, help="model sizes per budget (default 28)")
    p.add_argument("--sim-width", type=float, default=1.5, help="decades of N per budget, centred on N* (default 1.5)")
    p.add_argument("--sim-noise", type=float, default=0.01, help="sd of the log-normal noise on the loss (default 0.01)")
    args = p.parse_args(argv)
    if args.floor not in (None, "records") and os.path.exists(args.floor):      # `--floor PATH`: a bare --floor
        args.paths.insert(0, args.floor)
        args.floor = "records"
    try:
        truth = None
        if args.simulate:
            try:
                law = dict(zip(("E", "A", "B", "alpha", "beta"), (float(v) for v in args.sim_law.split(","))))
                lo, hi, count = (float(v) for v in args.sim_budgets.split(","))
            except ValueError:
                raise FitError("--sim-law needs 5 numbers and --sim-budgets 3 (lo,hi,count)")
            if len(law) != 5 or not (0 < lo <= hi and count >= 1 and args.sim_per_budget >= 1):
                raise FitError("--sim-law needs 5 numbers and --sim-budgets 0 < lo <= hi, count >= 1")
            runs = simulate(law, (lo, hi, int(count)), args.sim_per_budget, args.sim_width, args.sim_noise, args.seed)
            _, _, a, b, G = compute_optimal_closed_form(law["A"], law["B"], law["alpha"], law["beta"], 1.0)
            truth = dict(law, a=a, b=b, G=G)
        elif not args.paths:
            raise FitError("give run records or a CSV to fit, or --simulate")
        else:
            runs = load_runs(args.paths, args)
        if args.boot < 1 or args.nn_boot < 1 or not args.delta > 0:
            raise FitError("--boot and --nn-boot must be at least 1 and --delta positive")
        E = parse_floor(runs, args.floor)
        res = analyse(runs, E, args.delta, args.boot, args.nn_boot, args.seed, args.iso_tol, args.quiet)
        if truth:
            res["truth"] = truth
            res["isoflop_bias"] = isoflop_bias(law, (lo, hi, int(count)), args.sim_per_budget, tol=args.iso_tol)
        print(report(res, truth))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(to_json(res), f, indent=1)
        if args.plot:
            saved = plot_all(res, runs, args.plot)
            print(f"\nplots in {args.plot}: {', '.join(saved)}")
    except (FitError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
