# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Scaling laws from first principles
#
# A class on neural scaling laws, taught on data whose truth is known: random walks on a graph. A walk is a
# Markov chain with transition matrix P, so the lowest loss any model can reach is computable exactly, and
# every loss below splits into that **floor** and the **excess** a finite model trained on finite data
# leaves above it. Every number comes from this repository's own modules; nothing is implemented twice.
#
# **The core path** (parts 1 to 6) is one class: the floor; sampled against expected loss; the records of
# a real sweep; fitting laws to them (joint against separable, E fixed against fitted); the two terms of
# the loss pulled apart, with the count baseline beside the models; compute-optimal allocation and the bias
# of Approach 2. The setup cell prints the class plan, minutes per part, and the lesson's own compute time
# per part is printed at the end. **Optional parts** (7 to 9: the walk's bias and the floor, μP, where
# exponents come from) are for a second session or for students; `LESSON_PARTS=core` skips them.
#
# Every part ends with an **Exercise**; the answers, at the end, are code that computes and checks them.
#
# **How to run it.** Top to bottom, on a laptop CPU:
#
# - in Jupyter: open `lesson/scaling_laws.ipynb` and *Run All*;
# - without Jupyter: `.venv/bin/python lesson/scaling_laws.py` (the same cells as a script; figures are
#   written as PNGs and their paths printed);
# - to browse without running: `lesson/scaling_laws.executed.ipynb` is this notebook executed at the default
#   size, every output and figure in place; `.venv/bin/python lesson/execute.py` regenerates it.
#
# **Knobs** (environment variables): `LESSON_SIZE` is `smoke` (what CI runs: every cell and check, at
# sizes too small to mean much), `default`, or `full` (runs the quick preset's sweep itself instead of
# reading its records, and trains longer). `LESSON_PARTS` is `all` (default) or `core`. `LESSON_FIGURES=DIR`
# keeps the figures; `LESSON_QUICK=FILE` reads another copy of the quick sweep's records. The setup cell
# prints how long each size took when it was measured, and on what machine. `LESSON_THREADS=1` trains on one
# thread: run the lesson alone, or set it when another training job shares the CPU, which stalls torch's
# threads inside a Jupyter kernel many times over (a script is not affected). The lesson writes nothing
# into the repository: its runs and figures go to a temporary folder.
#
# **Checks.** Cells call `check(...)` to assert a number against a truth computed independently (by hand
# with numpy, by a theorem, or planted), or to assert what the text says about a result. The text itself
# states no measured number: each one is printed by the code, so a change in the results fails a check
# instead of leaving a false sentence.
#
# **Editing.** `lesson/scaling_laws.py` (a jupytext percent script) and `lesson/scaling_laws.ipynb` are
# paired: edit either, then `.venv/bin/jupytext --sync lesson/scaling_laws.py`, then regenerate the
# executed copy. Tests fail when the three differ.

# %%
import os
import sys

SIZE = os.environ.get("LESSON_SIZE", "default")     # smoke | default | full
SIZE = {"live": "default"}.get(SIZE, SIZE)          # `live`: the default's former name
PARTS = os.environ.get("LESSON_PARTS", "all")       # all | core
assert SIZE in ("smoke", "default", "full"), f"LESSON_SIZE must be smoke, default or full, got {SIZE!r}"
assert PARTS in ("all", "core"), f"LESSON_PARTS must be all or core, got {PARTS!r}"
OPTIONAL = PARTS == "all"                           # run the optional parts 7-9
sys.dont_write_bytecode = True                      # import the project without writing __pycache__ into it


def find_repo():
    """The repository: the folder above this lesson (script), or the first folder from cwd up that has train.py."""
    here = os.path.dirname(os.path.abspath(globals()["__file__"])) if "__file__" in globals() else os.getcwd()
    candidates = [os.environ["LESSON_REPO"]] if os.environ.get("LESSON_REPO") else []
    d = here
    while True:
        candidates.append(d)
        if os.path.dirname(d) == d:
            break
        d = os.path.dirname(d)
    for d in candidates:
        if os.path.exists(os.path.join(d, "train.py")) and os.path.exists(os.path.join(d, "fit.py")):
            return d
    raise RuntimeError("cannot find the repository (a folder with train.py and fit.py); set LESSON_REPO")


ROOT = find_repo()
sys.path.insert(0, ROOT)

import contextlib
import io
import json
import math
import re
import tempfile
import time

import numpy as np
import torch

import chain
import compute_optimal
import data
import fit
import graphs
import lawfit
import mup_experiments
import percolation
import plots
import records
import sweep
import theory
import train
import walks

plt = plots.plt
IN_NOTEBOOK = "ipykernel" in sys.modules
if IN_NOTEBOOK:  # plots.py chose the file backend; a notebook shows figures inline
    from IPython import get_ipython
    from IPython.display import Image, display
    get_ipython().run_line_magic("matplotlib", "inline")
plt.rcParams.update({"font.size": 12, "axes.titlesize": 13, "axes.labelsize": 12, "legend.fontsize": 10,
                     "xtick.labelsize": 11, "ytick.labelsize": 11, "lines.linewidth": 2, "lines.markersize": 6,
                     "figure.dpi": 100, "figure.facecolor": "white", "savefig.facecolor": "white"})
SLIDE = (7.5, 4.6)                                             # one figure, one slide

WORK = tempfile.mkdtemp(prefix="lesson-")                      # every output of the lesson goes here
FIGURES = os.environ.get("LESSON_FIGURES") or os.path.join(WORK, "figures")
os.makedirs(FIGURES, exist_ok=True)
T_START = time.time()
torch.manual_seed(0)


def show(fig, name):
    """Save a figure as FIGURES/name and show it inline (in a notebook) or print its path (as a script)."""
    fig.tight_layout()
    fig.savefig(os.path.join(FIGURES, name), dpi=100)
    if IN_NOTEBOOK:
        display(fig)
    else:
        print(f"[figure] {name}")
    plt.close(fig)


def show_png(path):
    """Show a PNG that a project function wrote (or that the repository holds)."""
    if IN_NOTEBOOK:
        display(Image(filename=path))
    else:
        print(f"[figure] {os.path.basename(path)}")


def log_axes(ax, x=True, y=True, xticks=None):
    """Log scales with readable ticks (plots.log_ticks: decades, or 1-2-5 within a decade; xticks: these values
    on x instead), a light grid."""
    for on, scale in ((x, ax.set_xscale), (y, ax.set_yscale)):
        if on:
            scale("log")
    ax.autoscale_view()
    for on, axis in ((x, ax.xaxis), (y, ax.yaxis)):
        if on:
            plots.log_ticks(axis)
    if xticks is not None:
        ax.set_xticks(xticks, [plots.plain(t) for t in xticks])
        ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.grid(True, which="major", alpha=0.3)


def check(ok, what):
    """An assertion against an independent truth, or of what the text says: a failed check stops the lesson (and CI)."""
    if not ok:
        raise AssertionError(f"check failed: {what}")
    print(f"check passed: {what}")


MARKS = [("setup", time.time())]


class Tee(io.TextIOBase):
    """A stream writing to several: the sweep's progress lines are shown and kept."""
    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for s in self.streams:
            s.write(text)
        return len(text)

    def flush(self):
        for s in self.streams:
            s.flush()


def sweep_with_eta(argv):
    """sweep.main(argv), then the ETA its progress lines printed against the time that was actually left."""
    kept = io.StringIO()
    with contextlib.redirect_stdout(Tee(sys.stdout, kept)):
        sweep.main(argv)
    lines = re.findall(r"elapsed (\d+)s \| eta (\d+)s", kept.getvalue())
    if lines:
        end = int(lines[-1][0])
        pairs = [(int(e), int(eta), end - int(e)) for e, eta in lines[:-1]]
        print("[time] ETA check: " + ("; ".join(f"at {e} s the sweep said {eta} s left, {left} s were" for e, eta, left in pairs)
                                     or "one run, no ETA to check"))


def part_done(name):
    """Print the compute time of the part just finished (a timing line: it varies from run to run)."""
    MARKS.append((name, time.time()))
    print(f"[time] {name}: {MARKS[-1][1] - MARKS[-2][1]:.0f} s; {MARKS[-1][1] - T_START:.0f} s since the start")


# The sizes. The core path's graph is the quick preset's (sweep.QUICK_DATA), read from its records; `two_terms`
# are the live runs of part 5; the rest belongs to the optional parts.
SIZES = dict(
    smoke=dict(eval_sets=40, eval_walks=40, count_tokens=20_000, n_boot=40, nn_boot=2, sim_per_budget=12,
               two_terms=dict(tokens=200_000, batch_size=20), quick_live=False,
               kappas=[0, 0.5, 1, 2], coord=dict(widths=[32, 128], seeds=4), transfer=None,
               ridge=dict(n_samples=(16, 32, 64, 128), n_seeds=2, M=1024), critical_er=20_000, trees=2_000),
    default=dict(eval_sets=100, eval_walks=100, count_tokens=20_000, n_boot=200, nn_boot=4, sim_per_budget=28,
                 two_terms=dict(tokens=3_000_000, batch_size=100), quick_live=False,
                 kappas=[0, 0.25, 0.5, 1, 1.5, 2, 3], coord=dict(widths=[32, 64, 128, 256], seeds=8), transfer=None,
                 ridge=dict(n_samples=(16, 32, 64, 128, 256), n_seeds=3, M=2048), critical_er=200_000, trees=4_096),
    full=dict(eval_sets=300, eval_walks=200, count_tokens=20_000, n_boot=1000, nn_boot=20, sim_per_budget=28,
              two_terms=dict(tokens=10_000_000, batch_size=100), quick_live=True,
              kappas=[0, 0.25, 0.5, 1, 1.5, 2, 3], coord=dict(widths=[32, 64, 128, 256], seeds=32),
              transfer=dict(widths=[32, 64, 128, 256], lrs=[2 ** -k for k in range(4, 11)], tokens=100_000),
              ridge=dict(n_samples=(16, 32, 64, 128, 256), n_seeds=3, M=8192), critical_er=1_000_000, trees=16_384),
)
S = SIZES[SIZE]

# The class plan (minutes of class time per part), and what each size cost when measured (wall seconds, all
# parts, through nbclient as tests/test_lesson.py and lesson/execute.py run it; the `[time]` lines at the end
# say what this run cost).
PLAN = [("1. The floor", 10), ("2. Sampled against expected loss", 10), ("3. The quick sweep's records", 15),
        ("4. Fitting", 20), ("5. The two terms and the count baseline", 20), ("6. Compute-optimal", 15)]
OPTIONAL_PLAN = [("7. The walk's bias and the floor", 10), ("8. Parametrization: muP", 20),
                 ("9. Where exponents come from", 20)]
MEASURED = dict(
    conditions="nbclient on this project's 2-core x86 CPU, torch 2 threads, no other job running (load average "
               "at most 1.7 when a run started, from the previous run's tail); several runs each. The previous version of the lesson took 34-44 s (smoke) and "
               "116-117 s (default) in the same conditions",
    smoke=(25, 32), default=(72, 96), full=(956, 956))      # wall seconds, all parts

if os.environ.get("LESSON_THREADS"):  # one thread is immune to the stall a busy CPU causes in a kernel
    torch.set_num_threads(int(os.environ["LESSON_THREADS"]))
print(f"size {SIZE!r}, parts {PARTS!r}; torch {torch.__version__}, {torch.get_num_threads()} threads")
print("\nclass plan (minutes):")
for name, minutes in PLAN + (OPTIONAL_PLAN if OPTIONAL else []):
    print(f"  {name:<45} {minutes:>3}")
print(f"  {'core path':<45} {sum(m for _, m in PLAN):>3}")
print(f"\ncompute time per size, all parts, as measured ({MEASURED['conditions']}):")
for size in ("smoke", "default", "full"):
    lo, hi = MEASURED[size]
    print(f"  {size:<8} {lo:.0f} s" + (f" to {hi:.0f} s" if hi > lo else "") + f" ({hi / 60:.1f} min at most)")

# %% [markdown]
# ## The runs this class reads
#
# The class works on one dataset throughout: walks on the Erdős–Rényi graph of the quick preset
# (`sweep.QUICK_DATA`, printed below), whose sweep is in the repository as records
# (`docs/quick/runs.jsonl`: one JSON line per run, from `python sweep.py quick --out out/quick`). It has two
# halves: runs trained the usual way, on the sampled next token, over a grid of widths and token budgets
# (parts 3, 4 and 6), and runs trained on the true next-token distribution (`target` = `expected`, part 5).
# The two are never mixed. At `LESSON_SIZE=full` the lesson runs that sweep itself.

# %%
QUICK = os.environ.get("LESSON_QUICK") or os.path.join(ROOT, "docs", "quick", "runs.jsonl")
if S["quick_live"]:
    QUICK = os.path.join(WORK, "quick")
    print("python sweep.py quick --out $WORK/quick --jobs 2")
    sweep.main(["quick", "--out", QUICK, "--jobs", "2", "--device", "cpu"])
if not os.path.exists(QUICK):
    raise FileNotFoundError(f"{QUICK}: the quick sweep's records are missing; run `python sweep.py quick --out "
                            "out/quick` and set LESSON_QUICK=out/quick/runs.jsonl")
quick_all = [r for r in records.read_records([QUICK], quiet=True) if r["status"] == "ok"]
MAIN = [r for r in quick_all if records.target_of(r) == "sampled"]      # the L(N, D) grid
INF = [r for r in quick_all if records.target_of(r) == "expected"]      # L(N, D = infinity), part 5
print(f"quick preset, first half (sweep.QUICK_DATA): {json.dumps(sweep.QUICK_DATA)}")
print(f"quick preset, second half (sweep.QUICK_MODEL): {json.dumps(sweep.QUICK_MODEL)}")
print(f"records: {len(MAIN)} sampled-target runs and {len(INF)} expected-target runs")
check(len(MAIN) > 0, "the quick sweep has sampled-target records")

# The dataset itself, built from the preset's config exactly as train.py builds it: the graph, P, the eval walks.
QUICK_CFG = train.RunConfig(**{k: v for k, v in sweep.QUICK_DATA.items() if not isinstance(v, list)},
                            width=sweep.QUICK_DATA["width"][0], tokens=sweep.QUICK_DATA["tokens"][0])
DS = data.load_data(QUICK_CFG, "cpu")
G, FLOOR = DS.chain, DS.floor
check(all(abs(r["floor"] - FLOOR) < 1e-12 for r in MAIN),
      "every sampled-target record's floor is this eval set's floor (one dataset, one eval set)")
part_done("the runs")

# %% [markdown]
# ## 1. The floor
#
# An Erdős–Rényi graph G(n, m) has m edges drawn uniformly among the node pairs (`graphs.erdos_renyi`). The
# random walk on it moves from node i to a uniformly random neighbour: P_ij = A_ij / d_i, with d_i the
# degree. The walk is a Markov chain, so the best possible next-token predictor is P itself, and the lowest
# achievable loss (nats per token) is the chain's **entropy rate**
#
#   floor = Σᵢ πᵢ H(Pᵢ),  H(Pᵢ) = −Σⱼ Pᵢⱼ log Pᵢⱼ.
#
# For the walk on an undirected graph both pieces have closed forms. Row i is uniform over d_i neighbours,
# so H(Pᵢ) = log dᵢ; and πᵢ = dᵢ / 2E (2E = Σᵢ dᵢ) is stationary: (πP)_j = Σᵢ (dᵢ/2E)(A_ij/dᵢ) = d_j / 2E. So
#
#   floor = Σᵢ (dᵢ / 2E) log dᵢ,
#
# a little above log ⟨d⟩ (high-degree nodes are both visited more and harder to predict). Two more reference
# points: the **uniform guess** q = 1/V scores log V whatever the data, and the **unigram** guess (the token
# frequencies π, no context) scores H(π). `chain.Graph.loss_floor` computes the floor for any P; we check it
# against the formula.
#
# The floor in the records is the *eval set's* own: the mean of H(P[x]) over the inputs x of the fixed
# held-out walks (`walks.eval_floor`). It differs from the population floor by the eval set's sampling
# noise, and it is the exact minimum of the loss the records report, so excess = loss − floor is never
# negative.

# %%
deg = np.diff(G.P.indptr)                       # d_i: the stored entries of row i of P
two_E = deg.sum()
floor_by_hand = float(np.sum(deg / two_E * np.log(deg)))
pi = G.stationary()
unigram = float(-np.sum(pi * np.log(pi)))
print(f"ER graph: V = {G.V} nodes, {G.n_edges()} edges, mean degree {deg.mean():.2f}")
print(f"population floor (chain.Graph.loss_floor) = {G.loss_floor():.10f} nats;  Σ d/2E log d = {floor_by_hand:.10f}")
print(f"eval-set floor (walks.eval_floor, what the records use) = {FLOOR:.4f};  log <d> = {np.log(deg.mean()):.4f};  "
      f"unigram H(π) = {unigram:.4f};  uniform guess log V = {np.log(G.V):.4f}")
check(abs(G.loss_floor() - floor_by_hand) < 1e-9, "floor = Σᵢ (dᵢ/2E) log dᵢ to 1e-9")
check(np.abs(pi - deg / two_E).max() < 1e-12, "the stationary distribution is πᵢ = dᵢ/2E to 1e-12")
x_eval = DS.eval_tokens[:, :-1]
log_pi = torch.log(torch.tensor(pi)).expand(*x_eval.shape, G.V)
unigram_eval = float(walks.expected_loss(log_pi, x_eval, G))
check(abs(unigram_eval - unigram) < 0.01, f"the unigram guess scores H(π) on the eval set too ({unigram_eval:.4f}; within 0.01)")
check(FLOOR < unigram < np.log(G.V), "floor < unigram < uniform guess: context is worth something, and so are frequencies")

# The narrowest and the widest model of the quick sweep: final eval loss of the run at each token budget.
by_width = {}
for r in MAIN:
    by_width.setdefault(r["width"], []).append(r)
fig, (ax, bx) = plots.figure(1, 2, figsize=(12, 4.6))
for w, color in ((min(by_width), "C3"), (max(by_width), "C0")):
    rs = sorted(by_width[w], key=lambda r: r["tokens"])
    D_, L_ = np.array([r["tokens"] for r in rs]), np.array([r["loss"] for r in rs])
    ax.plot(D_, L_, "o-", color=color, label=f"width {w}")
    bx.plot(D_, L_ - FLOOR, "o-", color=color, label=f"width {w}")
ax.axhline(np.log(G.V), color="gray", ls=":", label="uniform guess (log V)")
ax.axhline(FLOOR, color="k", ls="--", label="floor (entropy rate)")
ax.set(xlabel="D (training tokens)", ylabel="eval loss (nats per token)", title="loss on a linear axis: all looks done")
log_axes(ax, y=False)
ax.legend(loc="center right")
bx.set(xlabel="D (training tokens)", ylabel="excess = loss − floor (nats)", title="excess on log axes: still falling")
log_axes(bx)
bx.legend()
show(fig, "1_floor_and_excess.png")
check(all(min(r["loss"] - FLOOR for r in rs) * 10 < max(r["loss"] - FLOOR for r in rs)
          for rs in (by_width[min(by_width)], by_width[max(by_width)])),
      "each of the two widths' excess falls by more than a decade over the budgets")
part_done("part 1")

# %% [markdown]
# What to read off: each point is one run, trained on D tokens. On the left, the runs look finished, pressed
# against the floor far below the uniform guess. On the right, the same losses minus the floor, on log
# axes: the excess is still falling, by more than a decade over the budgets, and the two widths differ by a
# factor. Every plot from here on shows the excess on log axes: that is where scaling laws live, and only a
# known floor makes it exact.
#
# **Exercise 1.** A d-regular graph has every dᵢ = d. What is its floor? Check your answer with
# `graphs.from_networkx(networkx.random_regular_graph(10, 250, seed=0)).loss_floor()`.

# %% [markdown]
# ## 2. Sampled against expected loss
#
# A model is scored on held-out walks. The usual score is the cross-entropy against the token that was
# actually sampled next, −log q(x_{t+1} | x_≤t). Because we know P, we can instead score against the whole
# true next-token distribution, −Σⱼ P[x_t, j] log q(j | x_≤t) (`walks.expected_loss`). Given the inputs, the
# sampled loss is an unbiased draw of the expected loss, so both have the **same mean**; the expected loss
# leaves out the noise of which neighbour the walk happened to take, so its **variance is lower**. And
# expected − floor is exactly the mean KL divergence from the truth to the model: never negative.
#
# We measure this on a model *learned* from data, next-token counts on a short training walk with add-one
# smoothing (a bigram model), scored on many independent eval sets (`walks.eval_set`), and on the truth
# itself (q = P), whose expected loss must average to the floor. On this walk the truth's two scores
# coincide exactly: every neighbour of x has probability 1/dₓ, so whichever one was sampled costs log dₓ.
# The noise the expected loss removes is the model's error, varying with the sampled token.
#
# The same choice exists for *training*: a model can be trained on the sampled next token (what every
# language model does) or on the true distribution. Part 5 uses that to pull the two terms of the loss apart.

# %%
train_walk = walks.sample_walks(G, 1, S["count_tokens"] + 1, seed=1)[0]
counts = np.ones((G.V, G.V))
np.add.at(counts, (train_walk[:-1], train_walk[1:]), 1)
log_q = torch.log(torch.as_tensor(counts / counts.sum(1, keepdims=True)))
with np.errstate(divide="ignore"):
    log_P = torch.as_tensor(np.log(G.P.toarray()))   # -inf off the graph: expected_loss reads only P's nonzeros

rows = []
for s in range(S["eval_sets"]):
    tokens = walks.eval_set(G, S["eval_walks"], 51, seed=100 + s)       # 51 tokens: 50 predictions per walk
    x, y = tokens[:, :-1], tokens[:, 1:]
    row = []
    for lq in (log_q, log_P):
        lp = lq[x]                                                        # (walks, 50, V) log-probabilities
        row += [float(walks.expected_loss(lp, x, G)), float(-lp.gather(-1, y[..., None]).mean())]
    rows.append(row)
exp_q, samp_q, exp_P, samp_P = np.array(rows).T
K = len(rows)
se = lambda v: v.std(ddof=1) / math.sqrt(len(v))
print(f"{K} eval sets of {S['eval_walks']} walks x 50 predictions; bigram counts from {S['count_tokens']:,} tokens")
print(f"bigram counts : expected {exp_q.mean():.4f} ± {se(exp_q):.4f} (sd {exp_q.std(ddof=1):.4f}) | "
      f"sampled {samp_q.mean():.4f} ± {se(samp_q):.4f} (sd {samp_q.std(ddof=1):.4f})")
print(f"truth q = P   : expected {exp_P.mean():.4f} ± {se(exp_P):.4f} | sampled {samp_P.mean():.4f} ± {se(samp_P):.4f}; "
      f"population floor {G.loss_floor():.4f}")
ratio = samp_q.var(ddof=1) / exp_q.var(ddof=1)
print(f"variance ratio sampled / expected (bigram model): {ratio:.1f}x")
diff = samp_q - exp_q                                                   # paired: same inputs, same eval set
z = diff.mean() / se(diff)
check(abs(z) < 4, f"sampled and expected loss agree in mean: difference {diff.mean():+.4f} = {z:+.2f} standard errors (|z| < 4)")
zP = (exp_P.mean() - G.loss_floor()) / se(exp_P)
check(abs(zP) < 4, f"the truth's expected loss averages to the floor: {zP:+.2f} standard errors (|z| < 4)")
check(ratio > 1.5, f"the expected loss has a lower variance than the sampled loss ({ratio:.1f}x lower > 1.5x)")
check(np.all(exp_q > exp_P), "every eval set: the model's expected loss is above the truth's (KL ≥ 0)")
check(np.abs(samp_P - exp_P).max() < 1e-9, "the truth's sampled and expected scores coincide on every eval set")

fig, ax = plots.figure(figsize=SLIDE)
bins = np.linspace(min(exp_q.min(), samp_q.min()), max(exp_q.max(), samp_q.max()), 30)
ax.hist(samp_q, bins=bins, alpha=0.6, label=f"sampled cross-entropy (sd {samp_q.std(ddof=1):.4f})")
ax.hist(exp_q, bins=bins, alpha=0.6, label=f"expected loss (sd {exp_q.std(ddof=1):.4f})")
ax.axvline(exp_q.mean(), color="k", lw=1.5, label="mean of either")
ax.set(xlabel="loss of the bigram-count model (nats per token)", ylabel="eval sets",
       title=f"{K} independent eval sets: same mean, less spread")
ax.legend()
show(fig, "2_expected_vs_sampled.png")
part_done("part 2")

# %% [markdown]
# The histogram: both scores centre on the same value, and the expected loss is the narrower of the two.
# This is why every record's `loss` is the expected loss (`loss_sampled` is stored beside it): on a fixed
# eval set it resolves smaller differences between runs.
#
# **Exercise 2.** What is the expected loss of the uniform guess q = 1/V, and its excess? What is the
# variance of its *sampled* loss across eval sets, and why? (The uniform guess is the top line of several
# plots below.)

# %% [markdown]
# ## 3. The quick sweep's records
#
# A scaling law needs a grid of runs. A sweep spec maps `train.py` flags to lists; `python sweep.py SPEC
# --out DIR` trains the grid (resumable, one record per run in `DIR/runs.jsonl`). The quick preset's first
# half is a grid of widths × token budgets, trained on sampled targets with μP (so one learning rate serves
# every width) and a warmup-stable-decay schedule (so a width's budgets share one training run and branch
# off it for their cooldowns). Each point below is one run's final excess.
#
# Model size N here is the **non-embedding** parameter count (the blocks plus the readout), as `fit.py
# --n-def non_embedding` counts it for docs/quick; part 4 shows what changes with the total count.

# %%
best = records.best_runs(MAIN, warn_edge=False)
widths = sorted({r["width"] for r in best})
budgets = sorted({r["tokens"] for r in best})
cell = {(r["width"], r["tokens"]): r for r in best}
excess_of = lambda w, d: cell[w, d]["loss"] - cell[w, d]["floor"]
N_of = {w: cell[w, budgets[0]]["params"]["non_embedding"] for w in widths}
print("excess (nats) by width (rows) and tokens (columns):")
print(f"{'width':>6} {'N':>8} " + " ".join(f"{d / 1e6:>7.2f}M" for d in budgets))
for w in widths:
    print(f"{w:>6} {N_of[w]:>8,} " + " ".join(f"{excess_of(w, d):>8.4f}" for d in budgets))
check(all(excess_of(w, a) > excess_of(w, b) for w in widths for a, b in zip(budgets, budgets[1:])),
      "at every width the excess falls with every increase of D")
widest = widths[-1]
at_max = {w: excess_of(w, budgets[-1]) for w in widths}
saturated = min(w for w in widths if at_max[w] <= 1.1 * at_max[widest])
print(f"at D = {budgets[-1]:,}: widths from {saturated} up are within 10% of width {widest}'s excess "
      f"({at_max[saturated]:.4f} against {at_max[widest]:.4f}); width {widths[0]}'s is {at_max[widths[0]] / at_max[widest]:.1f}x it")
check(saturated < widest, f"N saturates inside the grid: above width {saturated}, more width barely helps at the largest D")

fig, ax = plots.figure(figsize=SLIDE)
colors = plt.cm.viridis(np.linspace(0, 0.9, len(widths)))
for color, w in zip(colors, widths):
    ax.plot(budgets, [excess_of(w, d) for d in budgets], "o-", color=color, label=f"width {w} (N = {N_of[w]:,})")
ax.set(xlabel="D (training tokens)", ylabel="excess (nats)", title="excess falls with D at every width")
log_axes(ax)
ax.legend(ncol=2)
show(fig, "3_excess_vs_D.png")

fig, ax = plots.figure(figsize=SLIDE)
shown = budgets[::2] if budgets[-1] in budgets[::2] else budgets[::2] + [budgets[-1]]
colors = plt.cm.plasma(np.linspace(0, 0.85, len(shown)))
for color, d in zip(colors, shown):
    ax.plot([N_of[w] for w in widths], [excess_of(w, d) for w in widths], "s-", color=color, label=f"D = {plots.plain(d)}")
ax.axvline(N_of[saturated], color="gray", ls=":", label=f"width {saturated}")
ax.set(xlabel="N (non-embedding parameters)", ylabel="excess (nats)", title="at fixed D, width helps only up to a point")
log_axes(ax)
ax.legend(ncol=2)
show(fig, "3_excess_vs_N.png")
part_done("part 3")

# %% [markdown]
# What to read off. Excess against D: every width falls along a nearly straight line in log-log, close to a
# power law in D (exercise 3 looks closer). Excess against N: at every budget the lines rise steeply at
# the narrowest widths and go flat above the width the code marks; at these budgets, data, not model size,
# limits the wide models. This is a measurement of how the excess falls with D; whether N enters as a term
# of its own is what part 4 tests, and part 5 measures directly.
#
# **Exercise 3.** Fit a straight line to log excess against log D for the widest model: over all budgets,
# over the first three, over the last three. What slopes do you get? Keep them: parts 4 and 5 come back to
# them.

# %% [markdown]
# ## 4. Fitting
#
# The joint law of Hoffmann et al. (2022), **L(N, D) = E + A/N^α + B/D^β**, is fitted the Chinchilla way
# (`lawfit`: Huber loss on log L summed over runs, L-BFGS from a grid of starts, bootstrap intervals). On
# walks the irreducible term E is *known*: it is the floor. So we can fix E to the floor or fit it, and see
# what fitting it costs. The bootstrap resamples what is independent: a width's budgets branch from one
# training run, so a resample draws whole widths (`records.resampling_units`), not runs.
#
# First, planted data: losses drawn from a known law with small multiplicative noise on a grid. A fitting
# procedure that cannot recover a planted law has nothing to say about a real one.

# %%
PLANTED = dict(E=2.35, A=60.0, B=400.0, alpha=0.35, beta=0.45)
rng = np.random.default_rng(0)
Ng, Dg = np.meshgrid(np.geomspace(2e4, 2e6, 6), np.geomspace(1e5, 1e7, 6))
Np, Dp = Ng.ravel(), Dg.ravel()
Lp = lawfit.chinchilla_loss(Np, Dp, **PLANTED) * np.exp(0.01 * rng.standard_normal(Np.size))
print(f"planted: {json.dumps(PLANTED)}, {Np.size} points, 1% noise")


def fit_with_ci(spec, L, units=None):
    """A law fitted to L with its bootstrap (S['n_boot'] resamples of units)."""
    law = lawfit.fit_law(spec, L)
    boot = lawfit.bootstrap_law(spec, L, law, n_boot=S["n_boot"], quiet=True, units=units)
    return law, boot


def with_ci(law, boot, k, digits=3):
    lo, hi = boot["ci"][k]
    return f"{k} = {law[k]:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


planted_fixed, boot_fixed = fit_with_ci(lawfit.joint_spec(Np, Dp, np.full(Np.size, PLANTED["E"])), Lp)
planted_free, boot_free = fit_with_ci(lawfit.joint_spec(Np, Dp, None), Lp)
print("E fixed to the truth: " + ", ".join(with_ci(planted_fixed, boot_fixed, k) for k in ("alpha", "beta")))
print("E fitted            : " + ", ".join(with_ci(planted_free, boot_free, k) for k in ("E", "alpha", "beta")))
check(abs(planted_fixed["alpha"] - PLANTED["alpha"]) < 0.03 and abs(planted_fixed["beta"] - PLANTED["beta"]) < 0.03,
      f"with E fixed, the planted exponents are recovered within 0.03 (got {planted_fixed['alpha']:.3f}, {planted_fixed['beta']:.3f})")
reach_planted = float(np.mean(boot_free["samples"]["E"] <= PLANTED["E"]))
print(f"E fitted misses the planted E by {planted_free['E'] - PLANTED['E']:+.3f} nats; "
      f"{100 * reach_planted:.1f}% of the {S['n_boot']} resamples reach it")
check(planted_free["E"] - PLANTED["E"] > 0.05 and reach_planted < 0.1,
      "with E fitted, the estimate misses the planted E and the truth sits in the tail of its bootstrap (< 10% of resamples)")

# %% [markdown]
# Now the quick sweep. `fit.analyse` does every fit at once on the best learning rate of each (N, D): the
# joint law, the **separable** law L = E + (B + A/N^α)/D^β (model size sets how fast the data term falls,
# instead of adding a term of its own), the compute-optimal curves of part 6 and a sensitivity table. We
# fix E to the floor, then fit the joint law once more with E free, on both parameter counts.

# %%
runs = records.runs_from_records(best, "non_embedding")
runs_total = records.runs_from_records(best, "total")
print(f"fitting {len(runs['L'])} points of the quick sweep (N = non-embedding), floor {FLOOR:.4f}; "
      f"bootstrap: {S['n_boot']} resamples of {len(set(runs['unit']))} units ({runs['unit_kind']})")
res = fit.analyse(runs, E=runs["floor"], n_boot=S["n_boot"], nn_boot=S["nn_boot"], quiet=True)
j, sep = res["joint"], res["separable"]
print(f"{'law, E = floor':<34} {'alpha [95%]':>24} {'beta [95%]':>24} {'rms log L':>10}")
for name, law in (("joint  E + A/N^α + B/D^β", j), ("separable  E + (B + A/N^α)/D^β", sep)):
    print(f"{name:<34} " + " ".join(f"{law[k]:>7.3f} [{law['ci'][k][0]:.3f}, {law['ci'][k][1]:.3f}]".rjust(24)
                                    for k in ("alpha", "beta")) + f" {law['rms']:>10.4f}")
ev = sep["evidence"]
print(f"evidence: {ev['favoured']} law, ΔBIC(separable − joint) = {ev['delta_bic']:.1f} ({ev['strength']})")
check(ev["favoured"] == "separable" and sep["rms"] < j["rms"] / 2,
      f"the separable law fits the quick sweep better than the joint law (rms {sep['rms']:.4f} against {j['rms']:.4f})")
check(0.8 < sep["beta"] < 1.2, f"the separable β is near 1 ({sep['beta']:.3f}): the excess falls about as 1/D")
check(sep["ci"]["alpha"][1] / sep["ci"]["alpha"][0] > 3 > sep["ci"]["beta"][1] / sep["ci"]["beta"][0],
      "α's interval spans a factor above 3, β's less: the grid measures β, not α")

fig, ax = plots.figure(figsize=SLIDE)
Dline = np.geomspace(budgets[0], budgets[-1], 60)
for color, w in zip(("C3", "C2", "C0"), (widths[0], widths[1], widths[-1])):
    N = N_of[w]
    ax.plot(budgets, [excess_of(w, d) for d in budgets], "o", color=color, label=f"width {w}: runs")
    ax.plot(Dline, j["A"] / N ** j["alpha"] + j["B"] / Dline ** j["beta"], "--", color=color, lw=1.5)
    ax.plot(Dline, (sep["B"] + sep["A"] / N ** sep["alpha"]) / Dline ** sep["beta"], "-", color=color, lw=1.5)
ax.plot([], [], "k--", lw=1.5, label="joint law (E = floor)")
ax.plot([], [], "k-", lw=1.5, label="separable law (E = floor)")
ax.set(xlabel="D (training tokens)", ylabel="excess (nats)", title="the separable law follows the runs; the joint law cannot")
log_axes(ax)
ax.legend(ncol=2)
show(fig, "4_joint_vs_separable.png")

# E fitted, on both parameter counts; and the exponents with E fixed on the total count.
free = {}
for n_def, r_ in (("non_embedding", runs), ("total", runs_total)):
    law, boot = fit_with_ci(lawfit.joint_spec(r_["N"], r_["D"], None), r_["L"], r_["unit"])
    free[n_def] = (law, boot, float(np.mean(boot["samples"]["E"] <= FLOOR)))
    print(f"E fitted, N = {n_def:<13}: {with_ci(law, boot, 'E', 4)} (floor {FLOOR:.4f}, off by {law['E'] - FLOOR:+.4f}; "
          f"{100 * free[n_def][2]:.1f}% of resamples reach it), α = {law['alpha']:.3f}, β = {law['beta']:.3f}")
law_t, _, reach_t = free["total"]
best_excess = min(r["loss"] - r["floor"] for r in best)
check(law_t["E"] > FLOOR and reach_t < 0.1,
      f"on total N, the fitted E lies above the known floor (by {law_t['E'] - FLOOR:.4f} nats, "
      f"{100 * (law_t['E'] - FLOOR) / best_excess:.0f}% of the best run's excess) and the floor sits in the tail of its bootstrap")
law_n, boot_n, _ = free["non_embedding"]
if law_n["E"] < FLOOR - 0.5:
    print(f"on non-embedding N the optimum is degenerate: E = {law_n['E']:.3f}, far below the floor, with α = "
          f"{law_n['alpha']:.3f}: the N term has flattened into a constant that stands in for E")
spread = float(np.ptp(boot_n["samples"]["E"]))
print(f"non-embedding N: the {S['n_boot']} bootstrap fits of E span {spread:.3f} nats")

fig, axes = plots.figure(1, 2, figsize=(12, 4.2))
for ax, (title, samples, truth, label) in zip(axes, (
        ("planted data", boot_free["samples"]["E"], PLANTED["E"], "planted E"),
        ("quick sweep, N = total", free["total"][1]["samples"]["E"], FLOOR, "known floor"))):
    lo = min(truth, np.percentile(samples, 5))
    lo -= 0.1 * (samples.max() - lo)                      # a few resamples collapse far below: counted, not drawn
    far = int(np.sum(samples < lo))
    ax.hist(samples[samples >= lo], bins=30, color="C0", alpha=0.7, label="bootstrap fits of E")
    ax.axvline(truth, color="k", ls="--", lw=2, label=label)
    if far:
        ax.plot([], [], " ", label=f"{far} resample(s) further below, not drawn")
    ax.set_ylim(top=1.5 * ax.get_ylim()[1])               # room for the legend above the bars
    ax.set(xlabel="fitted E (nats)", ylabel="resamples", title=f"{title}: the truth sits in the tail")
    ax.legend()
show(fig, "4_fitted_E.png")

# Total against non-embedding N: the same runs, a different x axis.
law_tot = lawfit.fit_law(lawfit.joint_spec(runs_total["N"], runs_total["D"], runs_total["floor"]), runs_total["L"])
print(f"\n{'width':>6} {'N non-emb':>10} {'N total':>9} {'embedding share':>16}")
for w in widths:
    p = cell[w, budgets[0]]["params"]
    print(f"{w:>6} {p['non_embedding']:>10,} {p['total']:>9,} {p['embedding'] / p['total']:>16.2f}")
s_slope = np.polyfit(np.log([N_of[w] for w in widths]), np.log([cell[w, budgets[0]]["params"]["total"] for w in widths]), 1)[0]
print(f"joint α (E = floor): {j['alpha']:.3f} on non-embedding N, {law_tot['alpha']:.3f} on total N (ratio "
      f"{law_tot['alpha'] / j['alpha']:.3f}); log N_total grows {s_slope:.3f}x as fast as log N_non-emb, so the same "
      f"losses give α_total ≈ α_non-emb / {s_slope:.3f} = {j['alpha'] / s_slope:.3f}")
check(abs(law_tot["alpha"] / j["alpha"] * s_slope - 1) < 0.1,
      "the ratio of the two α's is the ratio of the two counts' log ranges, within 10%")
part_done("part 4")

# %% [markdown]
# What to read off:
#
# - *Planted data*: with E fixed at its true value the exponents come back within a few hundredths. With E
#   fitted, the estimate of E misses the truth, and the bootstrap interval barely reaches it: the bootstrap
#   measures how much the estimate scatters, not how far it is from the truth. E and the power-law terms
#   trade off (a higher E with larger exponents fits almost as well), and the noise picks one.
# - *Joint against separable*: on the quick sweep the joint law cannot bend the way the runs do (its dashed
#   lines flatten to A/N^α, a floor per width that the runs never show), while the separable law follows
#   them. BIC says the same. The separable β is near one: part 5 says why. Its α has a wide interval: the
#   grid does not measure it.
# - *E fitted on real runs*: on total N the fit puts E above the floor we know, by a sizeable fraction of
#   the best run's excess, with the floor in the tail of the bootstrap. On non-embedding N, read the printed
#   fit and the spread of its bootstrap: the same runs on another axis can send E somewhere else entirely
#   (a power law with a tiny exponent is nearly a constant, and can stand in for E). A fitted E is not a
#   measurement of the irreducible loss, and an extrapolation built on it inherits the error.
# - *Total against non-embedding N*: the embedding tables grow as V·width while the blocks grow as width², so
#   the embedding share falls with width, the total count spans fewer decades than the non-embedding count
#   over the same widths, and the same losses give a larger α. An exponent quoted without its N is not a
#   measurement.
#
# **Exercise 4.** Fit the planted data with E = 0 (pure power laws: `lawfit.joint_spec(Np, Dp, 0.0)`). What
# happens to α and β, and why? This is the bias of fitting a power law to a loss that has a floor.

# %% [markdown]
# ## 5. The two terms apart, and the count baseline
#
# On natural text a model's excess mixes two terms no fit can separate cleanly: what finite **data** costs
# and what a finite **model** costs. Here the truth is known, so a model can be trained on the expected loss
# itself (`RunConfig(target="expected")`: the cross-entropy against P's row at every prediction). Its gradient
# is the mean of the sampled-token gradients, without their noise: the *label noise* is gone, and what
# remains at the end of training is the model-size term, L(N, D = ∞) − E.
#
# We train the same width both ways, on the same tokens, as a sweep (`sweep.main([spec, "--out", dir])` is
# `python sweep.py SPEC --out DIR`), and a width below the threshold the graph needs both ways, as single
# runs (`train.train(RunConfig(...))`). Standard parametrization, no weight decay, one learning rate.

# %%
TT = dict(nodes=QUICK_CFG.nodes, edges=QUICK_CFG.edges, param="sp", lr=0.02, weight_decay=0, **S["two_terms"])
WIDE, NARROW = 32, 8
spec = dict(TT, width=WIDE, target=["sampled", "expected"])
spec_path, sweep_dir = os.path.join(WORK, "two_terms.json"), os.path.join(WORK, "two_terms")
with open(spec_path, "w") as f:
    json.dump(spec, f)
print(f"python sweep.py two_terms.json --out $WORK/two_terms   # two_terms.json: {json.dumps(spec)}")



sweep_with_eta([spec_path, "--out", sweep_dir, "--device", "cpu"])
live = {(r["width"], records.target_of(r)): r for r in records.read_records([sweep_dir], quiet=True) if r["status"] == "ok"}
for target in ("sampled", "expected"):
    cfg = train.RunConfig(**TT, width=NARROW, head_dim=4, target=target)
    live[NARROW, target] = train.train(cfg, device="cpu", log=train.quiet)
print(f"\n{'width':>6} {'target':>9} {'excess (nats)':>14}   ({TT['tokens']:,} tokens each)")
for (w, target), r in sorted(live.items(), key=lambda kv: (-kv[0][0], kv[0][1])):
    print(f"{w:>6} {target:>9} {r['excess']:>14.4f}")
ex = {k: r["excess"] for k, r in live.items()}
check(ex[WIDE, "expected"] < ex[WIDE, "sampled"] / 3,
      f"width {WIDE}: the expected target ends far below the sampled one at equal tokens "
      f"({ex[WIDE, 'expected']:.4f} against {ex[WIDE, 'sampled']:.4f}, {ex[WIDE, 'sampled'] / ex[WIDE, 'expected']:.0f}x)")
check(ex[NARROW, "expected"] > 0.5 and ex[NARROW, "expected"] > 10 * ex[WIDE, "expected"],
      f"width {NARROW}: even the expected target stays far above the floor ({ex[NARROW, 'expected']:.3f} nats)")
check(ex[NARROW, "sampled"] < 0.8 * (math.log(G.V) - FLOOR),
      f"width {NARROW} still beats the uniform guess (excess {math.log(G.V) - FLOOR:.3f}) clearly")
check(ex[NARROW, "sampled"] / ex[NARROW, "expected"] < 1.3 < ex[WIDE, "sampled"] / ex[WIDE, "expected"],
      f"the target matters little at width {NARROW} (ratio {ex[NARROW, 'sampled'] / ex[NARROW, 'expected']:.2f}) "
      f"and decides the excess at width {WIDE}")

fig, ax = plots.figure(figsize=SLIDE)
style = {(WIDE, "sampled"): ("C0", "--"), (WIDE, "expected"): ("C0", "-"), (NARROW, "sampled"): ("C3", "--"),
         (NARROW, "expected"): ("C3", "-")}
for key, (color, ls) in style.items():
    t, l = np.array(live[key]["curve"]).T
    ax.plot(t, l - live[key]["floor"], ls, color=color, label=f"width {key[0]}, {key[1]} target")
ax.axhline(np.log(G.V) - live[WIDE, "sampled"]["floor"], color="gray", ls=":", label="uniform guess (log V)")
ax.set(xlabel="tokens trained", ylabel="excess (nats)", title="same tokens: the target decides the wide model's excess")
log_axes(ax)
ax.legend()
show(fig, "5_two_targets.png")

# %% [markdown]
# At the wide width, the expected target ends far below the sampled one on the same tokens: what the
# sampled run leaves is label noise, the data term. At the narrow width both targets stall at nearly the
# same height, far above the floor and well below the uniform guess: that is the model-size term, and no
# amount of data removes it.
#
# The quick preset's second half measures the model-size term at several widths (expected target, long runs).
# Beside it, the first half's sampled-target runs at their largest budget: both terms together.

# %%
inf = sorted(INF, key=lambda r: r["width"])
if len(inf) >= 3:
    wi = np.array([r["width"] for r in inf])
    Ni = np.array([r["params"]["non_embedding"] for r in inf], float)
    ei = np.array([r["loss"] - r["floor"] for r in inf])
    print(f"model-size term L(N, D = ∞) − E, expected target, {inf[0]['tokens']:,} tokens each:")
    for w_, n_, e_ in zip(wi, Ni, ei):
        print(f"  width {w_:>3} (N = {int(n_):>6,}): {e_:.4f} nats")
    slopes = np.diff(np.log(ei)) / np.diff(np.log(Ni))
    k = int(np.argmax(-np.diff(np.log(ei))))
    print("local slopes d log(excess) / d log N between neighbouring widths: " + ", ".join(f"{s:.2f}" for s in slopes))
    print(f"the largest drop: from width {wi[k]} to {wi[k + 1]}, a factor {ei[k] / ei[k + 1]:.0f}")
    check(np.abs(slopes).max() / np.abs(slopes).min() > 5,
          "the local slopes differ by more than a factor 5: not one power law (a power law has one slope)")
    check(ei[k] / ei[k + 1] > 10 and ei[:k + 1].min() > 0.1 and ei[k + 1:].max() < 0.02,
          f"a threshold: above {0.1} nats below width {wi[k + 1]}, below {0.02} from it on")
    fig, ax = plots.figure(figsize=SLIDE)
    ax.plot(wi, ei, "o-", color="C1", label="expected target: model-size term")
    ws = [w for w in widths if w <= max(wi) * 2]
    ax.plot(ws, [at_max[w] for w in ws], "s--", color="C0", label=f"sampled target at D = {plots.plain(budgets[-1])}: both terms")
    ax.plot([WIDE, NARROW], [ex[WIDE, "expected"], ex[NARROW, "expected"]], "*", ms=14, color="k",
            label=f"this lesson's expected-target runs ({plots.plain(TT['tokens'])} tokens)")
    ax.axhline(np.log(G.V) - FLOOR, color="gray", ls=":", label="uniform guess (log V)")
    ax.axvspan(wi[k], wi[k + 1], color="C1", alpha=0.12, label="the threshold")
    ax.set(xlabel="width", ylabel="excess (nats)", title="the model-size term is a cliff, not a power law")
    log_axes(ax, xticks=sorted(set(wi) | set(ws)))
    ax.legend(fontsize=9, loc="lower left")
    show(fig, "5_two_terms.png")
else:
    print(f"{QUICK} holds no expected-target records: run `python sweep.py quick` (both halves) to see L(N, D = ∞)")

# %% [markdown]
# The model-size term falls off a cliff between two neighbouring widths and is tiny above it; a power law
# would fall by the same factor for every doubling of N. Above the cliff, everything the sampled-target runs
# leave is the data term. So on this graph, at these sizes, the "A/N^α" of the joint law is not there to be
# measured: that is why the joint law misfit in part 4, and why an α fitted on the first half measures how
# fast widths learn, not what they can represent.
#
# Where is the cliff? The same expected-target measurement on other graphs is in the repository
# (`docs/infinite/`, from `sh docs/infinite/run.sh`): sparser and denser ER graphs on the same nodes, and
# a graph with more nodes at the same mean degree.

# %%
INFINITE = [("er250_d5", "ER 250 nodes, 625 edges"), ("er250_d10", "ER 250 nodes, 1250 edges"),
            ("er250_d20", "ER 250 nodes, 2500 edges"), ("er1000_d10", "ER 1000 nodes, 5000 edges")]
cliffs = {}
for name, label in INFINITE:
    path = os.path.join(ROOT, "docs", "infinite", name, "runs.jsonl")
    if not os.path.exists(path):
        continue
    rs = sorted((r for r in records.read_records([path], quiet=True) if r["status"] == "ok"
                 and records.target_of(r) == "expected"), key=lambda r: r["width"])
    w_, e_ = [r["width"] for r in rs], np.array([r["loss"] - r["floor"] for r in rs])
    k_ = int(np.argmax(-np.diff(np.log(e_))))
    cfg_ = rs[0]["config"]
    cliffs[name] = dict(label=label, degree=2 * cfg_["edges"] / cfg_["nodes"], nodes=cfg_["nodes"], widths=w_,
                        excess=e_, below=w_[k_], above=w_[k_ + 1], k=k_)
    print(f"{label} (mean degree {cliffs[name]['degree']:.0f}): " + ", ".join(f"w{w} {e:.4f}" for w, e in zip(w_, e_)) +
          f"  -> the cliff lies between widths {w_[k_]} and {w_[k_ + 1]}")
if len(cliffs) == len(INFINITE):
    c = cliffs
    check(all(v["excess"][:v["k"] + 1].min() > 0.2 and v["excess"][v["k"] + 1:].max() < 0.02 for v in c.values()),
          "on every graph: above 0.2 nats below the cliff, below 0.02 above it")
    check(c["er250_d5"]["above"] <= c["er250_d10"]["above"] < c["er250_d20"]["above"],
          "on 250 nodes, the cliff moves to larger widths as the mean degree grows")
    check(c["er250_d10"]["above"] < c["er1000_d10"]["above"], "at mean degree 10, it moves to larger widths with more nodes")
    fig, ax = plots.figure(figsize=SLIDE)
    for color, v in zip(("C2", "C1", "C3", "C4"), c.values()):
        ax.plot(v["widths"], v["excess"], "o-", color=color, label=v["label"])
    ax.set(xlabel="width", ylabel="model-size term (excess, nats)", title="the cliff moves with the mean degree and the nodes")
    log_axes(ax, xticks=sorted({w for v in c.values() for w in v["widths"]}))
    ax.legend()
    show(fig, "5_cliffs.png")
else:
    print("docs/infinite is not in this checkout: `sh docs/infinite/run.sh` measures it")

# %% [markdown]
# **The count baseline.** What does the data term cost at best? Estimate P from the transitions seen in D
# tokens (add-k counts, k chosen by leave-one-out on the training data: `chain.count_curve`, on the sweep's
# own training walks). For one row with d outcomes seen n times, the KL of the count estimate is about
# (d − 1)/(2n); the walk visits row i about πᵢD times, so summed over rows the excess is about
#
#   excess(D) ≈ Σᵢ πᵢ (dᵢ − 1) / (2πᵢD) = (nnz(P) − V) / (2D):
#
# the number of free parameters of P over 2D. That is the parametric rate, β = 1.

# %%
grid = sorted({int(d) for d in np.geomspace(1000, budgets[-1], 30)} | set(budgets))
stream = walks.fresh_batches(G, QUICK_CFG.batch_size, QUICK_CFG.block_size + 1, QUICK_CFG.seed, "cpu", QUICK_CFG.start)
curve = chain.count_curve(G, grid, stream, DS.eval_tokens)
count_D = np.array([c[0] for c in curve], float)
count_ex = np.array([c[2] for c in curve]) - FLOOR
free_params = G.P.nnz - G.V
formula = free_params / (2 * count_D)
at = {D: count_ex[grid.index(D)] for D in budgets}
best_T = {D: min(excess_of(w, D) for w in widths) for D in budgets}
slope = np.polyfit(np.log([D for D in budgets]), np.log([at[D] for D in budgets]), 1)[0]
print(f"P has {G.P.nnz:,} nonzeros in {G.V} rows: {free_params:,} free parameters")
print(f"{'D':>10} {'counts':>9} {'(nnz-V)/2D':>11} {'best model':>11} {'tokens the counts need':>23}")
fewer = []
for D in budgets:
    need = math.exp(np.interp(-math.log(best_T[D]), -np.log(count_ex), np.log(count_D)))  # count_ex falls with D
    fewer.append(D / need if count_ex[0] > best_T[D] else math.nan)                      # inside the curve only
    print(f"{D:>10,} {at[D]:>9.5f} {free_params / (2 * D):>11.5f} {best_T[D]:>11.4f} {need:>14,.0f} ({fewer[-1]:.0f}x fewer)")
print(f"count baseline: log-log slope {slope:.3f} over the sweep's budgets")
check(abs(slope + 1) < 0.1, f"the count baseline falls as 1/D (slope {slope:.3f}, within 0.1 of −1)")
check(all(abs(at[D] / (free_params / (2 * D)) - 1) < 0.1 for D in budgets[-3:]),
      "at the largest budgets the count baseline is (nnz − V)/2D within 10%")
check(all(at[D] < best_T[D] for D in budgets), "the count baseline is below the best transformer at every budget")
check(np.isfinite(fewer).all() and fewer[-1] > fewer[0],
      f"the models need more tokens than the counts for the same excess, {fewer[0]:.0f}x at the smallest budget, "
      f"{fewer[-1]:.0f}x at the largest: the gap grows with D")

fig, ax = plots.figure(figsize=SLIDE)
ax.plot(budgets, [best_T[D] for D in budgets], "o-", color="C0", label="best transformer of the sweep (sampled target)")
ax.plot(count_D, count_ex, "-", color="C2", label="count baseline (add-k, leave-one-out)")
ax.plot(count_D, formula, ":", color="k", label="(nnz(P) − V) / 2D")
ax.set(xlabel="D (training tokens)", ylabel="excess (nats)", title="the count baseline: 1/D, below every model")
log_axes(ax)
ax.legend()
show(fig, "5_count_baseline.png")
part_done("part 5")

# %% [markdown]
# What to read off: the count baseline is the parametric rate, 1/D with the constant the formula gives.
# The transformers' excess falls about as fast over the smallest budgets (exercise 3) and more slowly over
# the largest, so they need many times the counts' tokens for the same excess, and the factor grows with D.
# Their β near one (part 4) is this rate, not a property of language or of networks: a power law in D with
# β near one is what any learner estimating a fixed, finite table of probabilities shows.
#
# **Exercise 5.** Predict the count baseline's excess at D = 1M tokens on a denser graph, ER with 250 nodes
# and 2500 edges, from (nnz − V)/2D; then measure it with `chain.count_curve`.

# %% [markdown]
# ## 6. Compute-optimal allocation
#
# With C ≈ 6ND FLOPs, which (N, D) gives the lowest loss for a budget C? The answer is a pair of power laws
# N*(C) ∝ C^a, D*(C) ∝ C^b, estimated four ways (`fit.analyse`'s `compute_optimal`): Approach 1, the lower
# envelope of the training curves; Approach 2, a parabola in log N through each IsoFLOP profile; Approach 3,
# the closed form of the fitted joint law, a = β/(α+β); and the minimum of a small neural-network
# interpolation of L(N, D) along iso-FLOP lines (Barkeshli et al.).
#
# Then planted data, where the true a is known (`compute_optimal.simulate`, as `python fit.py --simulate`),
# and Approach 2's bias (`compute_optimal.isoflop_bias`): the true IsoFLOP profile is not a parabola in
# log N, so the parabola's minimum drifts as the window of N per budget widens.

# %%
co = res["compute_optimal"]
for name, c in co.items():
    print(f"quick sweep, {name:<13}: " + (f"skipped: {c['skipped']}" if "skipped" in c else
                                         f"a = {c['a'] + 0:.3f} [{c['ci']['a'][0]:.3f}, {c['ci']['a'][1]:.3f}]".replace("-0.000", "0.000")))
direct = [co[k]["a"] for k in ("approach1", "approach2", "interpolation") if "skipped" not in co[k]]
check(len(direct) >= 2 and max(direct) < 0.2 < co["approach3"]["a"],
      "the methods that read the runs put almost all extra compute into data (a < 0.2); Approach 3, from the "
      "misfitting joint law, does not")

sim = compute_optimal.simulate(per_budget=S["sim_per_budget"], width=1.5, noise=0.01, seed=1)
truth = dict(lawfit.CHINCHILLA)
_, _, truth["a"], truth["b"], truth["G"] = compute_optimal.compute_optimal_closed_form(
    truth["A"], truth["B"], truth["alpha"], truth["beta"], 1.0)
res_sim = fit.analyse(sim, E=None, n_boot=S["n_boot"], nn_boot=S["nn_boot"], quiet=True)
print(f"\nplanted (Hoffmann et al.'s law, {sim['source']}): true a = {truth['a']:.4f}")
for name, c in res_sim["compute_optimal"].items():
    print(f"  {name:<13}: " + (f"skipped: {c['skipped']}" if "skipped" in c else f"a = {c['a']:.4f}  (error {c['a'] - truth['a']:+.4f})"))
co_sim = res_sim["compute_optimal"]
check(abs(co_sim["approach3"]["a"] - truth["a"]) < 0.02, f"Approach 3 recovers the planted a = {truth['a']:.4f} within 0.02")
check(abs(co_sim["approach2"]["a"] - truth["a"]) < 0.03, "Approach 2 recovers the planted a within 0.03 (windows centred on N*)")
check(all(abs(c["a"] - truth["a"]) < 0.03 for c in co_sim.values() if "skipped" not in c),
      "every method that runs recovers the planted a within 0.03")

bias = compute_optimal.isoflop_bias(widths=(0.5, 1, 1.5, 2, 3, 4))
print("\nApproach 2 on noise-free planted designs, as the N window per budget widens:")
print(f"{'decades':>8} {'N*(fit)/N*(true), centred':>26} {'a, centred':>11} {'N* ratio, guessed':>18} {'a, guessed':>11}")
for b in bias:
    print(f"{b['width']:>8} {b['N_ratio_centred']:>26.4f} {b['a_centred']:>11.4f} {b['N_ratio_guessed']:>18.4f} {b['a_guessed']:>11.4f}")
check(abs(bias[0]["N_ratio_centred"] - 1) < abs(bias[-1]["N_ratio_centred"] - 1),
      f"Approach 2's bias in N* grows with the window (N* off by {100 * (bias[-1]['N_ratio_centred'] - 1):+.0f}% at "
      f"{bias[-1]['width']} decades)")
check(abs(bias[-1]["a_centred"] - truth["a"]) < 1e-3, "with windows centred on the true N*, Approach 2's a stays exact")
check(abs(bias[-1]["a_guessed"] - truth["a"]) > abs(bias[0]["a_guessed"] - truth["a"]),
      "with windows centred on a wrong guess, Approach 2's a drifts as the windows widen")
fig, (ax, bx) = plots.figure(1, 2, figsize=(12, 4.4))
w_ = [b["width"] for b in bias]
for key, marker, label in (("centred", "o-", "windows centred on the true N*"), ("guessed", "s--", "windows centred on N ∝ C^0.6")):
    ax.plot(w_, [b[f"N_ratio_{key}"] for b in bias], marker, label=label)
    bx.plot(w_, [b[f"a_{key}"] for b in bias], marker, label=label)
ax.axhline(1, color="k", lw=1)
bx.axhline(truth["a"], color="k", lw=1, label="true a")
ax.set(xlabel="decades of N per IsoFLOP budget", ylabel="N*(parabola) / N*(true)", title="Approach 2: N* drifts up ...")
bx.set(xlabel="decades of N per IsoFLOP budget", ylabel="fitted exponent a", title="... and a drifts when off-centre")
ax.legend()
bx.legend()
show(fig, "6_isoflop_bias.png")
part_done("part 6")
print(f"[time] core path: {MARKS[-1][1] - T_START:.0f} s")

# %% [markdown]
# What to read off. On the quick sweep, the methods that read the runs directly give an a close to zero:
# more compute should go almost entirely into data, because above a modest width more width does not help
# (part 3) while more data always does. Approach 3 disagrees because it inherits the joint law, which part 4
# showed does not fit. On planted data all four methods agree with the truth. Approach 2's parabola is
# biased once the window of N per budget is wide: with windows centred on the true N*, every budget shifts by
# the same factor and a stays exact; with windows centred on a wrong guess, the shift changes with C and
# a drifts.
#
# **Exercise 6.** Under the separable law L = E + (B + A/N^α)/D^β, minimise L at fixed C = 6ND. Show that
# N* does not depend on C when α > β (so a = 0), compute it from part 4's separable fit, and compare it with
# the quick sweep's widths.
#
# *This is the end of the core path.* The optional parts follow; `LESSON_PARTS=core` skips them.

# %% [markdown]
# ## 7. Optional: the walk's bias and the floor
#
# The **κ-biased walk** ranks each node's neighbours in a random order r = 1..k and moves to the r-th with
# probability ∝ r^−κ: κ = 0 is the unbiased walk, κ = 1 gives Zipf-like transitions. A larger κ makes each
# step more predictable, so the floor falls, and P's rows are no longer uniform: the formula of part 1 no
# longer applies, but `chain.Graph.loss_floor` does.

# %%
if OPTIONAL:
    floors = []
    for kappa in S["kappas"]:
        Gk = graphs.erdos_renyi(QUICK_CFG.nodes, QUICK_CFG.edges, kappa=kappa, seed=QUICK_CFG.graph_seed)
        pk = Gk.stationary()
        check(np.abs(pk @ Gk.P - pk).max() < 1e-12, f"κ = {kappa}: πP = π to 1e-12")
        floors.append(Gk.loss_floor())
        print(f"  κ = {kappa:<4}: floor {floors[-1]:.4f} nats")
    check(all(a > b for a, b in zip(floors, floors[1:])), "the floor falls with every increase of κ")
    fig, ax = plots.figure(figsize=SLIDE)
    ax.plot(S["kappas"], floors, "o-", label="floor = entropy rate (chain.py)")
    ax.axhline(np.log(deg.mean()), color="gray", ls=":", label="log ⟨d⟩")
    ax.set(xlabel="κ (the walk moves to its r-th neighbour ∝ r^−κ)", ylabel="floor (nats per token)",
           title="a more biased walk is easier to predict")
    ax.grid(True, alpha=0.3)
    ax.legend()
    show(fig, "7_floor_vs_kappa.png")
    part_done("part 7")

# %% [markdown]
# **Exercise 7.** Barabási–Albert graphs (`graphs.barabasi_albert(250, 5)`) have hubs. Is their floor further
# above log⟨d⟩ than ER's at the same mean degree? Use the formula of part 1 to say why before you compute it.

# %% [markdown]
# ## 8. Optional: parametrization, μP
#
# A sweep over width needs a learning rate that transfers from width to width. In standard parametrization
# (SP: every matrix initialised alike, one learning rate) the effect of each Adam update on the activations
# grows with width, so the best learning rate shrinks as the model widens. μP (Yang et al. 2022, `mup.py`)
# rescales the hidden matrices' init and learning rate and the readout by m = width / base width, so that
# activations and their updates stay of order one at every width; the quick preset relies on it.
#
# The **coordinate check** (`mup_experiments.gpt_coord_check`) trains a few steps on one batch at several
# widths and records the mean |activation| of every module: flat in width under μP, growing under SP (the
# `mup` package's criterion: every ratio between widths four times apart within a factor `mup_experiments.
# COORD_TOLERANCE`). Then **learning-rate transfer**: final loss against learning rate at several widths,
# in each parametrization: the committed measurement of docs/results.md, run live at `LESSON_SIZE=full`.

# %%
if OPTIONAL:
    C_ = S["coord"]
    coord, worst = {}, {}
    for param in ("mup", "sp"):
        act = mup_experiments.gpt_coord_check(param, C_["widths"], steps=3, seeds=C_["seeds"], graph=G)
        ratios = mup_experiments.coord_ratios(act, C_["widths"])
        worst[param] = max((abs(math.log(mup_experiments.farthest_from_1(rs))), name, pair)
                           for name, by_pair in ratios.items() for pair, rs in by_pair.items() if not name.startswith("w"))
        coord[param] = mup_experiments.coord_pass(ratios)
        print(f"{param.upper():>3}: coordinate check {'passes' if coord[param] else 'fails'}; ratio farthest from 1 "
              f"(outside the embeddings): {math.exp(worst[param][0]):.2f} (or its inverse) at {worst[param][1]}, widths {worst[param][2]}")
        path = os.path.join(FIGURES, f"8_coord_check_{param}.png")
        mup_experiments.plot_coord_check(act, C_["widths"], param, path)
        show_png(path)
    check(coord["mup"] and not coord["sp"], "μP passes the coordinate check and SP fails it")
    T_ = S["transfer"]
    if T_ is None:
        print(f"size {SIZE!r}: learning-rate transfer as measured in docs/results.md (`LESSON_SIZE=full` runs it here)")
        for param in ("sp", "mup"):
            path = os.path.join(ROOT, "docs", f"mup_transfer_{param}.png")
            if os.path.exists(path):
                show_png(path)
    else:
        moves = {}
        for param in ("sp", "mup"):
            configs = mup_experiments.transfer_configs(param, T_["widths"], T_["lrs"], tokens=T_["tokens"])
            out = os.path.join(WORK, f"lr_transfer_{param}")
            with contextlib.redirect_stdout(io.StringIO()):          # its per-width tables; the plot shows them
                losses = mup_experiments.lr_transfer(configs, out)
            best_lr = mup_experiments.best_lrs(losses, T_["lrs"])
            print(f"{param.upper()}: best lr by width: " + ", ".join(f"{w}: 2^{math.log2(lr):.0f}" for w, lr in best_lr.items()))
            moves[param] = abs(math.log2(best_lr[max(best_lr)] / best_lr[min(best_lr)]))
            path = os.path.join(FIGURES, f"8_lr_transfer_{param}.png")
            mup_experiments.plot_lr_transfer(losses, T_["lrs"], param, path)
            show_png(path)
        check(moves["sp"] > moves["mup"], f"the best lr moves further with width under SP ({moves['sp']:.0f} grid steps, "
              f"factors of 2) than under μP ({moves['mup']:.0f})")
    part_done("part 8")

# %% [markdown]
# The coordinate-check plots: one panel per step, mean |activation| against width for every module. Under μP
# the lines are flat; under SP the block outputs and the logits climb with width after the first update. The
# learning-rate plots: under SP the best learning rate (the star) moves down as the width grows, under μP it
# stays put (docs/results.md, "Standard parametrization vs μP", has the table; `LESSON_SIZE=full` reruns it
# and checks it). These are short runs: early-training losses.
#
# **Exercise 8.** Under SP, which module's ratio is farthest from 1? Is it an embedding, a block, or the
# readout, and why would that module be the one to grow?

# %% [markdown]
# ## 9. Optional: where exponents come from
#
# Barkeshli et al. climb a **ladder** of datasets, from walks on graphs through the bigram chain of a corpus
# and samples of one-, two- and four-layer teacher transformers to the text itself, and follow the exponents
# along it (`ladder.py`). The committed CPU ladder (`docs/ladder_cpu.json`, from `python ladder.py --rungs
# bigram t1l t2l t4l`) is printed below rather than rerun (it takes over an hour).
#
# Two theories say the exponents come from structure in the data:
#
# - **spectral** (Maloney–Roberts–Sully 2022): a covariance spectrum λ_k ~ k^−(1+a) gives α_D = α_N = a.
#   For a walk the "covariance" is the joint distribution J = diag(π)P of consecutive tokens
#   (`chain.spectrum`); `theory.measure_data_exponent` checks the theory where it must hold, in the solvable
#   random-feature ridge model;
# - **percolation** (Brill 2024): data as Zipf-distributed clusters ("subtasks") of dimension D
#   (`theory.brill_exponents`); `percolation.py` measures the cluster statistics of critical graphs.
#
# Part 5 gave a third, simpler answer for the walks here: β is the parametric rate of estimating a finite
# table, and the model-size term is a threshold. The theories are about data with structure at every scale.
# The ladder trains every rung both ways, as part 5 did: its table prints, per rung, the shape BIC prefers for
# L(N, D = ∞) − E and how many of those runs converged (an unconverged run's excess is an upper bound).

# %%
if OPTIONAL:
    ladder_json = os.path.join(ROOT, "docs", "ladder_cpu.json")
    if os.path.exists(ladder_json):
        with open(ladder_json) as f:
            lad = json.load(f)
        print("the committed CPU ladder (docs/ladder_cpu.json): β per rung, E fixed to each rung's floor")
        for r in lad["rungs"]:
            print(f"  {r['rung']:<8} floor {r['floor']:.3f}  β = {r['beta']:.3f} [{r['ci']['beta'][0]:.3f}, {r['ci']['beta'][1]:.3f}]  "
                  f"α = {r['alpha']:.2f} [{r['ci']['alpha'][0]:.2f}, {r['ci']['alpha'][1]:.2f}]")
        check(all(r["ci"]["alpha"][1] / r["ci"]["alpha"][0] > 10 > 2 > r["ci"]["beta"][1] / r["ci"]["beta"][0]
                  for r in lad["rungs"]), "on every rung α's interval spans more than a factor 10, β's less than 2")
        m = lad["monotonic"]
        print(f"  along {' -> '.join(m['rungs'])}: β {m['beta']['verdict']} (in {100 * m['beta']['confidence']:.0f}% of "
              f"{m['beta']['draws']} bootstrap draws), α {m['alpha']['verdict']}")
        if all("infinite" in r for r in lad["rungs"]):  # the second half of each rung: expected targets, as in part 5
            print("  L(N, D = inf) - E per rung, from expected-target runs (fit.py's infinite_data):")
            for r in lad["rungs"]:
                print(f"    {r['rung']:<8} {records.infinite_text(r['infinite'])}")
        show_png(os.path.join(ROOT, "docs", "ladder_cpu.png"))

    spec_G = chain.spectrum(G)
    pred = theory.spectral_prediction(spec_G["joint"])
    print(f"\nER {G.V}: joint spectrum slope {spec_G['joint']['slope']:.3f} over ranks {spec_G['window']}: "
          f"{spec_G['joint']['verdict']}; a = {pred['a']:.3f}: {pred['note']}")
    check(spec_G["joint_asymmetry"] < 1e-12, "J = diag(π)P is symmetric for the unbiased walk (detailed balance)")
    check(spec_G["joint"]["slope"] > -1, "the walk's joint spectrum decays more slowly than 1/k: the spectral theory predicts nothing here")
    path = os.path.join(FIGURES, "9_spectrum_er.png")
    plots.plot_spectrum(spec_G, path, title=f"ER {G.V} nodes: rank-frequency and singular values")
    show_png(path)

    R_ = S["ridge"]
    ridge = theory.measure_data_exponent(1.0, n_samples=R_["n_samples"], n_seeds=R_["n_seeds"], M=R_["M"])
    print(f"\nridge model, spectrum k^-(1+a) with a = 1: predicted α_D = {ridge['predicted']}, measured "
          f"{ridge['measured']:.3f} ± {ridge['se']:.3f}")
    check(abs(ridge["measured"] - 1.0) < 0.15, "the spectral theory holds where it must: the ridge model's α_D = a = 1 within 0.15")

    er_c = percolation.critical_er_summary(S["critical_er"], seed=0)
    print(f"\ncritical ER G(n, 1/n), n = {S['critical_er']:,}: τ = {er_c['tau_mle']:.3f} ± {er_c['tau_se']:.3f} "
          f"(mean field: {er_c['tau_theory']}), Borel χ² p = {er_c['borel_p_value']:.2f}")
    check(abs(er_c["tau_mle"] - 2.5) < 4 * er_c["tau_se"] + 0.05, "critical ER clusters have τ = 5/2 (within 4 standard errors + 0.05)")
    trees = graphs.critical_trees(S["trees"], seed=0)
    sub = percolation.subtask_statistics(trees)
    alpha_sub, alpha_se = theory.subtask_alpha(sub["subtask_gamma"], sub["subtask_gamma_se"])
    brill = theory.brill_exponents(alpha_sub, percolation.cluster_dimension(trees))
    print(f"critical trees, {trees.V:,} nodes in {sub['n_subtasks']} trees: size exponent γ = {sub['subtask_gamma']:.2f} ± "
          f"{sub['subtask_gamma_se']:.2f}, subtask α = {alpha_sub:.2f} ± {alpha_se:.2f}; Brill: "
          f"α_N = {brill['alpha_N']:.2f}, α_D = {brill['alpha_D']:.2f} ({brill['regime']})")
    part_done("part 9")

# %% [markdown]
# What the ladder shows: every rung trains and is scored against its exact floor; β's intervals are narrow
# and its estimates rise along the ladder (in the printed share of bootstrap draws), while α's intervals
# run over orders of magnitude (as on the quick sweep, part 4). The theories: the ridge model confirms the spectral theory where its assumptions
# hold, but the walk's joint spectrum decays far more slowly than 1/k, so the theory predicts nothing for it,
# while the models' losses fall with N and D all the same. Brill's theory predicts only where there are
# clusters with a dimension.
#
# **Exercise 9.** Run `theory.measure_data_exponent(a)` for a = 2. Does the measured α_D follow a?

# %% [markdown]
# ## Answers
#
# Each answer is computed and checked. Try the exercise first.

# %% [markdown]
# **Answer 1.** Every dᵢ = d, so floor = Σᵢ (d/2E) log d = log d.

# %%
import networkx

G_reg = graphs.from_networkx(networkx.random_regular_graph(10, 250, seed=0))
print(f"10-regular graph on 250 nodes: floor {G_reg.loss_floor():.6f}, log 10 = {math.log(10):.6f}")
check(abs(G_reg.loss_floor() - math.log(10)) < 1e-9, "a d-regular graph's floor is log d")

# %% [markdown]
# **Answer 2.** q = 1/V for every input, so its expected loss is −Σⱼ P[x, j] log(1/V) = log V exactly, on
# every eval set, and its excess is log V − floor. Its sampled loss is −log(1/V) = log V whichever token was
# sampled: zero variance. The variance the expected loss removes is the spread of −log q over the next
# token; a guess that gives every token the same probability has none.

# %%
tokens = walks.eval_set(G, S["eval_walks"], 51, seed=100)
x, y = tokens[:, :-1], tokens[:, 1:]
lp_u = torch.full((*x.shape, G.V), -math.log(G.V), dtype=torch.float64)
exp_u, samp_u = float(walks.expected_loss(lp_u, x, G)), lp_u.gather(-1, y[..., None]).neg()
print(f"uniform guess: expected loss {exp_u:.6f}, log V = {math.log(G.V):.6f}, excess {exp_u - walks.eval_floor(x, G):.4f}; "
      f"sampled loss per prediction: min {float(samp_u.min()):.6f}, max {float(samp_u.max()):.6f}")
check(abs(exp_u - math.log(G.V)) < 1e-9 and float(samp_u.max() - samp_u.min()) < 1e-12,
      "the uniform guess scores log V, with no spread at all in its sampled loss")

# %% [markdown]
# **Answer 3.** Over the first budgets the slope is near −1: the excess falls about as 1/D, the count
# baseline's rate (part 5). Over the last budgets it is shallower, and one line through all of them averages
# the two: a straight line in log-log is a summary of a window, and its slope depends on the window.

# %%
top = np.log([excess_of(widest, d) for d in budgets])
slope_all, slope_first, slope_last = (np.polyfit(np.log(budgets)[k], top[k], 1)[0]
                                      for k in (slice(None), slice(0, 3), slice(-3, None)))
print(f"width {widest}: slope of log excess against log D: {slope_all:.3f} over all budgets, {slope_first:.3f} over the "
      f"first three, {slope_last:.3f} over the last three (separable β: {sep['beta']:.3f}; count baseline: {slope:.3f})")
check(-1.2 < slope_first < -0.8, "over the first budgets the widest model's excess falls with a slope near −1")
check(slope_first < slope_all < slope_last, "the slope is shallower over the last budgets, and the overall slope lies between")

# %% [markdown]
# **Answer 4.** Without E one of the power laws must carry the floor itself: a loss that levels off towards
# E looks, to a pure power law, like a very slow decay. Here the N term takes it: its exponent collapses
# towards zero (a nearly flat power law is nearly a constant), while the D term keeps its exponent. The fit
# is also worse. Part 4's sensitivity table (`res["sensitivity"]`) shows the same on the quick sweep.

# %%
pure = lawfit.fit_law(lawfit.joint_spec(Np, Dp, 0.0), Lp)
print(f"pure power laws on the planted data: α = {pure['alpha']:.3f} (true {PLANTED['alpha']}), β = {pure['beta']:.3f} "
      f"(true {PLANTED['beta']}), rms {pure['rms']:.4f} against {planted_fixed['rms']:.4f} with E fixed")
check(pure["alpha"] < PLANTED["alpha"] / 2 and abs(pure["beta"] - PLANTED["beta"]) < 0.03 and pure["rms"] > 2 * planted_fixed["rms"],
      "without E, the N term absorbs the floor (α collapses), β survives, and the fit is worse")
omitted = next(r for r in res["sensitivity"] if r["variant"].startswith("E omitted"))
print(f"quick sweep, E omitted: α = {omitted['alpha']:.3f}, β = {omitted['beta']:.3f} (E = floor: α = {j['alpha']:.3f}, β = {j['beta']:.3f})")
check(omitted["alpha"] < j["alpha"] / 10, "on the quick sweep too, omitting E makes α collapse")

# %% [markdown]
# **Answer 5.** Denser rows have more free parameters, so the count baseline is proportionally higher at
# the same D.

# %%
G20 = graphs.erdos_renyi(250, 2500, seed=0)
ev20 = walks.eval_set(G20, 100, 51, seed=7)
D1 = 1_000_000
(_, _, loss20), = chain.count_curve(G20, [D1], walks.fresh_batches(G20, 50, 51, seed=0), ev20)
measured20, predicted20 = loss20 - walks.eval_floor(ev20[:, :-1], G20), (G20.P.nnz - G20.V) / (2 * D1)
print(f"ER 250 / 2500: {G20.P.nnz - G20.V:,} free parameters; at D = {D1:,}: predicted {predicted20:.5f}, measured {measured20:.5f}")
check(abs(measured20 / predicted20 - 1) < 0.15, "the count baseline on the denser graph is (nnz − V)/2D within 15%")

# %% [markdown]
# **Answer 6.** With D = C/6N, L − E = (6N/C)^β (B + A N^−α). Setting the derivative in N to zero:
# β(B + A N^−α) = α A N^−α, so N*^α = (α − β)A / (βB): no C anywhere, a = 0 when α > β (and b = 1). The quick
# sweep's separable fit puts N* at a width inside its grid, which is what Approaches 1 and 2 found.

# %%
a_, b_, A_, B_ = sep["alpha"], sep["beta"], sep["A"], sep["B"]
check(a_ > b_, f"the separable fit has α > β ({a_:.3f} > {b_:.3f}), so an interior optimum exists")
N_star = ((a_ - b_) * A_ / (b_ * B_)) ** (1 / a_)
Ns = np.geomspace(1e3, 1e7, 20001)
numeric = [Ns[np.argmin((B_ + A_ / Ns ** a_) / (C / (6 * Ns)) ** b_)] for C in (1e11, 1e15)]
w_star = float(np.exp(np.interp(np.log(N_star), np.log([N_of[w] for w in widths]), np.log(widths))))
print(f"N* = ((α − β)A / βB)^(1/α) = {N_star:,.0f} non-embedding parameters, about width {w_star:.0f}; numerically at "
      f"C = 1e11 and 1e15: {numeric[0]:,.0f} and {numeric[1]:,.0f}")
check(all(abs(n / N_star - 1) < 0.01 for n in numeric), "the separable law's compute-optimal N is the same at every C (a = 0)")
check(widths[0] <= w_star <= widths[-1], "and it lies inside the quick sweep's widths")

# %% [markdown]
# **Answer 7** (optional part). Above: hubs have both a large weight dᵢ/2E and a large log dᵢ, so
# Σ (dᵢ/2E) log dᵢ exceeds log⟨d⟩ by more the more the degrees spread (Jensen's inequality for the convex
# x log x), and BA's degrees spread far more than ER's.

# %%
if OPTIONAL:
    G_ba = graphs.barabasi_albert(250, 5, seed=0)
    gaps = {}
    for name, g in (("ER", G), ("BA", G_ba)):
        d_ = np.diff(g.P.indptr)
        gaps[name] = g.loss_floor() - math.log(d_.mean())
        print(f"{name}: mean degree {d_.mean():.2f}, degree sd {d_.std():.2f}, floor − log<d> = {gaps[name]:.4f}")
    check(gaps["BA"] > gaps["ER"] > 0, "BA's floor sits further above log⟨d⟩ than ER's")

# %% [markdown]
# **Answer 8** (optional part). Printed in part 8: under SP a block or the logits, not an embedding. Their
# inputs are sums over width coordinates, so an update of a fixed size per coordinate moves them in
# proportion to the width; an embedding reads one row per token, whatever the width.

# %%
if OPTIONAL:
    print(f"SP: farthest from 1 at {worst['sp'][1]}; μP: {worst['mup'][1]}, a factor {math.exp(worst['mup'][0]):.2f} "
          f"against SP's {math.exp(worst['sp'][0]):.2f}")
    check(not worst["sp"][1].startswith("w") and worst["sp"][0] > worst["mup"][0],
          "under SP the module farthest from 1 is not an embedding, and it is further from 1 than anything under μP")

# %% [markdown]
# **Answer 9** (optional part). Yes: in the ridge model the measured α_D follows a.

# %%
if OPTIONAL:
    ridge2 = theory.measure_data_exponent(2.0, n_samples=R_["n_samples"], n_seeds=R_["n_seeds"], M=R_["M"])
    print(f"ridge model, a = 2: measured α_D = {ridge2['measured']:.3f} ± {ridge2['se']:.3f}")
    check(abs(ridge2["measured"] - 2.0) < 0.3, "the ridge model's α_D follows a = 2 within 0.3")

# %% [markdown]
# ## Compute time
#
# What each part cost on this machine, this time (timing lines vary from run to run; the setup cell prints
# what each size cost when it was measured).

# %%
part_done("answers")
print("[time] compute time by part: " + ", ".join(f"{name} {t1 - t0:.0f} s" for (_, t0), (name, t1) in zip(MARKS, MARKS[1:])))
print(f"[time] lesson finished at size {SIZE!r}, parts {PARTS!r}, in {time.time() - T_START:.0f} s")
