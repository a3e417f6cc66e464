"""
Train a small GPT on a dataset whose exact loss floor is known (random walks on a graph, by default) and
append one JSON record of the run (DESIGN.md, "The run record") to a JSON Lines file.

    python train.py                                   # ER 1000 nodes / 5000 edges, width 128, 2M tokens
    python train.py --graph ba --nodes 2000 --m 3 --kappa 1 --width 64 --tokens 5M
    python train.py --sweep quick --out out/quick     # a grid of runs (sweep.py)

Recipe (Barkeshli et al. 2026): AdamW (weight decay 0.01 on matrices), linear warmup over 2% of the
steps then cosine decay to zero, batches of 100 fresh walks of T+1 = 51 tokens, one epoch.
Tokens are counted as predictions: a step sees batch_size * T tokens (T = block_size = 50).

Every knob of a run is a field of RunConfig (config.py), defined once: the flags below are generated from
its fields, so flags, sweep specs and run ids can never disagree.
"""
import copy
import functools
import json
import math
import os
import platform
import subprocess
import time
from dataclasses import asdict, astuple, dataclass, fields, replace

import numpy as np
import torch
import torch.nn.functional as F

import cli
import config
import data
import ensemble
import files
import mup
import records
import schedule
import sweep
from config import RunConfig
from devices import NOMINAL_FLOPS, autocast_for, check_fits, peak_flops, pick_device
from model import GPT, GPTConfig, save_atomic, save_model, temporary_path

DIVERGED_FACTOR = 1.5  # a run whose eval loss exceeds 1.5 x log V (the uniform guess) after warmup diverged


# ---------------------------------------------------------------------------------------------------
# the pieces of one run

def git_commit():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


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


MEMBER_FIELDS = ("lr", "embed_lr_mult", "weight_decay", "seed")  # what tells the members of an ensemble apart
FIELD_NAMES = tuple(f.name for f in fields(RunConfig))


def shape_key(cfg, but=()):
    """Runs with equal keys can train together: they differ only in MEMBER_FIELDS (and the fields named in
    but). The other fields' values as a tuple: no config is built, so a 10^4-run grid groups in milliseconds."""
    return tuple(getattr(cfg, name) for name in FIELD_NAMES if name not in MEMBER_FIELDS and name not in but)


@functools.lru_cache(maxsize=None)
def shape_counts(shape):
    """(parameter counts, FLOPs per token) of the GPT of shape (a GPTConfig as a tuple, hashable), built
    once per shape on the meta device: a 10^4-run plan used to build ~4*10^4 models (minutes)."""
    with torch.device("meta"):
        model = GPT(GPTConfig(*shape))
    return model.param_counts(), model.flops_per_token()


def model_counts(cfg, V):
    """(parameter counts, FLOPs per token) of the run's GPT over V tokens (the parametrization changes neither)."""
    return shape_counts(astuple(model_config(cfg, V)))


@functools.lru_cache(maxsize=None)
def estimated_flops(cfg):
    """Training FLOPs of a run (FLOPs per token x tokens of its steps), before its dataset is loaded."""
    return model_counts(cfg, data.vocab_size(cfg))[1] * cfg.steps * cfg.batch_size * cfg.block_size


FIXED_BYTES = 64 << 20  # what any run adds: allocator arenas, library work buffers (measured: ~55 MB)
STATE_BYTES = 32  # per parameter and member: flat, grad, m, v (4 each), member index (8), lr_mult, decay (4 each)
STEP_BYTES = 12  # per parameter and member: AdamW's temporaries in a step
EVAL_FLOATS = 2e7  # logits a chunk of the eval pass holds at most (evaluate), unless one walk needs more


def memory_estimate(cfgs, V):
    """Peak bytes of training a group of runs of one shape together (ensemble.py), by part, from their configs
    before anything is built: the dataset while it is built (data.dataset_bytes), then its tables beside
    the model and AdamW state (STATE_BYTES) and the larger of a step's activations and the eval pass.
    A step keeps, per token, ~18 width floats per block, the attention probabilities and 3 V floats of
    logits, log-probabilities and their gradient. V: the vocabulary, None if only the built dataset knows
    it (an edge list's): what depends on it is then left out. Tested against measured peaks (within 2x)."""
    cfg, E, V = cfgs[0], len(cfgs), V or 0
    w, L, T, B = cfg.width, cfg.n_layer, cfg.block_size, cfg.batch_size
    # model.param_counts' total, in Python integers: a meta model of a width this refuses would overflow int64
    params = E * (L * (12 * w * w + 13 * w) + (T + 2) * w + V * w * (1 if cfg.tie_weights else 2))
    per_token = L * (18 * w + 2 * (w // cfg.head_dim) * T) + 3 * V
    step = 4 * E * B * T * per_token + STEP_BYTES * params
    evaluation = 8 * min(E * cfg.eval_walks * T * V, max(EVAL_FLOATS, E * T * V))  # logits and log-probabilities
    building, kept = data.dataset_bytes(cfg, V)
    total = FIXED_BYTES + max(building, kept + STATE_BYTES * params + max(step, evaluation))
    return dict(total=total, model=STATE_BYTES * params, activations=max(step, evaluation), dataset=max(building, kept))


def check_memory(cfgs, device, V=None):
    """Refuse, before any work, a group of runs (one shape, trained together) whose memory_estimate exceeds
    the device's memory: one ValueError with the estimate by part and what the machine has. V: as in
    memory_estimate; by default what the config says (None for an edge list)."""
    if V is None and cfgs[0].graph != "file":
        V = data.vocab_size(cfgs[0])
    what = f"{len(cfgs)} run(s) of width {cfgs[0].width}, batch {cfgs[0].batch_size}, V {V or 'unknown'}"
    check_fits(memory_estimate(cfgs, V), device, what, "lower --width, --n-layer, --batch-size, --nodes, "
                       "--eval-walks or --ensemble")


@torch.no_grad()
def evaluate(members, dataset, ctx, fwd=ensemble.forward):
    """Per member (E,) lists of (expected loss, sampled loss) in nats on the held-out sequences: the expected
    loss is the cross-entropy against the true next-token distributions (data.Data.expected_loss), the
    sampled one against the sequence's next token. Chunks keep the logits of all members under ~2e7 floats."""
    E, (n, T) = len(next(iter(members["params"].values()))), dataset.eval_tokens.shape
    chunk = max(1, int(2e7 // (E * T * dataset.V)))
    expected, sampled = torch.zeros(E), torch.zeros(E)
    for c in dataset.eval_tokens.split(chunk):
        x = c[:, :-1]
        with ctx:
            logits = fwd(members, x.expand(E, *x.shape))
        log_probs = F.log_softmax(logits.float(), dim=-1)
        for e in range(E):
            expected[e] += dataset.expected_loss(log_probs[e], c).item() * len(c)
            sampled[e] += data.sampled_loss(log_probs[e], c).item() * len(c)
    return (expected / n).tolist(), (sampled / n).tolist()


CHECKPOINT_KEYS = ("flat", "m", "v", "t", "step", "curves", "live", "runs")


def save_checkpoint(path, members, state, ids):
    """The members' weights and AdamW state and the run's progress, written atomically (model.save_atomic: a
    crash mid-save leaves the previous checkpoint intact)."""
    save_atomic(dict(flat=members["flat"].detach(), m=members["m"], v=members["v"], t=members["t"],
                     step=state.step, curves=state.curves, live=state.live.tolist(),
                     status=state.status, done_steps=state.done_steps, runs=ids), path)


def load_checkpoint(path, members, state, ids):
    """Restore a checkpoint of these same runs (weights_only: never unpickle arbitrary objects). A file that
    is not such a checkpoint is moved aside to PATH.corrupt with a warning, and the run starts afresh."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ckpt, dict) or not all(k in ckpt for k in CHECKPOINT_KEYS):
            raise ValueError("not a train.py checkpoint")
        if ckpt["runs"] != ids:
            raise ValueError(f"it belongs to runs {ckpt['runs']}, not {ids}")
        with torch.no_grad():
            for key in ("flat", "m", "v"):
                members[key].copy_(ckpt[key])
    except Exception as e:  # any unreadable file: torch raises many types (UnpicklingError, RuntimeError, ...)
        os.replace(path, path + ".corrupt")
        records.warn(f"{path}: cannot resume ({(str(e).splitlines() or [type(e).__name__])[0]}); moved to "
                     f"{path}.corrupt, starting afresh")
        return False
    members["t"], state.step, state.curves = ckpt["t"], ckpt["step"], ckpt["curves"]
    state.live = torch.tensor(ckpt["live"], device=state.live.device)
    state.status, state.done_steps = ckpt.get("status", state.status), ckpt.get("done_steps", state.done_steps)
    return True


# ---------------------------------------------------------------------------------------------------
# training

@dataclass
class Progress:
    """Where the members of a run are: steps taken, eval curves, which members still train, their status
    ('ok' or 'diverged') and the step each stopped at; what a checkpoint saves."""
    step: int
    curves: list
    live: torch.Tensor
    status: list
    done_steps: list
    train_time: float = 0.0       # seconds of training steps in this process, evaluation excluded
    resumed_at: int = 0           # the step this process started from
    evals: tuple | None = None


@dataclass
class Session:
    """What a process needs to train one group of members: device, autocast, dataset, members, forward."""
    device: torch.device
    dtype: str
    ctx: object
    dataset: data.Data
    members: dict
    fwd: object


def start(cfgs, device, dtype, compile, log):
    """Load the dataset and initialise the members of runs that share every shape (shape_key)."""
    if len({shape_key(c) for c in cfgs}) != 1:
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
    members = ensemble.build_members(cfgs, functools.partial(new_model, V=dataset.V), device)
    fwd = torch.compile(ensemble.forward) if compile else ensemble.forward  # inductor fails on the clip's scatter
    log(run_header(cfgs, dataset, members["template"], device, dtype))
    return Session(device, dtype, ctx, dataset, members, fwd)


def fresh_progress(cfgs, device):
    return Progress(0, [[] for _ in cfgs], torch.ones(len(cfgs), dtype=torch.bool, device=device),
                    ["ok"] * len(cfgs), [cfgs[0].steps] * len(cfgs))


def eval_steps(cfg):
    """The steps after which a run evaluates: every eval_every (default: a 20th of the run), and the last."""
    every = cfg.eval_every or max(1, cfg.steps // 20)
    return set(range(every, cfg.steps + 1, every)) | {cfg.steps}


def train(cfg, device="auto", dtype="auto", compile=False, ckpt=None, stop_after=None, log=print, save=None):
    """Train one run; return its record (DESIGN.md). With save, also write its final model there
    (model.save_model), unless it diverged. See train_members."""
    return train_members([cfg], device, dtype, compile, ckpt, stop_after, log, save)[0]


def train_members(cfgs, device="auto", dtype="auto", compile=False, ckpt=None, stop_after=None, log=print,
                  save=None):
    """Train runs that share every shape (shape_key) together as one batched model, each with its own
    initialisation, learning rate and training walks (its seed's stream, exactly the batches it would see
    alone); return one record per run. With ckpt, resume from it if it exists and save to it at every
    evaluation; with stop_after, stop after that many steps (status 'stopped', no record written); with
    save, write the first member's final model there (model.save_model) unless it diverged."""
    t_start, cfg = time.time(), cfgs[0]
    run = start(cfgs, device, dtype, compile, log)
    state, ids = fresh_progress(cfgs, run.device), [c.run_id() for c in cfgs]
    if ckpt and os.path.exists(ckpt) and load_checkpoint(ckpt, run.members, state, ids):
        log(f"resumed from {ckpt} at step {state.step}")
    if run_steps(cfgs, run, state, cfg.steps, eval_steps(cfg), ckpt, ids, stop_after, log):
        return [dict(run=c.run_id(), status="stopped", tokens=state.step * cfg.batch_size * cfg.block_size)
                for c in cfgs]
    if state.evals is None:  # resumed from a checkpoint taken at the last step
        state.evals = evaluate(run.members, run.dataset, run.ctx, run.fwd)
    if save and state.status[0] == "ok":
        save_model(save, run.members["template"].config, {n: p[0] for n, p in run.members["params"].items()})
    return [run_record(c, e, state, run, time.time() - t_start) for e, c in enumerate(cfgs)]


def trunk_id(cfg):
    """The id of a wsd run's stable phase: its config without tokens (records.run_id otherwise)."""
    return records.digest({k: v for k, v in records.changed_fields(cfg).items() if k != "tokens"})


def budgets_of(cfgs):
    """A wsd group as one member list per token budget, shortest first, every budget in the members' order;
    a ValueError unless the group is every member at every budget."""
    budgets = sorted({c.tokens for c in cfgs})
    members = [c for c in cfgs if c.tokens == budgets[-1]]
    by_budget = [[replace(m, tokens=D) for m in members] for D in budgets]
    if sorted(c.run_id() for b in by_budget for c in b) != sorted(c.run_id() for c in cfgs):
        raise ValueError("a shared stable phase needs every member at every token budget")
    return by_budget


def train_budgets(cfgs, device="auto", dtype="auto", compile=False, ckpt=None, log=print):
    """Under wsd, runs that differ only in tokens (and in lr, seed... as ensemble members) share their warmup
    and stable phase: train it once, and at each budget's cooldown start branch a cooldown off a copy of
    the state. Yields (config, record) as each budget finishes, shortest first; each record is the run that
    config gives alone (same batches, same schedule, same eval points). The stable phase is checkpointed
    to ckpt at its evals and at each branch point, so a kill loses at most one cooldown."""
    t_start, by_budget = time.time(), budgets_of(cfgs)
    members, first = by_budget[-1], by_budget[0][0]
    run = start(members, device, dtype, compile, log)
    trunk, ids = fresh_progress(members, run.device), [trunk_id(c) for c in members]
    if ckpt and os.path.exists(ckpt) and load_checkpoint(ckpt, run.members, trunk, ids):
        if trunk.step > schedule.cooldown_start(first):  # past a branch point still to run: cannot branch back
            raise ValueError(f"{ckpt} is past the cooldown start of a budget still to run; remove it to retrain")
        log(f"resumed the stable phase from {ckpt} at step {trunk.step}")
    points = [{p for p in eval_steps(b[0]) if p <= schedule.cooldown_start(b[0])} for b in by_budget]
    tokens_per_step = first.batch_size * first.block_size
    for budget, own in zip(by_budget, points):
        branch_at = schedule.cooldown_start(budget[0])
        run_steps(members, run, trunk, branch_at, set().union(*points), ckpt, ids, None, log)
        if ckpt:
            save_checkpoint(ckpt, run.members, trunk, ids)
        saved, branch = ensemble.snapshot(run.members), copy.deepcopy(trunk)
        branch.curves = [[pt for pt in curve if pt[0] // tokens_per_step in own] for curve in branch.curves]
        branch.done_steps = [budget[0].steps if s == "ok" else d for s, d in zip(branch.status, branch.done_steps)]
        run_steps(budget, run, branch, budget[0].steps, eval_steps(budget[0]), None, ids, None, log)
        if branch.evals is None or branch_at == budget[0].steps:
            branch.evals = evaluate(run.members, run.dataset, run.ctx, run.fwd)
        yield from ((c, run_record(c, e, branch, run, time.time() - t_start)) for e, c in enumerate(budget))
        ensemble.restore(run.members, saved)


def run_header(cfgs, dataset, model, device, dtype):
    cfg, counts = cfgs[0], model.param_counts()
    floor = "unknown" if dataset.floor is None else f"{dataset.floor:.4f} nats"
    if dataset.floor_population is not None:  # the eval set's own floor differs from it by sampling noise
        floor += f" (eval set; population {dataset.floor_population:.4f})"
    return (f"{len(cfgs)} run(s) {' '.join(c.run_id() for c in cfgs)}: {dataset.name} V={dataset.V} floor {floor} "
            f"| params {counts['total']:,} (non-embedding {counts['non_embedding']:,}) | {cfg.steps} steps "
            f"of {cfg.batch_size * cfg.block_size} tokens | {device} {dtype}")


def run_steps(cfgs, run, state, until, evals_at, ckpt, ids, stop_after, log):
    """Train from state.step to step `until` on the schedules of cfgs: one batched step of every live member,
    an eval after each step in evals_at (members that diverge stop), a checkpoint at each eval. True if
    stop_after stopped it."""
    cfg, device, members, dataset = cfgs[0], state.live.device, run.members, run.dataset
    seeds = sorted({c.seed for c in cfgs})
    streams = {s: dataset.batches(s, state.step) for s in seeds}  # batch k: the same on resume
    max_norm = torch.tensor([c.grad_clip for c in cfgs], device=device)
    state.resumed_at = state.step
    while state.step < until and state.live.any():
        if stop_after is not None and state.step >= stop_after:
            if ckpt:
                save_checkpoint(ckpt, members, state, ids)
            return True
        t0 = time.time()
        batch = {s: next(streams[s]) for s in seeds}
        batch = torch.stack([batch[c.seed] for c in cfgs])
        lrs = torch.tensor([schedule.lr_at(state.step, c) for c in cfgs], device=device) * state.live
        losses = ensemble.train_step(members, batch, lrs, max_norm, state.live, run.ctx, run.fwd).tolist()
        mark_diverged(cfgs, state, losses, state.step, "train loss", log)
        state.step += 1
        state.train_time += time.time() - t0
        if state.step in evals_at:
            state.evals = evaluate(members, dataset, run.ctx, run.fwd)
            bound = DIVERGED_FACTOR * math.log(dataset.V) if state.step > schedule.warmup_steps(cfg) else math.inf
            mark_diverged(cfgs, state, state.evals[0], state.step, "eval loss", log, bound)
            for e in range(len(cfgs)):
                if state.live[e]:
                    state.curves[e].append([state.step * cfg.batch_size * cfg.block_size, state.evals[0][e]])
            log(progress_line(cfgs, state, losses, dataset.floor, members["template"].flops_per_token(),
                              peak_flops(device)))
            if ckpt:
                save_checkpoint(ckpt, members, state, ids)
    return False


def mark_diverged(cfgs, state, values, step, what, log, bound=math.inf):
    """Stop every live member whose value (nats) is not finite or exceeds bound: it diverged at step."""
    for e, value in enumerate(values):
        if state.live[e] and not (math.isfinite(value) and value <= bound):
            state.live[e], state.status[e], state.done_steps[e] = False, "diverged", step
            log(f"step {step}: run {cfgs[e].run_id()} {what} is {value:.4g} nats, diverged")


def progress_line(cfgs, state, losses, floor, flops_per_token, peak):
    """The step line: best train and eval loss of the live members (nats), excess over the floor, training
    throughput since this process started (tokens/s, FLOP/s, MFU on known GPUs) and the time left."""
    cfg, E = cfgs[0], len(cfgs)
    tokens_per_step = cfg.batch_size * cfg.block_size
    rate = E * (state.step - state.resumed_at) * tokens_per_step / max(state.train_time, 1e-9)
    mfu = f" | MFU {100 * rate * flops_per_token / peak:.1f}%" if peak else ""
    eta = (cfg.steps - state.step) * E * tokens_per_step / max(rate, 1e-9)
    live = [e for e in range(E) if state.live[e]]
    best = min((state.evals[0][e] for e in live), default=float("nan"))
    train_loss = min((losses[e] for e in live), default=float("nan"))
    excess = "" if floor is None else f" | floor {floor:.4f} | excess {best - floor:.4f}"
    return (f"step {state.step:>5}/{cfg.steps} | train {train_loss:.4f} | eval {best:.4f}{excess} "
            f"| {rate / 1e3:.1f}k tok/s | {rate * flops_per_token / 1e9:.2f} GFLOP/s{mfu} | eta {eta:.0f}s"
            + (f" | best of {len(live)} members" if E > 1 else ""))


def run_record(c, e, state, run, time_s):
    """Member e's run record (DESIGN.md, "The run record"): loss, sampled loss and excess are None unless
    the run is ok. floor is the eval set's own minimum of the loss (data.Data.floor), so excess = loss - floor
    >= 0; floor_population, the population's (a walk's entropy rate), is kept for reference. tokens_per_s
    counts the training steps this process took, evaluation excluded.
    time_s is the wall time of this process up to the record (for a wsd branch: its stable phase included).
    A number that is not finite (none is expected: start refuses a NaN floor) is recorded as null
    (files.strict), so that the record of a trained run can always be written."""
    dataset, model, device, dtype = run.dataset, run.members["template"], run.device, run.dtype
    ok, tokens_per_step = state.status[e] == "ok", c.batch_size * c.block_size
    tokens, flops_per_token = state.done_steps[e] * tokens_per_step, model.flops_per_token()
    loss, sampled = (state.evals[0][e], state.evals[1][e]) if ok else (None, None)
    return files.strict(dict(
        run=c.run_id(), group=records.group_id(c), status=state.status[e], dataset=dataset.name,
        dataset_args=dataset.args, V=dataset.V, floor=dataset.floor, floor_population=dataset.floor_population,
        n_layer=c.n_layer, width=c.width, n_head=model.config.n_head, block_size=c.block_size, param=c.param,
        base_width=c.base_width, params=model.param_counts(), tokens=tokens, flops=flops_per_token * tokens,
        flops_per_token=flops_per_token, lr=c.lr, batch_size=c.batch_size, seed=c.seed, loss=loss,
        loss_sampled=sampled, excess=None if loss is None or dataset.floor is None else loss - dataset.floor,
        curve=state.curves[e], time_s=time_s,
        tokens_per_s=(state.step - state.resumed_at) * tokens_per_step / state.train_time if state.train_time else None,
        ensemble=len(state.status), device=str(device), dtype=dtype, config=asdict(c),
        versions=dict(python=platform.python_version(), torch=torch.__version__, numpy=np.__version__),
        git=git_commit()))



# ---------------------------------------------------------------------------------------------------
# command line

def build_parser():
    p = cli.Parser(description=__doc__, formatter_class=config.HelpFormatter)
    config.add_flags(p)
    g = p.add_argument_group("system and output")
    g.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"], help="auto: cuda > mps > cpu")
    g.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16"],
                   help="auto: bf16 autocast on CUDA, float32 elsewhere")
    g.add_argument("--compile", action="store_true", help="torch.compile the model")
    g.add_argument("--out", help="JSON Lines file the run record is appended to (default out/runs.jsonl); "
                   "with --sweep, the directory of the sweep's records (default out/sweep)")
    g.add_argument("--json", help="also write this run's record to this file")
    g.add_argument("--save", help="write the final model here (loadable with model.load_model; teacher.py uses it)")
    g.add_argument("--ckpt", help="checkpoint file: resume from it if present, save to it at every eval")
    g.add_argument("--stop-after", type=cli.parse_count, help="stop after this many steps (resume later with --ckpt)")
    g.add_argument("--quiet", action="store_true", help="print only the final line")
    g = p.add_argument_group("sweeps")
    g.add_argument("--sweep", help=f"a preset ({', '.join(sweep.PRESETS)}) or SPEC.json mapping flag names to a "
                   "value or a list of values; runs the grid into --out DIR, skipping finished runs")
    g.add_argument("--shard", help="i/n: run every n-th run of the grid starting at i (default: from torchrun "
                   "RANK/WORLD_SIZE or a Slurm array's SLURM_ARRAY_TASK_ID/COUNT)")
    g.add_argument("--dry-run", action="store_true", help="list the sweep's runs with estimated FLOPs and time")
    g.add_argument("--throughput", metavar="JSON", help="with --dry-run: time at the FLOP/s per width that "
                   "`bench.py --gpu --json JSON` measured, instead of a nominal rate")
    g.add_argument("--verbose", action="store_true", help="print each run's step lines during a sweep")
    g.add_argument("--jobs", type=cli.parse_count, default=1, help="worker processes on this machine, the threads "
                   "split among them; each claims the next unclaimed run, so large and small runs balance")
    g.add_argument("--ensemble", type=cli.parse_count, default=0,
                   help="train up to this many runs that differ only in lr/seed together as one batched model "
                   "(1: off; 0: 8 on GPUs, 1 on CPUs, where batched matmuls are slower than one after another)")
    return p


def config_from_args(args):
    return RunConfig(**{f.name: getattr(args, f.name) for f in fields(RunConfig)})


def recorded(path, run):
    """The finished record of run in the record file path, if there is one."""
    done = [r for r in records.read_records(path, quiet=True) if r.get("run") == run and r.get("status") in
            sweep.FINISHED] if os.path.isfile(path) else []
    return done[-1] if done else None


def check_outputs(args, configs, shard=None):
    """Before any work starts (nothing is trained only to be lost, nothing already written is written over):
    every output distinct from every input and every other output, temporary files included, writable, and
    holding nothing but what this command writes there. A sweep's outputs are its record file in --out DIR
    (shard: this process's slice) and the checkpoints it names by run under DIR/ckpt."""
    if args.sweep:
        outputs, temporaries = [("--out", sweep.record_path(args.out, shard))], []
    else:
        outputs = [("--out", args.out), ("--json", args.json), ("--save", args.save), ("--ckpt", args.ckpt)]
        temporaries = [(f"{flag} {path}'s temporary file", temporary_path(path))
                       for flag, path in (("--save", args.save), ("--ckpt", args.ckpt)) if path]
        temporaries += [(f"--ckpt {args.ckpt}'s corrupt copy", args.ckpt + ".corrupt")] if args.ckpt else []
    files.check_distinct(inputs_of(args, configs), outputs + temporaries)
    if args.sweep:
        files.check_writable(args.out, directory=True)
    # regular files only: the record file is appended to and read back, the others renamed into place from a
    # temporary file; a device such as /dev/full would fail only once the run is trained
    files.check_writable(outputs[0][1], kind="jsonl", regular=True)
    if args.json:
        files.check_writable(args.json, kind="json", regular=True)
    for path in (args.save, args.ckpt):
        if path:
            files.check_writable(path, kind="torch", regular=True)
    for _, path in temporaries:  # a name the file system refuses would fail mid-run
        files.check_writable(path, regular=True)
    if args.stop_after is not None and not args.ckpt:
        raise ValueError("--stop-after needs --ckpt FILE, or the steps taken would be thrown away")


def check_mode(args):
    """Refuse a flag that this command line's mode would ignore without a word: a single run's outputs in a
    sweep, a sweep's flags in a single run, --throughput without --dry-run (nothing else reads it)."""
    if args.throughput and not args.dry_run:
        raise ValueError("--throughput applies to --sweep --dry-run only (it times the plan; a run measures itself)")
    single, sweep_only = ("json", "save", "ckpt", "stop_after"), ("dry_run", "shard")
    for flag in single if args.sweep else sweep_only:
        if getattr(args, flag) is not None and getattr(args, flag) is not False:  # --stop-after 0 is given too
            raise ValueError(f"--{flag.replace('_', '-')} applies to " +
                             ("a single run, not to --sweep" if args.sweep else "--sweep only"))


def inputs_of(args, configs):
    """The (flag, path) pairs a command line reads: the sweep spec, --throughput, and every run's dataset
    files (edge list, corpus, a teacher dataset's files)."""
    inputs = [("--sweep", args.sweep if args.sweep not in sweep.PRESETS else None), ("--throughput", args.throughput)]
    for c in configs:
        inputs += [("--edges-file", c.edges_file)] + [("--text", path) for path in c.text or ()]
        if c.graph.startswith("teacher:"):
            inputs += [(f"--graph {c.graph}", os.path.join(c.graph.removeprefix("teacher:"), name))
                       for name in data.TEACHER_FILES]
    return list(dict.fromkeys(inputs))


def run_one(args):
    """`python train.py [flags]`: one run, its record appended to --out (a run already recorded there is
    reported, not trained again)."""
    args.out = args.out or "out/runs.jsonl"
    cfg = config_from_args(args)
    check_outputs(args, [cfg])
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
        files.write_json(args.json, record)
    if args.ckpt and os.path.exists(args.ckpt):
        os.remove(args.ckpt)  # the run is recorded: its checkpoint could only resume it into a duplicate
    print(f"{record['run']} {record['status']}: {records.summary(record)} | {record['tokens']:,} tokens in "
          f"{record['time_s']:.0f}s | record appended to {args.out}")


def quiet(*args, **kwargs):
    pass


def member_key(cfg):
    """What tells the members of an ensemble apart."""
    return tuple(getattr(cfg, name) for name in MEMBER_FIELDS)


def shares_stable_phase(cfgs):
    return all(c.schedule == "wsd" for c in cfgs) and len({c.tokens for c in cfgs}) > 1


def plan_groups(size, configs, largest_first=False):
    """The sweep's groups, in grid order (largest_first: by FLOPs, largest first, so that parallel workers
    end together): runs of one shape (shape_key) in ensembles of up to `size` members; under wsd, the runs
    that differ only in tokens join their members' group, to share one stable phase (train_budgets)."""
    by_shape = {}
    for cfg in configs:
        key = shape_key(cfg, ("tokens",) if cfg.schedule == "wsd" else ())
        by_shape.setdefault(key, []).append(cfg)
    plan = []
    for group in by_shape.values():
        by_member = {}
        for cfg in group:
            by_member.setdefault(member_key(cfg), []).append(cfg)
        members = list(by_member.values())
        plan += [[c for m in members[i:i + size] for c in m] for i in range(0, len(members), size)]
    return sorted(plan, key=group_flops, reverse=True) if largest_first else plan


def group_name(group):
    """A group's checkpoint name: the id of its stable phase if it shares one, else of its runs."""
    ids = sorted({trunk_id(c) for c in group}) if shares_stable_phase(group) else [c.run_id() for c in group]
    return records.digest(" ".join(ids))


def train_group(device, dtype, compile, verbose, group, ckpt):
    """sweep.run's trainer: yields (config, record) for every run of one planned group, resumable from ckpt."""
    log = print if verbose else quiet
    if not shares_stable_phase(group):
        yield from zip(group, train_members(group, device, dtype, compile, ckpt, log=log))
        return
    try:
        budgets_of(group)
        parts = [group]
    except ValueError:  # not every member at every budget (claims split the group): a stable phase per member
        parts = [[c for c in group if member_key(c) == m] for m in dict.fromkeys(map(member_key, group))]
    for part in parts:
        yield from train_budgets(part, device, dtype, compile, ckpt if len(parts) == 1 else None, log)


def run_sweep(args):
    """`python train.py --sweep SPEC --out DIR`: the grid, minus what DIR already holds (sweep.py)."""
    args.out = args.out or "out/sweep"
    configs = sweep.expand(sweep.load_spec(args.sweep), config_from_args(args))
    shard = sweep.shard_of(args.shard)
    device = pick_device(args.device)
    size = args.ensemble or (1 if device.type == "cpu" else 8)
    cli.in_range("jobs", args.jobs, 1)
    for group in {(shape_key(g[0]), len(g)): g for g in plan_groups(size, configs)}.values():
        check_memory(group, device)  # the grid refused before its first run, not that run failed
    if args.dry_run:
        return dry_run(configs[shard[0]::shard[1]], args.out, device, size, args.throughput)
    check_outputs(args, configs, shard)
    if args.jobs == 1:
        return sweep_worker(args, configs, shard, size)
    threads = max(1, torch.get_num_threads() // args.jobs)
    print(f"sweep: {args.jobs} worker processes of {threads} thread(s) each claim runs as they go", flush=True)
    jobs = [(args, configs, shard, size, threads, f"[job {j}] ") for j in range(args.jobs)]
    exits = sweep.parallel(sweep_worker, jobs)
    if any(exits):
        raise ValueError(f"a sweep worker exited with status {next(e for e in exits if e)}; rerun to finish")


def sweep_worker(args, configs, shard, size, threads=None, prefix=""):
    """One process of a sweep: claim and train runs until none is left (sweep.run)."""
    if threads:
        torch.set_num_threads(threads)
    trainer = functools.partial(train_group, args.device, args.dtype, args.compile, args.verbose)
    plan = functools.partial(plan_groups, size, largest_first=args.jobs > 1)
    failed = sweep.run(configs, args.out, trainer, estimated_flops, shard, plan, group_name,
                       log=lambda line: print(prefix + line, flush=True))
    if failed:
        print(f"{prefix}{len(failed)} run(s) failed; rerun the same command to retry them", flush=True)


def group_flops(group):
    """Training FLOPs of a planned group: under a shared stable phase, the phase once plus every budget's
    cooldown (per member); otherwise each run's own."""
    if not shares_stable_phase(group):
        return sum(estimated_flops(c) for c in group)
    by_budget = budgets_of(group)
    longest = by_budget[-1][0]
    steps = schedule.cooldown_start(longest) + sum(b[0].steps - schedule.cooldown_start(b[0]) for b in by_budget)
    return estimated_flops(longest) / longest.steps * steps * len(by_budget[0])


def measured_rate(path):
    """cfg -> FLOP/s, from `bench.py --gpu --json PATH` (its achieved_flops per width: the nearest measured
    width at or above the run's, else the widest); None without a path."""
    if not path:
        return None
    measured = rates_by_width(path, files.read_json(path, "bench.py --gpu --json", "achieved_flops")["achieved_flops"])
    return lambda cfg: measured[min((w for w in measured if w >= cfg.width), default=max(measured))]


def rates_by_width(path, table):
    """{width: FLOP/s} from bench.py --gpu's table {"64": {"achieved_flops": 1.2e13, ...}, ...}; a ValueError
    naming path for a table of any other shape (a list, a rate that is text, not positive or not finite)."""
    shape = 'an object {"<width>": {"achieved_flops": FLOP/s > 0}, ...} as `bench.py --gpu --json` writes'
    if not isinstance(table, dict) or not table:
        raise ValueError(f"{path}: achieved_flops must be {shape}, got {json.dumps(table)[:60]}")
    measured = {}
    for width, entry in table.items():
        rate = entry.get("achieved_flops") if isinstance(entry, dict) else None
        if not (width.isdigit() and int(width) > 0 and isinstance(rate, (int, float)) and not isinstance(rate, bool)
                and math.isfinite(rate) and rate > 0):
            raise ValueError(f"{path}: achieved_flops must be {shape}; its entry {json.dumps(width)} is "
                             f"{json.dumps(entry)[:60]}")
        measured[int(width)] = rate
    return measured


def dry_run(configs, out, device, size, throughput=None):
    """List the runs still to do, their FLOPs and time at the device's nominal FLOP/s (or as measured by
    bench.py --gpu), and what the planned groups train against running each run alone."""
    done = sweep.finished(out) if os.path.isdir(out) else set()
    todo = [c for c in configs if c.run_id() not in done]
    rate = measured_rate(throughput) or (lambda cfg: NOMINAL_FLOPS[device.type])
    keys, plan = sweep.varying(configs), plan_groups(size, todo)
    alone, planned = sum(estimated_flops(c) for c in todo), sum(group_flops(g) for g in plan)
    seconds = sum(group_flops(g) / rate(g[0]) for g in plan)
    print(f"sweep: {len(configs)} runs in this shard, {len(configs) - len(todo)} already done, {len(todo)} to run: "
          f"{planned:.2e} FLOPs as planned ({planned / max(alone, 1e-9):.2f} of {alone:.2e} run by run), "
          f"~{seconds:.0f}s on {device.type} ({'measured' if throughput else 'nominal'} FLOP/s)")
    for c in todo:
        print(f"  {c.run_id()}  {sweep.describe(c, keys)}  {estimated_flops(c):.2e} FLOPs alone")


def main(argv=None):
    args = build_parser().parse_args(argv)
    cli.guarded(check_mode, args)
    with cli.resumable(__file__, argv):  # Ctrl-C: one line saying how to resume
        cli.guarded(run_sweep if args.sweep else run_one, args)


if __name__ == "__main__":
    main()
