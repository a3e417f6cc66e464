"""
Benchmarks of fit.py's fitting core (lawfit.py: laws, bootstrap, the vectorised L-BFGS), each against a baseline measured in the same run:
1. the joint Huber fit on 252 planted noisy points (L-BFGS from the 8 best-screened of the 4500 grid starts)
   against scipy's L-BFGS-B run from every one of the 4500 starts, the way prior work does it;
2. 1000 bootstrap refits of the joint law;
3. coverage: over repeated seeded datasets with 1% log-normal noise, how often the 95% bootstrap intervals
   contain the planted parameters (should be near 95%);
4. the quick preset's whole fit, `fit.py docs/quick --floor records --n-def non_embedding` (joint, separable,
   Kaplan, one-dimensional laws, compute-optimal, sensitivity, 1000 resamples each), this checkout against
   the code at --baseline (a git commit, checked out into a temporary directory), runs interleaved; the
   medians, their ratio, and the headline numbers of both (same optima; intervals within Monte-Carlo error).

    python bench_fit.py                     # everything, about 20-25 minutes on 2 cores
    python bench_fit.py --coverage-reps 10  # quicker
    python bench_fit.py --sections full     # only the whole-fit comparison
"""
import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy.optimize import minimize

import cli
import compute_optimal
import lawfit

KEYS = ("E", "A", "B", "alpha", "beta", "a", "b")
SECTIONS = ("joint", "bootstrap", "coverage", "full")
BASELINE = "376b6f9"  # the last commit before the fit was made fast: 165-220 s for the quick preset
QUICK_FIT = ["docs/quick", "--floor", "records", "--n-def", "non_embedding"]
# (law, parameter) rows compared between the two whole fits
HEADLINE = [("joint", "alpha"), ("joint", "beta"), ("joint", "E"), ("separable", "alpha"), ("separable", "beta"),
            ("kaplan", "alpha_N")]


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


def checkout(commit, into):
    """The tree of `commit` of this repository written into the directory `into` (git archive | tar)."""
    here = os.path.dirname(os.path.abspath(__file__))
    archive = subprocess.run(["git", "-C", here, "archive", commit], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)


def time_fit(code_dir, out_json):
    """Wall time (s) of the quick preset's whole fit run by the fit.py in code_dir, on this checkout's records."""
    here = os.path.dirname(os.path.abspath(__file__))
    cmd = [sys.executable, os.path.join(code_dir, "fit.py"), *QUICK_FIT, "--json", out_json]
    t = time.perf_counter()
    subprocess.run(cmd, cwd=here, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def bench_full_fit(reps, baseline):
    """The quick preset's whole fit, this checkout against `baseline`, interleaved; prints medians, the ratio
    and each headline number with its 95% interval from both."""
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        checkout(baseline, tmp)
        times = {"ours": [], "baseline": []}
        for _ in range(reps):
            times["ours"].append(time_fit(here, os.path.join(tmp, "ours.json")))
            times["baseline"].append(time_fit(tmp, os.path.join(tmp, "baseline.json")))
        fits = {k: json.load(open(os.path.join(tmp, f"{k}.json"), encoding="utf-8")) for k in times}
    t = {k: float(np.median(v)) for k, v in times.items()}
    print(f"\nthe quick preset's whole fit (fit.py {' '.join(QUICK_FIT)}), median of {reps}:")
    print(f"  this checkout  {t['ours']:7.1f} s\n  {baseline} (baseline) {t['baseline']:7.1f} s\n"
          f"  speed-up {t['baseline'] / t['ours']:.1f}x")
    for law, key in HEADLINE:
        row = [f"{fits[k][law][key]:.4g} [{fits[k][law]['ci'][key][0]:.3g}, {fits[k][law]['ci'][key][1]:.3g}]"
               for k in ("ours", "baseline")]
        print(f"  {law:9} {key:8} ours {row[0]:30} baseline {row[1]}")


def parse_args(argv):
    p = cli.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=cli.parse_int, default=5, help="repetitions of the timed fits (median reported)")
    p.add_argument("--baseline-starts", type=cli.parse_int, default=None, help="run the baseline from about K "
                   "evenly spread starts only and extrapolate its time to all 4500 (default: all)")
    p.add_argument("--boot-reps", type=cli.parse_int, default=3, help="repetitions of the 1000-refit bootstrap")
    p.add_argument("--coverage-reps", type=cli.parse_int, default=50, help="seeded datasets in the coverage benchmark")
    p.add_argument("--coverage-boot", type=cli.parse_int, default=1000, help="bootstrap resamples per coverage dataset")
    p.add_argument("--full-reps", type=cli.parse_int, default=3, help="repetitions of the whole quick-preset fit")
    p.add_argument("--baseline", default=BASELINE, help=f"git commit whose fit.py is the whole fit's baseline "
                   f"(default {BASELINE})")
    p.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of: {', '.join(SECTIONS)}")
    args = p.parse_args(argv)
    args.sections = [x.strip() for x in args.sections.split(",") if x.strip()]
    unknown = [x for x in args.sections if x not in SECTIONS]
    if unknown:
        cli.fail(f"--sections: unknown {', '.join(unknown)} (choose from {', '.join(SECTIONS)})")
    for name in ("reps", "boot_reps", "coverage_reps", "coverage_boot", "full_reps"):
        cli.guarded(cli.in_range, name, getattr(args, name), 1)
    if args.baseline_starts is not None:
        cli.guarded(cli.in_range, "baseline_starts", args.baseline_starts, 1, 4500)
    return args


def main(argv=None):
    args = parse_args(argv)
    runs = compute_optimal.simulate(noise=0.01, seed=0)
    if "joint" in args.sections or "bootstrap" in args.sections:
        j = bench_joint_fit(runs, args.reps, args.baseline_starts)
    if "bootstrap" in args.sections:
        bench_bootstrap(runs, j, args.boot_reps)
    if "coverage" in args.sections:
        bench_coverage(len(runs["L"]), args.coverage_reps, args.coverage_boot)
    if "full" in args.sections:
        bench_full_fit(args.full_reps, args.baseline)


if __name__ == "__main__":
    main()
