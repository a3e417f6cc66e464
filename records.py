"""
Run records: one JSON object per line in `*.jsonl` files (DESIGN.md, "The run record").

- `run_id(config)`: a run's stable id, the first 12 hex digits of the SHA-1 of the fields whose values
  differ from their defaults, as sorted JSON. Adding a field with a default leaves every id as it was, and
  a value's JSON type does not matter once the config has converted it to its field's type (1 and 1.0 are
  one run). A default must never change without a version field, or old ids would name new runs.
- `append_record`: a record is appended whole or not at all.
- `read_records`: every readable record under files or directories; a line that is not JSON (a crash
  mid-write) or not an object is skipped with a warning naming its file and line.
- `group_key`: the experiment a record belongs to, its whole configuration except lr and seed: the best-lr
  reduction averages seeds and compares learning rates within a group, never across groups.
- `best_runs`: that reduction, one record per group at the learning rate of lowest seed-mean loss.
- `family_key`: the stable-phase family of a record, its config except lr, seed and tokens: the block of
  runs a bootstrap resamples whole under --schedule wsd (fit.resampling_units).
"""
import dataclasses
import hashlib
import json
import os
import sys

import numpy as np

REDUCED = ("lr", "seed")  # what the best-lr reduction varies within one group
FAMILY_REDUCED = REDUCED + ("tokens",)  # what varies within one stable-phase family (family_key)


def warn(message):
    print(f"warning: {message}", file=sys.stderr)


def changed_fields(config):
    """The fields of a dataclass config whose values differ from their defaults, by name."""
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if value != default:
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def digest(obj):
    return hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def run_id(config):
    """The run's stable id (see the module docstring)."""
    return digest(changed_fields(config))


def group_id(config):
    """The id of the run's experiment: its config with lr and seed at their defaults."""
    return digest({k: v for k, v in changed_fields(config).items() if k not in REDUCED})


def config_key(config, without):
    """A config (dict) less the fields `without`, as sorted JSON: the key of the runs that differ only there."""
    return json.dumps({k: v for k, v in config.items() if k not in without}, sort_keys=True)


def group_key(record):
    """The experiment of a record: its stored `group`, or for records written before groups existed, its
    whole config except lr and seed (records without a config fall back to their data and model keys)."""
    if record.get("group"):
        return record["group"]
    if isinstance(record.get("config"), dict):
        return config_key(record["config"], REDUCED)
    keys = ("dataset", "dataset_args", "V", "param", "n_layer", "width", "n_head", "block_size", "batch_size",
            "tokens", "params")
    return json.dumps([record.get(k) for k in keys], sort_keys=True)


def family_key(record):
    """
    The stable-phase family of a record: its config except lr, seed and tokens, as sorted JSON; None for a
    record without a config. Under --schedule wsd the budgets (tokens) of one config share a stable phase,
    one per lr and seed; best_runs picks each budget's lr among those phases and averages their seeds, so
    its points of one family depend on each other, and the family is the block a bootstrap draws whole.
    """
    if not isinstance(record.get("config"), dict):
        return None
    return config_key(record["config"], FAMILY_REDUCED)


def append_record(path, record):
    """Append one JSON line whole or not at all: a single write() on an O_APPEND file (atomic for concurrent
    writers on a local file system), then fsync. If an earlier crash left a partial last line, it is closed
    first, so it stays one unreadable line that readers skip. NaN and inf are refused (ValueError) before
    anything is written."""
    line = (json.dumps(record, allow_nan=False) + "\n").encode()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":  # a line cut short by a crash: end it first
            line = b"\n" + line
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def record_files(paths):
    """The record files behind paths: a directory gives its *.jsonl files, sorted; a missing path is a ValueError."""
    files = []
    for p in [paths] if isinstance(paths, str) else paths:
        if os.path.isdir(p):  # regular files only: a device named *.jsonl (/dev/full, /dev/zero) never ends
            files += sorted(os.path.join(p, f) for f in os.listdir(p)
                            if f.endswith(".jsonl") and os.path.isfile(os.path.join(p, f)))
        elif os.path.isfile(p):
            files.append(p)
        else:
            raise ValueError(f"{p}: no such file or directory")
    return files


def read_file(path, quiet=False):
    """The records (JSON objects) of one file, in order; bad lines are skipped with a warning."""
    records = []
    with open(path, "rb") as f:
        for i, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8-sig"))  # a BOM is no part of the first record
            except (UnicodeDecodeError, json.JSONDecodeError):
                record = "a line that is not JSON (a write cut short?)"
            if isinstance(record, dict):
                records.append(record)
            elif not quiet:
                reason = record if isinstance(record, str) else f"a JSON {type(record).__name__}, not a record"
                warn(f"{path}:{i}: skipping {reason}")
    return records


def read_records(paths, quiet=False):
    """Every record in the files and directories `paths` (a path or a list), skipping bad lines."""
    return [r for f in record_files(paths) for r in read_file(f, quiet)]


def summary(record):
    """A record's outcome in one phrase: its loss, floor and excess in nats, or its status."""
    if record.get("loss") is None:
        return record["status"] + (f" ({record['error']})" if record.get("error") else "")
    if record.get("floor") is None:
        return f"loss {record['loss']:.4f} nats (floor unknown)"
    return f"loss {record['loss']:.4f} nats, floor {record['floor']:.4f}, excess {record['excess']:.4f}"


def best_runs(records, warn_edge=True):
    """
    One record per experiment (records.group_key: the whole configuration except lr and seed): at the learning
    rate with the lowest seed-mean final loss, with `loss` and `curve` averaged over that lr's seeds.
    Adds `seeds`, `lr_grid` and `lr_edge` (True when the best lr is the smallest or largest tried, so the true
    optimum may lie outside the grid; warned about unless warn_edge is False).
    """
    groups = {}
    for r in records:
        groups.setdefault(group_key(r), []).append(r)
    best = []
    for group in groups.values():
        by_lr = {}
        for r in group:
            by_lr.setdefault(r.get("lr"), []).append(r)
        lrs = sorted(by_lr, key=lambda lr: (lr is None, lr))
        lr = min(lrs, key=lambda lr: np.mean([r["loss"] for r in by_lr[lr]]))
        seeds = by_lr[lr]
        out = dict(seeds[0], loss=float(np.mean([r["loss"] for r in seeds])), seeds=len(seeds), lr_grid=lrs,
                   lr_edge=len(lrs) > 1 and lr in (lrs[0], lrs[-1]), curve=mean_curve(seeds))
        if out["lr_edge"] and warn_edge:
            warn(f"run {out.get('run')}: best lr {lr} is at the edge of the lr grid {lrs[0]}..{lrs[-1]}")
        best.append(out)
    return best


def mean_curve(records):
    """The seed-mean of the records' curves when they share their token grid, else the first record's curve."""
    curves = [r.get("curve") or [] for r in records]
    grids = {tuple(t for t, _ in c) for c in curves}
    if len(grids) != 1 or not curves[0]:
        return curves[0]
    return [[t, float(np.mean([c[i][1] for c in curves]))] for i, (t, _) in enumerate(curves[0])]
