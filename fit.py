"""
Scaling laws from run records: fits, bootstrap confidence intervals and compute-optimal curves.

    python fit.py RESULTS... [--json out.json] [--plot DIR]
    python fit.py data.csv --n-col N --d-col D --loss-col loss
    python fit.py --simulate
    python fit.py RESULTS... --compare param,embed_lr_mult    # parameter efficiency (lawfit.compare_families) instead

Reads only records on disk (JSON Lines, see DESIGN.md) or a CSV of (N, D, loss), and reports:
1. one-dimensional laws L(N) at fixed D, L(D) at fixed N and L(C) along the frontier, each as a pure power
   law, as E + A·x^(−α) with E fitted or fixed to the known floor, and an exponential alternative, with the
   evidence (BIC) for one over the other;
2. the joint law L(N, D) = E + A/N^α + B/D^β fitted the Chinchilla way (Hoffmann et al. 2022, eq. 2 and
   Approach 3; Besiroglu et al. 2024): Huber loss (δ = 1e-3) on log L, summed over runs, with log L̂ written
   as a log-sum-exp, minimised by L-BFGS from a grid of starts; and Kaplan et al. 2020's
   L = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D;
3. non-parametric bootstrap for every parameter and derived quantity (percentile intervals), resampling
   what is independent: a wsd sweep's stable-phase families whole, else runs (records.resampling_units);
4. how the exponents move with the fit window, with E fitted/fixed/omitted and with each parameter count as N
   (total, non-embedding, Kaplan's blocks-only; N_DEFS);
5. compute-optimal N*(C) ∝ C^a and D*(C) ∝ C^b by Hoffmann et al.'s Approaches 1-3 and by minimising a
   small neural-network interpolation of L(N, D) along iso-FLOP lines (Barkeshli et al. 2026).
1-5 fit the sampled-target runs only; expected-target runs (DESIGN.md, "Training targets") end at the model-size
term L(N, D = ∞) − E, whose shape in N (power law, exponential or threshold) `infinite_data` reports apart.

This file runs every fit (`analyse`), writes the report and is the command line; records.py reads the runs
(load_runs), lawfit.py is the fitting core (laws, bootstrap, the optimiser and --compare's laws),
compute_optimal.py the compute-optimal estimators and --simulate, plots.py the plots.

Units: N in parameters, D in tokens, C in FLOPs, L in nats per token. Logs are natural.
"""
import os
from types import SimpleNamespace
# Every fit here is tiny (5 parameters, hundreds of points): BLAS threads only spin against the optimiser's
# loop (they made scipy's L-BFGS-B 35x slower on a 2-core machine). Must be set before numpy loads OpenBLAS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import math

import numpy as np

import chain
import cli
import data
import walks
from compute_optimal import (cluster_log, compute_optimal_closed_form, envelope_estimator, estimate_with_bootstrap,
                             interpolation_estimator, isoflop_bias, isoflop_estimator, pareto_frontier, simulate)
from lawfit import (CI, DELTA, EXCESS_MIN, KEEP, MIN_SHAPE_POINTS, N_BOOT, bootstrap_law, compare_families,
                    compare_shapes, fit_law, joint_fit, joint_spec, kaplan_spec, power_law_spec, separable_spec)
from plots import plot_all, plot_efficiency, plot_infinite
from records import (CONVERGED_FRACTION, CONVERGED_NATS, N_DEFS, FitError, check_runs, family_points, infinite_points,
                     load_runs, read_records, record_files, shared_budget, split_families, target_of, width_at)

NN_BOOT = 20        # bootstrap refits of the interpolation network (all fitted at once)
MIN_POINTS_1D = 5   # distinct x a one-dimensional law needs: 3 parameters and 2 degrees of freedom left
MAX_SIM_BUDGETS, MAX_SIM_PER_BUDGET = 1000, 10_000  # --simulate's design, well inside memory

# -----------------------------------------------------------------------------
# runs (read by records.load_runs: dicts of N, D, C, L arrays, floor, curves, bootstrap units)


def subset(runs, keep):
    """The runs selected by a boolean mask or index array (curves, floors and bootstrap units follow)."""
    idx = np.arange(len(runs["L"]))[keep]
    out = dict(runs, **{k: runs[k][idx] for k in ("N", "D", "C", "L")})
    out["floor"] = None if runs["floor"] is None else runs["floor"][idx]
    out["unit"] = None if runs.get("unit") is None else runs["unit"][idx]
    out["curves"] = None if runs["curves"] is None else [runs["curves"][i] for i in idx]
    out["N_alt"] = None if runs["N_alt"] is None else {k: v[idx] for k, v in runs["N_alt"].items()}
    return out

# -----------------------------------------------------------------------------
# one-dimensional laws: L(N) at fixed D, L(D) at fixed N, L(C) along the frontier


def largest_slice(x, y, tol):
    """The runs sharing the largest value of y (within tol in log) that have MIN_POINTS_1D distinct x, or None."""
    labels = cluster_log(y, tol)
    for k in sorted(set(labels), key=lambda k: -y[labels == k].mean()):
        if np.unique(x[labels == k]).size >= MIN_POINTS_1D:
            return labels == k
    return None


def evidence(first, second, names=("power law", "exponential")):
    """
    BIC evidence between two fits with as many parameters (L = E + A·x^(−α) against E + A·exp(−x/scale) by
    default): ΔBIC = BIC_second − BIC_first from Gaussian likelihoods of the log residuals, > 0 favouring
    the first; strength on Kass & Raftery's (1995) scale.
    """
    n = len(first["residuals"])
    rss = [max(float(np.sum(f["residuals"] ** 2)), 1e-300) for f in (first, second)]
    dbic = n * math.log(rss[1] / rss[0])
    strength = next(s for bound, s in ((10, "very strong"), (6, "strong"), (2, "positive"), (0, "weak"))
                    if abs(dbic) >= bound)
    return dict(delta_bic=dbic, favoured=names[0] if dbic > 0 else names[1], strength=strength)


def one_dim_laws(runs, floor=None, delta=DELTA, n_boot=N_BOOT, seed=0, tol=0.1, quiet=False):
    """
    For L(N) at the largest D, L(D) at the largest N and L(C) along the frontier: the power law with E
    fitted ('free'), fixed to the floor ('floor', when known), omitted ('pure'), and the exponential ('exp'),
    each with bootstrap intervals over the slice's units (`units` of them: none from one unit, such as one
    wsd family's budgets); and the evidence for the power law over the exponential.
    """
    N, D, C, L, units = runs["N"], runs["D"], runs["C"], runs["L"], runs.get("unit")
    slices = {"N": (largest_slice(N, D, tol), N, "D", D), "D": (largest_slice(D, N, tol), D, "N", N),
              "C": (pareto_frontier(C, L), C, None, None)}
    out = {}
    for axis, (keep, x, fixed, y) in slices.items():
        if keep is None or np.unique(x[keep]).size < MIN_POINTS_1D:
            out[axis] = dict(skipped=f"no {'frontier' if fixed is None else fixed + ' value'} with {MIN_POINTS_1D} "
                                     f"distinct {axis}")
            continue
        idx = np.arange(len(L))[keep]
        xs, Ls, us = x[idx], L[idx], None if units is None else units[idx]
        forms = dict(free=power_law_spec(xs), pure=power_law_spec(xs, E=0.0), exp=power_law_spec(xs, exponential=True))
        if floor is not None:
            forms["floor"] = power_law_spec(xs, E=floor[idx])
        res = dict(slice="compute frontier" if fixed is None else f"{fixed} = {np.mean(y[idx]):.4g}", n=len(xs), x=xs, L=Ls, _idx=idx)
        for name, spec in forms.items():
            f = fit_law(spec, Ls, delta)
            boot = bootstrap_law(spec, Ls, f, delta, n_boot, seed, f"L({axis}) {name}", quiet, us)
            res[name], res["units"] = dict(f, ci=boot["ci"]), boot["units"]
        res["evidence"] = evidence(res["free"], res["exp"])
        out[axis] = res
    return out

# -----------------------------------------------------------------------------
# sensitivity: the critique of common practice made visible


def sensitivity(runs, E=None, laws=None, delta=DELTA, frac=0.2):
    """
    How the exponents move: the joint α, β, a and the one-dimensional α_N, α_D, α_C (E fitted) with E fitted,
    fixed to the floor or omitted; with the smallest or largest frac of runs dropped (by C for the joint law,
    by x for the one-dimensional laws); and with each other parameter count of N_DEFS as N.
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
    for name, N_alt in (runs["N_alt"] or {}).items():
        if np.all(np.isfinite(N_alt)) and np.all(N_alt > 0):  # only counts every record has
            alt_x = lambda axis, law: N_alt[law["_idx"]] if axis == "N" else law["x"]
            rows.append(row(f"{base}, N = {name}", dict(runs, N=N_alt), E, one_dim(alt_x, everything)))
    return rows

# -----------------------------------------------------------------------------
# everything at once


def analyse(runs, E=None, delta=DELTA, n_boot=N_BOOT, nn_boot=NN_BOOT, seed=0, tol=0.1, quiet=False):
    """
    Every fit on one set of runs (dict of N, D, C, L arrays, floor, curves, bootstrap units; see
    records.runs_from_records), E being None (fitted), the floor (nats, scalar or per run) or 0 (omitted)
    for the joint law and Approach 3. Every interval resamples the units: without `unit` (a CSV, --simulate, runs
    built by hand) each run is its own.
    Returns a dict ready for JSON, except keys starting with '_' (bootstrap samples, for plots).
    """
    check_runs(runs)
    N, D, C, L = runs["N"], runs["D"], runs["C"], runs["L"]
    n, units = len(L), runs.get("unit")
    out = dict(input=dict(source=runs.get("source"), runs=n, not_ok=runs.get("not_ok", 0), n_def=runs.get("n_def"),
                          E="fitted" if E is None else "fixed", delta=delta, n_boot=n_boot, ci_level=CI, seed=seed,
                          bootstrap_unit=runs.get("unit_kind", "run"), units=n if units is None else np.unique(units).size))
    laws = [("joint", joint_spec(N, D, E)), ("kaplan", kaplan_spec(N, D))]
    if E is not None and np.all(np.asarray(E) > 0):  # the separable alternative needs the floor: E fixed
        laws.append(("separable", separable_spec(N, D, E)))
    for name, spec in laws:
        f = fit_law(spec, L, delta)
        boot = bootstrap_law(spec, L, f, delta, n_boot, seed, name, quiet, units)
        out[name] = dict(f, ci=boot["ci"], _samples=boot["samples"])
    if "separable" in out:
        out["separable"]["evidence"] = evidence(out["joint"], out["separable"], ("additive", "separable"))
    out["laws_1d"] = one_dim_laws(runs, runs["floor"], delta, n_boot, seed, tol, quiet)
    j = out["joint"]
    budgets = np.geomspace(C.min(), C.max(), 12)
    Ns, Ds, a, b, G = compute_optimal_closed_form(j["A"], j["B"], j["alpha"], j["beta"], budgets)
    E_nn = float(np.mean(runs["floor"])) if runs["floor"] is not None else j["E"]
    out["compute_optimal"] = dict(
        approach1=estimate_with_bootstrap("approach 1", envelope_estimator(runs), n, n_boot, seed, quiet,
                                          units=units),
        approach2=estimate_with_bootstrap("approach 2", isoflop_estimator(runs, tol), n, n_boot, seed, quiet,
                                          units=units),
        approach3=dict(a=a, b=b, G=G, C=budgets, N=Ns, D=Ds, ci={k: j["ci"][k] for k in ("a", "b", "G")}),
        interpolation=estimate_with_bootstrap("interpolation", interpolation_estimator(runs, E_nn, budgets, seed),
                                              n, nn_boot, seed, quiet, batched=True, units=units))
    out["sensitivity"] = sensitivity(runs, E, out["laws_1d"], delta)
    return out


def infinite_data(records, n_def="total", n_boot=N_BOOT, seed=0, quiet=False):
    """
    The model-size term L(N, D = ∞) − E (nats) of expected-target ok records, one point per N (records.infinite_points).
    A run neither within 1e-3 nats of the floor nor on a plateau (its excess fell by more than max(10% of its final
    value, 1e-3 nats) over its last decade of tokens) still holds part of the data term: it is reported (`unconverged`) and left out of
    the fit, by that rule, never by how well it fits. The others' log excess is judged power law, exponential or
    threshold in N by BIC (lawfit.compare_shapes), each point its own bootstrap unit (one experiment). `at_budget`:
    the same judgement of every run at its own budget, an upper bound on L(N, inf) - E where a run is unconverged.
    """
    points = infinite_points(records, n_def)
    kept = [p for p in points if p["converged"]]
    out = dict(n_def=n_def, n_boot=n_boot, ci_level=CI, points=points, unconverged=[p["run"] for p in points if p not in kept])
    if len(kept) < len(points) and len(points) >= MIN_SHAPE_POINTS:
        out["at_budget"] = shapes_of(points, n_boot, seed, quiet)
    if len(kept) < MIN_SHAPE_POINTS:
        return dict(out, verdict=None, skipped=f"{len(kept)} converged runs; the shapes need {MIN_SHAPE_POINTS}")
    shapes = shapes_of(kept, n_boot, seed, quiet)
    won = {k: shapes["power_law"][k] for k in ("alpha", "ci")} if shapes["verdict"] == "power law" else {}
    return dict(out, **won, **shapes)


def shapes_of(points, n_boot, seed, quiet):
    """lawfit.compare_shapes on the points' (N, excess), with the width at the threshold's N_c."""
    shapes = compare_shapes([p["N"] for p in points], [p["excess"] for p in points], n_boot, seed, quiet=quiet)
    if "N_c" in shapes["threshold"]:
        shapes["threshold"]["width_c"] = width_at(points, shapes["threshold"]["N_c"])
    return shapes

def count_baseline(records, seed=0):
    """The count baseline beside the sampled-target records of one walk dataset (chain.count_baseline on their own
    graph, training stream and eval set; DESIGN.md, "The count baseline"), None for a dataset that is not a walk."""
    recs = [r for r in records if r.get("status") == "ok" and r.get("excess") is not None
            and target_of(r) == "sampled" and (r.get("config") or {}).get("graph") in data.GRAPHS]
    if not recs:
        return None
    cfg = SimpleNamespace(**recs[0]["config"])  # the dataset's fields are all a Data needs
    dataset, budgets = data.load_data(cfg, "cpu"), sorted({r["tokens"] for r in recs})
    best = {D: min(r["excess"] for r in recs if r["tokens"] == D) for D in budgets}
    stream = walks.fresh_batches(dataset.chain, cfg.batch_size, cfg.block_size + 1, seed, "cpu", cfg.start)
    return dict(seed=seed, **chain.count_baseline(dataset.chain, dataset.eval_tokens, dataset.floor, best, stream))


def report_count(base):
    """count_baseline's result as text lines."""
    lines = ["Count baseline: P estimated from the transitions seen (add-k, k by leave-one-out on the training transitions)",
             f"  {'D':>10} {'transformer':>12} {'counts':>10} {'counts reach it at':>19} {'multiplier':>10}"]
    return lines + [f"  {p['D']:>10,} {p['model_excess']:>12.4g} {p['count_excess']:>10.4g} "
                    f"{fmt(p['count_tokens']):>19} {fmt(p['multiplier']):>10}" for p in base["points"]]


# -----------------------------------------------------------------------------
# output: a readable table, JSON, plots


def fmt(v):
    return "nan" if v is None or not np.isfinite(v) else f"{v:.4g}"


def with_ci(fit, key):
    lo, hi = fit["ci"] if isinstance(fit.get("ci"), list) else fit.get("ci", {}).get(key, (None, None))
    return f"{fmt(fit[key]):>9} [{fmt(lo)}, {fmt(hi)}]"


def report_laws(res, truth):
    """The joint law (with the planted truth under --simulate) and Kaplan et al.'s law, as text lines."""
    inp, j, k = res["input"], res["joint"], res["kaplan"]
    true = lambda key: f"   truth {fmt(truth[key])}" if truth and key in truth else ""
    lines = [f"Joint law L(N, D) = E + A/N^α + B/D^β (Hoffmann et al. 2022), E {inp['E']}"]
    for key in ("E", "A", "B", "alpha", "beta", "a", "b", "G"):
        lines.append(f"  {key:6} {with_ci(j, key)}{true(key)}")
    lines.append(f"  Huber loss {j['loss']:.4g} (sum over runs), {'converged' if j['converged'] else 'NOT converged'}, "
                 f"best of L-BFGS from the {KEEP} best of {j['n_starts']} grid starts; rms residual {j['rms']:.3g} in log L")
    lines += ["", "Kaplan et al. 2020 law L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D"]
    for key in ("alpha_N", "alpha_D", "N_c", "D_c"):
        lines.append(f"  {key:7} {with_ci(k, key)}")
    lines.append(f"  Huber loss {k['loss']:.4g}, {'converged' if k['converged'] else 'NOT converged'}; rms residual {k['rms']:.3g}")
    if "separable" in res:
        s = res["separable"]
        lines += ["", "Separable law L(N, D) = E + (B + A/N^α)/D^β (N sets how fast the data term falls), E fixed"]
        lines += [f"  {key:6} {with_ci(s, key)}" for key in ("A", "B", "alpha", "beta")]
        ev = s["evidence"]
        lines.append(f"  rms residual {s['rms']:.3g} in log L (joint: {j['rms']:.3g}); evidence: {ev['favoured']}, "
                     f"ΔBIC(separable − additive) = {ev['delta_bic']:.3g} ({ev['strength']})")
    return lines


def report_1d(laws):
    """The one-dimensional laws, each form with its intervals, and the evidence, as text lines."""
    lines = ["One-dimensional laws: L = E + A·x^(−α) with E fitted (free), fixed to the floor (floor) or omitted (pure);"
             " exp: L = E + A·exp(−x/scale)"]
    for axis, law in laws.items():
        if "skipped" in law:
            lines.append(f"  L({axis}): skipped, {law['skipped']}")
            continue
        lines.append(f"  L({axis}) at {law['slice']}, {law['n']} runs in {law['units']} resampling unit"
                     f"{'s' * (law['units'] != 1)}{'' if law['units'] > 1 else ': no intervals'}")
        for form in ("free", "floor", "pure", "exp"):
            if form in law:
                f = law[form]
                shape = "scale" if form == "exp" else "alpha"
                lines.append(f"    {form:5} E {with_ci(f, 'E')}  A {with_ci(f, 'A')}  {shape} {with_ci(f, shape)}  "
                             f"loss {f['loss']:.3g}  rms {f['rms']:.3g}")
        ev = law["evidence"]
        lines.append(f"    evidence: {ev['favoured']}, ΔBIC(exp − power) = {ev['delta_bic']:.3g} ({ev['strength']})")
    return lines


def report_optimal(res, truth):
    """The compute-optimal exponents of every method, the sensitivity table and, under --simulate,
    Approach 2's bias on noise-free designs, as text lines."""
    lines = ["Compute-optimal allocation N*(C) ∝ C^a, D*(C) ∝ C^b"]
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
    return lines


def report(res, truth=None):
    """The results as a readable text table (truth: the planted law, in --simulate)."""
    inp = res["input"]
    head = [f"{inp['runs']} runs from {inp['source']} ({inp['not_ok']} not ok, left out); N = {inp['n_def']}; "
            f"Huber δ = {inp['delta']:g} on log L; {inp['ci_level']}% percentile intervals from {inp['n_boot']} "
            f"bootstrap resamples of {inp['units']} units, each a {inp['bootstrap_unit']}", ""]
    return "\n".join(head + report_laws(res, truth) + [""] + report_1d(res["laws_1d"]) + [""] + report_optimal(res, truth))


def report_infinite(inf):
    """infinite_data's result as text lines: the points, the BIC of each shape, the verdict and intervals."""
    lines = [f"L(N, D = ∞) − E from expected-target runs (best lr per experiment, most tokens per N = {inf['n_def']}); "
             f"converged: excess ≤ {CONVERGED_NATS:g} nats, or it fell ≤ max({CONVERGED_FRACTION:.0%} of its final, "
             f"{CONVERGED_NATS:g}) from D/10 to D",
             f"  {'run':14} {'width':>6} {'N':>10} {'tokens':>10} {'excess':>10} {'drop':>10}  converged"]
    lines += [f"  {p['run']!s:14} {p['width']!s:>6} {p['N']:>10.4g} {p['tokens']:>10.4g} {p['excess']:>10.3g} "
              f"{fmt(p['drop']):>10}  {'yes' if p['converged'] else 'NO: left out'}"
              f"{' (curve starts after D/10: drop from its first point)' * p['short']}" for p in inf["points"]]
    lines += shape_lines(inf, "converged runs") if inf["verdict"] else [f"  shapes: skipped, {inf['skipped']}"]
    return lines + (shape_lines(inf["at_budget"], "every run at its budget (an upper bound where unconverged)")
                    if "at_budget" in inf else [])


def shape_lines(shapes, which):
    """The BIC of each shape, the verdict and the intervals of one compare_shapes result, as text lines."""
    t, bic = shapes["threshold"], ", ".join(f"{k} {fmt(v)}" for k, v in shapes["bic"].items())
    return [f"  {which}: log excess fitted by least squares on {shapes['n']} runs ({shapes['clipped']} clipped at "
            f"{EXCESS_MIN:g} nats); BIC: {bic}", f"    verdict: {shapes['verdict']}, ΔBIC {shapes['delta_bic']:.3g} to the "
            f"{shapes['runner_up']}; {CI}% intervals from bootstrap resamples of the runs",
            f"    power law   α   {with_ci(shapes['power_law'], 'alpha')}",
            f"    exponential s   {with_ci(shapes['exponential'], 's')} (N)",
            f"    threshold   N_c {with_ci(t, 'N_c')} (N), width {fmt(t['width_c'])}" if "N_c" in t
            else f"    threshold   {t['skipped']}"]


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


def floor_value(floor):
    """--floor as given: None (E fitted), "records" (each run's own floor) or a positive number of nats."""
    if floor in (None, "records"):
        return floor
    try:
        value = cli.parse_float(floor)
    except ValueError:
        raise FitError(f"--floor {floor!r} is not a number")
    return cli.in_range("floor", value, 0, low_open=True)


def parse_floor(runs, floor):
    """The E of the joint fit from floor_value's result: None (fitted), each run's floor for "records", or
    the given value in nats (which then also serves as every run's known floor)."""
    if floor is None:
        return None
    if floor == "records":
        if runs["floor"] is None:
            raise FitError("these runs carry no floor; give one as --floor VALUE (nats)")
        return runs["floor"]
    if floor >= runs["L"].min():  # L = E + terms > 0: a floor at or above a loss cannot be E
        raise FitError(f"--floor {floor:g} nats is not below every loss (the smallest is {runs['L'].min():.4g})")
    runs["floor"] = np.full(len(runs["L"]), floor)
    return runs["floor"]

# -----------------------------------------------------------------------------
# parameter efficiency (--compare): records split into families (records.split_families), one point per width
# at a shared D; the laws and the ratio of N at equal loss are lawfit.compare_families, the figure plots.plot_efficiency


def report_compare(laws, reference, D):
    """The comparison as text lines: each family's law and its N ratio against the reference."""
    lines = [f"L(N) = E_D + A·N^-alpha at D = {D:,.0f} tokens, per family (best lr of each width); "
             f"N ratio at equal loss against {reference}:"]
    for label, law in laws.items():
        line = (f"  {label:<28} alpha {law['alpha']:.3f} [{law['ci']['alpha'][0]:.3f}, {law['ci']['alpha'][1]:.3f}]"
                f"  E_D {law['E']:.4f}  rms {law['rms']:.4f}  ({len(law['N'])} widths)")
        if "ratio" in law:
            r = law["ratio"]
            line += (f"\n  {'':<28} N/N_ref at L = {r['L']:.4f} (N_ref = {r['N_ref']:,.0f}): {r['ratio']:.3g} "
                     f"[{r['ci'][0]:.3g}, {r['ci'][1]:.3g}]" +
                     (f", never reached in {r['never_reached']:.0%} of draws" if r["never_reached"] else ""))
        lines.append(line)
    return lines

# -----------------------------------------------------------------------------
# the command line


def simulation_design(args):
    """The planted law (E nats, A, B, alpha, beta) and budgets (lo, hi FLOPs, count) of --simulate."""
    try:
        law = dict(zip(("E", "A", "B", "alpha", "beta"), (cli.parse_float(v) for v in args.sim_law.split(","))))
        lo, hi, count = (cli.parse_float(v) for v in args.sim_budgets.split(","))
    except ValueError:
        raise FitError("--sim-law needs 5 numbers and --sim-budgets 3 (lo,hi,count)")
    if len(law) != 5 or not (0 < lo <= hi < math.inf and 1 <= count <= MAX_SIM_BUDGETS and count == int(count)):
        raise FitError(f"--sim-law needs 5 numbers and --sim-budgets 0 < lo <= hi (finite FLOPs), count a whole "
                       f"number 1..{MAX_SIM_BUDGETS}")
    cli.in_range("sim_per_budget", args.sim_per_budget, 3, MAX_SIM_PER_BUDGET)  # Approach 2's parabola: 3 points
    return law, (lo, hi, int(count))


def check_args(args):
    """Refuse bad flags and unwritable outputs before any work; returns the --simulate design (or None) and
    the --floor value."""
    if not args.simulate and not args.paths:
        raise FitError("give run records or a CSV to fit, or --simulate")
    if args.compare and (args.simulate or any(p.endswith(".csv") for p in args.paths)):  # configs name families
        raise FitError("--compare reads run records, not a CSV or --simulate")
    design = simulation_design(args) if args.simulate else None
    for name, low, low_open in (("boot", 1, False), ("seed", 0, False), ("nn_boot", 1, False), ("delta", 0, True),
                                ("iso_tol", 0, False), ("sim_width", 0, True), ("sim_noise", 0, False)):
        cli.in_range(name, getattr(args, name), low, low_open=low_open)
    floor = floor_value(args.floor)
    if args.json:  # never over one of the records or CSVs being fitted
        cli.check_distinct([("RESULTS", p) for p in record_files(args.paths)], [("--json", args.json)])
        cli.check_writable(args.json, kind="json")
    if args.plot:
        cli.check_writable(args.plot, directory=True)
    return design, floor


def compare_command(args):
    """--compare: the records split into families by the named config fields, one L(N) law each at the
    largest D at which every family has MIN_POINTS_1D widths (shared_budget), and each family's N ratio at
    equal loss against --reference."""
    fields = [f.strip() for f in args.compare.split(",") if f.strip()]
    families = split_families([r for r in read_records(args.paths) if r.get("status") == "ok" and  # one target
                                (target_of(r) == "sampled" or "target" in fields)], fields)
    if len(families) < 2:
        raise FitError(f"--compare {args.compare}: the ok runs form {len(families)} family; comparing needs 2")
    reference = args.reference or next((f for f in families if "param=mup" in f), next(iter(families)))
    D = shared_budget(families, MIN_POINTS_1D)
    points = {label: family_points(rs, label, D, args.n_def, MIN_POINTS_1D)
              for label, rs in families.items()}
    laws = compare_families({k: best for k, (best, _) in points.items()}, reference, args.boot, args.seed, args.quiet)
    print("\n".join(report_compare(laws, reference, D)))
    if args.json:
        cli.write_json(args.json, dict(D=D, n_def=args.n_def, reference=reference, laws=to_json(laws)))
    if args.plot:
        tried = {label: every_lr for label, (_, every_lr) in points.items()}
        floors = {r.get("floor") for rs in families.values() for r in rs}  # one known floor: plot the excess
        floor = floors.pop() if len(floors) == 1 and None not in floors else 0.0
        path = plot_efficiency(laws, reference, os.path.join(args.plot, "efficiency.png"), tried, floor, args.n_def)
        print(f"\nplot in {path}")


def fit_command(args):
    """Read (or simulate) the runs, fit everything, print the report, write the JSON and plots."""
    design, floor = check_args(args)
    if args.compare:
        return compare_command(args)
    truth = None
    if design:
        law, budgets = design
        runs = simulate(law, budgets, args.sim_per_budget, args.sim_width, args.sim_noise, args.seed)
        _, _, a, b, G = compute_optimal_closed_form(law["A"], law["B"], law["alpha"], law["beta"], 1.0)
        truth = dict(law, a=a, b=b, G=G)
    else:
        runs = load_runs(args.paths, args.n_def, args.all_runs, args.n_col, args.d_col, args.loss_col, args.c_col)
    inf = infinite_data(runs["expected"], args.n_def, args.boot, args.seed, args.quiet) if runs.get("expected") else None
    res = analyse(runs, parse_floor(runs, floor), args.delta, args.boot, args.nn_boot, args.seed, args.iso_tol, args.quiet) \
        if len(runs["L"]) or inf is None else dict(skipped="no sampled-target runs, which the (N, D) laws need")
    if truth:
        res["truth"] = truth
        res["isoflop_bias"] = isoflop_bias(law, budgets, args.sim_per_budget, tol=args.iso_tol)
    print(f"Sampled-target fits: skipped, {res['skipped']}" if "skipped" in res else report(res, truth))
    if inf:
        res["infinite_data"] = inf
        print("\n" + "\n".join(report_infinite(inf)))
    base = None if design or "skipped" in res else count_baseline(runs.get("sampled", []), seed=0)
    if base:
        res["count_baseline"] = base
        print("\n" + "\n".join(report_count(base)))
    if args.json:
        cli.write_json(args.json, to_json(res))
    if args.plot:
        saved = ([] if "skipped" in res else plot_all(res, runs, args.plot)) + ([plot_infinite(inf, runs, args.plot)] if inf else [])
        print(f"\nplots in {args.plot}: {', '.join(saved)}")


def parser():
    p = cli.Parser(description="Fit scaling laws to run records (JSON Lines files or directories) or "
                               "to a CSV of N, D and loss; see the module docstring.")
    p.add_argument("paths", nargs="*", help="run records (*.jsonl files or directories of them) or CSV files")
    p.add_argument("--n-col", default="N", help="CSV column of N, parameters (default N)")
    p.add_argument("--d-col", default="D", help="CSV column of D, tokens (default D)")
    p.add_argument("--loss-col", default="loss", help="CSV column of the final loss, nats (default loss)")
    p.add_argument("--c-col", default=None, help="CSV column of C, FLOPs; then D = C/(6N) and --d-col is not used")
    p.add_argument("--n-def", choices=N_DEFS, default="total", help="which parameter count of a run record is N: "
                   "total; non_embedding, without the token and position embeddings but with the readout (nanoGPT's "
                   "6N FLOPs convention); kaplan, the blocks only (Kaplan et al. 2020). Default total; the "
                   "sensitivity table shows the others")
    p.add_argument("--floor", nargs="?", const="records", default=None, metavar="VALUE",
                   help="fix E of the joint law to each record's exact floor, or to VALUE nats, instead of fitting it")
    p.add_argument("--all-runs", action="store_true", help="fit every ok run, not only the best lr of each "
                   "experiment (records.group_key: the whole config but lr and seed)")
    p.add_argument("--delta", type=cli.parse_float, default=DELTA, help="Huber δ on log L (default 1e-3)")
    p.add_argument("--boot", type=cli.parse_int, default=N_BOOT, help="bootstrap resamples (default 1000)")
    p.add_argument("--nn-boot", type=cli.parse_int, default=NN_BOOT,
                   help="bootstrap refits of the interpolation network (default 20)")
    p.add_argument("--seed", type=cli.parse_int, default=0, help="seed of the bootstrap, the network and --simulate")
    p.add_argument("--iso-tol", type=cli.parse_float, default=0.1, help="runs whose log C (log D, log N for slices) "
                   "lie within this of their group's smallest share a budget (default 0.1, about 10%%)")
    p.add_argument("--json", metavar="PATH", help="write the numbers as JSON")
    p.add_argument("--plot", metavar="DIR", help="write PNG plots into DIR")
    p.add_argument("--compare", metavar="FIELDS", help="instead of the fits above: split the runs into families by "
                   "these config fields (e.g. param,embed_lr_mult), fit L(N) per family at one D and report the ratio "
                   "of N at equal loss (lawfit.compare_families)")
    p.add_argument("--reference", metavar="FAMILY", help="--compare's reference family, as it is printed, "
                   "e.g. 'param=mup, embed_lr_mult=1.0' (default: the first μP family)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--simulate", action="store_true", help="fit runs drawn from a known L(N, D) instead of files")
    p.add_argument("--sim-law", default="1.69,406.4,410.7,0.34,0.28", help="E,A,B,alpha,beta of the planted law "
                   "(default Hoffmann et al.'s)")
    p.add_argument("--sim-budgets", default="6e18,3e21,9", help="lo,hi,count: log-spaced compute budgets, FLOPs")
    p.add_argument("--sim-per-budget", type=cli.parse_int, default=28, help="model sizes per budget (default 28)")
    p.add_argument("--sim-width", type=cli.parse_float, default=1.5,
                   help="decades of N per budget, centred on N* (default 1.5)")
    p.add_argument("--sim-noise", type=cli.parse_float, default=0.01,
                   help="sd of the log-normal noise on the loss (default 0.01)")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    if args.floor not in (None, "records") and not cli.is_number(args.floor) and os.path.exists(args.floor):
        # `--floor PATH`: a bare --floor followed by a path (a number is always a value, even if a file has its name)
        args.paths.insert(0, args.floor)
        args.floor = "records"
    cli.guarded(fit_command, args)


if __name__ == "__main__":
    main()
