"""
The fourth compute-optimal method: a small neural-network interpolation of L(N, D) (Barkeshli et al. 2026),
minimised along iso-FLOP lines C = 6ND within the range of the data.

Units: N in parameters, D in tokens, C in FLOPs, L in nats per token. Logs are natural.
"""
import math

import numpy as np
import torch

from compute_optimal import optimum_result
from lawfit import log_floor


def fit_network(X, logL, logE, w, seed=0, hidden=16, steps=500, weight_decay=1e-5):
    """
    A 2-layer tanh MLP f(x) ≈ log(L − E) on standardised inputs X (n, 2) = (log N, log D), fitted by L-BFGS
    (float64, seeded) to Σ w·(log(E + e^f) − log L)² / Σ w + λ·|W|², so that its residuals are in log L like
    those of the other fits. Returns f as a function of (m, 2) numpy inputs.
    """
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
