"""
L-BFGS (Nocedal & Wright, Alg. 7.4) on many small independent problems at once, vectorised over problems.

The scaling-law fits refine a few grid starts per bootstrap resample, thousands of 5-parameter problems:
one numpy step for all of them beats a Python loop of scipy calls by orders of magnitude (bench_fit.py).
"""
import numpy as np


def descent_direction(g, gamma, history, rows):
    """d = −H·g for the problems `rows` by the two-loop recursion over history [(s, y, 1/(s·y))]; where
    that is not downhill, the scaled steepest descent −γ·g. Returns d (k, P) and the slope g·d (k,)."""
    q, coef = g[rows].copy(), []
    for s, y, rho in reversed(history):
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
    return d, slope


def backtrack(fun, x, f, rows, d, slope, halvings=60):
    """Armijo backtracking: from x[rows] along d, halve each problem's step until its objective falls by
    1e-4·t·slope. Returns the new points, objectives and gradients, and `pending` (no step was accepted)."""
    t = np.ones(rows.size)
    xn, (fn, gn) = x[rows] + d, fun(x[rows] + d, rows)
    pending = ~(fn <= f[rows] + 1e-4 * t * slope)
    for _ in range(halvings):
        if not pending.any():
            break
        p = np.flatnonzero(pending)
        t[p] *= 0.5
        xn[p] = x[rows[p]] + t[p, None] * d[p]
        fn[p], gn[p] = fun(xn[p], rows[p])
        pending[p] = ~(fn[p] <= f[rows[p]] + 1e-4 * t[p] * slope[p])
    return xn, fn, gn, pending


def curvature_pair(x, g, rows, moved_ok, xn, gn, gamma):
    """The step's (s, y, 1/(s·y)) for every problem (zeros where it did not move or s·y ≤ 0, so the pair is
    ignored), updating the initial scaling γ = s·y / y·y in place where the curvature is positive."""
    moved = rows[moved_ok]
    s, y = np.zeros_like(x), np.zeros_like(x)
    s[moved], y[moved] = xn[moved_ok] - x[moved], gn[moved_ok] - g[moved]
    sy = np.sum(s * y, 1)
    curved = sy > 1e-300                                      # keep only pairs with positive curvature
    rho = np.where(curved, 1 / np.where(curved, sy, 1), 0.0)
    s[~curved], y[~curved] = 0, 0
    gamma[curved] = sy[curved] / np.sum(y[curved] ** 2, 1)
    return s, y, rho


def lbfgs(fun, x0, memory=10, max_iter=1000, ftol=1e-15, gtol=1e-12):
    """
    L-BFGS on M independent problems at once: fun(X, rows) returns the objectives (k,) and gradients (k, P)
    of problems `rows` at X (k, P). Each problem has its own curvature history and backtracking (Armijo)
    line search, and stops when its objective falls by less than ftol·max(|f|, 1), its largest gradient
    component is below gtol, or no step decreases it (the optimum to machine precision).
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
        d, slope = descent_direction(g, gamma, history, rows)
        xn, fn, gn, pending = backtrack(fun, x, f, rows, d, slope)
        history = (history + [curvature_pair(x, g, rows, ~pending, xn, gn, gamma)])[-memory:]
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
