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
# A lesson in eight parts on the data whose truth is known: random walks on graphs. Every number below comes
# from this repository's own modules (`graphs`, `walks`, `train`, `sweep`, `fit`, `lawfit`, `compute_optimal`,
# `mup_experiments`, `ladder`, `chain`, `plots`, `theory`, `percolation`); nothing is implemented a second time here.
#
# **How to run it.** Top to bottom, on a laptop CPU:
#
# - in Jupyter: open `lesson/scaling_laws.ipynb` and *Run All*;
# - without Jupyter: `.venv/bin/python lesson/scaling_laws.py` (the same cells as a script; figures are
#   written as PNGs and their paths printed);
# - as CI does: `LESSON_SIZE=smoke .venv/bin/python -m pytest -q tests/test_lesson.py`.
#
# **One knob**, `SIZE` below (or the environment variable `LESSON_SIZE`): `smoke` (about a minute, what CI
# runs: the numbers are too small to mean much, but every check still runs), `live` (the default, under ten
# minutes on 2 cores) or `full` (paper-ish sizes: the quick sweep's grid and longer runs; tens of minutes).
# The lesson writes nothing into the repository: sweeps and figures go to a temporary folder (set
# `LESSON_FIGURES=DIR` to keep the figures).
#
# **Checks.** Cells marked `check(...)` assert numbers against truths computed independently (by hand with
# numpy, by a theorem, or planted), so a lesson that silently breaks fails CI.
#
# **Editing.** `lesson/scaling_laws.py` (a jupytext percent script) and `lesson/scaling_laws.ipynb` are
# paired: edit either, then `.venv/bin/jupytext --sync lesson/scaling_laws.py` (or
# `.venv/bin/jupytext --to ipynb lesson/scaling_laws.py`) to bring the other up to date; a test fails when
# they differ. The notebook is committed without outputs.
#
# Exercises are marked **Exercise**; answers are at the end.

# %%
import os
import sys

SIZE = os.environ.get("LESSON_SIZE", "live")   # smoke | live | full
assert SIZE in ("smoke", "live", "full"), f"LESSON_SIZE must be smoke, live or full, got {SIZE!r}"
sys.dont_write_bytecode = True                 # import the project without writing __pycache__ into it


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

import json
import math
import tempfile
import time

import numpy as np
import torch

import chain
import compute_optimal
import fit
import graphs
import ladder
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

WORK = tempfile.mkdtemp(prefix="lesson-")                      # every output of the lesson goes here
FIGURES = os.environ.get("LESSON_FIGURES") or os.path.join(WORK, "figures")
os.makedirs(FIGURES, exist_ok=True)
T_START = time.time()
torch.manual_seed(0)


def show(fig, name):
    """Save a figure as FIGURES/name and show it inline (in a notebook) or print its path (as a script)."""
    path = os.path.join(FIGURES, name)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    if IN_NOTEBOOK:
        display(fig)
    else:
        print(f"[figure] {path}")
    plt.close(fig)


def show_png(path):
    """Show a PNG that a project function wrote."""
    if IN_NOTEBOOK:
        display(Image(filename=path))
    else:
        print(f"[figure] {path}")


def check(ok, what):
    """An assertion against an independent truth: a failed check stops the lesson (and CI)."""
    if not ok:
        raise AssertionError(f"check failed: {what}")
    print(f"check passed: {what}")


def elapsed():
    return f"{time.time() - T_START:.0f} s since the start"


# The sizes. `graph` is the ER graph of parts 1-4 (the project's default graph is 1000 nodes, 5000 edges).
SIZES = dict(
    smoke=dict(graph=dict(nodes=200, edges=1000), kappas=[0, 0.5, 1, 2], eval_sets=40, eval_walks=40, count_tokens=20_000,
               run=dict(wide=32, narrow=4, tokens=40_000, lr=1e-2),
               sweep=dict(width=[4, 8, 16, 32, 48], head_dim=4, tokens=[20_000, 40_000], lr=1e-2, batch_size=20, eval_walks=50),
               n_boot=40, nn_boot=2, sim_per_budget=12,
               coord=dict(widths=[32, 128], seeds=16), transfer=dict(widths=[32, 64], lrs=[2 ** -5, 2 ** -7, 2 ** -9], tokens=10_000),
               ladder=dict(scale="smoke", tokens=None), ridge=dict(n_samples=(16, 32, 64, 128), n_seeds=2, M=1024),
               critical_er=20_000, trees=2_000),
    live=dict(graph=dict(nodes=1000, edges=5000), kappas=[0, 0.25, 0.5, 1, 1.5, 2, 3], eval_sets=100, eval_walks=100,
              count_tokens=100_000,
              run=dict(wide=64, narrow=4, tokens=300_000, lr=1e-2),
              sweep=dict(width=[4, 8, 16, 32, 64], head_dim=4, tokens=[50_000, 100_000, 200_000], lr=1e-2, batch_size=20,
                         eval_walks=100),
              n_boot=200, nn_boot=4, sim_per_budget=28,
              coord=dict(widths=[32, 64, 128, 256], seeds=16),
              transfer=dict(widths=[32, 128], lrs=[2 ** -k for k in range(4, 11, 2)], tokens=30_000),
              ladder=dict(scale="smoke", tokens=[20_000, 50_000]), ridge=dict(n_samples=(16, 32, 64, 128, 256), n_seeds=3, M=2048),
              critical_er=200_000, trees=4_096),
    full=dict(graph=dict(nodes=1000, edges=5000), kappas=[0, 0.25, 0.5, 1, 1.5, 2, 3], eval_sets=300, eval_walks=200,
              count_tokens=1_000_000,
              run=dict(wide=128, narrow=4, tokens=2_000_000, lr=3e-3),
              sweep=dict(sweep.QUICK_DATA),   # the quick preset's L(D) half itself, run live
              n_boot=1000, nn_boot=20, sim_per_budget=28,
              coord=dict(widths=[32, 64, 128, 256, 512], seeds=32),
              transfer=dict(widths=[32, 64, 128, 256], lrs=[2 ** -k for k in range(4, 11)], tokens=100_000),
              ladder=dict(scale="cpu", tokens=None), ridge=dict(n_samples=(16, 32, 64, 128, 256), n_seeds=3, M=8192),
              critical_er=1_000_000, trees=16_384),
)
S = SIZES[SIZE]
print(f"size {SIZE!r}; repository {ROOT}; outputs in {WORK}; figures in {FIGURES}; torch {torch.__version__}, "
      f"{torch.get_num_threads()} threads")

# %% [markdown]
# ## 1. A dataset whose truth is known
#
# An Erdős–Rényi graph G(n, m) (`graphs.erdos_renyi`: m edges drawn uniformly among the n(n−1)/2 pairs) and
# the random walk on it: from node i the walk moves to a uniformly random neighbour, so the transition matrix
# is P_ij = A_ij / d_i, with d_i the degree. A walk is a Markov chain, so the best possible next-token
# predictor is P itself, and the lowest achievable loss (nats per token) is the chain's **entropy rate**
#
#   floor = Σᵢ πᵢ H(Pᵢ),  H(Pᵢ) = −Σⱼ Pᵢⱼ log Pᵢⱼ.
#
# For the unbiased walk on an undirected graph both pieces are known in closed form. Row i is uniform over d_i
# neighbours, so H(Pᵢ) = log dᵢ. And πᵢ = dᵢ / 2E (with 2E = Σᵢ dᵢ) is stationary: (πP)_j = Σᵢ (dᵢ/2E)(A_ij/dᵢ)
# = d_j / 2E. Hence
#
#   floor = Σᵢ (dᵢ / 2E) log dᵢ,
#
# which is a little above log ⟨d⟩ (by Jensen, high-degree nodes are both visited more and harder to predict).
# `chain.Graph.loss_floor` computes the floor in general (any P, any start); we check it against this formula.
#
# The **κ-biased walk** ranks each node's neighbours in a random order r = 1..k and moves to the r-th with
# probability ∝ r^−κ: κ = 0 is the unbiased walk, κ = 1 gives Zipf-like transitions. A larger κ makes each
# step more predictable, so the floor falls.

# %%
G = graphs.erdos_renyi(S["graph"]["nodes"], S["graph"]["edges"], seed=0)
deg = np.diff(G.P.indptr)                       # d_i: the stored entries of row i of P
two_E = deg.sum()
floor_by_hand = float(np.sum(deg / two_E * np.log(deg)))
print(f"ER graph: V = {G.V} nodes (dropped outside the largest component: {G.n_dropped}), {G.n_edges()} edges, "
      f"mean degree {deg.mean():.2f}")
print(f"floor (chain.Graph.loss_floor) = {G.loss_floor():.12f} nats;  Σ d/2E log d = {floor_by_hand:.12f};  "
      f"log <d> = {np.log(deg.mean()):.4f};  log V (uniform guess) = {np.log(G.V):.4f}")
check(abs(G.loss_floor() - floor_by_hand) < 1e-9, "floor = Σᵢ (dᵢ/2E) log dᵢ to 1e-9 (κ = 0)")
check(np.abs(G.stationary() - deg / two_E).max() < 1e-12, "the stationary distribution is πᵢ = dᵢ/2E to 1e-12")

floors = []
for kappa in S["kappas"]:
    Gk = graphs.erdos_renyi(S["graph"]["nodes"], S["graph"]["edges"], kappa=kappa, seed=0)
    pi = Gk.stationary()
    check(np.abs(pi @ Gk.P - pi).max() < 1e-12, f"κ = {kappa}: πP = π to 1e-12")
    floors.append(Gk.loss_floor())
    print(f"  κ = {kappa:<4}: floor {floors[-1]:.4f} nats")

fig, ax = plots.figure(figsize=(5.5, 3.6))
ax.plot(S["kappas"], floors, "o-", label="floor = entropy rate (chain.py)")
ax.axhline(np.log(deg.mean()), color="gray", ls=":", label="log ⟨d⟩")
ax.set(xlabel="κ (walk bias: r-th neighbour ∝ r^-κ)", ylabel="floor (nats per token)",
       title=f"ER {G.V} nodes, {G.n_edges()} edges: the loss floor vs κ")
ax.legend()
show(fig, "1_floor_vs_kappa.png")

# %% [markdown]
# The plot: the floor starts just above log⟨d⟩ at κ = 0 and falls steadily with κ; by κ = 3 a step is
# almost always to the first-ranked neighbour, and most of the uncertainty is gone.
#
# **Exercise 1.1.** A d-regular graph has every dᵢ = d. What is its floor? Check it with
# `graphs.from_networkx(networkx.random_regular_graph(10, 1000, seed=0)).loss_floor()`.
#
# **Exercise 1.2.** Barabási–Albert graphs (`graphs.barabasi_albert(1000, 5)`) have hubs. Is their floor above or
# below log⟨d⟩, and by more or less than ER's? Use the formula to explain why.

# %% [markdown]
# ## 2. Sampled against expected loss
#
# A model is scored on held-out walks. The usual score is the cross-entropy against the token that was
# actually sampled next, −log q(x_{t+1} | x_≤t). Because we know P, we can instead score against the whole
# true next-token distribution, −Σⱼ P[x_t, j] log q(j | x_≤t) (`walks.expected_loss`). Given the inputs, the
# sampled loss is an unbiased draw of the expected loss (the tower property), so both have the **same mean**;
# the expected loss just leaves out the noise of which neighbour the walk happened to take, so its
# **variance is lower**. And expected − floor is exactly the mean KL divergence from the truth to the model:
# it is never negative.
#
# We measure this with a simple model that is *learned* from data: next-token counts on a training walk with
# add-one smoothing (a bigram model), scored on many independent eval sets (`walks.eval_set`). And with the
# truth itself (q = P), whose expected loss must average to the floor.

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
print(f"{K} eval sets of {S['eval_walks']} walks x 50 predictions; floor {G.loss_floor():.4f}")
print(f"bigram counts : expected {exp_q.mean():.4f} ± {se(exp_q):.4f} (sd {exp_q.std(ddof=1):.4f}) | "
      f"sampled {samp_q.mean():.4f} ± {se(samp_q):.4f} (sd {samp_q.std(ddof=1):.4f})")
print(f"truth q = P   : expected {exp_P.mean():.4f} ± {se(exp_P):.4f} (sd {exp_P.std(ddof=1):.4f}) | "
      f"sampled {samp_P.mean():.4f} ± {se(samp_P):.4f} (sd {samp_P.std(ddof=1):.4f})")
ratio = samp_q.var(ddof=1) / exp_q.var(ddof=1)
print(f"variance ratio sampled / expected (bigram model): {ratio:.1f}x")
diff = samp_q - exp_q                                                   # paired: same inputs, same eval set
z = diff.mean() / se(diff)
check(abs(z) < 4, f"sampled and expected loss agree in mean: difference {diff.mean():+.4f} = {z:+.2f} standard errors (|z| < 4)")
zP = (exp_P.mean() - G.loss_floor()) / se(exp_P)
check(abs(zP) < 4, f"the truth's expected loss averages to the floor: {zP:+.2f} standard errors (|z| < 4)")
check(ratio > 1.5, f"the expected loss has a lower variance than the sampled loss ({ratio:.1f}x lower > 1.5x)")
check(np.all(exp_q > exp_P), "every eval set: the model's expected loss is above the truth's (KL ≥ 0)")

fig, ax = plots.figure(figsize=(6, 3.6))
bins = np.linspace(min(exp_q.min(), samp_q.min()), max(exp_q.max(), samp_q.max()), 30)
ax.hist(samp_q, bins=bins, alpha=0.6, label=f"sampled cross-entropy (sd {samp_q.std(ddof=1):.3f})")
ax.hist(exp_q, bins=bins, alpha=0.6, label=f"expected loss (sd {exp_q.std(ddof=1):.3f})")
ax.axvline(exp_q.mean(), color="k", lw=1, label="mean of either")
ax.set(xlabel="loss of the bigram-count model (nats per token)", ylabel="eval sets",
       title=f"{K} independent eval sets: same mean, less spread")
ax.legend(fontsize=8)
show(fig, "2_expected_vs_sampled.png")

# %% [markdown]
# The histogram: both scores centre on the same value, and the expected loss is the narrower of the two.
# This is why every record's `loss` is the expected loss (`loss_sampled` is stored beside it): at a fixed
# eval set, it resolves differences between runs several times smaller.
#
# **Exercise 2.1.** The variance reduction depends on how random each step is. Redo the measurement on the
# κ = 3 walk, where steps are nearly deterministic. Does the ratio grow or shrink, and why?
#
# **Exercise 2.2.** Make the count model better (more `count_tokens`). What happens to expected − floor, and
# to the gap between the model's and the truth's sampled losses?

# %% [markdown]
# ## 3. One run
#
# `train.train(RunConfig(...))` trains one GPT (2 layers, context 50) on fresh walks and returns its record
# (DESIGN.md, "The run record"). About 20 times per run it evaluates the expected loss on a fixed held-out set;
# the record's `curve` holds those points and `excess` = loss − floor.
#
# Then a width too small to hold the graph. The model's logits over the V next tokens are a linear readout of a
# `width`-dimensional vector, so the matrix of its log-probabilities over all nodes has rank about `width`.
# The true log P has rank ~V. A width-4 model cannot represent the V different next-token distributions
# however long it trains: its excess **plateaus**, while the wide model's keeps falling with more data.

# %%
R = S["run"]
base = dict(nodes=S["graph"]["nodes"], edges=S["graph"]["edges"], batch_size=20, lr=R["lr"])
one_runs = {}
for width, head_dim in ((R["wide"], 16), (R["narrow"], 4)):
    for tokens in (R["tokens"], 4 * R["tokens"]):
        cfg = train.RunConfig(width=width, head_dim=head_dim, tokens=tokens, **base)
        rec = train.train(cfg, device="cpu", log=train.quiet)
        one_runs[width, tokens] = rec
        print(f"width {width:>3}, {tokens:>9,} tokens: loss {rec['loss']:.4f} (sampled {rec['loss_sampled']:.4f}), floor "
              f"{rec['floor']:.4f}, excess {rec['excess']:.4f} | {rec['params']['total']:,} parameters, {rec['time_s']:.1f} s")
for rec in one_runs.values():
    check(rec["status"] == "ok" and rec["excess"] > 0, f"run {rec['run']} (width {rec['width']}, {rec['tokens']:,} tokens): excess {rec['excess']:.4f} > 0")
check(abs(one_runs[R["wide"], R["tokens"]]["floor_population"] - G.loss_floor()) < 1e-12, "the run's population floor is the graph's floor of part 1")
gain = {w: one_runs[w, 4 * R["tokens"]]["excess"] / one_runs[w, R["tokens"]]["excess"] for w in (R["wide"], R["narrow"])}
print(f"excess at 4x the tokens / excess at 1x: width {R['wide']}: {gain[R['wide']]:.2f}, width {R['narrow']}: {gain[R['narrow']]:.2f}")
check(gain[R["wide"]] < gain[R["narrow"]], "4x more data helps the wide model more than the narrow one (the narrow one plateaus)")

fig, ax = plots.figure(figsize=(6.5, 4))
for (width, tokens), rec in one_runs.items():
    t, l = np.array(rec["curve"]).T
    ax.plot(t, l - rec["floor"], "-" if tokens > R["tokens"] else "--", color="C0" if width == R["wide"] else "C3",
            label=f"width {width}, {tokens:,} tokens")
ax.set(xscale="log", yscale="log", xlabel="tokens seen", ylabel="excess = eval loss − floor (nats)",
       title="one run at a time: the excess falls; a narrow model plateaus")
ax.legend(fontsize=8)
show(fig, "3_one_run.png")

# %% [markdown]
# The plot (log-log): each curve is one run's excess above the floor as it trains (dashed: the shorter budget).
# The wide model's excess falls several-fold (more than tenfold at the live size) and its longer run goes on
# falling; the narrow
# model's curves flatten early and at nearly the same height for both budgets: more data does not help a
# model that cannot hold the answer. (Each run ends in a cosine decay of the learning rate, which is why every
# curve bends flat at its very end.)
#
# **Exercise 3.1.** Find the narrowest width whose excess keeps falling with 4x more data (try 8, 16). Relate
# it to the graph's size.
#
# **Exercise 3.2.** Train the wide model with `lr=1e-1`. What does the record's `status` say, and why does
# `train.py` call a run diverged when its loss exceeds 1.5 log V?

# %% [markdown]
# ## 4. Scaling in N and in D
#
# A scaling law needs a grid of runs. A sweep spec maps `train.py` flags to lists; `python sweep.py SPEC
# --out DIR` trains the grid (resumable, one record per run in `DIR/runs.jsonl`). We run a small one live, in
# a temporary folder, with the same call as the command line: `sweep.main([spec, "--out", dir])`.
#
# The full-size result is the quick sweep of docs/results.md, `python sweep.py quick --out out/quick`: the
# preset's L(D) half `sweep.QUICK_DATA` (printed below; docs/results.md's "A first scaling law" says how it was designed
# and how long it takes). It runs on its own graph, so its floor differs from the live sweep's. Its records
# are read from `docs/quick/runs.jsonl` when the repository has them (or from the file named by
# `LESSON_QUICK`, e.g. your own `out/quick/runs.jsonl`); otherwise the fits use the live sweep, and say so.

# %%
spec_path = os.path.join(WORK, "sweep.json")
sweep_dir = os.path.join(WORK, "sweep")
spec = {"nodes": S["graph"]["nodes"], "edges": S["graph"]["edges"], **S["sweep"]}   # a preset's own graph wins
with open(spec_path, "w") as f:
    json.dump(spec, f)
print(f"python sweep.py {spec_path} --out {sweep_dir}   # spec: {json.dumps(spec)}")
sweep.main([spec_path, "--out", sweep_dir, "--device", "cpu"])
live_records = [r for r in records.read_records([sweep_dir], quiet=True) if r["status"] == "ok"]
n_grid = np.prod([len(v) for v in spec.values() if isinstance(v, list)])
check(len(live_records) == n_grid, f"every run of the {n_grid}-run grid finished ok")
check(all(r["excess"] > 0 for r in live_records), "every run's excess is > 0")

QUICK = os.environ.get("LESSON_QUICK") or os.path.join(ROOT, "docs", "quick", "runs.jsonl")
print(f"\nthe quick preset's L(D) half (sweep.QUICK_DATA): {json.dumps(sweep.QUICK_DATA)}")
quick_records = [r for r in records.read_records([QUICK], quiet=True) if r["status"] == "ok"
                 and r.get("target", "sampled") == "sampled"] if os.path.exists(QUICK) else []
if quick_records:
    print(f"full-size result: {len(quick_records)} records of `python sweep.py quick --out out/quick`, read from {QUICK}")
    MAIN, MAIN_NAME = quick_records, "the quick sweep (" + (os.path.relpath(QUICK, ROOT) if QUICK.startswith(ROOT) else QUICK) + ")"
else:
    print(f"{QUICK} is not in this checkout: the fits below use the live sweep instead")
    MAIN, MAIN_NAME = live_records, "the live sweep"


def plot_grid(recs, title, name):
    """Excess vs D, one line per width (best lr), and excess vs N, one line per D."""
    best = records.best_runs(recs, warn_edge=False)
    fig, (ax, bx) = plots.figure(1, 2, figsize=(11, 4))
    widths, budgets = sorted({r["width"] for r in best}), sorted({r["tokens"] for r in best})
    for i, w in enumerate(widths):
        rs = sorted((r for r in best if r["width"] == w), key=lambda r: r["tokens"])
        ax.plot([r["tokens"] for r in rs], [r["loss"] - r["floor"] for r in rs], "o-", color=plt.cm.viridis(i / max(1, len(widths) - 1)),
                label=f"width {w} (N = {rs[0]['params']['total']:,})")
    for i, d in enumerate(budgets):
        rs = sorted((r for r in best if r["tokens"] == d), key=lambda r: r["width"])
        bx.plot([r["params"]["total"] for r in rs], [r["loss"] - r["floor"] for r in rs], "s-",
                color=plt.cm.plasma(i / max(1, len(budgets) - 1)), label=f"D = {d:,}")
    ax.set(xscale="log", yscale="log", xlabel="D (tokens)", ylabel="excess (nats)", title=f"{title}: excess vs D")
    bx.set(xscale="log", yscale="log", xlabel="N (parameters)", ylabel="excess (nats)", title=f"{title}: excess vs N")
    ax.legend(fontsize=7)
    bx.legend(fontsize=7)
    show(fig, name)


plot_grid(live_records, f"live sweep ({SIZE})", "4_live_sweep.png")
if quick_records:
    plot_grid(quick_records, "quick sweep (full size)", "4_quick_sweep.png")
print(elapsed())

# %% [markdown]
# The plots: on log-log axes the excess falls with D at every width, and with N wherever D is large enough,
# roughly along straight lines (power laws) over the range covered, with curves bunching where the other
# resource runs short: a narrow model stops gaining from data, and at the smallest budget every width above
# the narrowest scores about the same (it is data that limits them there). Every point is the
# best learning rate of its (N, D) (`records.best_runs`). At these budgets every run is still far above the
# floor.
#
# The live grid includes widths 4 and 8, below what the graph needs (part 3), so that N matters somewhere in it
# (and L(N) at the largest D has the five model sizes a one-dimensional fit needs); the quick sweep starts at
# width 16.
#
# **Exercise 4.1.** Add a seed axis (`"seed": [0, 1]`) to the spec and rerun the cell: only the new runs
# train (the sweep resumes). How large is the seed-to-seed scatter of the excess compared with the gaps
# between grid points?

# %% [markdown]
# ## 5. Fitting
#
# The joint law of Hoffmann et al. (2022), **L(N, D) = E + A/N^α + B/D^β**, fitted the Chinchilla way
# (`lawfit`: Huber loss on log L summed over runs, L-BFGS from a grid of starts, bootstrap over runs for 95%
# intervals). On walks the irreducible term E is *known*: it is the floor. So we can fix E to the floor
# (`lawfit.joint_spec(N, D, E=floor)`) or fit it (`E=None`) and see what fitting it costs.
#
# Before real data, planted data: losses drawn from a known law with 1% noise, on a 6 x 6 grid. A fitting
# procedure that cannot recover a planted law has nothing to say about a real one.

# %%
PLANTED = dict(E=2.35, A=60.0, B=400.0, alpha=0.35, beta=0.45)
rng = np.random.default_rng(0)
Ng, Dg = np.meshgrid(np.geomspace(2e4, 2e6, 6), np.geomspace(1e5, 1e7, 6))
Np, Dp = Ng.ravel(), Dg.ravel()
Lp = lawfit.chinchilla_loss(Np, Dp, **PLANTED) * np.exp(0.01 * rng.standard_normal(Np.size))
planted = dict(N=Np, D=Dp, C=6 * Np * Dp, L=Lp, floor=np.full(Np.size, PLANTED["E"]), curves=None, N_alt=None, n_def="total")
for name, E in (("E fixed to the floor", planted["floor"]), ("E fitted", None)):
    spec_ = lawfit.joint_spec(Np, Dp, E)
    law = lawfit.fit_law(spec_, Lp)
    ci = lawfit.bootstrap_law(spec_, Lp, law, n_boot=S["n_boot"], quiet=True)["ci"]
    print(f"planted, {name:<20}: " + ", ".join(f"{k} = {law[k]:.3f} [{ci[k][0]:.3f}, {ci[k][1]:.3f}]" if k in ci else f"{k} = {law[k]:.3f}"
                                              for k in ("E", "alpha", "beta")))
    if E is not None:
        check(abs(law["alpha"] - PLANTED["alpha"]) < 0.03 and abs(law["beta"] - PLANTED["beta"]) < 0.03,
              f"the planted exponents α = {PLANTED['alpha']}, β = {PLANTED['beta']} are recovered within 0.03 "
              f"(got {law['alpha']:.3f}, {law['beta']:.3f})")

laws_planted = fit.one_dim_laws(planted, planted["floor"], n_boot=S["n_boot"], quiet=True)
for axis in ("N", "D"):
    ev = laws_planted[axis]["evidence"]
    print(f"planted L({axis}) at {laws_planted[axis]['slice']}: power law vs exponential ΔBIC = {ev['delta_bic']:.1f}, "
          f"favoured: {ev['favoured']} ({ev['strength']})")
    check(ev["favoured"] == "power law", f"on planted power-law data, BIC favours the power law over the exponential in L({axis})")

# %% [markdown]
# Now the real runs: `fit.analyse` does every fit at once (the joint law and Kaplan's, the one-dimensional laws
# with the power-law-vs-exponential evidence, the compute-optimal curves of part 6, and the sensitivity
# table), on the best learning rate of each (N, D). We fix E to the floor, and fit the joint law once more
# with E free to compare.

# %%
runs = records.runs_from_records(records.best_runs(MAIN, warn_edge=False))
print(f"fitting {MAIN_NAME}: {len(runs['L'])} points (best lr of each N, D), floor {runs['floor'].mean():.4f}")
res = fit.analyse(runs, E=runs["floor"], n_boot=S["n_boot"], nn_boot=S["nn_boot"], quiet=True)
free_spec = lawfit.joint_spec(runs["N"], runs["D"], None)
free = lawfit.fit_law(free_spec, runs["L"])
free_ci = lawfit.bootstrap_law(free_spec, runs["L"], free, n_boot=S["n_boot"], quiet=True)["ci"]
j = res["joint"]
print(f"E fixed to the floor: E = {j['E']:.4f}, α = {j['alpha']:.3f} {np.round(j['ci']['alpha'], 3)}, "
      f"β = {j['beta']:.3f} {np.round(j['ci']['beta'], 3)}, rms log-residual {j['rms']:.4f}")
print(f"E fitted            : E = {free['E']:.4f} {np.round(free_ci['E'], 3)}, α = {free['alpha']:.3f} "
      f"{np.round(free_ci['alpha'], 3)}, β = {free['beta']:.3f} {np.round(free_ci['beta'], 3)}, rms {free['rms']:.4f}")
for axis, law1 in res["laws_1d"].items():
    if "skipped" in law1:
        print(f"L({axis}): skipped: {law1['skipped']}")
    else:
        ev = law1["evidence"]
        print(f"L({axis}) at {law1['slice']}: α_{axis} = {law1['free']['alpha']:.3f}; power law vs exponential ΔBIC = "
              f"{ev['delta_bic']:.1f} ({ev['favoured']}, {ev['strength']})")
check(j["converged"] and np.all(np.isfinite([j["alpha"], j["beta"]])), "the joint fit with E = floor converged")
check(free["E"] < runs["L"].min(), "the fitted E lies below every measured loss")

print("\nsensitivity (fit.sensitivity): how the exponents move with the choice of E and the fit window")
print(f"{'variant':<42} {'alpha':>8} {'beta':>8} {'a':>8} {'E':>8}")
for row in res["sensitivity"]:
    print(f"{row['variant']:<42} {row['alpha']:>8.3f} {row['beta']:>8.3f} {row['a']:>8.3f} {row['E']:>8.3f}")

fig = plots.loss_vs(res, runs, "D")
show(fig, "5_loss_vs_D.png")
fig = plots.bootstrap_histograms(res)
show(fig, "5_bootstrap.png")
print(elapsed())

# %% [markdown]
# What to read off:
#
# - *Planted data* are recovered: with E fixed to its true value the exponents come back within a few
#   hundredths, and the BIC prefers the power law. With E fitted the intervals widen: E and the exponents trade
#   off (a lower E with smaller exponents fits almost as well).
# - *Real runs*: the plot of loss vs D shows the points and the joint law at four model sizes, the dotted line
#   the floor E; the bootstrap histograms show how wide the exponents' intervals are. With a handful of points
#   from early training, they are wide, and the sensitivity table shows the exponents moving when E is
#   fitted instead of fixed, or when the smallest or largest 20% of runs are dropped. That is the critique of
#   common fitting practice (Besiroglu et al. 2024; Barkeshli et al. 2026): an exponent quoted without its
#   window, its treatment of E and its interval is not a measurement. Knowing E exactly removes one of the
#   three sources of that freedom.
# - An exponent in the tens, or an interval that spans orders of magnitude, means that the data do not
#   constrain that term: over the range covered the loss hardly depends on that variable (every width is
#   data-limited at the smallest budgets), and the fit makes the term a step. The one-dimensional laws and
#   their BIC evidence, where a slice has five distinct values, say the same more directly.
# - The BIC on the real runs can favour the *exponential* over the power law (it did for L(N) and L(C) on
#   the live grid): a few points from early training, where the loss is still bending, are no evidence of a
#   power law. The planted data show that the test does pick the power law when there is one.
#
# **Exercise 5.1.** Fit the planted data with `E=0` (pure power laws, `lawfit.joint_spec(Np, Dp, 0.0)`). What
# happens to α and β? This is the bias of fitting a power law to a loss that has a floor.
#
# **Exercise 5.2.** Raise the planted noise from 1% to 5%. How fast do the bootstrap intervals grow?

# %% [markdown]
# ## 6. Compute-optimal curves
#
# With C ≈ 6ND FLOPs, which (N, D) gives the lowest loss for a budget C? The answer is a pair of power laws
# N*(C) ∝ C^a, D*(C) ∝ C^b, estimated four ways (`fit.analyse`'s `compute_optimal`): Approach 1, the lower
# envelope of the training curves; Approach 2, a parabola in log N through each IsoFLOP profile; Approach 3,
# the closed form of the fitted joint law, a = β/(α+β); and the minimum of a small neural-network
# interpolation of L(N, D) along iso-FLOP lines (Barkeshli et al.). A method that cannot run on a grid says why.
#
# Then planted data again (`compute_optimal.simulate`, the same as `python fit.py --simulate`): Hoffmann et al.'s
# law on an IsoFLOP design of 9 budgets, where the true a is known, and Approach 2's bias
# (`compute_optimal.isoflop_bias`): the true IsoFLOP profile is not a parabola in log N, so the parabola's minimum
# drifts as the window of N per budget widens.

# %%
for name, co in res["compute_optimal"].items():
    print(f"{MAIN_NAME}, {name:<13}: " + (f"skipped: {co['skipped']}" if "skipped" in co else
                                         f"a = {co['a']:.3f}, b = {co['b']:.3f}"))
fig = plots.loss_vs_flops(res, runs)
show(fig, "6_compute_optimal_runs.png")

sim = compute_optimal.simulate(per_budget=S["sim_per_budget"], width=1.5, noise=0.01, seed=1)
truth = dict(lawfit.CHINCHILLA)
_, _, truth["a"], truth["b"], truth["G"] = compute_optimal.compute_optimal_closed_form(
    truth["A"], truth["B"], truth["alpha"], truth["beta"], 1.0)
res_sim = fit.analyse(sim, E=None, n_boot=S["n_boot"], nn_boot=S["nn_boot"], quiet=True)
res_sim["truth"] = truth
print(f"\nplanted (Hoffmann et al.'s law, {sim['source']}): true a = {truth['a']:.4f}")
for name, co in res_sim["compute_optimal"].items():
    print(f"  {name:<13}: " + (f"skipped: {co['skipped']}" if "skipped" in co else f"a = {co['a']:.4f}  (error {co['a'] - truth['a']:+.4f})"))
co_sim = res_sim["compute_optimal"]
check(abs(co_sim["approach3"]["a"] - truth["a"]) < 0.02, f"Approach 3 recovers the planted a = {truth['a']:.4f} within 0.02")
check(abs(co_sim["approach2"]["a"] - truth["a"]) < 0.03, f"Approach 2 recovers the planted a within 0.03 (windows centred on N*)")
fig = plots.loss_vs_flops(res_sim, sim)
show(fig, "6_compute_optimal_planted.png")

bias = compute_optimal.isoflop_bias(widths=(0.5, 1, 1.5, 2, 3, 4))
print("\nApproach 2 on noise-free planted designs: N*(fit) / N*(true) and a, as the N window per budget widens")
print(f"{'decades':>8} {'N ratio, centred':>17} {'a, centred':>11} {'N ratio, guessed':>17} {'a, guessed':>11}")
for b in bias:
    print(f"{b['width']:>8} {b['N_ratio_centred']:>17.4f} {b['a_centred']:>11.4f} {b['N_ratio_guessed']:>17.4f} {b['a_guessed']:>11.4f}")
check(abs(bias[0]["N_ratio_centred"] - 1) < abs(bias[-1]["N_ratio_centred"] - 1),
      "Approach 2's bias in N* grows with the width of the IsoFLOP window")
check(abs(bias[-1]["a_centred"] - truth["a"]) < 1e-3, "with windows centred on the true N*, Approach 2's exponent a stays unbiased")
fig, (ax, bx) = plots.figure(1, 2, figsize=(11, 3.6))
w_ = [b["width"] for b in bias]
for key, marker, label in (("centred", "o-", "windows centred on the true N*"), ("guessed", "s--", "windows centred on a guess N ∝ C^0.6")):
    ax.plot(w_, [b[f"N_ratio_{key}"] for b in bias], marker, label=label)
    bx.plot(w_, [b[f"a_{key}"] for b in bias], marker, label=label)
ax.axhline(1, color="k", lw=0.8)
bx.axhline(truth["a"], color="k", lw=0.8, label=f"true a = {truth['a']:.4f}")
ax.set(xlabel="decades of N per IsoFLOP budget", ylabel="median N*(parabola) / N*(true)",
       title="Approach 2 on planted, noise-free data: N*")
bx.set(xlabel="decades of N per IsoFLOP budget", ylabel="fitted exponent a", title="... and the exponent a")
ax.legend(fontsize=8)
bx.legend(fontsize=8)
show(fig, "6_isoflop_bias.png")
print(elapsed())

# %% [markdown]
# The plots: on our runs (left panel) the grey lines are the training curves, the black line the compute
# frontier, and the dashed lines the joint law along each method's N*(C); the right panel shows N*(C) of each
# method that could run (on a small grid some say why they cannot, and those that run disagree widely: on the
# live grid a came out between about 0.5 and 0.9, so the grid does not pin a down). On the planted data the four methods
# agree with the dotted truth to within about 0.01 in a. The last plots: with a narrow window Approach 2 finds
# N* almost exactly; as the window widens, the asymmetric profile pulls the parabola's minimum above N*, by
# about 15% at 4 decades. Centred windows shift every budget by the same factor, so a stays exact (the flat
# line on the right); windows centred on a wrong guess shift different budgets differently, and a drifts
# away from the truth as the windows widen.
#
# **Exercise 6.1.** Run `python fit.py --simulate --sim-width 3 --sim-noise 0.01 --seed 1` (or
# `compute_optimal.simulate(width=3)` here). Which method's a suffers most from the wide windows?
#
# **Exercise 6.2.** Why can Approach 1 not run on the Chinchilla CSV in `reference/`?

# %% [markdown]
# ## 7. Parametrization: μP
#
# A sweep over width needs a learning rate that transfers from width to width. In standard parametrization
# (SP, GPT-2's: every matrix N(0, 0.02²), one learning rate) the size of each Adam update's effect on the
# activations grows with width, so the best learning rate shrinks as the model widens. μP (Yang et al. 2022,
# `mup.py`) rescales the hidden matrices' init and learning rate and the readout by m = width / base width so
# that activations and their updates stay O(1) at every width.
#
# The **coordinate check** (`mup_experiments.gpt_coord_check`) trains a few steps on one batch at several
# widths and records the mean |activation| of every module: flat in width under μP, growing under SP. The
# `mup` package's criterion: every module's ratio between widths 4x apart within [1/1.2, 1.2] after steps 1-3.
# Then **learning-rate transfer** (`mup_experiments.transfer_configs`, `lr_transfer`): final loss against
# learning rate at two or more widths, in each parametrization.

# %%
C = S["coord"]
coord = {}
for param in ("mup", "sp"):
    act = mup_experiments.gpt_coord_check(param, C["widths"], steps=3, seeds=C["seeds"])
    ratios = mup_experiments.coord_ratios(act, C["widths"])
    worst = max((mup_experiments.farthest_from_1(rs), name, pair) for name, by_pair in ratios.items()
                for pair, rs in by_pair.items() if not name.startswith("w"))
    coord[param] = mup_experiments.coord_pass(ratios)
    print(f"{param.upper():>3}: coordinate check {'passes' if coord[param] else 'fails'}; ratio farthest from 1 "
          f"(outside the embeddings): {worst[0]:.2f} at {worst[1]}, widths {worst[2]}")
    path = os.path.join(FIGURES, f"7_coord_check_{param}.png")
    mup_experiments.plot_coord_check(act, C["widths"], param, path)
    show_png(path)
check(coord["mup"] and not coord["sp"], "μP passes the coordinate check and SP fails it")

T = S["transfer"]
for param in ("sp", "mup"):
    configs = mup_experiments.transfer_configs(param, T["widths"], T["lrs"], tokens=T["tokens"])
    out = os.path.join(WORK, f"lr_transfer_{param}")
    os.makedirs(out, exist_ok=True)
    losses = mup_experiments.lr_transfer(configs, out)
    best = mup_experiments.best_lrs(losses, T["lrs"])
    print(f"{param.upper()}: best lr by width: " + ", ".join(f"{w}: {lr:.4g}" for w, lr in best.items()))
    path = os.path.join(FIGURES, f"7_lr_transfer_{param}.png")
    mup_experiments.plot_lr_transfer(losses, T["lrs"], param, path)
    show_png(path)
print(elapsed())

# %% [markdown]
# The coordinate-check plots: one panel per step, mean |activation| against width for every module. Under μP
# the lines are flat; under SP the attention and MLP outputs and the logits climb with width after the first
# update. The learning-rate plots: final loss against peak learning rate, a star at each width's best. At width
# 64, the base width, μP and SP are the same model, bit for bit. The runs here are tiny (10k-30k tokens, a few
# dozen steps), so the curves are shallow and noisy; docs/results.md's
# measurement (100k tokens, widths 32-256) finds SP's best lr halving with each doubling of width and μP's
# staying at 2⁻⁷.
#
# **Exercise 7.1.** Under SP, which module's ratio is farthest from 1, and does it get worse from 32→128 to
# 64→256? Under μP, which module is the last to stay flat?
#
# **Exercise 7.2.** `--embed-lr-mult` (a `RunConfig` field) scales only the embeddings' learning rate. Add it to
# the transfer configs under SP: how much of μP's gain does it recover?

# %% [markdown]
# ## 8. Where exponents come from
#
# Barkeshli et al. climb a **ladder** of datasets from walks on ER and BA graphs through the bigram chain of a
# corpus and samples of 1-, 2-, 4-layer teacher transformers to the text itself, and follow the exponents
# along it (`ladder.py`). The rungs that need the corpus and teachers take minutes; here we run the graph
# rungs through the ladder's own per-rung function (`ladder.run_rung`: the student sweep and the joint fit with
# E fixed to the floor) at a tiny scale.
#
# Two theories say the exponents come from structure in the data:
#
# - **spectral** (Maloney–Roberts–Sully 2022; Millidge 2025): a covariance spectrum λ_k ~ k^−(1+a) gives
#   α_D = α_N = a. For a walk the "covariance" is the joint distribution J = diag(π)P of consecutive tokens
#   (`chain.spectrum`); `theory.measure_data_exponent` checks the theory where it must hold, in the solvable
#   random-feature ridge model;
# - **percolation** (Brill 2024): data as Zipf-distributed clusters ("subtasks") of dimension D, giving
#   α_N = min(α, c/D) and α_D = min(α/(1+α), c/D) (`theory.brill_exponents`); `percolation.py` measures the
#   cluster statistics of critical graphs (the mean-field cluster-size exponent τ = 5/2 of critical ER graphs,
#   and Brill's critical trees).

# %%
L_ = S["ladder"]
scale = dict(ladder.SCALES[L_["scale"]])
scale["grid"] = dict(scale["grid"], **({"tokens": L_["tokens"]} if L_["tokens"] else {}))
ladder_rows = []
for name, flags in ladder.rungs(L_["scale"], os.path.join(WORK, "ladder", "data")):
    if name in ("ER k=0", "ER k=1", "BA"):
        ladder_rows.append(ladder.run_rung(name, flags, os.path.join(WORK, "ladder"), scale, "cpu", S["n_boot"]))
print(ladder.ladder_table(ladder_rows))
path = os.path.join(FIGURES, "8_ladder_live.png")
ladder.plot_ladder(ladder_rows, path)
show_png(path)
check(ladder_rows[1]["floor"] < ladder_rows[0]["floor"], "on the ladder's graphs too, κ = 1 lowers the floor below κ = 0's")

spec_G = chain.spectrum(G)
pred = theory.spectral_prediction(spec_G["joint"])
print(f"\nER {G.V}: joint spectrum slope {spec_G['joint']['slope']:.3f} over ranks {spec_G['window']}: "
      f"{spec_G['joint']['verdict']}; a = {pred['a']:.3f}: {pred['note']}")
check(spec_G["joint_asymmetry"] < 1e-12, "J = diag(π)P is symmetric for the unbiased walk (detailed balance)")
path = os.path.join(FIGURES, "8_spectrum_er.png")
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
      f"{sub['subtask_gamma_se']:.2f} (ensemble: 1.5), subtask α = {alpha_sub:.2f} ± {alpha_se:.2f}; Brill with D = 4, c = 4: "
      f"α_N = {brill['alpha_N']:.2f}, α_D = {brill['alpha_D']:.2f} ({brill['regime']})")
ladder_png = os.path.join(ROOT, "docs", "ladder_cpu.png")
if os.path.exists(ladder_png):
    print("\nthe CPU ladder of docs/results.md (python ladder.py --rungs bigram t1l t2l t4l; 25 students per rung):")
    show_png(ladder_png)
print(elapsed())

# %% [markdown]
# What the CPU ladder shows, and what it does not (the previous CPU grid in docs/results.md, `python ladder.py` at its old CPU
# defaults: students of widths 16-64 on 150k-1M tokens, 9 points per rung, E fixed to each rung's floor):
# every rung trains and is scored against its exact floor, and the students get closer to the floor on teacher
# data (excess 0.13-0.19 nats at 1M tokens) than on walks (0.26-0.46). It does *not* measure the paper's
# exponents: nine points from early training cannot pin four parameters down, so the intervals run to tens
# (ER κ=0: α = 2.29 [0.63, 32.4], β = 1.26 [0.74, 27.0]) and the estimates do not move monotonically along the
# ladder. The live rungs above are smaller still: their numbers are a demonstration of the wiring.
#
# The theories: the ridge model confirms the spectral theory where its assumptions hold, but on every walk here
# the joint spectrum decays far more slowly than 1/k (ER's above: a slope far shallower than −1, so a ≤ 0), so the
# theory predicts nothing, while the students' losses fall with N and D all the same. Brill's theory predicts
# only where there are clusters with a dimension; on his own mean-field ensemble (critical trees) the subtask α
# is poorly determined from ~100 trees (its interval is wide), and the prediction sits near the boundary of
# its two regimes, α ≈ c/D = 1. At CPU scale neither theory is tested; that needs the `--scale gpu` ladder.
#
# **Exercise 8.1.** Compute the spectrum of the κ = 1 walk (`chain.spectrum(graphs.erdos_renyi(..., kappa=1))`).
# Is J still symmetric? Why not?
#
# **Exercise 8.2.** `theory.measure_data_exponent(a)` for a = 0.5 and 2: does the measured α_D follow a?

# %%
print(f"lesson finished at size {SIZE!r} in {time.time() - T_START:.0f} s; figures in {FIGURES}")

# %% [markdown]
# ## Answers
#
# **1.1.** Every dᵢ = d, so floor = Σᵢ (d/2E) log d = log d: log 10 = 2.3026 nats for the 10-regular graph.
#
# **1.2.** Above: hubs have both a large weight dᵢ/2E and a large log dᵢ, so Σ (dᵢ/2E) log dᵢ exceeds log⟨d⟩
# by more the more the degrees spread (Jensen's inequality for the convex x log x). BA's degrees spread far
# more than ER's (Poisson), so its floor sits further above log⟨d⟩ (docs/results.md's previous CPU grid: ER 2.351, BA 2.609
# nats at 2048 nodes with ⟨d⟩ = 10).
#
# **2.1.** It shrinks. The variance the expected loss removes is the randomness of the next token given the
# inputs; a nearly deterministic walk has little of it, so the sampled and the expected loss nearly coincide.
#
# **2.2.** Expected − floor (the KL from the truth to the counts) falls towards 0 roughly as 1/(tokens per
# row) and so does the gap between the two sampled losses; the floor itself does not move.
#
# **3.1.** Width 4 plateaus; by 16 the excess keeps falling at these budgets. The readout must separate the V
# rows of P: a graph with more nodes (or more distinct rows) needs more width, which is why the sweep's
# smallest width bends flat first.
#
# **3.2.** `status: "diverged"`, and `loss` is `null`. log V is what the uniform guess scores; a model 50%
# worse than guessing after warmup has left the basin, and training on would waste the budget.
#
# **4.1.** The seed scatter of a run's excess is typically a few percent, far smaller than the gaps between
# neighbouring budgets but not negligible against the bootstrap intervals of a small grid: averaging seeds
# (`records.best_runs` does) tightens the fit.
#
# **5.1.** Without E the power law must bend to absorb the floor: α and β come out far smaller (the loss looks
# like it flattens because it approaches E, and a pure power law reads that as a slow decay).
#
# **5.2.** Roughly linearly with the noise at this grid size; E fitted suffers most, as it trades off against
# the exponents.
#
# **6.1.** Approach 2: the parabola's minimum is biased by the profile's asymmetry, more with wider windows.
# Approach 3 uses the law itself and the interpolation sees the whole surface.
#
# **6.2.** It needs each run's training curve (loss against tokens during training); the CSV has only final
# losses.
#
# **7.1.** Under SP the MLP and attention outputs of the blocks (ratios 5-15 in docs/results.md's table), and it
# does not get better with width. Under μP the embeddings are flat in both, and the block outputs stay within
# 1.2; the smallest widths drift first.
#
# **7.2.** Part of it: docs/results.md's claim under test is that most of μP's gain under AdamW comes from the
# embedding learning rate; the lesson's tiny runs cannot settle it, the 100k-token transfer sweep can.
#
# **8.1.** No: the κ-biased walk does not satisfy detailed balance (π_i P_ij ≠ π_j P_ji once the two ends rank
# each other differently), so J is asymmetric.
#
# **8.2.** Yes: docs/results.md measures 0.512 ± 0.010 for a = 0.5 and 1.966 ± 0.017 for a = 2 (M = 8192).
