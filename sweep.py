"""
Sweeps: many runs of train.py from a grid, split across processes, resumed after any interruption.

    python sweep.py quick --out out/quick                     # a preset
    python sweep.py spec.json --out out/s --jobs 2            # two worker processes on one machine
    python sweep.py spec.json --out out/s --shard 1/4         # the second of four machines
    python sweep.py quick --out out/quick --dry-run           # the plan, its FLOPs and time, nothing trained

A spec maps run flags (as in `train.py --help`, underscores, no dashes) to a value or a list of values; the
grid is their product, the last key varying fastest. Values go through RunConfig's own field parsers, so
"2M" and 2000000, or 1 and 1.0, are one run with one id. Every other flag of train.py sets the base config.

Every run's record goes to DIR/runs.jsonl (or runs.I-of-N.jsonl for a shard). A process claims a run by
locking its file in DIR/claims (fcntl.flock) for as long as it trains it: every other process skips it, and
says so, so concurrent sweeps of one grid never train a run twice; the kernel drops the lock when its holder
dies, so a claim is free whatever its file holds and no run is ever stranded. A finished run (ok or
diverged) is never rerun or recorded twice; a run that raised is recorded 'failed' with its error and the
sweep goes on (the next invocation retries it). kill -9 at any moment loses at most the steps since the
run's last checkpoint (DIR/ckpt); Ctrl-C or SIGTERM stops every worker, removes their temporary files and
releases their claims (`parallel`).

Runs that differ only in lr, seed, weight decay or embedding lr train together as one *ensemble*
(ensemble.py) through train.py's loop. Under --schedule wsd, a *family* (runs that differ only in tokens)
trains its warmup and stable phase once and branches each budget's cooldown from it (train_budgets).
"""
import contextlib
import copy
import dataclasses
import functools
import itertools
import json
import math
import multiprocessing
import os
import signal
import sys
import threading
import time

import torch

import cli
import data
import ensemble
import records
import train
from model import GPT, GPTConfig, NOMINAL_FLOPS, pick_device

# The first scaling law of docs/results.md, in two halves on ER 250 nodes / 1250 edges (mean degree 10).
# L(D), sampled targets, from measured pilots ("A first scaling law"): six widths above the capacity threshold
# spanning a decade of non-embedding N, eight budgets over 1.5 decades of D, wsd (a width's budgets share one
# stable phase), muP base width 16 at lr 2^-3 (SP's best at width 16, transferred: "SP against muP").
QUICK_DATA = dict(nodes=250, edges=1250, width=[16, 24, 32, 40, 48, 64], param="mup", base_width=16, lr=2 ** -3,
                  tokens=["190k", "330k", "540k", "890k", "1.45M", "2.4M", "3.9M", "6.3M"], head_dim=8,
                  batch_size=50, schedule="wsd", warmup_tokens="50k", eval_walks=100)
# L(N, D = inf), expected targets ("The two terms apart"): six widths across the threshold measured on this
# graph (between widths 8 and 16), with docs/infinite's settings, 4M tokens each.
QUICK_MODEL = dict(nodes=250, edges=1250, width=[4, 8, 12, 16, 24, 32], head_dim=4, param="mup", base_width=32,
                   lr=0.02, weight_decay=0, target="expected", tokens="4M")
PRESETS = {"quick": [QUICK_DATA, QUICK_MODEL]}
MAX_RUNS = 100_000  # a larger grid is refused before its configs are built (each takes ~0.3 ms to check)
STOP_WAIT = 30  # seconds a stopped worker gets to remove its temporary files and release its claims


def load_spec(name):
    """A sweep spec: a preset's name or a JSON file holding one grid (an object mapping flag names, with
    underscores, to a value or a list of values) or a list of grids, run one after the other."""
    if name in PRESETS:
        return [dict(grid) for grid in PRESETS[name]]
    try:
        with open(name, encoding="utf-8-sig") as f:  # -sig: a byte-order mark is not part of the JSON
            spec = json.load(f, object_pairs_hook=unique_keys)
    except FileNotFoundError:
        raise ValueError(f"{name}: no such sweep spec (presets: {', '.join(PRESETS)})")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{name}: not valid JSON ({str(e).splitlines()[0]})")
    except ValueError as e:
        raise ValueError(f"{name}: {e}")
    grids = spec if isinstance(spec, list) and spec else [spec]
    if not all(isinstance(g, dict) and g for g in grids):
        raise ValueError(f"{name}: a sweep spec is a non-empty JSON object of flag names to values or lists, "
                         "or a non-empty list of such objects")
    return spec


def unique_keys(pairs):
    """json's object_pairs_hook: the object of pairs, a ValueError if a key repeats (json keeps the last
    silently, so {"seed": [0], "seed": [1]} would run one of the two lists without a word)."""
    keys = [k for k, _ in pairs]
    repeated = next((k for k in keys if keys.count(k) > 1), None)
    if repeated is not None:
        raise ValueError(f"the key {json.dumps(repeated)} appears {keys.count(repeated)} times in one object")
    return dict(pairs)


def expand(spec, base):
    """The grid, or a list of grids one after the other, as a deterministic list of configs (dataclasses like
    base, whose class parses one field's value with parse_field(name, value)). Every key, value and
    combination is checked before anything runs: an unknown key, a value its field refuses, a run the config
    refuses, or a run two grids both hold is a ValueError naming it."""
    if isinstance(spec, list):
        sizes = [math.prod(len(v) if isinstance(v, list) else 1 for v in grid.values()) for grid in spec]
        if sum(sizes) > MAX_RUNS:
            raise ValueError(f"sweep spec: {sum(sizes):,} runs, more than the {MAX_RUNS:,} one sweep takes")
        configs = [c for grid in spec for c in expand(grid, base)]
        ids = [c.run_id() for c in configs]
        twice = next((i for i in ids if ids.count(i) > 1), None)
        if twice:
            raise ValueError(f"sweep spec: run {twice} is in two of its grids; list each run once")
        return configs
    names = [f.name for f in dataclasses.fields(base)]
    lists = {key: values if isinstance(values, list) else [values] for key, values in spec.items()}
    size = math.prod(len(values) for values in lists.values())
    if size > MAX_RUNS:
        raise ValueError(f"sweep spec: a grid of {size:,} runs, more than the {MAX_RUNS:,} one sweep takes; "
                         "split it into several specs")
    axes = []
    for key, values in lists.items():
        if key not in names:
            raise ValueError(f"sweep spec: unknown run flag {key!r} (flags: {', '.join(sorted(names))})")
        if not values:
            raise ValueError(f"sweep spec: {key} has an empty list of values")
        axes.append(distinct(key, values, [checked(type(base), key, v) for v in values]))
    return [combined(base, dict(combo)) for combo in itertools.product(*axes)]


def distinct(key, values, parsed):
    """parsed, the (key, value) pairs of values, if no two values are one value of the field (0, "0" and 0.0
    are one seed): a ValueError naming them otherwise, as the grid would hold one run twice."""
    spellings = {}
    for raw, (_, value) in zip(values, parsed):
        spellings.setdefault(value, []).append(json.dumps(raw))
    value, raws = next(((v, r) for v, r in spellings.items() if len(r) > 1), (None, []))
    if raws:
        raise ValueError(f"sweep spec: {key} lists {', '.join(raws)}, which are all {value!r}; list each value once")
    return parsed


def checked(config_class, key, value):
    """(key, value) once the config class accepts value for its field key, as the field's type."""
    try:
        return key, config_class.parse_field(key, value)
    except (ValueError, TypeError) as e:
        raise ValueError(f"sweep spec: {key}={json.dumps(value)}: {e}")


def combined(base, values):
    """base with values: a ValueError naming the run of the grid the config refuses."""
    try:
        return dataclasses.replace(base, **values)
    except ValueError as e:
        raise ValueError(f"sweep spec: the run {json.dumps(values)}: {e}")


def shard_of(flag, env=os.environ):
    """(index, count) of this process's slice: --shard i/n, else torchrun's RANK/WORLD_SIZE, else a Slurm
    array's SLURM_ARRAY_TASK_ID/COUNT, else (0, 1). Shard i runs every n-th run starting at i."""
    if flag:
        i, n = whole("--shard", flag)
    elif "WORLD_SIZE" in env:
        i, n = whole("torchrun's RANK/WORLD_SIZE", f"{env.get('RANK', '0')}/{env['WORLD_SIZE']}")
    elif "SLURM_ARRAY_TASK_COUNT" in env:
        if "SLURM_ARRAY_TASK_ID" not in env:
            raise ValueError("SLURM_ARRAY_TASK_COUNT is set but SLURM_ARRAY_TASK_ID is not: run inside a Slurm "
                             "array job, or give --shard i/n")
        i, n, low = whole("SLURM_ARRAY_TASK_ID/COUNT/MIN", f"{env['SLURM_ARRAY_TASK_ID']}/"
                          f"{env['SLURM_ARRAY_TASK_COUNT']}/{env.get('SLURM_ARRAY_TASK_MIN', '0')}", 3)
        i -= low
    else:
        i, n = 0, 1
    if not 0 <= i < n:
        raise ValueError(f"shard {i}/{n}: need 0 <= i < n")
    return i, n


def whole(source, text, parts=2):
    """The `parts` whole numbers of text 'i/n' (or 'i/n/m'), which source gave (a flag, environment
    variables); a ValueError naming source otherwise."""
    try:
        numbers = [int(t) for t in text.split("/")]
    except ValueError:
        numbers = []
    if len(numbers) != parts:
        raise ValueError(f"{source} {text!r}: expected {parts} whole numbers separated by '/'")
    return numbers


def finished(out_dir):
    """The ids of the finished runs (ok or diverged) recorded in out_dir."""
    return {r.get("run") for r in records.read_records(out_dir, quiet=True) if r.get("status") in records.FINISHED}


@contextlib.contextmanager
def claimed(runs, out):
    """The runs of runs this process claims (cli.claim), held for the block and released after it."""
    paths, held = {c.run_id(): os.path.join(out, "claims", c.run_id()) for c in runs}, {}
    try:
        for c in runs:
            fd = cli.claim(paths[c.run_id()])
            if fd is not None:
                held[c.run_id()] = fd
        yield [c for c in runs if c.run_id() in held]
    finally:
        for run, fd in held.items():
            cli.release(paths[run], fd)


def checkpoint_name(runs):
    """The checkpoint file name of runs trained together: the hash of their ids."""
    return records.digest(" ".join(c.run_id() for c in runs))


def varying(configs):
    """The fields whose values differ across configs: what names a run within its grid."""
    names = [f.name for f in dataclasses.fields(configs[0])] if configs else []
    return [k for k in names if len({repr(getattr(c, k)) for c in configs}) > 1]


def describe(cfg, keys):
    return " ".join(f"{k} {getattr(cfg, k)}" for k in keys)


def record_path(out, shard):
    i, n = shard
    return os.path.join(out, "runs.jsonl" if n == 1 else f"runs.{i}-of-{n}.jsonl")


def failed_record(cfg, error):
    return dict(run=cfg.run_id(), group=records.group_id(cfg), status="failed",
                error=(str(error).splitlines() or [type(error).__name__])[0], config=dataclasses.asdict(cfg))


def train_claimed(mine, out, path, trainer, name):
    """Train the runs of mine (claimed here) nobody has finished through trainer(runs, ckpt), an iterable of
    (config, record); append each record to path as it comes (a failed record for every run left if training
    raises) and yield it. The checkpoint is removed once every run is recorded."""
    done = finished(out)  # another process may have finished a run since this one listed the grid
    todo = [c for c in mine if c.run_id() not in done]
    if not todo:
        return
    ckpt, left = os.path.join(out, "ckpt", name(todo) + ".pt"), {c.run_id(): c for c in todo}
    try:
        for cfg, record in trainer(todo, ckpt):
            yield cfg, append(path, cfg, record)
            left.pop(cfg.run_id())
    except Exception as e:  # any run that raises is recorded and the sweep goes on
        for cfg in list(left.values()):
            yield cfg, append(path, cfg, failed_record(cfg, e))
    cli.discard(ckpt)


def append(path, cfg, record):
    """Append record to path and return it; a record that is not strict JSON (NaN) is kept as failed. A write
    that fails (a full disk) stops the sweep with the run's checkpoint kept, so a rerun records it at once."""
    try:
        try:
            records.append_record(path, record)
        except ValueError as e:
            record = failed_record(cfg, e)
            records.append_record(path, record)
    except OSError as e:
        raise OSError(f"{path}: cannot append the record of run {cfg.run_id()} ({e.strerror or e}); its "
                      "checkpoint is kept: rerun the sweep to record it")
    return record


def run(configs, out, trainer, cost, shard=(0, 1), plan=lambda todo: [[c] for c in todo], name=checkpoint_name,
        log=print):
    """Run this shard's unfinished configs in the lists of runs trained together that plan(todo) makes, each
    through trainer(runs, ckpt_path) -> (config, record) pairs, checkpointing to ckpt/<name(runs)>.pt; cost(config)
    is its FLOPs, for the ETA. A run another live process holds is skipped, and said so (again at the end if it
    is unfinished). Returns the records of this call's runs that failed."""
    mine = configs[shard[0]::shard[1]]
    done = finished(out)
    todo = [c for c in mine if c.run_id() not in done]
    cost_of = {c.run_id(): cost(c) for c in todo}
    total, keys = sum(cost_of.values()), varying(configs)
    log(f"sweep: {len(configs)} runs, shard {shard[0]}/{shard[1]} has {len(mine)}, {len(mine) - len(todo)} already "
        f"done, {len(todo)} to run ({total:.2e} FLOPs)")
    for sub in ("ckpt", "claims"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    t0, failed, skipped = time.time(), [], []
    for together in plan(todo):
        with claimed(together, out) as ours:
            skipped += skip_held([c for c in together if c not in ours], out, log)
            for cfg, record in train_claimed(ours, out, record_path(out, shard), trainer, name):
                if record["status"] == "failed":
                    failed.append(record)
                done = finished(out) & set(cost_of) | {r["run"] for r in failed}  # every process's, for --jobs
                spent, elapsed = sum(cost_of[i] for i in done), time.time() - t0
                log(f"[{len(done)}/{len(todo)}] {cfg.run_id()} {describe(cfg, keys)}: {records.summary(record)} | "
                    f"elapsed {elapsed:.0f}s | eta {elapsed * (total - spent) / max(spent, 1e-9):.0f}s")
    for record in failed:
        log(f"failed: {record['run']}: {record['error']} (a rerun of the sweep retries it)")
    held = [i for i in skipped if i not in finished(out)]
    if held:
        log(f"held: {len(held)} run(s) that other live processes claimed are not finished yet: {' '.join(held)} "
            "(their processes train them; a rerun after those end trains any they leave)")
    return failed


def skip_held(configs, out, log):  # runs another live process holds: say each is skipped; their ids
    for cfg in configs:
        log(f"skipped {cfg.run_id()}: another live process holds its claim "
            f"({cli.holder(os.path.join(out, 'claims', cfg.run_id()))})")
    return [c.run_id() for c in configs]


def parallel(target, arg_lists):
    """Run target(*args) for each args of arg_lists in its own spawned process, and wait for them all;
    their exit codes. Ctrl-C and SIGTERM reach the workers through this process (they ignore SIGINT, which
    a terminal sends to all): it stops them with SIGTERM, waits while they remove their temporary files and
    release their claims, and raises KeyboardInterrupt. A worker whose parent dies stops itself (worker)."""
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=worker, args=(target, *args)) for args in arg_lists]
    try:
        sigint = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited by the workers
        try:
            for w in workers:
                w.start()
        finally:
            signal.signal(signal.SIGINT, sigint)
        for w in workers:
            w.join()
    except BaseException:
        for w in workers:
            if w.is_alive():
                w.terminate()
        for w in workers:
            if w.pid is not None:
                w.join(STOP_WAIT)
            if w.is_alive():  # stuck in its cleanup: it must not outlive the sweep
                w.kill()
        raise
    return [w.exitcode for w in workers]


def worker(target, *args):
    """The body of a worker process: target(*args), its bad input or full disk one error line (status 2);
    SIGTERM, from its parent or on its parent's death, unwinds it as Ctrl-C would (finally blocks clean up)
    and ends it quietly (status 130)."""
    signal.signal(signal.SIGTERM, cli.interrupt)
    threading.Thread(target=watch_parent, args=(multiprocessing.parent_process().pid,), daemon=True).start()
    try:
        cli.guarded(target, *args)
    except KeyboardInterrupt:
        sys.exit(130)


def watch_parent(parent):
    """SIGTERM this process once its parent (pid) is gone (killed, even by SIGKILL): checked every second."""
    while os.getppid() == parent:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)


# ---------------------------------------------------------------------------------------------------
# runs trained together: ensembles, the wsd family's shared stable phase, and their cost known in advance

@functools.lru_cache(maxsize=None)
def shape_counts(shape):
    """(parameter counts, FLOPs per token) of the GPT of shape (a GPTConfig as a tuple, hashable), built
    once per shape on the meta device: a 10^4-run plan used to build ~4*10^4 models (minutes)."""
    with torch.device("meta"):
        model = GPT(GPTConfig(*shape))
    return model.param_counts(), model.flops_per_token()


@functools.lru_cache(maxsize=None)
def estimated_flops(cfg):
    """Training FLOPs of a run (FLOPs per token x tokens of its steps), before its dataset is loaded."""
    shape = dataclasses.astuple(train.model_config(cfg, data.vocab_size(cfg)))
    return shape_counts(shape)[1] * cfg.steps * cfg.batch_size * cfg.block_size


def shares_stable_phase(runs):  # a wsd family of several budgets
    return all(c.schedule == "wsd" for c in runs) and len({c.tokens for c in runs}) > 1


def trunk_id(cfg):
    """The id of a wsd run's stable phase: its config without tokens (records.run_id otherwise)."""
    return records.digest({k: v for k, v in records.changed_fields(cfg).items() if k != "tokens"})


def budgets_of(runs):
    """A wsd family's runs as one member list per token budget, shortest first, every budget in the members'
    order; a ValueError unless the runs are every member at every budget."""
    budgets = sorted({c.tokens for c in runs})
    members = [c for c in runs if c.tokens == budgets[-1]]
    by_budget = [[dataclasses.replace(m, tokens=D) for m in members] for D in budgets]
    if sorted(c.run_id() for b in by_budget for c in b) != sorted(c.run_id() for c in runs):
        raise ValueError("a shared stable phase needs every member at every token budget")
    return by_budget


def train_budgets(runs, device="auto", dtype="auto", compile=False, ckpt=None, log=print):
    """Under wsd, runs that differ only in tokens (and in lr, seed... as ensemble members) share their warmup
    and stable phase: train it once through train.py's loop, and at each budget's cooldown start branch a
    cooldown off a copy of the state. Yields (config, record) as each budget finishes, shortest first; each
    record is the run that config gives alone (same batches, same schedule, same eval points). The stable
    phase is checkpointed to ckpt at its evals and at each branch point, so a kill loses at most one cooldown."""
    t_start, by_budget = time.time(), budgets_of(runs)
    members, first = by_budget[-1], by_budget[0][0]
    trunk_run = train.start(members, device, dtype, compile, log)
    trunk, ids = train.fresh_progress(members, trunk_run.device), [trunk_id(c) for c in members]
    if ckpt and os.path.exists(ckpt) and train.load_checkpoint(ckpt, trunk_run, trunk, ids):
        if trunk.step > train.cooldown_start(first):  # past a branch point still to run: cannot branch back
            raise ValueError(f"{ckpt} is past the cooldown start of a budget still to run; remove it to retrain")
        log(f"resumed the stable phase from {ckpt} at step {trunk.step}")
    points = [{p for p in train.eval_steps(b[0]) if p <= train.cooldown_start(b[0])} for b in by_budget]
    tokens_per_step = first.batch_size * first.block_size
    for budget, own in zip(by_budget, points):
        branch_at, steps = train.cooldown_start(budget[0]), budget[0].steps
        train.train_until(trunk_run, trunk, branch_at, set().union(*points), ckpt, ids)
        if ckpt:
            train.save_checkpoint(ckpt, trunk_run, trunk, ids)
        saved, branch = ensemble.snapshot(trunk_run.members), copy.deepcopy(trunk)
        branch.curves = [[pt for pt in curve if pt[0] // tokens_per_step in own] for curve in branch.curves]
        branch.done_steps = [steps if s == "ok" else d for s, d in zip(branch.status, branch.done_steps)]
        branch_run = dataclasses.replace(trunk_run, cfgs=budget)  # the same models, this budget's schedule
        train.train_until(branch_run, branch, steps, train.eval_steps(budget[0]))
        if branch.loss is None or branch_at == steps:
            branch.loss, branch.loss_sampled = train.evaluate(branch_run)
        yield from ((c, train.run_record(branch_run, e, branch, time.time() - t_start)) for e, c in enumerate(budget))
        ensemble.restore(trunk_run.members, saved)


def plan_ensembles(size, configs, largest_first=False):
    """The sweep's runs as the lists trained together, in grid order (largest_first: by FLOPs, largest first,
    so that parallel workers end together): runs of one shape (ensemble.shape_key) in ensembles of up to
    `size` members; under wsd, the runs of a family (that differ only in tokens) join their members'
    ensemble, to share one stable phase (train_budgets)."""
    by_shape = {}
    for cfg in configs:
        key = ensemble.shape_key(cfg, ("tokens",) if cfg.schedule == "wsd" else ())
        by_shape.setdefault(key, []).append(cfg)
    plan = []
    for same_shape in by_shape.values():
        by_member = {}
        for cfg in same_shape:
            by_member.setdefault(ensemble.member_key(cfg), []).append(cfg)
        members = list(by_member.values())
        plan += [[c for m in members[i:i + size] for c in m] for i in range(0, len(members), size)]
    return sorted(plan, key=planned_flops, reverse=True) if largest_first else plan


def planned_flops(runs):
    """Training FLOPs of runs trained together: under a shared stable phase, the phase once plus every
    budget's cooldown (per member); otherwise each run's own."""
    if not shares_stable_phase(runs):
        return sum(estimated_flops(c) for c in runs)
    by_budget = budgets_of(runs)
    longest = by_budget[-1][0]
    steps = train.cooldown_start(longest) + sum(b[0].steps - train.cooldown_start(b[0]) for b in by_budget)
    return estimated_flops(longest) / longest.steps * steps * len(by_budget[0])


def planned_name(runs):
    """The checkpoint name of runs trained together: the id of their stable phase if they share one."""
    ids = sorted({trunk_id(c) for c in runs}) if shares_stable_phase(runs) else [c.run_id() for c in runs]
    return records.digest(" ".join(ids))


def train_planned(device, dtype, compile, verbose, runs, ckpt):
    """run's trainer: yields (config, record) for every one of runs (planned to train together), resumable
    from ckpt."""
    log = print if verbose else train.quiet
    if not shares_stable_phase(runs):
        yield from zip(runs, train.train_runs(runs, device, dtype, compile, ckpt, log=log))
        return
    members = list(dict.fromkeys(map(ensemble.member_key, runs)))
    complete = len(runs) == len(members) * len({c.tokens for c in runs})  # claims may split a family
    parts = [runs] if complete else [[c for c in runs if ensemble.member_key(c) == m] for m in members]
    for part in parts:  # an incomplete family: a stable phase per member, each budget it still has
        yield from train_budgets(part, device, dtype, compile, ckpt if len(parts) == 1 else None, log)


# ---------------------------------------------------------------------------------------------------
# command line

def build_parser():
    p = cli.Parser(description=__doc__, formatter_class=cli.HelpFormatter)
    p.add_argument("spec", metavar="SPEC", help=f"a preset ({', '.join(PRESETS)}) or SPEC.json mapping run flags "
                   "to a value or a list of values")
    g = train.add_run_flags(p)
    g.add_argument("--out", default="out/sweep", help="directory of the sweep's records, claims and checkpoints")
    g.add_argument("--shard", help="i/n: run every n-th run of the grid starting at i (default: from torchrun "
                   "RANK/WORLD_SIZE or a Slurm array's SLURM_ARRAY_TASK_ID/COUNT)")
    g.add_argument("--dry-run", action="store_true", help="list the sweep's runs with estimated FLOPs and time")
    g.add_argument("--throughput", metavar="JSON", help="with --dry-run: time at the FLOP/s per width that "
                   "`bench.py --gpu --json JSON` measured, instead of a nominal rate")
    g.add_argument("--verbose", action="store_true", help="print each run's step lines")
    g.add_argument("--jobs", type=cli.parse_count, default=1, help="worker processes on this machine, the threads "
                   "split among them; each claims the next unclaimed run, so large and small runs balance")
    g.add_argument("--ensemble", type=cli.parse_count, default=0,
                   help="train up to this many runs that differ only in lr/seed together as one batched model "
                   "(1: off; 0: 8 on GPUs, 1 on CPUs, where batched matmuls are slower than one after another)")
    return p


def grid(args):
    """The sweep's configs: the spec's grid over the base config of the other flags, every run's dataset
    checked (data.check) before any work."""
    configs = expand(load_spec(args.spec), train.config_from_args(args))
    for cfg in configs:
        data.check(cfg)
    return configs


def check_outputs(args, configs, shard):
    """Before any work starts: the directory writable, and the record file distinct from every input (the
    spec, --throughput, the runs' dataset files) and a JSON Lines file if it exists (cli.check_outputs)."""
    inputs = [("SPEC", args.spec if args.spec not in PRESETS else None), ("--throughput", args.throughput)]
    cli.check_outputs(inputs + train.inputs_of(configs), [("--out", record_path(args.out, shard), "jsonl")])
    cli.check_writable(args.out, directory=True)


def run_sweep(args):
    """`python sweep.py SPEC --out DIR`: the grid, minus what DIR already holds."""
    if args.throughput and not args.dry_run:
        raise ValueError("--throughput applies to --dry-run only (it times the plan; a run measures itself)")
    configs, shard = grid(args), shard_of(args.shard)
    device = pick_device(args.device)
    size = args.ensemble or (1 if device.type == "cpu" else 8)
    cli.in_range("jobs", args.jobs, 1)
    for together in {(ensemble.shape_key(g[0]), len(g)): g for g in plan_ensembles(size, configs)}.values():
        train.check_memory(together, device)  # the grid refused before its first run, not that run failed
    if args.dry_run:
        return dry_run(configs[shard[0]::shard[1]], args.out, device, size, args.throughput)
    check_outputs(args, configs, shard)
    if args.jobs == 1:
        return sweep_worker(args, configs, shard, size)
    threads = max(1, torch.get_num_threads() // args.jobs)
    print(f"sweep: {args.jobs} worker processes of {threads} thread(s) each claim runs as they go", flush=True)
    exits = parallel(sweep_worker, [(args, configs, shard, size, threads, f"[job {j}] ") for j in range(args.jobs)])
    if any(exits):
        raise ValueError(f"a sweep worker exited with status {next(e for e in exits if e)}; rerun to finish")


def sweep_worker(args, configs, shard, size, threads=None, prefix=""):
    """One process of a sweep: claim and train runs until none is left (run)."""
    if threads:
        torch.set_num_threads(threads)
    trainer = functools.partial(train_planned, args.device, args.dtype, args.compile, args.verbose)
    plan = functools.partial(plan_ensembles, size, largest_first=args.jobs > 1)
    failed = run(configs, args.out, trainer, estimated_flops, shard, plan, planned_name,
                 log=lambda line: print(prefix + line, flush=True))
    if failed:
        print(f"{prefix}{len(failed)} run(s) failed; rerun the same command to retry them", flush=True)


def measured_rate(path):
    """cfg -> FLOP/s, from `bench.py --gpu --json PATH` (its achieved_flops per width: the nearest measured
    width at or above the run's, else the widest); None without a path."""
    if not path:
        return None
    measured = rates_by_width(path, cli.read_json(path, "bench.py --gpu --json", "achieved_flops")["achieved_flops"])
    return lambda cfg: measured[min((w for w in measured if w >= cfg.width), default=max(measured))]


def rates_by_width(path, table):
    """{width: FLOP/s} from bench.py --gpu's table {"64": {"achieved_flops": 1.2e13, ...}, ...}; a ValueError
    naming path for a table of any other shape."""
    measured = {}
    for width, entry in table.items() if isinstance(table, dict) and table else [("", table)]:
        rate = entry.get("achieved_flops") if isinstance(entry, dict) else None
        if not (width.isdigit() and int(width) > 0 and isinstance(rate, (int, float)) and not isinstance(rate, bool)
                and math.isfinite(rate) and rate > 0):
            raise ValueError(f"{path}: achieved_flops must be an object {{\"<width>\": {{\"achieved_flops\": FLOP/s > 0}}, "
                             f"...}} as `bench.py --gpu --json` writes; got {json.dumps(entry if width else table)[:60]}")
        measured[int(width)] = rate
    return measured


def dry_run(configs, out, device, size, throughput=None):
    """List the runs still to do, their FLOPs and time at the device's nominal FLOP/s (or as measured by
    bench.py --gpu), and what the plan trains against running each run alone."""
    done = finished(out) if os.path.isdir(out) else set()
    todo = [c for c in configs if c.run_id() not in done]
    rate = measured_rate(throughput) or (lambda cfg: NOMINAL_FLOPS[device.type])
    keys, plan = varying(configs), plan_ensembles(size, todo)
    alone, planned = sum(estimated_flops(c) for c in todo), sum(planned_flops(g) for g in plan)
    seconds = sum(planned_flops(g) / rate(g[0]) for g in plan)
    print(f"sweep: {len(configs)} runs in this shard, {len(configs) - len(todo)} already done, {len(todo)} to run: "
          f"{planned:.2e} FLOPs as planned ({planned / max(alone, 1e-9):.2f} of {alone:.2e} run by run), "
          f"~{seconds:.0f}s on {device.type} ({'measured' if throughput else 'nominal'} FLOP/s)")
    for c in todo:
        print(f"  {c.run_id()}  {describe(c, keys)}  {estimated_flops(c):.2e} FLOPs alone")


def main(argv=None):
    args = build_parser().parse_args(argv)
    with cli.resumable(__file__, argv):  # Ctrl-C: one line saying how to resume
        cli.guarded(run_sweep, args)


if __name__ == "__main__":
    main()
