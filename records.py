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
  runs a bootstrap resamples whole under --schedule wsd (resampling_units).
- `load_runs`, `runs_from_records`, `read_csv`: records (or a CSV) read as arrays of points, N in parameters,
  D in tokens, C in FLOPs, L in nats, each with its bootstrap unit (`resampling_units`); `check_records` and
  `check_runs` refuse what cannot be fitted, raising FitError.
- `target_of`, `infinite_points`: what a run trained against (sampled or expected), and the expected-target
  runs as points of L(N, D = ∞) − E, one per N, each judged converged or not over its last decade of tokens;
  `infinite_cell`, `infinite_text`: fit.py's verdict on those points in brief (ladder.py's and theory.py's tables).
"""
import csv
import dataclasses
import hashlib
import json
import math
import os
import subprocess
import sys

import numpy as np

REDUCED = ("lr", "seed")  # what the best-lr reduction varies within one group
FAMILY_REDUCED = REDUCED + ("tokens",)  # what varies within one stable-phase family (family_key)
FINISHED = ("ok", "diverged")  # a run with such a record is never rerun; a failed one (an exception) is retried
N_DEFS = ("total", "non_embedding", "kaplan")  # the parameter counts a record keeps (model.param_counts)
UNIT_KINDS = dict(family="stable-phase family (config minus lr, seed, tokens)",   # resampling_units, in words
                  seed="seed within a family (config minus lr, tokens)", run="run")


class FitError(ValueError):
    """Bad input to fit: reported as one line on stderr, exit status 2 (cli.guarded)."""


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


# -----------------------------------------------------------------------------
# reading runs: records (or a CSV) as arrays of (N, D, C, L) points for fit.py


def resampling_units(records):
    """
    The bootstrap's resampling unit of each record (lawfit.bootstrap draws units, not runs) as string labels,
    and the kinds used, described in words (UNIT_KINDS):
    - a wsd run: its stable-phase family (family_key), whose budgets branch from shared stable phases;
    - a cosine run whose family holds several seeds: its seed within the family, the runs sharing an init
      and a data order;
    - otherwise (a cosine run of a one-seed family, a best_runs point averaging seeds, a record without a
      config): the run itself.
    The best lr of each experiment (best_runs) is chosen once, on all the data: a unit carries every
    lr of the groups in it (a family, or a best_runs point), so a resample could only repeat that choice, and
    with one seed per (group, lr), as in the committed sweeps, the data fix it. With several seeds per lr its
    noise would be resampled by drawing seeds and, per resample, taking the lr of lowest mean over the drawn
    seeds: a new loss and curve per point, so every refit path (lawfit.minimise, the one-dimensional slices,
    Approaches 1-2, the interpolation) would take per-resample losses where it now takes weights. Not done.
    """
    families = [family_key(r) for r in records]
    seeds = {}
    for r, f in zip(records, families):
        if f is not None:
            seeds.setdefault(f, set()).add(r["config"].get("seed"))
    labels, kinds = [], set()
    for i, (r, f) in enumerate(zip(records, families)):
        if f is not None and r["config"].get("schedule", "cosine") == "wsd":
            kind, label = "family", f
        elif f is not None and r.get("seeds", 1) == 1 and len(seeds[f]) > 1:
            kind, label = "seed", f"{f} seed {r['config'].get('seed')}"
        else:
            kind, label = "run", f"run {i}"
        labels.append(label)
        kinds.add(kind)
    return np.array(labels), " or ".join(v for k, v in UNIT_KINDS.items() if k in kinds)


def runs_from_records(records, n_def="total"):
    """
    Arrays of one point per record: N (parameters, `params[n_def]`), D (tokens), C (FLOPs), L (nats), floor
    (nats), each record's curve put on the FLOPs axis, C(t) = flops/tokens · tokens_t, its schedule, N_alt,
    the other parameter counts of N_DEFS by name (NaN where a record lacks one), and each point's bootstrap
    unit with the kinds used, in words (resampling_units).
    """
    if any(n_def not in r["params"] for r in records):
        raise FitError(f"--n-def {n_def}: a run record has no params.{n_def} (written before that count existed)")
    pts = [(r["params"][n_def], r["tokens"], r["flops"], r["loss"], r.get("floor")) for r in records]
    N, D, C, L, floor = (np.array([np.nan if v is None else v for v in col], float) for col in zip(*pts)) if pts else [np.zeros(0)] * 5
    curves = [(np.array([t for t, _ in r.get("curve") or []], float) * r["flops"] / r["tokens"],
               np.array([l for _, l in r.get("curve") or []], float)) for r in records]
    schedule = np.array([(r.get("config") or {}).get("schedule", "cosine") for r in records])
    N_alt = {d: np.array([r["params"].get(d, np.nan) for r in records], float) for d in N_DEFS if d != n_def}
    unit, unit_kind = resampling_units(records)
    return dict(N=N, D=D, C=C, L=L, floor=floor if np.all(np.isfinite(floor)) else None, curves=curves,
                N_alt=N_alt, n_def=n_def, schedule=schedule, unit=unit, unit_kind=unit_kind)


def read_csv(path, n_col="N", d_col="D", loss_col="loss", c_col=None):
    """Points from a CSV: N (parameters), D (tokens) and loss (nats) columns, or N, C (FLOPs) and loss with
    D = C/(6N) tokens when c_col is given."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # a spreadsheet's BOM is no part of the header
            reader = csv.DictReader(f)
            rows, header = list(reader), reader.fieldnames or []
    except UnicodeDecodeError as e:
        raise FitError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})")
    if not rows:
        raise FitError(f"{path}: no rows")
    if len(header) == 1 and ";" in header[0]:  # a European spreadsheet's export
        raise FitError(f"{path}: separated by semicolons; fit.py reads comma-separated values with decimal points")
    cols = [n_col, c_col if c_col else d_col, loss_col]
    missing = [c for c in cols if c not in rows[0]]
    if missing:
        raise FitError(f"{path}: no column {', '.join(map(repr, missing))} (columns: {', '.join(header)})")
    for i, r in enumerate(rows, 2):  # line 1 is the header
        try:
            [float(r[c]) for c in cols]
        except (TypeError, ValueError):  # TypeError: a short row leaves its last columns None
            raise FitError(f"{path}:{i}: {', '.join(cols)} must be numbers, got {[r.get(c) for c in cols]}")
    N, X, L = (np.array([float(r[c]) for r in rows]) for c in cols)
    D, C = (X / (6 * N), X) if c_col else (X, 6 * N * X)
    return dict(N=N, D=D, C=C, L=L, floor=None, curves=None, N_alt=None, n_def=n_col)


def load_runs(paths, n_def="total", all_runs=False, n_col="N", d_col="D", loss_col="loss", c_col=None):
    """Runs from CSV files (columns as read_csv) or run records: ok sampled-target runs only (target_of),
    N = params[n_def], reduced by best_runs unless all_runs; with the source, the count of runs not ok and of ok
    sampled-target records, and the ok records of each target, unreduced, as `sampled` and `expected`."""
    for p in paths:  # a directory is searched for *.jsonl; a file must say what it is
        if os.path.isfile(p) and not p.lower().endswith((".csv", ".jsonl")):
            raise FitError(f"{p}: fit.py reads run records (*.jsonl) or comma-separated files (*.csv)")
    csvs = [p for p in paths if p.lower().endswith(".csv")]
    if csvs and len(csvs) < len(paths):
        raise FitError("give either CSV files or run records, not both")
    if csvs:
        parts = [read_csv(p, n_col, d_col, loss_col, c_col) for p in csvs]
        runs = {k: np.concatenate([p[k] for p in parts]) for k in ("N", "D", "C", "L")}
        runs.update(floor=None, curves=None, N_alt=None, n_def=n_col, source=", ".join(csvs), not_ok=0)
        return runs
    records = read_records(paths)
    if not records:
        raise FitError(f"no run records in {', '.join(paths)}")
    ok = [r for r in records if r.get("status") == "ok"]
    check_records(ok, n_def)
    sampled = [r for r in ok if target_of(r) == "sampled"]  # the expected-target runs are fitted apart
    try:
        runs = runs_from_records(sampled if all_runs else best_runs(sampled), n_def)
    except (KeyError, TypeError, ValueError) as e:
        raise FitError(f"a run record lacks or mangles the key {e}")
    runs.update(source=", ".join(paths), not_ok=len(records) - len(ok), records=len(sampled), sampled=sampled,
                expected=[r for r in ok if target_of(r) == "expected"])
    return runs


def check_records(ok, n_def):
    """Refuse, naming the run, an ok record whose loss, tokens, flops or params[n_def] is not a positive finite
    number; and records of several datasets (one law, one floor: fit them one at a time)."""
    for r in ok:
        fields = dict(loss=r.get("loss"), tokens=r.get("tokens"), flops=r.get("flops"),
                      **{f"params.{n_def}": (r.get("params") or {}).get(n_def)})
        for name, v in fields.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
                raise FitError(f"run {r.get('run', '?')}: {name} is {v!r}, not a positive number")
    datasets = {json.dumps([r.get("dataset"), r.get("dataset_args")], sort_keys=True) for r in ok}
    if len(datasets) > 1:
        names = sorted({r.get("dataset") or "?" for r in ok})
        raise FitError(f"the records hold {len(datasets)} datasets ({', '.join(names)}; their dataset_args differ "
                       "where a name repeats): fit one dataset at a time")


def check_runs(runs):
    """Refuse what cannot be fitted: no points, non-positive or non-finite values, fewer points than the 5
    parameters of the joint law, or all-equal N or D."""
    n = len(runs["L"])
    if n == 0:
        raise FitError("no usable runs")
    for k in ("N", "D", "C", "L"):
        bad = ~(np.isfinite(runs[k]) & (runs[k] > 0))
        if bad.any():
            raise FitError(f"{bad.sum()} of {n} runs have a non-positive or non-finite {k} "
                           f"(first: row {np.argmax(bad) + 1}, {k} = {runs[k][np.argmax(bad)]})")
    if n < 5:
        raise FitError(f"{n} runs are fewer than the 5 parameters of L(N, D) = E + A/N^α + B/D^β")
    for k in ("N", "D"):
        if np.unique(runs[k]).size < 2:
            raise FitError(f"all runs have the same {k} = {runs[k][0]:.4g}; L(N, D) needs at least two values")


def git_commit():
    """The commit this checkout is at (a record's `git`), or None outside a git checkout."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


# -----------------------------------------------------------------------------
# families of runs (fit.py --compare): records split by config fields, one point per width at a shared D

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


# -----------------------------------------------------------------------------
# training targets (DESIGN.md, "Training targets"): sampled-target runs make the (N, D) laws; an
# expected-target run ends at the model-size term L(N, D = ∞) − E alone, fitted apart (fit.infinite_data)

TARGETS = ("sampled", "expected")   # a record's `target`
# Converged: at the floor to 1e-3 nats (the precision the project asks of an expected-target run), or a plateau
# above it, the excess having fallen by at most max(10% of its final value, 1e-3 nats) over the last decade of
# tokens (last_decade). Under cosine the last decade holds the anneal, which lowers the loss most: a strict test.
CONVERGED_FRACTION, CONVERGED_NATS = 0.1, 1e-3


def target_of(record):
    """What a record's training loss was against: its `target`, "sampled" for a record written before the key
    existed; FitError for any other value."""
    target = record.get("target") or "sampled"
    if target not in TARGETS:
        raise FitError(f"run {record.get('run', '?')}: target {target!r} is neither sampled nor expected")
    return target


def last_decade(record):
    """
    How far a run's excess (curve loss − floor, nats) fell over its last decade of tokens: from D/10 (D the
    record's tokens; the curve interpolated linearly in log tokens there, or its first point where it starts
    later) to the final excess, loss − floor. Returns (drop in nats, the tokens it is measured from, whether the
    curve started after D/10); (nan, nan, True) without a curve.
    """
    curve = np.array(record.get("curve") or [], float).reshape(-1, 2)
    if not len(curve):
        return math.nan, math.nan, True
    tokens, excess = curve[:, 0], curve[:, 1] - record["floor"]
    start = max(record["tokens"] / 10, tokens.min())
    at_start = float(np.interp(math.log(start), np.log(tokens), excess))
    return at_start - (record["loss"] - record["floor"]), start, bool(tokens.min() > record["tokens"] / 10)


def infinite_point(record, n_def):
    """One point of infinite_points: {run, width, N (params[n_def]), tokens, excess (loss − floor, nats),
    converged, drop (nats), drop_from (tokens), short (the curve started after D/10)}."""
    if record.get("floor") is None:
        raise FitError(f"run {record.get('run', '?')}: an expected-target record without a floor")
    excess = record["loss"] - record["floor"]
    drop, start, short = last_decade(record)
    converged = bool(excess <= CONVERGED_NATS or drop <= max(CONVERGED_FRACTION * excess, CONVERGED_NATS))  # NaN: no
    width = record.get("width", (record.get("config") or {}).get("width"))
    return dict(run=record.get("run"), width=width, N=record["params"][n_def], tokens=record["tokens"],
                excess=excess, converged=converged, drop=drop, drop_from=start, short=short)


def infinite_points(records, n_def="total"):
    """
    The points of fit.infinite_data from expected-target ok records: the best lr of each experiment
    (best_runs, whose loss and curve are the seed means), then at each N (params[n_def]) the run of the most
    tokens (of equal tokens, the lowest loss), as infinite_point dicts sorted by N.
    """
    check_records(records, n_def)
    best = {}
    for r in best_runs(records):
        N = r["params"][n_def]
        if N not in best or (r["tokens"], -r["loss"]) > (best[N]["tokens"], -best[N]["loss"]):
            best[N] = r
    return [infinite_point(best[N], n_def) for N in sorted(best)]


def infinite_cell(inf):
    """fit.infinite_data's result (its JSON, or the dict) in brief: the shape BIC prefers on the converged runs (basis 'converged'), or,
    where too few converged, on every run at its budget (basis 'at budget': an upper bound on the term), with
    α and its interval where a power law wins, N_c and the width at it where a threshold does. None: no
    expected-target runs (natural text)."""
    if inf is None:
        return None
    shapes, basis = (inf, "converged") if inf.get("verdict") else (inf.get("at_budget"), "at budget")
    cell = dict(points=len(inf["points"]), converged=len(inf["points"]) - len(inf["unconverged"]))
    if not shapes:
        return dict(cell, verdict=None, skipped=inf.get("skipped"))
    cell.update(verdict=shapes["verdict"], basis=basis, delta_bic=shapes["delta_bic"], runner_up=shapes["runner_up"])
    if shapes["verdict"] == "power law":
        cell.update(alpha=shapes["power_law"]["alpha"], alpha_ci=shapes["power_law"]["ci"])
    if shapes["verdict"] == "threshold":
        t = shapes["threshold"]
        cell.update(N_c=t["N_c"], N_c_ci=t["ci"], width_c=t.get("width_c"))
    return cell


def infinite_text(cell):
    """infinite_cell's verdict in a few words."""
    if cell is None:
        return "- (no expected-target runs)"
    if cell["verdict"] is None:
        return f"skipped: {cell['skipped']}"
    text = f"{cell['verdict']} by {cell['delta_bic']:.1f} ({cell['basis']}, {cell['converged']}/{cell['points']} conv.)"
    if cell["verdict"] == "power law":
        return f"{text} alpha {cell['alpha']:.2f} [{cell['alpha_ci'][0]:.2f}, {cell['alpha_ci'][1]:.2f}]"
    return f"{text} width {cell['width_c']:.0f}" if cell["verdict"] == "threshold" and cell["width_c"] else text


def width_at(points, N):
    """The width at N parameters, interpolated linearly in log width against log N over infinite_points' points
    (sorted by N; clamped to the end points outside them); None when a point has no width."""
    if any(p["width"] is None for p in points):
        return None
    logN, log_width = (np.log([float(p[k]) for p in points]) for k in ("N", "width"))
    return float(np.exp(np.interp(math.log(N), logN, log_width)))
