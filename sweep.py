"""
Sweeps: a grid of runs from a spec, split across processes, resumed after any interruption.

    python train.py --sweep quick --out out/quick             # a preset
    python train.py --sweep spec.json --out out/s --jobs 2    # two worker processes on one machine
    python train.py --sweep spec.json --out out/s --shard 1/4 # the second of four machines

A spec maps run flags (as in `train.py --help`, underscores, no dashes) to a value or a list of values; the
grid is their product, the last key varying fastest. Values go through the config's own field parsers, so
"2M" and 2000000, or 1 and 1.0, are one run with one id.

Every run's record goes to DIR/runs.jsonl (or runs.I-of-N.jsonl for a shard). A process claims a run by
locking its file in DIR/claims (fcntl.flock) for as long as it trains it: every other process skips it, and
says so, so concurrent sweeps of one grid never train a run twice; the kernel drops the lock when its holder
dies, so a claim is free whatever its file holds and no run is ever stranded. A finished run (ok or
diverged) is never rerun or recorded twice; a run that raised is recorded 'failed' with its error and the
sweep goes on (the next invocation retries it). kill -9 at any moment loses at most the steps since the
run's last checkpoint (DIR/ckpt); Ctrl-C or SIGTERM stops every worker, removes their temporary files and
releases their claims (`parallel`).

This file knows nothing about training: train.py hands it the configs and a function that trains a group.
"""
import contextlib
import dataclasses
import fcntl
import itertools
import json
import math
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time

import cli
import files
import records

PRESETS = {
    # The first scaling law of docs/results.md, designed from measured pilots ("A first scaling law"): ER 250
    # nodes / 1250 edges (mean degree 10), six widths above the capacity cliff (width 8 plateaus at 1.7 nats
    # of excess) spanning a decade of non-embedding N, eight budgets spanning 1.5 decades of D that start
    # after the early transient, and wsd, so the eight budgets of a width share one stable phase (half the
    # tokens of eight cosine runs). muP with base width 16 at lr 2^-3, SP's best at width 16 (where the two
    # are one model), transferred: at 1.45M tokens it beats SP tuned at every width, and the former 2^-7 at
    # base width 64 by 0.01-0.10 nats (docs/results.md, "SP against muP at equal loss").
    "quick": dict(nodes=250, edges=1250, width=[16, 24, 32, 40, 48, 64],
                  tokens=["190k", "330k", "540k", "890k", "1.45M", "2.4M", "3.9M", "6.3M"], param="mup",
                  base_width=16, lr=2 ** -3, head_dim=8, batch_size=50, schedule="wsd", warmup_tokens="50k",
                  eval_walks=100),
}
MAX_RUNS = 100_000  # a larger grid is refused before its configs are built (each takes ~0.3 ms to check)
FINISHED = ("ok", "diverged")  # a failed run (an exception) is retried by the next invocation
STOP_WAIT = 30  # seconds a stopped worker gets to remove its temporary files and release its claims


def load_spec(name):
    """A sweep spec: a preset's name or a JSON file mapping flag names (underscores) to a value or a list."""
    if name in PRESETS:
        return dict(PRESETS[name])
    try:
        with open(name, encoding="utf-8-sig") as f:  # -sig: a byte-order mark is not part of the JSON
            spec = json.load(f, object_pairs_hook=unique_keys)
    except FileNotFoundError:
        raise ValueError(f"{name}: no such sweep spec (presets: {', '.join(PRESETS)})")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{name}: not valid JSON ({str(e).splitlines()[0]})")
    except ValueError as e:
        raise ValueError(f"{name}: {e}")
    if not isinstance(spec, dict) or not spec:
        raise ValueError(f"{name}: a sweep spec is a non-empty JSON object of flag names to values or lists")
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
    """The grid as a deterministic list of configs (dataclasses like base, whose class parses one field's
    value with parse_field(name, value)). Every key, value and combination is checked before anything runs:
    an unknown key, a value its field refuses, or a run the config refuses is a ValueError naming it."""
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
    return {r.get("run") for r in records.read_records(out_dir, quiet=True) if r.get("status") in FINISHED}


def claim(path):
    """Lock the claim file at path (fcntl.flock, exclusive, not waiting): the open file descriptor if this
    process now holds the run, None if a live process does. The kernel drops a lock when its holder dies, so
    a claim left by a killed process is free, whatever its file holds (empty, garbage, a reused pid)."""
    while True:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        if still_at(path, fd):
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())  # for people: the lock decides
            return fd
        os.close(fd)  # its holder released it (removed the file) after this process opened it: lock anew


def still_at(path, fd):
    """Whether path still names the file open as fd: release removes a claim's file before dropping its lock."""
    try:
        named, held = os.stat(path), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def release(path, fd):
    """Give up the claim at path held as fd."""
    with contextlib.suppress(FileNotFoundError):  # a claim someone cleared by hand
        os.remove(path)
    os.close(fd)


def holder(path):
    """Who holds the claim at path, as its file says ('pid P on HOST'), for the message of a skipped run."""
    try:
        with open(path) as f:
            return f.read().strip() or "holder unknown"
    except OSError:
        return "holder unknown"


@contextlib.contextmanager
def claimed(group, out):
    """The runs of group this process claims (claim), held for the block and released after it."""
    paths, held = {c.run_id(): os.path.join(out, "claims", c.run_id()) for c in group}, {}
    try:
        for c in group:
            fd = claim(paths[c.run_id()])
            if fd is not None:
                held[c.run_id()] = fd
        yield [c for c in group if c.run_id() in held]
    finally:
        for run, fd in held.items():
            release(paths[run], fd)


def checkpoint_name(group):
    """A group's checkpoint file name: the hash of its runs' ids (records.group_key is another thing: an
    experiment)."""
    return records.digest(" ".join(c.run_id() for c in group))


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


def train_claimed(mine, out, path, train_group, name):
    """Train the runs of mine (claimed by this process) that nobody has finished, through
    train_group(runs, ckpt), an iterable of (config, record); each record is appended to path as it comes
    (a failed record for every run left when training raises), and yielded. The checkpoint is removed once
    every run is recorded (a save cut short removes its own temporary file: model.save_atomic)."""
    done = finished(out)  # another process may have finished a run since this one listed the grid
    todo = [c for c in mine if c.run_id() not in done]
    if not todo:
        return
    ckpt, left = os.path.join(out, "ckpt", name(todo) + ".pt"), {c.run_id(): c for c in todo}
    try:
        for cfg, record in train_group(todo, ckpt):
            yield cfg, append(path, cfg, record)
            left.pop(cfg.run_id())
    except Exception as e:  # any run that raises is recorded and the sweep goes on
        for cfg in list(left.values()):
            yield cfg, append(path, cfg, failed_record(cfg, e))
    files.discard(ckpt)


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


def run(configs, out, train_group, cost, shard=(0, 1), plan=lambda todo: [[c] for c in todo], name=checkpoint_name,
        log=print):
    """Run this shard's unfinished configs in the groups plan(todo) makes, each through
    train_group(group, ckpt_path) -> (config, record) pairs, checkpointing to ckpt/<name(group)>.pt;
    cost(config) is its FLOPs, for the ETA. A run another live process holds is skipped, and said so (and
    again at the end if it is still unfinished). Returns the records of this call's runs that failed."""
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
    for group in plan(todo):
        with claimed(group, out) as ours:
            skipped += skip_held([c for c in group if c not in ours], out, log)
            for cfg, record in train_claimed(ours, out, record_path(out, shard), train_group, name):
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


def skip_held(configs, out, log):
    """Say, for each of configs (runs another live process holds), that this process skips it; their ids."""
    for cfg in configs:
        log(f"skipped {cfg.run_id()}: another live process holds its claim "
            f"({holder(os.path.join(out, 'claims', cfg.run_id()))})")
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
