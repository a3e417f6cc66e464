"""
Every command refuses bad input the same way: exactly one line on stderr starting with 'error:', exit status
2, no traceback, before any work, and nothing already written is changed. Each case runs the command's
main() in a fresh directory holding a record file and a few inputs, and compares every file's bytes before
and after.
"""
import importlib
import json
import os
from pathlib import Path

import pytest
import torch

import records
from model import GPT, GPTConfig, save_model

SMALL = ["--nodes", "50", "--edges", "150", "--width", "16", "--batch-size", "10", "--tokens", "5000"]
SPECS = {
    "neg_kappa.json": {"kappa": [0, -1, 0.5]}, "nested.json": {"width": [[16]]}, "null.json": {"width": None},
    "dict.json": {"width": {"a": 1}}, "textnum.json": {"text": 5}, "infstr.json": {"lr": "inf"},
    "huge.json": '{"lr": 1e400}', "tie.json": {"tie_weights": "perhaps"}, "abc.json": {"kappa": "abc"},
    "unknown.json": {"widht": [16]}, "list.json": [1, 2], "empty.json": {}, "broken.json": "not json",
    "badgraph.json": {"nodes": [10], "edges": [46]},
    "dupkey.json": '{"seed": [0], "seed": [1]}', "dupseed.json": {"seed": [0, 0, "0", 0.0]},
    "bigseed.json": {"seed": [0, 1e20]}, "w30.json": {"width": 1e30}, "wide.json": {"width": [16, 1000000]},
    "million.json": {"seed": list(range(1000)), "graph_seed": list(range(1000))},
    "tp_list.json": {"achieved_flops": [1, 2]}, "tp_text.json": {"achieved_flops": {"16": {"achieved_flops": "1e12"}}},
    "tp_ok.json": {"achieved_flops": {"16": {"achieved_flops": 1e12}}},
}
RING = "".join(f"{i} {(i + 1) % 500}\n" for i in range(2, 500))  # with 0-1 and 1-2 below: a ring of 500 nodes


def record(i, width, tokens, loss):
    params = dict(total=width * 1000, embedding=100, readout=50, non_embedding=width * 1000 - 100)
    return dict(run=f"r{i}", status="ok", params=params, tokens=tokens, flops=6 * width * 1000 * tokens, loss=loss,
                floor=1.0, curve=[[tokens, loss]], lr=1e-3, seed=0, config=dict(width=width, tokens=tokens))


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open("runs.jsonl", "w") as f:
        for i, (w, t) in enumerate([(w, t) for w in (16, 32, 64) for t in (1e4, 1e5)]):
            f.write(json.dumps(record(i, w, t, 1.5 + 10 / w + 100 / t ** 0.5)) + "\n")
    for name, spec in SPECS.items():
        Path(name).write_text(spec if isinstance(spec, str) else json.dumps(spec))
    Path("empty.pt").write_bytes(b"")
    Path("garbage.pt").write_bytes(b"\x80\x04garbage")
    Path("latin1.csv").write_bytes(b"N,D,loss\n1,2,\xe93\n")
    Path("short.csv").write_text("N,D,loss\n1e6,1e9,2.5\n2e6,1e9\n")
    Path("fit_list.json").write_text("[1, 2]")
    Path("semi.csv").write_text("N;D;loss\n1,5e4;1e6;2,5\n")  # a European spreadsheet's export
    Path("points.tsv").write_text("N\tD\tloss\n1e6\t1e9\t2.5\n")
    Path("nullloss.jsonl").write_text(json.dumps(dict(record(9, 16, 1e4, 2.0), loss=None)) + "\n")
    Path("twodata.jsonl").write_text(json.dumps(dict(record(9, 16, 1e4, 2.0), dataset="ba")) + "\n")
    Path("2.5").write_text("a file named like a number\n")  # --floor 2.5 is the number, never this file
    Path("graph.json").write_text("{}")
    os.makedirs("adir", exist_ok=True)
    Path("ill.txt").write_text("0 1 1e150\n1 2 1e-150\n" + RING)  # weights 300 decades apart
    os.mkfifo("fifo.txt")
    os.symlink("nowhere/runs.jsonl", "dangling.jsonl")
    os.symlink("/dev/null", "null.jsonl")
    teacher("tiny.pt", 300)
    teacher("tvocab.pt", 512)
    return tmp_path


def teacher(path, vocab):
    """A tiny teacher GPT of V 300 at path and its record, which says the vocabulary is vocab."""
    config = GPTConfig(vocab_size=300, block_size=4, n_layer=1, width=8, head_dim=8)
    save_model(path, config, GPT(config).state_dict())
    Path(path + ".json").write_text(json.dumps(dict(config=dict(text=["none.txt"], vocab=vocab), loss=5.0)))


def snapshot(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


CASES = [
    # train.py: one run
    ("train", ["--kappa", "nan"], "kappa"), ("train", ["--weight-decay", "nan"], "weight"),
    ("train", ["--grad-clip", "inf"], "grad"), ("train", ["--grad-clip", "nan"], "grad"),
    ("train", ["--smoothing", "nan"], "smoothing"), ("train", ["--c", "nan"], "--c"),
    ("train", ["--tokens", "inf"], "tokens"), ("train", ["--tokens", "-5"], "tokens"),
    ("train", ["--tokens", "abc"], "tokens"), ("train", ["--width", "30"], "divisible"),
    ("train", ["--lr", "0"], "--lr"), ("train", ["--lr", "-1"], "--lr"), ("train", ["--warmup", "1"], "warmup"),
    ("train", ["--batch-size", "0"], "batch"), ("train", ["--graph", "xx"], "not one of"),
    ("train", ["--graph", "ba", "--nodes", "10", "--m", "10"], "--m"), ("train", ["--nodes", "10", "--edges", "46"], "edges"),
    ("train", ["--graph", "file"], "edges-file"), ("train", ["--graph", "file", "--edges-file", "/nonexistent"], "nonexistent"),
    ("train", ["--out", "/proc/x/runs.jsonl"], "/proc"), ("train", ["--out", "adir"], "directory"),
    ("train", ["--json", "/proc/x/r.json"], "/proc"), ("train", ["--save", "/proc/x.pt"], "/proc"),
    ("train", ["--ckpt", "/proc/x.pt"], "/proc"), ("train", ["--stop-after", "5"], "--ckpt"),
    ("train", ["--vocab", "100", "--graph", "text"], "vocab"), ("train", ["--graph", "teacher:/nonexistent"], "nonexistent"),
    ("train", ["--graph", "text", "--text", "/nonexistent.txt"], "nonexistent"), ("train", ["--eval-walks", "0"], "eval"),
    ("train", ["--graph", "percolation", "--p", "1.5"], "--p"), ("train", ["--directed"], "directed"),
    ("train", ["--ensemble", "-1"], "ensemble"), ("train", ["--no-such-flag"], "unrecognized"),
    ("train", ["--seed", "-1"], "seed"), ("train", ["--seed", "1.5"], "seed"),
    # issue 21: outputs that would fail only once the run is trained, seeds torch cannot take, flags a mode ignores
    ("train", ["--out", "x" * 256 + ".jsonl"], "262 bytes"), ("train", ["--save", "m" * 252 + ".pt"], "259 bytes"),
    ("train", ["--out", "dangling.jsonl"], "does not exist"), ("train", ["--out", "null.jsonl"], "regular"),
    ("train", ["--json", "null.jsonl"], "regular"), ("train", ["--out", "/dev/full"], "regular"),
    ("train", ["--json", "/dev/full"], "regular"), ("train", ["--out", "newdir/"], "directory"),
    ("train", ["--seed", "1e20"], "--seed"), ("train", ["--throughput", "tp_ok.json"], "--throughput"),
    ("train", ["--dry-run"], "--dry-run"), ("train", ["--shard", "0/2"], "--shard"),
    # issue 21: sizes beyond the machine (the memory estimate), beyond int64, an ill-conditioned chain, a FIFO
    ("train", ["--width", "100000"], "memory"), ("train", ["--batch-size", "1e8"], "memory"),
    ("train", ["--nodes", "1e8", "--edges", "1e8"], "memory"), ("train", ["--eval-walks", "1e9"], "memory"),
    ("train", ["--nodes", "1e30"], "--nodes"), ("train", ["--graph", "file", "--edges-file", "ill.txt"], "stationary"),
    ("train", ["--graph", "file", "--edges-file", "fifo.txt"], "regular"),
    ("train", ["--graph", "text", "--text", "fifo.txt"], "regular"),
    *[("train", ["--device", name], name.upper()) for name, there in
      (("cuda", torch.cuda.is_available()), ("mps", torch.backends.mps.is_available())) if not there],
    # sweep.py
    ("sweep", ["nonexistent.json"], "no such"), ("sweep", ["neg_kappa.json"], "kappa=-1"),
    ("sweep", ["nested.json"], "width"), ("sweep", ["null.json"], "width"),
    ("sweep", ["dict.json"], "width"), ("sweep", ["textnum.json"], "text"),
    ("sweep", ["infstr.json"], "lr"), ("sweep", ["huge.json"], "lr"),
    ("sweep", ["tie.json"], "tie_weights"), ("sweep", ["abc.json"], "kappa"),
    ("sweep", ["unknown.json"], "widht"), ("sweep", ["list.json"], "object"),
    ("sweep", ["empty.json"], "object"), ("sweep", ["broken.json"], "JSON"),
    ("sweep", ["badgraph.json"], "edges"), ("sweep", ["quick", "--shard", "1"], "shard"),
    ("sweep", ["quick", "--shard", "3/2"], "shard"), ("sweep", ["quick", "--out", "/proc/x"], "/proc"),
    ("sweep", ["dupkey.json"], '"seed" appears 2 times'), ("sweep", ["dupseed.json"], "once"),
    ("sweep", ["bigseed.json"], "--seed"), ("sweep", ["w30.json"], "--width"),
    ("sweep", ["wide.json", "--dry-run"], "memory"), ("sweep", ["million.json"], "1,000,000 runs"),
    ("sweep", ["quick", "--throughput", "tp_ok.json"], "--throughput"),
    ("sweep", ["quick", "--dry-run", "--throughput", "tp_list.json"], "achieved_flops"),
    ("sweep", ["quick", "--dry-run", "--throughput", "tp_text.json"], "achieved_flops"),
    # fit.py
    ("fit", ["nonexistent.jsonl"], "no such"), ("fit", ["runs.jsonl", "--floor", "100"], "below"),
    ("fit", ["runs.jsonl", "--floor", "inf"], "floor"), ("fit", ["runs.jsonl", "--floor", "-1"], "floor"),
    ("fit", ["runs.jsonl", "--seed", "-1"], "seed"), ("fit", ["runs.jsonl", "--boot", "0"], "boot"),
    ("fit", ["runs.jsonl", "--json", "/proc/x.json"], "/proc"), ("fit", ["runs.jsonl", "--plot", "/proc/x"], "/proc"),
    ("fit", ["latin1.csv"], "UTF-8"), ("fit", ["short.csv"], "short.csv:3"), ("fit", ["adir"], "no run records"),
    ("fit", ["short.csv", "runs.jsonl"], "not both"), ("fit", [], "records"),
    ("fit", ["runs.jsonl", "--compare", "param"], "1 family"), ("fit", ["short.csv", "--compare", "param"], "CSV"),
    ("fit", ["runs.jsonl", "--compare", "width"], "widths in every family"),
    ("fit", ["runs.jsonl", "--json", "runs.jsonl"], "same file"), ("fit", ["short.csv", "--json", "short.csv"], "same file"),
    ("fit", [".", "--json", "runs.jsonl"], "same file"), ("fit", ["runs.jsonl", "--json", "ill.txt"], "not a JSON"),
    ("fit", ["semi.csv"], "semicolons"), ("fit", ["points.tsv"], "*.csv"), ("fit", ["nullloss.jsonl"], "loss is None"),
    ("fit", ["runs.jsonl", "twodata.jsonl"], "2 datasets"), ("fit", ["runs.jsonl", "--floor", "2.5"], "below"),
    ("fit", ["--simulate", "--sim-per-budget", "1"], "sim-per-budget"),
    ("fit", ["--simulate", "--sim-budgets", "1e18,1e20,1e12"], "sim-budgets"),
    # theory.py graph (graphs.py's command line)
    ("theory", ["graph", "er", "--nodes", "5", "--edges", "100"], "edges"),
    ("theory", ["graph", "er", "--kappa", "nan"], "kappa"), ("theory", ["graph", "ba", "--nodes", "3", "--m", "5"], "m"),
    ("theory", ["graph", "er", "--json", "/proc/x.json"], "/proc"),
    ("theory", ["graph", "file", "--edges-file", "ill.txt"], "stationary"),
    ("theory", ["graph", "file", "--edges-file", "fifo.txt"], "regular"),
    ("theory", ["graph", "bigram", "--tokens", "fifo.txt", "--V", "300"], "regular"),
    # teacher.py and ladder.py
    ("teacher", ["sample", "--teacher", "empty.pt", "--out", "d"], "empty.pt"),
    ("teacher", ["sample", "--teacher", "garbage.pt", "--out", "d"], "garbage.pt"),
    ("teacher", ["sample", "--teacher", "empty.pt", "--tau", "inf", "--out", "d"], "tau"),
    ("teacher", ["train", "--out", "/proc/x.pt"], "/proc"), ("teacher", ["train", "--lr", "nan", "--out", "t.pt"], "lr"),
    ("teacher", ["sample", "--teacher", "tvocab.pt", "--out", "d"], "vocabulary"),
    ("teacher", ["sample", "--teacher", "tiny.pt", "--tau", "1e-310", "--out", "d"], "tau"),
    ("teacher", ["sample", "--teacher", "tiny.pt", "--tokens", "1e15", "--out", "d"], "memory"),
    ("teacher", ["train", "--seed", "1e20", "--out", "t.pt"], "--seed"),
    ("teacher", ["ladder"], "invalid choice"),
    ("ladder", ["--boot", "0"], "boot"), ("ladder", ["--rungs", "nonsense"], "nonsense"),
    # mup_experiments.py, theory.py, bench.py
    ("mup_experiments", ["coord-check", "--lr", "nan"], "lr"),
    ("mup_experiments", ["lr-transfer", "--batch-size", "0"], "batch"),
    ("mup_experiments", ["lr-transfer", "--tokens", "-5"], "tokens"),
    ("mup_experiments", ["lr-transfer", "--embed-lr-mult", "-1"], "embed"),
    ("theory", ["ridge", "--seeds", "0"], "seeds"), ("theory", ["report", "--rung", "a", "graph.json", "fit_list.json"], "fit_list.json"),
    ("bench", ["--threads", "-1"], "threads"), ("bench", ["--repeats", "-1"], "repeats"),
    ("bench", ["--json", "/proc/x.json"], "/proc"),
]


def test_the_table_is_large():
    assert len(CASES) >= 60 and len({(m, tuple(a)) for m, a, _ in CASES}) == len(CASES)


@pytest.mark.filterwarnings("error")  # a warning would be more lines on stderr
@pytest.mark.parametrize("module, argv, message", CASES, ids=[f"{m}:{' '.join(a)[:80]}" for m, a, _ in CASES])
def test_bad_input_is_one_line_and_exit_2(module, argv, message, workdir, capsys):
    refused(module, argv, message, workdir, capsys)


ENVIRONMENTS = [  # a scheduler's variables that lie: one line, not a KeyError traceback
    ({"SLURM_ARRAY_TASK_COUNT": "4"}, "SLURM_ARRAY_TASK_ID"), ({"SLURM_ARRAY_TASK_COUNT": "4",
     "SLURM_ARRAY_TASK_ID": "x"}, "SLURM_ARRAY_TASK_ID"), ({"WORLD_SIZE": "two"}, "WORLD_SIZE"),
]


@pytest.mark.parametrize("env, message", ENVIRONMENTS, ids=[" ".join(e) for e, _ in ENVIRONMENTS])
def test_a_bad_environment_is_one_line_and_exit_2(env, message, workdir, capsys, monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    refused("sweep", ["quick", "--dry-run"], message, workdir, capsys)


def refused(module, argv, message, workdir, capsys):
    """module.main(argv) ends with one 'error:' line holding message, status 2, and every file as it was."""
    before = snapshot(workdir)
    full = SMALL + argv if module == "train" else argv
    with pytest.raises(SystemExit) as exit_:
        importlib.import_module(module).main(full)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], err
    assert snapshot(workdir) == before  # nothing written, nothing changed
    assert records.read_records(str(workdir / "runs.jsonl"), quiet=True)[0]["run"] == "r0"
