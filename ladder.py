"""
The ladder of datasets (Barkeshli et al. 2026): ER walks -> BA walks -> the corpus's bigram chain -> data
sampled from 1-, 2-, 4-layer teachers (teacher.py) -> the text itself (data.py), every rung with the same
student sweep (sweep.py) and one joint scaling-law fit per rung (fit.py), then a table and a plot of
the exponents against each rung's floor (nats per token).

    python ladder.py                            # every rung, both halves, the CPU grid (about 1.5 h on 2 cores with --jobs 2)
    python ladder.py --scale gpu --out out/ladder_gpu
    python ladder.py --rungs er-k-1 t2l         # only these rungs: OUT/ladder-er-k-1-t2l.json and .png

Everything goes under OUT: teachers/t<k>.pt (+ .json records), data/t<k>/ (their sampled datasets), and per
rung OUT/<rung>/spec.json, runs.jsonl, fit.json (fit.py's format).
"""

import argparse
import itertools
import os
import re
import time

import numpy as np

import cli
import data
import fit
import plots
import records
import sweep
import teacher
import train
from cli import check_writable, read_json, write_json

# Student grids and teachers. "cpu": the quick preset's L(D) design (sweep.QUICK_DATA: widths above the
# capacity cliff, one transferred muP lr, 2^-7, wsd so that a width's budgets share one stable phase) with five
# budgets to 1.45M tokens (V = 2048 makes every token ~3x dearer than on the quick preset's 250 nodes);
# "gpu": closer to the paper (Barkeshli et al. 2026: 2-layer students, 14 learning rates, 3 seeds per point),
# the best lr per (N, D) kept by records.best_runs; "smoke": seconds, for tests of the wiring (numbers meaningless).
SCALES = dict(
    cpu=dict(vocab=2048, nodes=2048, edges=10240, m=5, L=64, teacher=dict(teacher.CPU_TEACHER),
             grid=dict(width=[16, 24, 32, 48, 64], tokens=["190k", "330k", "540k", "890k", "1.45M"],
                       param="mup", base_width=64, lr=2 ** -7, head_dim=8, batch_size=50, schedule="wsd",
                       warmup_tokens="50k", eval_walks=100),
             infinite=dict(width=[8, 16, 24, 32, 40, 48, 64], tokens="1.45M")),
    gpu=dict(vocab=8192, nodes=8192, edges=40960, m=5, L=128,
             teacher=dict(width=512, tokens=100_000_000, lr=1e-3, batch_size=100),  # needs --text: a corpus of >= 100M tokens
             grid=dict(width=[32, 64, 128, 256, 512], tokens=[3_000_000, 10_000_000, 30_000_000, 100_000_000],
                       lr=[2 ** -k for k in range(5, 12)], seed=[0, 1, 2], batch_size=100),
             infinite=dict(width=[32, 64, 128, 256, 512, 1024], tokens=30_000_000, seed=0)),
    smoke=dict(vocab=300, nodes=300, edges=1500, m=3, L=20,
               teacher=dict(width=16, tokens=5_000, lr=1e-2, batch_size=10),
               grid=dict(width=[16, 32], tokens=[2_000, 4_000], lr=1e-2, batch_size=10, eval_walks=20),
               infinite=dict(width=[16, 32, 48], tokens=4_000)),
)
# "infinite": the rung's second half, L(N, D = ∞) (fit.infinite_data): the grid's recipe trained on the exact
# expected loss (--target expected) at widths spanning >= 1 decade of N, one budget each; not for text, whose
# next-token distribution is unknown.
N_DEF = "non_embedding"  # the N of every rung's fit: readout included (nanoGPT's 6N), as the quick preset's fits
EXTRA_RUNGS = ("percolation", "trees")  # run only when named: not on the paper's ladder


# -----------------------------------------------------------------------------
# the rungs

def rungs(scale, data_dir, text=None):
    """(name, dataset flags) of every rung, simplest first: the paper's ladder, then two forests of
    critical clusters (Brill 2024's 'subtasks'; theory.py compares theories on them): all clusters of an
    L x L lattice at p_c, and L² nodes of critical Galton–Watson trees (his mean-field ensemble). text: corpus
    files for the bigram and text rungs (None: the KJV), as one value of a sweep spec."""
    s = SCALES[scale]
    er = dict(graph="er", nodes=s["nodes"], edges=s["edges"])
    text_flags = dict(vocab=s["vocab"], **({} if text is None else dict(text=[list(text)])))
    return [("ER k=0", dict(er, kappa=0.0)), ("ER k=1", dict(er, kappa=1.0)),
            ("BA", dict(graph="ba", nodes=s["nodes"], m=s["m"])), ("bigram", dict(text_flags, graph="bigram"))] + \
           [(f"T{k}L", dict(graph=f"teacher:{os.path.join(data_dir, f't{k}')}")) for k in teacher.LAYERS] + \
           [("text", dict(text_flags, graph="text")), ("percolation", dict(graph="percolation", L=s["L"], forest=True)),
            ("trees", dict(graph="critical-trees", nodes=s["L"] ** 2))]


def slug(name):
    """A rung's name as a flag value and directory name: 'ER k=1' -> 'er-k-1'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


RUNG_SLUGS = [slug(name) for name, _ in rungs("cpu", "")]


def chosen_rungs(scale, data_dir, only=None, text=None):
    """The rungs named by slug in `only`, else every rung but the extra ones, in ladder order."""
    return [(name, flags) for name, flags in rungs(scale, data_dir, text)
            if (slug(name) in only if only else name not in EXTRA_RUNGS)]


# -----------------------------------------------------------------------------
# teachers, sweeps and fits

def largest_budget(s):
    """The grid's largest training budget, tokens."""
    return max(cli.parse_count(t) for t in s["grid"]["tokens"])


def warn_epochs(s, text, names):
    """Warn when the text rung's largest budget or a teacher's training (where the rungs `names` include
    them) is more than one epoch of the corpus (tokens of its training split): a larger corpus belongs with
    --text."""
    size = data.corpus_tokens(text, s["vocab"], "train").size
    for what, tokens, wanted in (("the text rung's largest budget", largest_budget(s), "text" in names),
                                 ("a teacher's training", s["teacher"]["tokens"], any(n[0] == "T" for n in names))):
        if wanted and tokens > size:
            print(f"warning: {what} ({tokens:,} tokens) is {tokens / size:.1f} epochs of the corpus "
                  f"({size:,} tokens); give a larger one with --text", flush=True)


def dataset_predictions(directory):
    """Training predictions (tokens) of the teacher dataset in directory, 0 if there is none yet."""
    if not os.path.exists(os.path.join(directory, "meta.json")):
        return 0
    meta = data.read_teacher_meta(directory)
    return meta["sequences"] * (meta["length"] - 1)


def make_teacher_data(layers, out, s, device, text=None):
    """Train the ladder's teacher of `layers` blocks and sample its dataset, unless already there; returns the
    teacher's training time, seconds (its record's time_s)."""
    path = os.path.join(out, "teachers", f"t{layers}.pt")
    directory = os.path.join(out, "data", f"t{layers}")
    if not os.path.exists(path + ".json"):
        print(f"== teacher T{layers}L", flush=True)
        record = teacher.train_teacher(layers, path, files=text, vocab=s["vocab"], device=device, log=train.quiet,
                                       **s["teacher"])
        print(f"   held-out loss {record['loss']:.4f} nats in {record['time_s']:.0f}s", flush=True)
    if dataset_predictions(directory) < largest_budget(s):  # resample: every budget must fit in one epoch
        meta = teacher.sample_dataset(path, directory, largest_budget(s), device=device, log=train.quiet)
        print(f"   dataset: {meta['sequences']:,} sequences, floor {meta['floor_train']:.4f} "
              f"± {meta['floor_train_se']:.4f} nats", flush=True)
    return float(read_json(path + ".json", "teacher.py train", "time_s")["time_s"])


def rung_spec(flags, s):
    """The rung's sweep spec: the L(D) grid on sampled targets, then, where the truth is known, the L(N, D = ∞)
    grid on expected targets (the same recipe at the `infinite` widths and budget)."""
    halves = [dict(flags, **s["grid"])]
    if flags["graph"] != "text":
        halves.append({**flags, **s["grid"], **s["infinite"], "target": "expected"})
    return halves


def grid_runs(spec):
    """The run ids of a sweep spec's grid (sweep.expand on train.py's default run)."""
    return {c.run_id() for c in sweep.expand(sweep.load_spec(spec), train.RunConfig())}


def fit_rung(directory, runs_wanted, n_boot=200):
    """
    A rung's fits on its records (those of runs_wanted: older grids' runs in the same directory are left out):
    the joint law L = E + A/N^α + B/D^β (fit.py; N the N_DEF count) on the best learning rate of each (N, D) of
    the sampled-target runs, E fixed to the exact floor (nats per token) where it is known (fitted for text),
    with bootstrap intervals; L(N, D = ∞) of the expected-target runs (fit.infinite_data, summarised by
    records.infinite_cell); the count baseline of a walk rung (fit.count_baseline). '_samples' holds the bootstrap
    draws of α, β and α at D = ∞ (for the monotonic verdicts), '_fits' the full results (for fit.json).
    """
    path = os.path.join(directory, "runs.jsonl")
    found = [r for r in records.read_records([path]) if r.get("status") == "ok" and r["run"] in runs_wanted]
    sampled = [r for r in found if records.target_of(r) == "sampled"]
    expected = [r for r in found if records.target_of(r) == "expected"]
    inf = fit.infinite_data(expected, N_DEF, n_boot, quiet=True) if expected else None
    base = fit.count_baseline(sampled)
    row = joint_fit(sampled, n_boot)
    row["_samples"]["alpha_inf"] = inf["_samples"]["alpha"] if inf and inf.get("verdict") == "power law" else None
    return dict(row, infinite=records.infinite_cell(inf), count=count_cell(base), train_s=training_seconds(found),
                _fits=dict(infinite_data=inf, count_baseline=base))


def joint_fit(sampled, n_boot):
    """The joint law on the sampled-target records (fit_rung), as the row's fields."""
    best = records.best_runs(sampled, warn_edge=False)
    runs = records.runs_from_records(best, N_DEF)
    floor = runs["floor"]
    spec = fit.joint_spec(runs["N"], runs["D"], floor)
    law = fit.fit_law(spec, runs["L"])
    boot = fit.bootstrap_law(spec, runs["L"], law, n_boot=n_boot, quiet=True, units=runs["unit"])
    return dict(V=best[0]["V"], n_def=N_DEF, floor=None if floor is None else float(np.mean(floor)), E=law["E"] if floor is None
                else float(np.mean(floor)), E_fitted=floor is None, alpha=law["alpha"], beta=law["beta"],
                ci=dict(alpha=boot["ci"]["alpha"], beta=boot["ci"]["beta"]), points=len(best),
                lr_edge=sum(r["lr_edge"] for r in best), rms=law["rms"],
                _samples={k: boot["samples"][k] for k in ("alpha", "beta")})


def count_cell(base):
    """fit.count_baseline's result in brief: at each budget D (tokens) the transformers' token multiplier, D over
    the tokens counts need for the same excess (None where the counts' curve never falls that low)."""
    return None if base is None else [dict(D=p["D"], multiplier=p["multiplier"]) for p in base["points"]]


def training_seconds(found):
    """Process-seconds the rung's training took, however many invocations it spanned: per stable phase (the
    runs whose configs differ only in tokens) its longest record's time_s, which counts the phase and every
    branch trained before it, summed."""
    phases = {}
    for r in found:
        key = records.config_key(r["config"], ("tokens",))
        phases[key] = max(phases.get(key, 0.0), r["time_s"])
    return float(sum(phases.values()))


def run_rung(name, flags, out, s, device, n_boot, jobs=1):
    """One rung: its sweep spec (OUT/<rung>/spec.json), the sweep (sweep.py with `jobs` worker
    processes: a rerun skips finished runs), and its joint fit, written to OUT/<rung>/fit.json in fit.py's
    format; returns the table's row. Its wall_s is train_s (the rung's training, over every invocation: see
    training_seconds) plus fit_s (this call's fit), the seconds one process needs for the rung; --jobs K
    divides the training part by up to K."""
    directory = os.path.join(out, slug(name))
    spec = os.path.join(directory, "spec.json")
    write_json(spec, rung_spec(flags, s))
    print(f"== rung {name}: python sweep.py {spec} --out {directory} --jobs {jobs}", flush=True)
    sweep.main([spec, "--out", directory, "--device", device, "--jobs", str(jobs)])
    start = time.time()
    row = dict(rung=name, **fit_rung(directory, grid_runs(spec), n_boot))
    row["fit_s"] = time.time() - start
    row["wall_s"] = row["train_s"] + row["fit_s"]
    joint = dict({k: row[k] for k in ("E", "alpha", "beta")}, ci=row["ci"])
    write_json(os.path.join(directory, "fit.json"), fit.to_json(dict(joint=joint, **row.pop("_fits"))))
    return row


def ladder(out, scale="cpu", device="auto", n_boot=200, only=None, text=None, jobs=1):
    """Teachers and their datasets (those the chosen rungs need), the student sweep on every rung and one
    joint fit per rung (run_rung). text: the corpus files (None: the KJV); use one OUT per corpus. Returns
    the table's rows; a teacher rung's teacher_s is its teacher's training time (its record's time_s)."""
    s = SCALES[scale]
    chosen = chosen_rungs(scale, os.path.join(out, "data"), only, text)
    warn_epochs(s, text, [name for name, _ in chosen])
    rows = []
    for name, flags in chosen:
        teacher_s = make_teacher_data(int(name[1]), out, s, device, text) if flags["graph"].startswith("teacher:") else 0.0
        rows.append(dict(run_rung(name, flags, out, s, device, n_boot, jobs), teacher_s=teacher_s))
    return rows


MONOTONIC_ORDER = ("bigram", "T1L", "T2L", "T4L")  # the corpus's bigram chain, then ever deeper teachers of it


def monotonic(rows, order=MONOTONIC_ORDER, keys=("alpha", "beta")):
    """
    Whether the exponents `keys` (α, β) move monotonically along `order` (the rungs of it present, >= 3 of them). Each exponent's
    verdict is the direction its point estimates take ('increasing', 'decreasing' or 'not monotonic'), and its
    confidence the fraction of bootstrap draws (rungs resampled independently, draw i of each together)
    whose exponents give the same verdict: a confidence near 1 is a verdict the noise does not overturn.
    """
    by_name = {r["rung"]: r for r in rows}
    chain = [by_name[name] for name in order if name in by_name]
    if len(chain) < 3:
        return dict(rungs=[r["rung"] for r in chain], skipped="fewer than 3 of the rungs " + " -> ".join(order))
    out = dict(rungs=[r["rung"] for r in chain])
    for key in keys:
        estimate = direction(np.array([[r[key] for r in chain]]))[0]
        n = min(len(r["_samples"][key]) for r in chain)
        draws = direction(np.array([r["_samples"][key][:n] for r in chain]).T)
        out[key] = dict(verdict=estimate, confidence=float(np.mean(draws == estimate)), draws=int(n))
    return out


def monotonic_infinite(rows, order=MONOTONIC_ORDER):
    """monotonic()'s verdict on α of L(N, D = ∞) (key 'alpha_inf'), where every rung of `order` present has one: a
    power law won the BIC comparison on converged runs. A verdict on runs at their budget is not one: their
    excess still holds optimisation, so their α measures how fast widths learn. Else: why there is none."""
    chain = [r for name in order for r in rows if r["rung"] == name]
    missing = [f"{r['rung']} ({reason})" for r in chain for reason in [alpha_inf_missing(r["infinite"])] if reason]
    if missing:
        return dict(rungs=[r["rung"] for r in chain], skipped="no α of L(N, D = ∞) on " + ", ".join(missing))
    return monotonic([dict(rung=r["rung"], alpha_inf=r["infinite"]["alpha"], _samples=r["_samples"]) for r in chain],
                     order, keys=("alpha_inf",))


def alpha_inf_missing(cell):
    """Why a rung's infinite_cell has no α of L(N, D = ∞) ('' when it has one)."""
    if not cell or cell["verdict"] is None:
        return "not measured"
    if cell["basis"] != "converged":
        return f"{cell['points'] - cell['converged']} of {cell['points']} runs unconverged"
    return "" if cell["verdict"] == "power law" else cell["verdict"]


def direction(values):
    """Per row of values (draws x rungs): 'increasing', 'decreasing' or 'not monotonic' (NaN: the last)."""
    steps = np.diff(values, axis=1)
    return np.where(np.all(steps > 0, 1), "increasing", np.where(np.all(steps < 0, 1), "decreasing", "not monotonic"))


# -----------------------------------------------------------------------------
# the hours of the gpu scale, from the throughput `bench.py --gpu` measured

# A paper-scale ER sweep, as assumed here: walks on the gpu scale's ER graph (V = 8192), 2-layer students at
# widths 32-2048 and budgets 3M-300M tokens, 14 learning rates x 3 seeds per point (the paper's lr and seed
# counts; its exact widths and budgets are not in this repository).
PAPER_ER = dict(V=8192, width=[32, 64, 128, 256, 512, 1024, 2048],
                tokens=[3_000_000, 10_000_000, 30_000_000, 100_000_000, 300_000_000], lrs=14, seeds=3)


def flops_per_token(width, n_layer, V, T):
    """Training FLOPs per token (model.py's count) of the run's GPT, counted on the meta device."""
    return train.counted_model(train.RunConfig(width=width, n_layer=n_layer, block_size=T), V).flops_per_token()


def run_seconds(measured, width, tokens, n_layer, V, T=50):
    """Training seconds of one run from `measured` ({"<width>": {achieved_flops, flops_per_token}}, bench.py
    --gpu's achieved_flops), an upper bound: tokens times the larger of its own FLOPs per token and those of
    the reference width (the nearest measured one at or above its width, else the widest), over the
    reference's achieved FLOP/s. A narrower model is charged the reference's tokens/s (on a GPU it is no
    slower per token); a wider or deeper one its FLOPs at the reference's FLOP/s (larger matmuls run no less
    efficiently). Evaluation and data time are not counted."""
    widths = sorted(int(w) for w in measured)
    ref = measured[str(next((w for w in widths if w >= width), widths[-1]))]
    return tokens * max(flops_per_token(width, n_layer, V, T), ref["flops_per_token"]) / ref["achieved_flops"]


def grid_seconds(measured, widths, budgets, per_point, V):
    """Seconds of a 2-layer student grid (widths x budgets, per_point runs each: learning rates x seeds)."""
    return per_point * sum(run_seconds(measured, w, d, 2, V) for w, d in itertools.product(widths, budgets))


def gpu_estimates(measured, sampling_rate=None):
    """Hours, one run at a time (--ensemble 1), of `ladder.py --scale gpu` (every rung's student grid, the
    teachers, and each teacher's dataset of the largest budget sampled at sampling_rate, the KV-cached
    tokens/s of a 4-layer teacher; None: not counted) and of the PAPER_ER sweep."""
    if not measured:
        raise RuntimeError("no width's training throughput was measured")
    s = SCALES["gpu"]
    grid, t, V = s["grid"], s["teacher"], s["vocab"]
    per_point = len(grid["lr"]) * len(grid["seed"])
    n_rungs = len(chosen_rungs("gpu", ""))
    students = n_rungs * grid_seconds(measured, grid["width"], grid["tokens"], per_point, V)
    teachers = sum(run_seconds(measured, t["width"], t["tokens"], k, V) for k in teacher.LAYERS)
    sampling = len(teacher.LAYERS) * max(grid["tokens"]) / sampling_rate if sampling_rate else None
    total = students + teachers + (sampling or 0)
    paper = grid_seconds(measured, PAPER_ER["width"], PAPER_ER["tokens"], PAPER_ER["lrs"] * PAPER_ER["seeds"],
                         PAPER_ER["V"])
    runs = n_rungs * len(grid["width"]) * len(grid["tokens"]) * per_point
    paper_runs = len(PAPER_ER["width"]) * len(PAPER_ER["tokens"]) * PAPER_ER["lrs"] * PAPER_ER["seeds"]
    return dict(
        ladder_gpu=dict(rungs=n_rungs, teachers=len(teacher.LAYERS), runs=runs, students_s=students,
                        teachers_s=teachers, sampling_s=sampling, total_s=total, total_h=total / 3600),
        paper_er=dict(PAPER_ER, runs=paper_runs, total_s=paper, total_h=paper / 3600),
        basis="upper bounds from each width's measured tokens/s and FLOP/s (ladder.run_seconds); --ensemble 8 "
              "divides the narrow widths' share by the ensemble part's speedup")


def estimates_text(e):
    """gpu_estimates' hours as text (bench.py --gpu prints it)."""
    lad, paper = e["ladder_gpu"], e["paper_er"]
    sampling = "not counted (no generation figures)" if lad["sampling_s"] is None else f"{lad['sampling_s'] / 3600:.2f} h"
    return (f"\nestimates, one run at a time: {e['basis']}\n"
            f"  ladder.py --scale gpu: {lad['runs']:,} student runs on {lad['rungs']} rungs "
            f"{lad['students_s'] / 3600:.1f} h + {lad['teachers']} teachers {lad['teachers_s'] / 3600:.1f} h "
            f"+ sampling their datasets {sampling} = {lad['total_h']:.1f} h\n"
            f"  paper-scale ER sweep (widths {paper['width'][0]}-{paper['width'][-1]}, {paper['tokens'][0]:.0e}-"
            f"{paper['tokens'][-1]:.0e} tokens, {paper['lrs']} lrs x {paper['seeds']} seeds): {paper['runs']:,} "
            f"runs, {paper['total_h']:.1f} h")


# -----------------------------------------------------------------------------
# the table and the plot

def ladder_table(rows):
    """The rows as a text table: each rung's vocabulary, floor (nats per token) and both exponents."""
    lines = [f"{'rung':<12} {'V':>6} {'floor':>8} {'alpha [95% CI]':>24} {'beta [95% CI]':>24} {'points':>6}  "
             f"{'L(N, D = inf) - E':<44} {'count multiplier':>16}"]
    for r in rows:
        floor = f"{r['E']:.3f}*" if r["E_fitted"] else f"{r['floor']:.3f}"
        cells = [f"{r[k]:.3f} [{r['ci'][k][0]:.3f}, {r['ci'][k][1]:.3f}]" for k in ("alpha", "beta")]
        lines.append(f"{r['rung']:<12} {r['V']:>6} {floor:>8} {cells[0]:>24} {cells[1]:>24} {r['points']:>6}  "
                     f"{records.infinite_text(r['infinite']):<44} {multiplier_text(r['count']):>16}")
    return "\n".join(lines + ["* no known floor: E fitted (natural text)",
                              "L(N, D = inf) - E: the shape BIC prefers (fit.py's infinite_data), on the converged runs or, "
                              "where too few converged, on every run at its budget (an upper bound)",
                              "count multiplier: the students' tokens over the tokens counts need for the same excess, "
                              "over the budgets"])


def multiplier_text(count):
    """count_cell's multipliers as their range."""
    found = [c["multiplier"] for c in count or [] if c["multiplier"]]
    return f"{min(found):.0f}x-{max(found):.0f}x" if found else "-"


def verdict_line(verdict):
    """monotonic()'s verdict in one line."""
    if "skipped" in verdict:
        return f"monotonic: skipped ({verdict['skipped']})"
    parts = [f"{k} {verdict[k]['verdict']} (confidence {verdict[k]['confidence']:.2f} over {verdict[k]['draws']} draws)"
             for k in ("alpha", "beta", "alpha_inf") if k in verdict]
    return f"along {' -> '.join(verdict['rungs'])}: " + "; ".join(parts)


def plot_ladder(rows, path):
    """Exponents α (model size) and β (data) of each rung's joint law against its floor, nats per token, and α of
    L(N, D = ∞) where that term is a power law."""
    fig, ax = plots.figure(figsize=(7, 4.5))
    for key, color in (("alpha", "C0"), ("beta", "C3")):
        x = [r["E"] for r in rows]
        y = [r[key] for r in rows]
        err = np.abs(np.array([r["ci"][key] for r in rows]).T - y)
        ax.errorbar(x, y, yerr=err, fmt="o", color=color, capsize=3, label=f"{key} (L ∝ {'N' if key == 'alpha' else 'D'}^-{key})")
    powers = [r for r in rows if (r["infinite"] or {}).get("verdict") == "power law"]
    for basis, face, label in (("converged", "C2", "alpha of L(N, D = inf) (expected target, converged)"),
                               ("at budget", "none", "alpha of expected-target runs at budget (unconverged)")):
        shown = [r for r in powers if r["infinite"]["basis"] == basis]
        if shown:  # the model-size term measured apart; unconverged, it still holds how fast widths learn
            y = [r["infinite"]["alpha"] for r in shown]
            err = np.abs(np.array([r["infinite"]["alpha_ci"] for r in shown]).T - y)
            ax.errorbar([r["E"] for r in shown], y, yerr=err, fmt="^", color="C2", mfc=face, capsize=3, label=label)
    for r in rows:
        ax.annotate(r["rung"] + ("*" if r["E_fitted"] else ""), (r["E"], r["alpha"]), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")
    estimates = [r[k] for r in rows for k in ("alpha", "beta")] + [r["infinite"]["alpha"] for r in powers]
    # bootstrap intervals of a poorly constrained rung can span orders of magnitude: keep the estimates readable
    top, bottom = 1.5 * max(estimates) + 0.5, min(0.0, min(estimates)) - 0.3
    clipped = any(not bottom <= v <= top for r in rows for k in ("alpha", "beta") for v in r["ci"][k])
    ax.set(xlabel="floor: the eval set's minimum loss (nats per token; * fitted E)", ylabel="exponent", ylim=(bottom, top),
           title="the ladder: scaling exponents against the data's entropy" + (" (95% intervals clipped)" if clipped else ""))
    ax.legend(loc="center", bbox_to_anchor=(0.45, 0.75))  # clear of the rungs, which sit at both ends
    plots.savefig(fig, path, dpi=110)


# -----------------------------------------------------------------------------
# command line

def build_parser():
    """The parser of `python ladder.py` (the flags of the former `teacher.py ladder`)."""
    p = cli.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="out/ladder", help="directory of everything the ladder makes (default out/ladder)")
    p.add_argument("--scale", choices=list(SCALES), default="cpu", help="cpu: about 1.5 h on 2 cores with --jobs 2; gpu: larger grids")
    p.add_argument("--rungs", nargs="+", metavar="RUNG", choices=RUNG_SLUGS,
                   help="these rungs (default: all but percolation and trees), of: %(choices)s")
    p.add_argument("--text", nargs="+", metavar="FILE", default=None, help="UTF-8 corpus files for the bigram, "
                   "teacher and text rungs (default: the KJV; the gpu scale wants >= 100M tokens, e.g. FineWeb-edu)")
    p.add_argument("--boot", type=teacher.positive(cli.parse_int), default=200,
                   help="bootstrap resamples per fit, >= 1 (default 200)")
    p.add_argument("--json", metavar="PATH",
                   help="write the table as JSON, the plot beside it as PNG (default OUT/ladder[-RUNG...].json)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"], help="auto: cuda > mps > cpu")
    p.add_argument("--jobs", type=teacher.positive(cli.parse_int), default=1,
                   help="worker processes per rung's sweep (train.py --jobs; default 1)")
    return p


def output_paths(args):
    """(table JSON, plot PNG), checked writable before any work. A run of chosen rungs gets its own files,
    so it does not overwrite the whole ladder's table."""
    check_writable(args.out, directory=True)
    name = "ladder" + "".join(f"-{r}" for r in args.rungs or [])
    path = args.json or os.path.join(args.out, name + ".json")
    plot = os.path.splitext(path)[0] + ".png"
    return check_writable(path), check_writable(plot)


def run(args):
    """The whole ladder for the parsed flags: outputs checked, rungs run, table printed, JSON and plot written."""
    path, plot = output_paths(args)
    rows = ladder(args.out, args.scale, args.device, args.boot, args.rungs, args.text, args.jobs)
    print(ladder_table(rows))
    verdict, verdict_inf = monotonic(rows), monotonic_infinite(rows)
    print(verdict_line(verdict) + "\nat D = inf: " + verdict_line(verdict_inf))
    write_json(path, fit.to_json(dict(rungs=rows, monotonic=verdict, monotonic_infinite=verdict_inf)))
    plot_ladder(rows, plot)
    print(f"table in {path}, plot in {plot}")


def main(argv=None):
    """Run the ladder; bad input is one error line and status 2 (cli.guarded)."""
    cli.guarded(run, build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
