import errno
import json
import math
import os
import random
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import records
import sweep as sweep_lib
import train

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--nodes", "60", "--edges", "200", "--width", "16", "--batch-size", "10", "--eval-walks", "20"]
SPEC = {"width": [16], "tokens": ["20k", "40k"], "lr": [1e-3, 1e-2], "seed": [0, 1]}  # 8 runs, 2 shapes


def sweep(spec_path, out, *extra, **kw):
    return subprocess.Popen([sys.executable, str(ROOT / "sweep.py"), str(spec_path), "--out", str(out),
                             *SMALL, *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def grid_ids():
    configs = sweep_lib.expand(SPEC, train.config_from_args(train.build_parser().parse_args(SMALL)))
    return [c.run_id() for c in configs]


def finished_ids(out):
    lines = [line for p in Path(out).glob("*.jsonl") for line in p.read_text().splitlines()]
    return [json.loads(line)["run"] for line in lines]  # every line must parse


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC))
    return path


def test_grid_is_deterministic_and_parsed_like_flags():
    ids = grid_ids()
    assert len(ids) == len(set(ids)) == 8 and ids == grid_ids()
    a = sweep_lib.expand({"tokens": "2M", "kappa": 1}, train.RunConfig())
    b = sweep_lib.expand({"tokens": 2_000_000, "kappa": "1.0"}, train.RunConfig())
    assert a == b == [train.RunConfig(tokens=2_000_000, kappa=1.0)]


def test_killed_sweep_resumes_with_every_run_exactly_once(spec, tmp_path):
    """kill -9 the sweep at random moments (seeded) until it completes; no run lost, none duplicated."""
    out, rng, kills = tmp_path / "out", random.Random(0), 0
    for _ in range(30):
        p = sweep(spec, out, "--ensemble", str(rng.choice([1, 4])))
        try:
            p.wait(timeout=rng.uniform(1.5, 4))  # python + torch start in ~2 s: many kills land mid-run
            break
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
            kills += 1
    else:
        p = sweep(spec, out)
        p.wait(timeout=600)
    assert p.returncode == 0, p.stderr.read()
    assert kills >= 2  # the test killed something
    ids = finished_ids(out)
    assert sorted(ids) == sorted(grid_ids())  # each run exactly once


def test_concurrent_shards_cover_the_grid_without_overlap(spec, tmp_path):
    out = tmp_path / "out"
    one_thread = dict(os.environ, OMP_NUM_THREADS="1")  # two processes on two cores, no oversubscription
    procs = [sweep(spec, out, "--shard", f"{i}/2", env=one_thread) for i in range(2)]
    for p in procs:
        assert p.wait(timeout=600) == 0, p.stderr.read()
    ids = finished_ids(out)
    assert sorted(ids) == sorted(grid_ids())
    rerun = sweep(spec, out)
    assert rerun.wait(timeout=600) == 0 and "0 to run" in rerun.stdout.read()


@pytest.mark.parametrize("env, expected", [
    ({"RANK": "3", "WORLD_SIZE": "8"}, (3, 8)),
    ({"SLURM_ARRAY_TASK_ID": "12", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_COUNT": "4"}, (2, 4)),
    ({}, (0, 1)),
])
def test_shard_comes_from_the_environment(env, expected, monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert sweep_lib.shard_of(None) == expected
    assert sweep_lib.shard_of("1/5") == (1, 5)


def test_ensemble_member_equals_the_run_alone():
    base = train.RunConfig(nodes=60, edges=200, width=32, tokens=30_000, batch_size=10, eval_walks=20, eval_every=10)
    members = [replace(base, lr=1e-3), replace(base, lr=1e-2), replace(base, lr=3e-3, seed=1)]
    together = train.train_runs(members, device="cpu", log=lambda *a: None)
    for cfg, record in zip(members, together):
        alone = train.train(cfg, device="cpu", log=lambda *a: None)
        assert record["run"] == alone["run"] and record["ensemble"] == 3
        assert [t for t, _ in record["curve"]] == [t for t, _ in alone["curve"]]
        assert [v for _, v in record["curve"]] == pytest.approx([v for _, v in alone["curve"]], abs=1e-4)


def test_diverged_member_does_not_disturb_the_others():
    base = train.RunConfig(nodes=60, edges=200, width=32, tokens=20_000, batch_size=10, eval_walks=20, grad_clip=0)
    good, bad = replace(base, lr=1e-3), replace(base, lr=1e30, seed=1)
    ok, diverged = train.train_runs([good, bad], device="cpu", log=lambda *a: None)
    assert diverged["status"] == "diverged" and diverged["loss"] is None
    assert ok["status"] == "ok" and ok["loss"] == pytest.approx(train.train(good, device="cpu", log=lambda *a: None)["loss"], abs=1e-4)


@pytest.mark.parametrize("spec_text, message", [
    ('{"widht": [32]}', "unknown run flag"),
    ('{"graph": ["xx"]}', "not one of"),
    ('{"kappa": [0, -1, 0.5]}', "kappa=-1"),
    ('{"width": [[16]]}', "width=[16]"),
    ('{"width": null}', "width=null"),
    ('{"tie_weights": "perhaps"}', "tie_weights"),
    ('{"kappa": "abc"}', "kappa"),
    ('{"lr": 1e400}', "lr"),
    ('{"nodes": [10], "edges": [46]}', "--edges"),
    ('{"width": []}', "empty"),
    ('{"width": [30]}', "divisible"),
    ("not json", "not valid JSON"),
])
def test_bad_spec_exits_2_with_one_line(spec_text, message, tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(spec_text)
    p = sweep(path, tmp_path / "out")
    p.wait(timeout=120)
    lines = p.stderr.read().strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and message in lines[0]


WSD = train.RunConfig(nodes=60, edges=200, width=16, batch_size=10, eval_walks=20, schedule="wsd",
                      warmup_tokens=2000, lr=1e-2)


@pytest.mark.parametrize("seeds", [(0,), (0, 1)])
def test_wsd_branch_equals_the_run_alone(seeds):
    """One stable phase, a cooldown branched off it per budget: each branch is the run its budget gives alone,
    bit for bit for a lone member (an ensemble of two takes vmap's kernels: equal to float rounding)."""
    cfgs = [replace(WSD, tokens=t, seed=s) for s in seeds for t in (8_000, 20_000, 30_000)]
    branched = list(sweep_lib.train_budgets(cfgs, device="cpu", log=lambda *a: None))
    assert sorted(c.run_id() for c, _ in branched) == sorted(c.run_id() for c in cfgs)
    assert [c.tokens for c, _ in branched][::len(seeds)] == [8_000, 20_000, 30_000]  # shortest first
    for cfg, record in branched:
        alone = train.train(cfg, device="cpu", log=lambda *a: None)
        assert record["run"] == alone["run"] and record["tokens"] == alone["tokens"] == cfg.tokens
        assert [t for t, _ in record["curve"]] == [t for t, _ in alone["curve"]]
        if len(seeds) == 1:
            assert record["curve"] == alone["curve"] and record["loss"] == alone["loss"]
        else:
            assert [v for _, v in record["curve"]] == pytest.approx([v for _, v in alone["curve"]], abs=1e-4)


def test_wsd_schedule_shape():
    cfg = replace(WSD, tokens=50_000)  # 100 steps: warmup 4, constant to step 80, 1-sqrt cooldown to 0
    lrs = [train.lr_at(s, cfg) for s in range(cfg.steps)]
    assert lrs[:4] == pytest.approx([cfg.lr * k / 4 for k in (1, 2, 3, 4)])
    assert set(lrs[4:80]) == {cfg.lr}
    assert lrs[80:] == pytest.approx([cfg.lr * (1 - ((s - 80) / 20) ** 0.5) for s in range(80, 100)])
    default = replace(WSD, warmup_tokens=0, tokens=200_000)  # no --warmup-tokens: WSD_WARMUP_TOKENS, fixed
    assert train.warmup_steps(default) == train.WSD_WARMUP_TOKENS // 500  # 500 tokens a step
    with pytest.raises(ValueError, match="warmup-tokens"):
        replace(WSD, warmup_tokens=0, tokens=20_000)  # 40 steps: the cooldown starts at step 32, the warmup ends at 80


def test_jobs_share_the_grid_and_run_each_run_once(spec, tmp_path):
    out = tmp_path / "out"
    p = sweep(spec, out, "--jobs", "2")
    stdout, stderr = p.communicate(timeout=600)
    assert p.returncode == 0, stderr
    assert sorted(finished_ids(out)) == sorted(grid_ids())
    assert "[job 0] [" in stdout and "[job 1] [" in stdout  # both workers trained runs


def test_concurrent_identical_sweeps_train_each_run_once(spec, tmp_path):
    """Two processes of the same grid into the same directory (no shards): the claims split the work."""
    out, one_thread = tmp_path / "out", dict(os.environ, OMP_NUM_THREADS="1")
    procs = [sweep(spec, out, env=one_thread) for _ in range(2)]
    for p in procs:
        assert p.wait(timeout=600) == 0, p.stderr.read()
    assert sorted(finished_ids(out)) == sorted(grid_ids())


def test_corrupt_checkpoint_is_moved_aside_and_the_run_restarts(tmp_path):
    spec = tmp_path / "one.json"
    spec.write_text(json.dumps({"tokens": ["20k"]}))
    base = train.config_from_args(train.build_parser().parse_args(SMALL))
    group = sweep_lib.plan_ensembles(1, sweep_lib.expand({"tokens": ["20k"]}, base))[0]
    ckpt = tmp_path / "out" / "ckpt" / (sweep_lib.planned_name(group) + ".pt")
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"\x80\x04 not a checkpoint")
    p = sweep(spec, tmp_path / "out")
    stdout, stderr = p.communicate(timeout=600)
    assert p.returncode == 0 and "moved to" in stderr and "corrupt" in stderr
    assert finished_ids(tmp_path / "out") == [group[0].run_id()]
    assert (ckpt.parent / (ckpt.name + ".corrupt")).read_bytes() == b"\x80\x04 not a checkpoint"


def test_full_disk_stops_with_one_line_and_keeps_the_checkpoint(spec, tmp_path, monkeypatch, capsys):
    """The disk fills up at the first append of a record (ENOSPC): one error line, exit 2, the run's
    checkpoint kept; once there is space, the rerun records every run exactly once. (A device as the record
    file, such as /dev/full, is refused before any work: tests/test_bad_input.py.)"""
    out = tmp_path / "out"

    def full(path, record):
        raise OSError(errno.ENOSPC, "No space left on device")
    with monkeypatch.context() as patched:
        patched.setattr(records, "append_record", full)
        with pytest.raises(SystemExit) as exit_:
            sweep_lib.main([str(spec), "--out", str(out), *SMALL])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and "No space left" in err[0]
    assert list((out / "ckpt").glob("*.pt"))
    p = sweep(spec, out)
    assert p.wait(timeout=600) == 0
    assert sorted(finished_ids(out)) == sorted(grid_ids())


def test_dry_run_counts_shared_stable_phases_and_reads_measured_throughput(tmp_path, capsys):
    """Four wsd budgets of one run: the stable phase once plus four cooldowns, against four whole runs; and
    time at the FLOP/s bench.py --gpu measured for the nearest width at or above the run's."""
    spec = tmp_path / "wsd.json"
    spec.write_text(json.dumps({"tokens": ["10k", "20k", "40k", "80k"], "schedule": "wsd", "warmup_tokens": "1k"}))
    bench = tmp_path / "gpu.json"
    bench.write_text(json.dumps({"achieved_flops": {"16": {"achieved_flops": 1e9}, "64": {"achieved_flops": 4e9}}}))
    sweep_lib.main([str(spec), "--out", str(tmp_path / "o"), "--dry-run", "--throughput", str(bench), *SMALL])
    header = capsys.readouterr().out.splitlines()[0]
    steps = [math.ceil(t / 500) for t in (10_000, 20_000, 40_000, 80_000)]  # batch 10 x T 50
    planned = (steps[-1] - round(0.2 * steps[-1]) + sum(round(0.2 * s) for s in steps)) / sum(steps)
    assert f"({planned:.2f} of" in header and "measured FLOP/s" in header
    cfgs = sweep_lib.expand(json.loads(spec.read_text()), train.config_from_args(train.build_parser().parse_args(SMALL)))
    seconds = sum(sweep_lib.planned_flops(g) for g in sweep_lib.plan_ensembles(1, cfgs)) / 1e9  # width 16: the 16 entry
    assert f"~{seconds:.0f}s" in header


def test_quick_preset_spans_the_design_it_promises():
    """Its L(D) half: >= 5 widths over >= 1 decade of non-embedding N, >= 4 budgets over >= 1.5 decades of D,
    one stable phase per width (wsd), and at most 0.6 of the tokens of the same runs trained one by one. Its
    L(N, inf) half: >= 6 widths over >= 1 decade of N, every run on the expected target, on the same graph."""
    data_half, model_half = sweep_lib.load_spec("quick")
    halves = sweep_lib.expand(model_half, train.RunConfig())
    N = sorted({train.counted_model(c, c.nodes).param_counts()["non_embedding"] for c in halves})
    assert len(N) >= 6 and math.log10(N[-1] / N[0]) >= 1 and {c.target for c in halves} == {"expected"}
    assert {(c.nodes, c.edges, c.graph) for c in halves} == {(data_half["nodes"], data_half["edges"], "er")}
    configs = sweep_lib.expand(data_half, train.RunConfig())
    N = sorted({train.counted_model(c, c.nodes).param_counts()["non_embedding"] for c in configs})
    D = sorted({c.tokens for c in configs})
    assert len(N) >= 5 and math.log10(N[-1] / N[0]) >= 1 and len(D) >= 4 and math.log10(D[-1] / D[0]) >= 1.5
    plan = sweep_lib.plan_ensembles(1, configs)
    assert len(plan) == len(N) and all(sweep_lib.shares_stable_phase(g) for g in plan)
    assert sum(map(sweep_lib.planned_flops, plan)) <= 0.6 * sum(map(sweep_lib.estimated_flops, configs))


def test_a_spec_may_be_a_list_of_grids_each_run_once(tmp_path):
    """Grids run one after the other, in order; a run that two grids both hold is refused by name."""
    base = train.RunConfig()
    both = sweep_lib.expand([{"width": [16, 32]}, {"seed": [1, 2], "width": 8, "head_dim": 8}], base)
    assert [(c.width, c.seed) for c in both] == [(16, 0), (32, 0), (8, 1), (8, 2)]
    with pytest.raises(ValueError, match="in two of its grids"):
        sweep_lib.expand([{"width": [16, 32]}, {"width": 32}], base)
    spec = tmp_path / "two.json"
    spec.write_text(json.dumps([{"width": 16}, {"width": 32}]))
    assert len(sweep_lib.expand(sweep_lib.load_spec(str(spec)), base)) == 2
    spec.write_text(json.dumps([{"width": 16}, []]))
    with pytest.raises(ValueError, match="list of such objects"):
        sweep_lib.load_spec(str(spec))
