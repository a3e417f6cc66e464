"""
The spectral theory of scaling laws, checked where it must hold: ridge(less) regression on random features
of Gaussian data whose covariance spectrum is a power law by construction.

Setting (Maloney, Roberts & Sully 2022, "A solvable model of neural scaling laws", arXiv 2210.16859;
Bahri, Dyer, Kaplan, Lee & Sharma 2021, "Explaining neural scaling laws", arXiv 2102.06701):
  - latent data x ∈ R^M, Gaussian, covariance diag(λ_k) with λ_k = k^-(1+a), k = 1..M;
  - target y = w · x with w_k i.i.d. N(0, 1), no label noise (target power per mode λ_k ~ k^-(1+a): the
    "matching source condition" under which the exponent below holds);
  - N linear random features φ(x) = W x / √N, W_ij i.i.d. N(0, 1) (MRS's solvable linear model);
  - ridgeless regression (minimum-norm interpolation) of y on φ from D samples.
Prediction: with N >> D (the data-limited regime) the test error falls as D^-a (MRS, the P-scaling of
their L(N, P); Bahri et al.'s resolution-limited exponent for this spectrum). Heuristic: D samples
resolve the top ~D modes and the error is the target power left in the others, Σ_{k>D} k^-(1+a) ~ D^-a/a.
The measurement keeps N/D fixed (N = ratio · D), so the finite-N factor is a constant and leaves the
exponent alone, and M >> D so the truncated tail, ~(D/M)^a of the error, is negligible.

Predictions for a dataset (spectral_prediction): a walk's "covariance" spectrum is taken to be the singular
values σ_k of its joint distribution J = diag(π)·P of consecutive tokens (graphs.spectrum); a power law
σ_k ~ k^-(1+a) predicts data and model exponents α_D = α_N = a (MRS 2022: L ~ D^-a for N >> D and
L ~ N^-a for D >> N, N counting features, not transformer parameters). No prediction when the fit says
"not a power law" or a <= 0 (a spectrum that does not decay faster than 1/k).

    python spectra.py ridge --a 1.0 2.0 --json ridge.json
    python spectra.py report --rung er spectrum_er.json fit_er.json --rung ba spectrum_ba.json fit_ba.json
"""

import argparse
import json
import sys

import numpy as np


def predicted_data_exponent(a):
    """α_D = a: test error ∝ D^-a for covariance spectrum λ_k ~ k^-(1+a) (MRS 2022; Bahri et al. 2021)."""
    return float(a)


def spectral_prediction(joint_fit):
    """
    From a power-law fit of the joint spectrum (graphs.power_law_fit's dict: slope = -(1 + a), slope_se,
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


def report(rungs):
    """
    Predicted next to measured exponents, one row per rung (name, graphs.py --spectrum --json file, fit.py
    --json file): measured α (model) and β (data) of fit.py's joint law L = E + A/N^α + B/D^β with their
    bootstrap intervals. Returns the rows; prints a markdown table.
    """
    rows = []
    for name, spectrum_path, fit_path in rungs:
        with open(spectrum_path) as f:
            spec = json.load(f)
        with open(fit_path) as f:
            joint = json.load(f)["joint"]
        if "joint" not in spec:
            raise ValueError(f"{spectrum_path}: no 'joint' fit; write it with graphs.py ... --spectrum --json")
        pred = spectral_prediction(spec["joint"])
        ci = joint.get("ci", {})
        rows.append(dict(rung=name, **pred, alpha=joint["alpha"], alpha_ci=ci.get("alpha"),
                         beta=joint["beta"], beta_ci=ci.get("beta")))
    fmt = lambda x: "—" if x is None else f"{x:.3f}"
    interval = lambda c: "" if not c else f" [{c[0]:.3f}, {c[1]:.3f}]"
    print("| rung | a (joint spectrum) | predicted α_D = α_N | measured β (data) | measured α (model) | note |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['rung']} | {r['a']:.3f} ± {r['a_se']:.3f} | {fmt(r['alpha_D'])} | {r['beta']:.3f}"
              f"{interval(r['beta_ci'])} | {r['alpha']:.3f}{interval(r['alpha_ci'])} | {r['note']} |")
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


def main(argv=None):
    parser = argparse.ArgumentParser(description="The spectral theory of scaling: its check and its predictions.")
    sub = parser.add_subparsers(dest="command", required=True)
    ridge = sub.add_parser("ridge", help="random-feature ridge check: measured vs predicted data exponent")
    ridge.add_argument("--a", type=float, nargs="+", default=[1.0, 2.0], help="spectrum λ_k = k^-(1+a)")
    ridge.add_argument("--D", type=int, nargs="+", default=[16, 32, 64, 128, 256], help="training set sizes")
    ridge.add_argument("--M", type=int, default=8192, help="latent dimension (>> D)")
    ridge.add_argument("--ratio", type=int, default=8, help="random features per sample, N = ratio · D")
    ridge.add_argument("--seeds", type=int, default=3, help="independent draws averaged")
    ridge.add_argument("--json", metavar="PATH", help="also write the results to PATH as JSON")
    rep = sub.add_parser("report", help="predicted vs measured exponents for swept datasets")
    rep.add_argument("--rung", nargs=3, action="append", required=True, metavar=("NAME", "SPECTRUM_JSON", "FIT_JSON"),
                     help="a dataset: its graphs.py --spectrum --json output and its fit.py --json output")
    rep.add_argument("--json", metavar="PATH", help="also write the rows to PATH as JSON")
    args = parser.parse_args(argv)
    try:
        if args.command == "report":
            results = report(args.rung)
        else:
            results = [measure_data_exponent(a, args.D, args.seeds, args.M, args.ratio) for a in args.a]
            for r in results:
                print(f"a={r['a']:g}: predicted α_D={r['predicted']:.3f}  "
                      f"measured {r['measured']:.3f} ± {r['se']:.3f}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2)
    except (ValueError, OSError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
