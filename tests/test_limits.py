"""
Inputs at the edges of what the code can hold, which used to give a wrong result without a word, lose a
trained run or hang (issue 21): byte-order marks, a kappa whose far ranks underflow to 0, a record holding a
non-finite number, the memory a run needs against what it measures, and a 10^4-run sweep's plan. The
refusals themselves (one line, exit 2, nothing changed) are cases of tests/test_bad_input.py.
"""
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from scipy.special import logsumexp

import chain
import cli
import graphs
import model
import records
import sweep
import train
import walks
from train import RunConfig

ROOT = Path(__file__).resolve().parent.parent
TINY = dict(nodes=50, edges=150, width=16, batch_size=10, tokens=1000, eval_walks=10)


def test_an_edge_list_with_a_byte_order_mark_is_the_same_graph(tmp_path):
    plain, marked = tmp_path / "plain.txt", tmp_path / "marked.txt"
    plain.write_text("0 1\n1 2\n2 0\n")
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())  # as Windows editors save UTF-8
    a, b = graphs.from_edge_file(plain), graphs.from_edge_file(marked)
    assert b.V == 3 and (a.P != b.P).nnz == 0  # a triangle, not a 4-node path through "\ufeff0"
    record_file = tmp_path / "runs.jsonl"
    record_file.write_bytes(b"\xef\xbb\xbf" + json.dumps({"run": "a"}).encode() + b"\n")
    assert cli.holds(str(record_file), "jsonl")  # a record file train.py may append to


@pytest.mark.parametrize("kappa", [1, 40, 400])
def test_a_large_kappa_gives_the_exact_finite_entropy_rate(kappa):
    """On the complete graph K_10 every row holds the probabilities r^-kappa / Z of ranks r = 1..9, so the
    entropy rate is that row's entropy whatever pi is; computed here in log space, which never underflows.
    At kappa 400, ranks >= 5 underflow to 0 in P (0 log 0 = 0) and 1 - 2^-400 rounds to 1: the stored
    chain's entropy is the exact one to 0.4% of 1e-118 nats, i.e. exact at any precision a loss has."""
    g = graphs.from_networkx(nx.complete_graph(10), kappa=kappa)
    log_p = -kappa * np.log(np.arange(1, 10))
    log_p -= logsumexp(log_p)
    exact = float(-(np.exp(log_p) * log_p).sum())
    summary = g.describe()
    assert all(math.isfinite(v) for v in summary.values() if isinstance(v, float))
    assert math.isclose(g.entropy_rate(), exact, rel_tol=1e-2 if kappa == 400 else 1e-8)
    assert abs(g.entropy_rate() - exact) < 1e-15


def test_an_ill_conditioned_chain_is_a_value_error_not_nan():
    ring = nx.cycle_graph(500)
    ring[0][1]["weight"], ring[1][2]["weight"] = 1e150, 1e-150
    with pytest.raises(ValueError, match="did not converge"):
        graphs.from_networkx(ring).stationary()  # it returned NaN without a word before


def test_a_record_with_a_non_finite_number_is_still_written(tmp_path, monkeypatch):
    """A number the record cannot hold as strict JSON is written as null, so a trained run is never lost at
    its write; a NaN floor (the loss a run is measured against) is refused before any step."""
    monkeypatch.setattr(chain.Graph, "loss_floor", lambda self, start, length: math.nan)
    record = train.train(RunConfig(**TINY), "cpu", log=lambda line: None)
    assert record["status"] == "ok" and record["floor_population"] is None
    records.append_record(str(tmp_path / "runs.jsonl"), record)
    assert records.read_records(str(tmp_path / "runs.jsonl"))[0]["run"] == record["run"]
    monkeypatch.setattr(walks, "eval_floor", lambda tokens, graph: math.nan)
    lines = []
    with pytest.raises(ValueError, match="not a number"):
        train.train(RunConfig(**TINY), "cpu", log=lines.append)
    assert lines == []  # refused before the header, let alone a step


MEASURE = """
import json, os, sys
import torch
torch.set_num_threads(1)  # a child forked after OpenMP threads ran could deadlock
import data, model, train
from train import RunConfig

def peak():
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["VmHWM"].split()[0]) * 1024, int(fields["VmRSS"].split()[0]) * 1024

train.train(RunConfig(**json.loads(sys.argv[1])), "cpu", log=lambda line: None)  # imports and first-use buffers
for kw in json.loads(sys.argv[2]):
    read, write = os.pipe()
    if os.fork() == 0:  # each run from the same warm state, its peak alone
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current resident size
        start = peak()[1]
        cfg = RunConfig(**kw)
        train.train(cfg, "cpu", log=lambda line: None)
        V = data.vocab_size(cfg)
        estimate = model.memory_estimate(cfg, 1, V, data.dataset_bytes(cfg, V))["total"]
        os.write(write, json.dumps([estimate, peak()[0] - start]).encode())
        os._exit(0)
    os.wait()
    os.close(write)
    print(os.read(read, 1000).decode(), flush=True)
"""
SHAPES = [  # where the memory goes: the logits (V 5000), the weights (width 256, 4 blocks), the walk tables
    dict(nodes=5000, edges=15000, width=16, batch_size=100, tokens=5000, eval_walks=20),
    dict(nodes=100, edges=300, width=256, n_layer=4, batch_size=10, tokens=500, eval_walks=10),
    dict(nodes=100000, edges=500000, width=8, head_dim=8, batch_size=2, tokens=100, eval_walks=2),
]


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux's /proc peak-memory reset")
@pytest.mark.parametrize("kw", [dict(), dict(width=48, head_dim=8, n_layer=3), dict(tie_weights=True, block_size=17)])
def test_the_estimates_parameter_count_is_the_models(kw):
    """memory_estimate counts parameters by formula (no model is built for a width it may refuse): for a
    model it can build, that count is model.param_counts' total, times the members and STATE_BYTES."""
    cfg = RunConfig(**kw)
    members = [cfg, cfg]
    total = train.counted_model(cfg, 300).param_counts()["total"]
    assert model.memory_estimate(members[0], len(members), 300, (0, 0))["model"] == model.STATE_BYTES * 2 * total


def test_the_memory_estimate_is_within_2x_of_the_measured_peak():
    out = subprocess.run([sys.executable, "-c", MEASURE, json.dumps(TINY), json.dumps(SHAPES)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    ratios = [estimate / measured for estimate, measured in map(json.loads, out.stdout.splitlines())]
    print("estimate / measured peak:", " ".join(f"{r:.2f}" for r in ratios))
    assert len(ratios) == 3 and all(0.5 <= r <= 2 for r in ratios), (ratios, out.stderr[-2000:])


def test_a_ten_thousand_run_dry_run_plans_in_seconds(tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"seed": list(range(100)), "graph_seed": list(range(100))}))
    t0 = time.time()
    sweep.main([str(spec), "--dry-run", "--out", str(tmp_path / "out")])
    lines = capsys.readouterr().out.splitlines()
    assert time.time() - t0 < 10 and len(lines) == 10_001 and "10000 to run" in lines[0]
