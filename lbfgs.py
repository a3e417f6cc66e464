"""
L-BFGS (Nocedal & Wright, Alg. 7.4) on many small independent problems at once, vectorised over problems.

The scaling-law fits refine a few grid starts per bootstrap resample, thousands of 5-parameter problems:
one numpy step for all of them beats a Python loop of scipy calls by orders of magnitude (bench_fit.py).
"""
import numpy as np

TRIES = 8  # shorter steps 1/2, .., 1/2^8 tried in one evaluation: a backtrack costs one call, not eight


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
    falls by 1e-4·t·slope; t = 1 first, then TRIES shorter lengths per evaluation. Returns the new points, objectives and gradients,
    and `pending` (no step was accepted)."""
    k, P = d.shape
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
