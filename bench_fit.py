"""
Benchmarks of fit.py's fitting core (lawfit.py, lbfgs.py), each against a baseline measured in the same run:
1. the joint Huber fit on 252 planted noisy points (L-BFGS from the 8 best-screened of the 4500 grid starts)
   against scipy's L-BFGS-B run from every one of the 4500 starts, the way prior work does it;
2. 1000 bootstrap refits of the joint law;
3. coverage: over repeated seeded datasets with 1% log-normal noise, how often the 95% bootstrap intervals
   contain the planted parameters (should be near 95%).

    python bench_fit.py                     # everything, about 10-15 minutes on 2 cores
    python bench_fit.py --coverage-reps 10  # quicker
"""
import argparse
import multiprocessing
import time

import numpy as np
from scipy.optimize import minimize

import cli
import compute_optimal
import lawfit

KEYS = ("E", "A", "B", "alpha", "beta", "a", "b")


def timed(f, reps):
    """Median wall time (s) of reps calls of f, and f's last result."""
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def every_start_scipy(runs, starts=None):
    """The baseline: scipy L-BFGS-B from every grid start (or about `starts` evenly spread ones), one at a time;
    returns the lowest optimum and the number of starts run."""
    spec = lawfit.joint_spec(runs["N"], runs["D"])
    logL, ones = np.log(runs["L"]), np.ones((1, len(runs["L"])))
    obj = lambda th: tuple(v[0] for v in lawfit.huber_objective(th[None], spec["law"], logL, ones))
    chosen = spec["starts"][::len(spec["starts"]) // (starts or len(spec["starts"]))]
    best = None
    for th0 in chosen:
        res = minimize(obj, th0, jac=True, method="L-BFGS-B", options=dict(maxiter=1000, ftol=1e-15, gtol=1e-12))
        if best is None or res.fun < best.fun:
            best = res
    return best, len(chosen)


def coverage_rep(seed, n_boot=1000):
    """One seeded noisy dataset: does each 95% interval contain the truth?"""
    runs = compute_optimal.simulate(noise=0.01, seed=1000 + seed)
    spec = lawfit.joint_spec(runs["N"], runs["D"])
    j = lawfit.fit_law(spec, runs["L"])
    ci = lawfit.bootstrap_law(spec, runs["L"], j, n_boot=n_boot, seed=seed, quiet=True)["ci"]
    _, _, a, b, _ = compute_optimal.compute_optimal_closed_form(1, 1, lawfit.CHINCHILLA["alpha"], lawfit.CHINCHILLA["beta"], 1)
    truth = dict(lawfit.CHINCHILLA, a=a, b=b)
    return {k: ci[k][0] <= truth[k] <= ci[k][1] for k in KEYS}


def bench_joint_fit(runs, reps, baseline_starts):
    """Time the joint fit against scipy from every start; returns the fit."""
    t_fit, j = timed(lambda: lawfit.joint_fit(runs["N"], runs["D"], runs["L"]), reps)
    t0 = time.perf_counter()
    base, ran = every_start_scipy(runs, baseline_starts)
    t_base = (time.perf_counter() - t0) * 4500 / ran
    print(f"joint Huber fit on {len(runs['L'])} points, 4500-start grid")
    print(f"  lawfit.joint_fit (screen, L-BFGS from 8 starts, vectorised)  {t_fit:8.2f} s  loss {j['loss']:.10g}")
    print(f"  scipy L-BFGS-B from every start (baseline)                   {t_base:8.2f} s  loss {base.fun:.10g}"
          f"{f'  (extrapolated from {ran} starts)' if ran < 4500 else ''}")
    print(f"  speed-up {t_base / t_fit:.0f}x; relative loss difference {(base.fun - j['loss']) / base.fun:+.2e} "
          f"(positive: the baseline found worse); max |Δθ| {np.abs(base.x - j['theta']).max():.2e}")
    return j


def bench_bootstrap(runs, j, reps):
    """Time 1000 bootstrap refits of the joint law."""
    spec = lawfit.joint_spec(runs["N"], runs["D"])
    t_boot, boot = timed(lambda: lawfit.bootstrap_law(spec, runs["L"], j, n_boot=1000, quiet=True), reps)
    print(f"\n1000 bootstrap refits of the joint law: {t_boot:.1f} s (median of {reps}); "
          f"95% interval of alpha {boot['ci']['alpha'][0]:.4f}..{boot['ci']['alpha'][1]:.4f}")


def bench_coverage(n, reps, n_boot):
    """How often the 95% intervals of `reps` seeded datasets (n points each) contain the planted law."""
    t0 = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        hits = pool.starmap(coverage_rep, [(s, n_boot) for s in range(reps)])
    print(f"\ncoverage of the planted law by 95% bootstrap intervals ({n_boot} resamples), "
          f"{reps} seeded datasets of {n} points with 1% log-normal noise ({time.perf_counter() - t0:.0f} s):")
    for k in KEYS:
        print(f"  {k:6} {100 * np.mean([h[k] for h in hits]):5.1f}%")


def parse_args(argv):
    p = cli.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=cli.parse_int, default=5, help="repetitions of the timed fits (median reported)")
    p.add_argument("--baseline-starts", type=cli.parse_int, default=None, help="run the baseline from about K "
                   "evenly spread starts only and extrapolate its time to all 4500 (default: all)")
    p.add_argument("--boot-reps", type=cli.parse_int, default=3, help="repetitions of the 1000-refit bootstrap")
    p.add_argument("--coverage-reps", type=cli.parse_int, default=50, help="seeded datasets in the coverage benchmark")
    p.add_argument("--coverage-boot", type=cli.parse_int, default=1000, help="bootstrap resamples per coverage dataset")
    args = p.parse_args(argv)
    for name in ("reps", "boot_reps", "coverage_reps", "coverage_boot"):
        cli.guarded(cli.in_range, name, getattr(args, name), 1)
    if args.baseline_starts is not None:
        cli.guarded(cli.in_range, "baseline_starts", args.baseline_starts, 1, 4500)
    return args


def main(argv=None):
    args = parse_args(argv)
    runs = compute_optimal.simulate(noise=0.01, seed=0)
    j = bench_joint_fit(runs, args.reps, args.baseline_starts)
    bench_bootstrap(runs, j, args.boot_reps)
    bench_coverage(len(runs["L"]), args.coverage_reps, args.coverage_boot)


if __name__ == "__main__":
    main()
