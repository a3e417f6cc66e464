"""
The fourth compute-optimal method: a small neural-network interpolation of L(N, D) (Barkeshli et al. 2026),
minimised along iso-FLOP lines C = 6ND within the range of the data.

The network is written out in numpy (forward pass and its gradient by hand) so that the fit on the data and
every bootstrap refit are one vectorised L-BFGS problem each (lbfgs.py): one network per row of parameters.

Units: N in parameters, D in tokens, C in FLOPs, L in nats per token. Logs are natural.
"""
import math

import numpy as np

from compute_optimal import optimum_result
from lawfit import log_floor
from lbfgs import lbfgs

HIDDEN = 16           # units in each of the two tanh layers
STEPS = 500           # L-BFGS iterations per network
WEIGHT_DECAY = 1e-5   # λ on the squared weights (not the biases): keeps the tanh units out of saturation
SHAPES = ((HIDDEN, 2), (HIDDEN,), (HIDDEN, HIDDEN), (HIDDEN,), (HIDDEN,), ())  # W1, b1, W2, b2, w3, b3


def unpack(theta):
    """The layers of k networks from theta (k, P): W1 (k, H, 2), b1 (k, H), W2 (k, H, H), b2 (k, H),
    w3 (k, H), b3 (k,)."""
    out, at = [], 0
    for shape in SHAPES:
        size = math.prod(shape)
        out.append(theta[:, at:at + size].reshape(len(theta), *shape))
        at += size
    return out


def init_params(seed):
    """One network's parameters (P,): PyTorch's default Linear init, U(±1/√fan_in) for weights and biases."""
    rng, parts = np.random.default_rng(seed), []
    for shape, fan_in in zip(SHAPES, (2, 2, HIDDEN, HIDDEN, HIDDEN, HIDDEN)):
        parts.append(rng.uniform(-1, 1, math.prod(shape)) / math.sqrt(fan_in))
    return np.concatenate(parts)


def forward(theta, X):
    """Outputs (k, n) of k networks at inputs X (n, 2), and the hidden activations for the gradient."""
    W1, b1, W2, b2, w3, b3 = unpack(theta)
    h1 = np.tanh(np.einsum("nj,kij->kni", X, W1) + b1[:, None])
    h2 = np.tanh(np.einsum("kni,kji->knj", h1, W2) + b2[:, None])
    return np.einsum("kni,ki->kn", h2, w3) + b3[:, None], (h1, h2)


def objective(theta, X, logL, logE, W, scale):
    """
    For k networks f (theta (k, P)) with run weights W (k, n) summing to 1 per row: Σ w·(log(E + e^f) − log L)²
    + λ·|weights|², with f = zs·net(X) + zm (scale = (zm, zs): the output standardised like log(L − E)), so
    the residuals are in log L like those of the other fits. Returns the objectives (k,) and gradients (k, P).
    """
    zm, zs = scale
    out, (h1, h2) = forward(theta, X)
    f = out * zs + zm
    fit = np.logaddexp(logE, f)
    r = fit - logL
    W1, _, W2, _, w3, _ = unpack(theta)
    loss = np.sum(W * r * r, 1) + WEIGHT_DECAY * sum(np.sum(w.reshape(len(w), -1) ** 2, 1) for w in (W1, W2, w3))
    d_out = 2 * W * r * np.exp(f - fit) * zs                           # d loss / d out: σ(f − log E) = e^(f − fit)
    d_a2 = d_out[:, :, None] * w3[:, None] * (1 - h2 ** 2)
    d_a1 = np.einsum("knj,kji->kni", d_a2, W2) * (1 - h1 ** 2)
    grads = (np.einsum("kni,nj->kij", d_a1, X) + 2 * WEIGHT_DECAY * W1, d_a1.sum(1),
             np.einsum("knj,kni->kji", d_a2, h1) + 2 * WEIGHT_DECAY * W2, d_a2.sum(1),
             np.einsum("kn,kni->ki", d_out, h2) + 2 * WEIGHT_DECAY * w3, d_out.sum(1))
    return loss, np.concatenate([g.reshape(len(theta), -1) for g in grads], 1)


def fit_networks(X, logL, logE, W, seed=0):
    """
    One 2-layer tanh MLP f(x) ≈ log(L − E) per row of run weights W (k, n), on standardised inputs X (n, 2) =
    (log N, log D), all from the same seeded start and fitted at once by L-BFGS (see objective). Returns k
    functions f_i of (m, 2) inputs giving (m,) outputs.
    """
    W = np.atleast_2d(W) / np.atleast_2d(W).sum(1, keepdims=True)
    z = np.log(np.maximum(np.exp(logL) - np.exp(logE), 1e-3 * np.exp(logL)))    # output scale: log(L − E)
    scale = float(z.mean()), float(z.std())
    theta0 = np.tile(init_params(seed), (len(W), 1))
    theta, _, _ = lbfgs(lambda th, rows: objective(th, X, logL, logE, W[rows], scale), theta0, max_iter=STEPS,
                        ftol=1e-15, gtol=1e-12)
    return [lambda x, th=th: forward(th[None], x)[0][0] * scale[1] + scale[0] for th in theta]


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
