"""
Parameter efficiency: how many parameters each parametrization needs to reach a loss.

At one training budget D (tokens), each family of runs (a parametrization: SP with the best learning rate of a
grid at each width, SP with a raised embedding learning rate, μP with one learning rate transferred from its
base width) gives one law

    L(N) = E_D + A·N^(−α)        (N parameters, L nats per token)

fitted the way fit.py fits every law (Huber on log L, L-BFGS from a grid of starts, lawfit.py), with E_D
fitted: at a finite D the loss tends to a D-limited value above the floor, not to the floor itself.

The comparison is the ratio of N at equal loss, N_f(L*) / N_ref(L*), with N(L) = (A / (L − E_D))^(1/α) the
inverse of a family's law and L* the lowest loss that every family reaches inside its own grid (the largest
of the families' best losses), so that no family's N(L*) is an extrapolation: a ratio of 2 means family f
needs twice the parameters of the reference for the same loss; infinite when f's law never gets down to L*.
Its 95% interval comes from bootstrap draws of both laws (runs resampled within each family, independently;
draw i of each taken together). Barkeshli et al.
(2026) report that μP is the more parameter-efficient: a ratio above 1 for SP against μP.
"""
import math

import numpy as np

import plotting
from lawfit import CI, bootstrap_law, fit_law, power_law_spec
from records import best_runs

ORDER_STATISTIC = "inverted_cdf"   # quantiles that are draws themselves: an infinite ratio stays infinite
PARAM_WORDS = dict(mup="μP", sp="SP")                              # family_words: config fields in words
FIELD_WORDS = dict(base_width="base width", embed_lr_mult="embedding lr ×", n_layer="layers", lr="lr")


def family_label(record, fields):
    """A run's family: 'field=value' for each of fields, read from the record's config."""
    config = record.get("config") or {}
    return ", ".join(f"{f}={config.get(f, record.get(f))}" for f in fields)


def split_families(records, fields):
    """{family label: its records}, labels sorted."""
    families = {}
    for r in records:
        families.setdefault(family_label(r, fields), []).append(r)
    return dict(sorted(families.items()))


def family_points(records, label, D, n_def, min_widths=5):
    """((N, L) of the best lr at each width, (N, L) of every lr tried) among a family's records of D tokens:
    N parameters (params[n_def]), L nats per token."""
    at_D = [r for r in records if r["tokens"] == D]
    best = best_runs(at_D)
    if len(best) < min_widths:
        raise ValueError(f"{label}: {len(best)} widths at D = {D:,} tokens; a law L(N) needs {min_widths}")
    return tuple((np.array([r["params"][n_def] for r in rs], float), np.array([r["loss"] for r in rs], float))
                 for rs in (best, at_D))


def shared_budget(families, min_widths=5):
    """The largest D (tokens) at which every family {label: records} has min_widths widths."""
    def widths(rs, D):
        return len({r["config"].get("width") for r in rs if r["tokens"] == D})
    shared = set.intersection(*({r["tokens"] for r in rs} for rs in families.values()))
    D = max((D for D in shared if all(widths(rs, D) >= min_widths for rs in families.values())), default=None)
    if D is None:
        raise ValueError(f"no training budget D has {min_widths} widths in every family; compare them at one D")
    return D


def n_at_loss(E, A, alpha, L):
    """N (parameters) at which E + A·N^(−α) = L: (A/(L − E))^(1/α), inf where L <= E (never reached)."""
    E, A, alpha, L = np.broadcast_arrays(*(np.asarray(v, float) for v in (E, A, alpha, L)))
    gap = L - E
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        N = np.exp((np.log(A) - np.log(np.where(gap > 0, gap, np.nan))) / alpha)
    return np.where(gap > 0, N, np.inf)


def family_law(N, L, n_boot, seed, label, quiet):
    """One family's L(N) = E_D + A·N^(−α): the fit, its bootstrap intervals and draws (E, A, alpha)."""
    spec = power_law_spec(N)
    law = fit_law(spec, L)
    boot = bootstrap_law(spec, L, law, n_boot=n_boot, seed=seed, label=label, quiet=quiet)
    draws = {k: boot["samples"][k] for k in ("E", "A", "alpha")}
    return dict(N=N, L=L, E=law["E"], A=law["A"], alpha=law["alpha"], rms=law["rms"],
                ci={k: boot["ci"][k] for k in ("E", "alpha")}, _draws=draws)


def interval(samples):
    """The central CI% of samples as draws themselves (order statistics), so infinite draws stay infinite;
    NaN draws (failed refits) are left out."""
    samples = samples[~np.isnan(samples)]
    return [float(np.quantile(samples, q, method=ORDER_STATISTIC)) for q in ((50 - CI / 2) / 100, (50 + CI / 2) / 100)]


def common_loss(families):
    """L* (nats): the lowest loss that every family reaches within its own grid, max over families of their
    best loss, so that each family's N(L*) is read inside its measured N range, not extrapolated."""
    return float(max(np.min(L) for _, L in families.values()))


def ratio_at(law, ref, target):
    """N_f(L*)/N_ref(L*) at L* = target (nats): the fits' ratio, its interval over the paired bootstrap draws,
    and the fraction of draws in which f's law never gets down to L*."""
    d, r = law["_draws"], ref["_draws"]
    draws = n_at_loss(d["E"], d["A"], d["alpha"], target) / n_at_loss(r["E"], r["A"], r["alpha"], target)
    N_ref = float(n_at_loss(ref["E"], ref["A"], ref["alpha"], target))
    ratio = float(n_at_loss(law["E"], law["A"], law["alpha"], target)) / N_ref
    return dict(L=target, N_ref=N_ref, ratio=ratio, ci=interval(draws), never_reached=float(np.mean(~np.isfinite(draws))))


def compare(families, reference, n_boot=1000, seed=0, quiet=False):
    """
    families: {label: (N, L)} arrays of one point per width (the best lr of each, one D). Returns
    {label: law} (family_law, plus 'ratio' against the reference at common_loss for the others). Each family
    is bootstrapped with its own seed: its runs are resampled independently of every other family's.
    """
    if reference not in families:
        raise ValueError(f"reference family {reference!r} is not among {', '.join(families)}")
    laws = {label: family_law(np.asarray(N, float), np.asarray(L, float), n_boot, seed + i, label, quiet)
            for i, (label, (N, L)) in enumerate(families.items())}
    target = common_loss(families)
    for label, law in laws.items():
        if label != reference:
            law["ratio"] = ratio_at(law, laws[reference], target)
    return laws


def report(laws, reference, D):
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


def short_value(value):
    """A config value as text, numbers without a trailing '.0': '4.0' -> '4'."""
    try:
        return f"{float(value):g}"
    except ValueError:
        return value


def family_words(label):
    """A family label ('param=mup, base_width=16, embed_lr_mult=1.0', family_label's form) in words: 'μP, base
    width 16'. Fields are named by FIELD_WORDS (else 'field value'); a multiplier of 1 (the default) is left
    out, and so is SP's base width (SP has none: mup.width_mult)."""
    fields = dict(part.split("=", 1) for part in label.split(", ") if "=" in part)
    words = []
    for field, value in fields.items():
        if field == "param":
            words.append(PARAM_WORDS.get(value, value))
        elif not (field.endswith("_mult") and short_value(value) == "1"
                  or field == "base_width" and fields.get("param") == "sp"):
            words.append(f"{FIELD_WORDS.get(field, field.replace('_', ' '))} {short_value(value)}")
    return ", ".join(words) or label


def plot(laws, reference, path, runs=None, floor=0.0, n_def=None):
    """Left: the excess L − floor (nats; floor 0: the loss itself) against N per family with its law, and every
    lr tried, faint, when runs {label: (N, L)} are given; right: the N ratio against the reference at every
    loss all families reach inside their grids, with the reported L* and its interval. Families are named in
    words (family_words); the N axis names its count (n_def, plotting.n_label)."""
    fig, (left, right) = plotting.figure(1, 2, figsize=(12, 4.5))
    ref = laws[reference]
    grid = np.geomspace(min(l["N"].min() for l in laws.values()), max(l["N"].max() for l in laws.values()), 100)
    losses = np.linspace(max(l["L"].min() for l in laws.values()), min(l["L"].max() for l in laws.values()), 50)
    top = max(l["L"].max() for l in laws.values()) - floor
    for i, (label, law) in enumerate(laws.items()):
        color, name = f"C{i}", family_words(label)
        if runs and label in runs:
            N, L = runs[label]
            kept = L - floor <= 1.5 * top  # diverged runs would squash the axes
            left.scatter(N[kept], L[kept] - floor, s=8, color=color, alpha=0.25)
        left.scatter(law["N"], law["L"] - floor, color=color, label=f"{name}: α = {law['alpha']:.2f}")
        left.plot(grid, law["E"] + law["A"] * grid ** -law["alpha"] - floor, color=color, lw=1)
        if label != reference:
            N_ref = n_at_loss(ref["E"], ref["A"], ref["alpha"], losses)
            right.plot(losses, n_at_loss(law["E"], law["A"], law["alpha"], losses) / N_ref, color=color, label=name)
            r = law["ratio"]
            if math.isfinite(r["ratio"]):  # an infinite end of the interval is drawn to the top of the axes
                ci = np.minimum(np.array(r["ci"]), 1e3 * r["ratio"])
                right.errorbar([r["L"]], [r["ratio"]], yerr=np.abs(ci[:, None] - r["ratio"]), fmt="o", color=color,
                               capsize=3)
    left.set(xscale="log", yscale="log", xlabel=plotting.n_label(n_def),
             title="best lr of each width, one D; faint: every lr",
             ylabel="excess loss L − floor (nats per token)" if floor else "loss L (nats per token)")
    right.axhline(1, color="gray", lw=0.8)
    right.set(yscale="log", xlabel="loss L* (nats per token)", ylabel="N(L*) / N_ref(L*) (ratio of parameters)",
              title=f"parameters for equal loss, against {family_words(reference)}")
    right.title.set_fontsize(10)
    for axis in (left.xaxis, left.yaxis, right.yaxis):
        plotting.log_ticks(axis)
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    return plotting.savefig(fig, path, dpi=110)
