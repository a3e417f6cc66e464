import dataclasses
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
import torch
import torch.nn.functional as F

import data
import graphs
import records
import train
import walks
from model import GPT, GPTConfig

ROOT = Path(__file__).resolve().parent.parent

# a small problem that trains in seconds: ~50 tokens, mean degree 6
TINY = train.RunConfig(nodes=50, edges=150, width=32, tokens=40_000, batch_size=20, lr=1e-2, eval_walks=40,
                       eval_every=10)


def quiet(*args, **kwargs):
    pass


def test_same_seed_same_curve_bit_for_bit():
    a = train.train(TINY, device="cpu", log=quiet)
    b = train.train(TINY, device="cpu", log=quiet)
    assert a["status"] == "ok" and a["curve"] == b["curve"] and a["loss"] == b["loss"]
    c = train.train(replace(TINY, seed=1), device="cpu", log=quiet)
    assert c["curve"] != a["curve"]


def test_resume_from_checkpoint_gives_the_uninterrupted_curve(tmp_path):
    full = train.train(TINY, device="cpu", log=quiet)
    ckpt = str(tmp_path / "run.pt")
    stopped = train.train(TINY, device="cpu", ckpt=ckpt, stop_after=23, log=quiet)  # mid-way between evals
    assert stopped["status"] == "stopped" and stopped["tokens"] == 23 * 20 * 50
    resumed = train.train(TINY, device="cpu", ckpt=ckpt, log=quiet)
    assert resumed["curve"] == full["curve"] and resumed["loss"] == full["loss"]


def test_compiled_model_trains_like_eager():
    cfg = replace(TINY, tokens=10_000)
    eager = train.train(cfg, device="cpu", log=quiet)
    compiled = train.train(cfg, device="cpu", compile=True, log=quiet)
    assert compiled["status"] == "ok"
    assert [v for _, v in compiled["curve"]] == pytest.approx([v for _, v in eager["curve"]], abs=1e-3)


def test_record_is_complete_and_consistent():
    r = train.train(TINY, device="cpu", log=quiet)
    required = ["run", "status", "dataset", "V", "floor", "n_layer", "width", "n_head", "block_size", "param",
                "base_width", "params", "tokens", "flops", "lr", "batch_size", "seed", "loss", "loss_sampled",
                "excess", "curve", "time_s", "tokens_per_s", "device", "versions", "git"]
    assert not [k for k in required if k not in r]
    steps = TINY.steps
    assert r["tokens"] == steps * TINY.batch_size * TINY.block_size
    assert r["flops"] == r["flops_per_token"] * r["tokens"]
    assert r["excess"] == pytest.approx(r["loss"] - r["floor"])
    assert set(r["params"]) == {"total", "embedding", "readout", "non_embedding", "kaplan"}
    assert [t for t, _ in r["curve"]] == [s * 1000 for s in range(10, steps + 1, 10)] + ([] if steps % 10 == 0 else [r["tokens"]])
    json.dumps(r, allow_nan=False)  # strict JSON: no NaN or inf in a record


def test_training_approaches_the_exact_floor():
    """On a 50-node graph a width-64 model can represent the chain itself; a short run gets close."""
    r = train.train(replace(TINY, width=64, tokens=150_000, eval_every=0), device="cpu", log=quiet)
    assert r["curve"][0][1] - r["floor"] > 0.5      # it started far from the floor
    assert 0 < r["excess"] < 0.1                    # the floor is a true lower bound, and it gets close


def test_record_floor_is_the_eval_sets_own_minimum():
    """floor is the minimum of the expected loss on the run's own eval walks (the mean entropy of P's rows at
    its inputs), so excess >= 0 however close a model gets; floor_population is the chain's loss_floor. Here
    one eval walk sits 0.14 nats below the population floor, and the model gets within 0.07 nats of its own
    floor: an excess measured against the population floor would be negative."""
    cfg = train.RunConfig(graph="ba", nodes=12, m=2, kappa=1.0, graph_seed=21, width=32, tokens=50_000,
                          batch_size=20, lr=1e-2, eval_walks=1)
    r = train.train(cfg, device="cpu", log=quiet)
    graph = data.chain(cfg)
    inputs = walks.eval_set(graph, 1, cfg.block_size + 1, data.EVAL_SEED)[:, :-1].numpy()
    assert r["floor"] == pytest.approx(graph.row_entropy()[inputs].mean(), abs=1e-12)
    assert r["floor_population"] == pytest.approx(graph.loss_floor(cfg.start, cfg.block_size), abs=1e-12)
    assert r["excess"] == r["loss"] - r["floor"] and r["excess"] >= -1e-6
    assert r["loss"] < r["floor_population"]  # the old floor's excess: negative


def test_divergence_is_recorded_not_raised(tmp_path):
    out = tmp_path / "runs.jsonl"
    train.main(["--nodes", "50", "--edges", "150", "--width", "32", "--tokens", "20000", "--batch-size", "20",
                "--lr", "1e30", "--grad-clip", "0", "--out", str(out), "--quiet"])
    record = json.loads(out.read_text())
    assert record["status"] == "diverged" and record["loss"] is None


@pytest.mark.parametrize("flags, message", [
    (["--width", "30", "--head-dim", "16"], "divisible"),
    (["--tokens", "0"], "--tokens"),
    (["--kappa", "-1"], "kappa"),
    (["--graph", "ba", "--nodes", "10", "--m", "10"], ""),
    (["--nodes", "10", "--edges", "46"], ""),
    (["--graph", "file", "--edges-file", "/nonexistent/edges.txt"], "edges.txt"),
    (["--lr", "0"], "--lr"),
])
def test_bad_input_exits_2_with_one_line(flags, message, tmp_path):
    p = subprocess.run([sys.executable, str(ROOT / "train.py"), *flags, "--out", str(tmp_path / "r.jsonl")],
                       capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]
    assert not (tmp_path / "r.jsonl").exists()


def test_default_run_id_is_pinned_and_survives_new_fields():
    """The id hashes only the fields that differ from their defaults: the default run's id is the hash of {}
    (ids changed once, in the redesign), and a config class with one more defaulted field gives the same ids."""
    assert train.RunConfig().run_id() == "bf21a9e8fbc5"
    Extended = dataclasses.make_dataclass("Extended", [("new_knob", float, train.knob(0.5, "a new knob", float))],
                                          bases=(train.RunConfig,), frozen=True)
    for cfg in (train.RunConfig(), TINY, replace(TINY, kappa=1.0, lr=3e-2)):
        assert records.run_id(Extended(**dataclasses.asdict(cfg))) == cfg.run_id()


@pytest.mark.parametrize("value", [1, 1.0, "1", "1.0"])
def test_one_run_one_id_whatever_the_json_type(value):
    cli_cfg = train.config_from_args(train.build_parser().parse_args(["--kappa", "1"]))
    assert train.RunConfig(kappa=value) == cli_cfg and train.RunConfig(kappa=value).run_id() == cli_cfg.run_id()
    assert train.RunConfig(width=16.0) == train.RunConfig(width=16)


@pytest.mark.parametrize("field, value", [("kappa", float("nan")), ("weight_decay", float("inf")),
                                          ("grad_clip", float("nan")), ("tokens", float("inf")), ("width", 16.5),
                                          ("tie_weights", "maybe"), ("width", [16]), ("lr", None), ("text", 5)])
def test_config_refuses_values_of_the_wrong_type_or_not_finite(field, value):
    with pytest.raises(ValueError, match="--" + field.replace("_", "-")):
        train.RunConfig(**{field: value})


def test_tied_weights_train_and_count_once():
    tied = train.train(replace(TINY, tie_weights=True, tokens=10_000), device="cpu", log=quiet)
    untied = train.train(replace(TINY, tokens=10_000), device="cpu", log=quiet)
    assert tied["status"] == "ok" and tied["loss"] < tied["curve"][0][1] + 1e-9
    assert tied["params"]["total"] == untied["params"]["total"] - tied["V"] * TINY.width
    assert train.RunConfig(tie_weights="false").tie_weights is False


def test_a_run_already_recorded_is_not_trained_again(tmp_path):
    out = tmp_path / "runs.jsonl"
    flags = ["--nodes", "50", "--edges", "150", "--width", "32", "--tokens", "5000", "--batch-size", "20",
             "--out", str(out), "--quiet"]
    train.main(flags)
    train.main(flags)
    assert len(out.read_text().splitlines()) == 1


# --target expected: training on the true next-token distribution (issue 23)

def test_on_one_hot_rows_the_two_targets_train_bit_for_bit(tmp_path):
    """A directed cycle's rows are one-hot, so the sampled next token is the truth: the expected-target loss
    is the sampled one term for term, and the whole training (curve, final loss) must match bit for bit."""
    cycle = tmp_path / "cycle.txt"
    cycle.write_text("".join(f"{i} {(i + 1) % 40}\n" for i in range(40)))
    cfg = replace(TINY, graph="file", edges_file=str(cycle), directed=True, tokens=20_000)
    sampled = train.train(cfg, device="cpu", log=quiet)
    expected = train.train(replace(cfg, target="expected"), device="cpu", log=quiet)
    assert sampled["status"] == expected["status"] == "ok" and expected["target"] == "expected"
    assert expected["curve"] == sampled["curve"] and expected["loss"] == sampled["loss"]
    assert expected["run"] != sampled["run"]  # a different run, with its own id


def gradient(model, loss):
    model.zero_grad()
    loss.backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def test_the_expected_gradient_is_the_mean_of_sampled_gradients():
    """On one batch, the gradient of the expected-target loss is the expectation of the sampled-target
    gradient over next tokens drawn from P's rows: the mean of K = 300 sampled gradients matches it within
    its Monte-Carlo error on every coordinate (|z| below the Bonferroni bound over the coordinates, ~5.2, at a 0.1% false
    alarm rate for the whole test), and a wrong target (uniform rows) is caught by the same test."""
    torch.manual_seed(0)
    graph = graphs.erdos_renyi(30, 90, seed=0)
    model = GPT(GPTConfig(vocab_size=graph.V, block_size=8, n_layer=1, width=16, head_dim=8))
    tokens = walks.WalkSampler(graph, seed=0).sample(4, 9)
    x = tokens[:, :-1]
    exact = gradient(model, walks.expected_losses(F.log_softmax(model(x), -1), x, graph).mean())
    rng = np.random.default_rng(0)
    P = graph.P.toarray()
    draws = torch.stack([gradient(model, F.cross_entropy(model(x).flatten(0, 1), torch.as_tensor(
        [rng.choice(graph.V, p=P[i]) for i in x.flatten().tolist()]))) for _ in range(300)])
    mean, se = draws.mean(0), draws.std(0) / 300 ** 0.5
    moving = se > 1e-9  # coordinates every draw leaves alone (unused embeddings) have no noise to test against
    bound = scipy.stats.norm.isf(0.001 / (2 * int(moving.sum())))
    assert (((mean - exact) / se)[moving].abs() < bound).all()
    uniform = gradient(model, -F.log_softmax(model(x), -1).mean(-1).mean())
    assert (((mean - uniform) / se)[moving].abs() > bound).any()


def test_expected_target_is_refused_for_natural_text(tmp_path):
    with pytest.raises(ValueError, match="target expected"):
        data.check(train.RunConfig(graph="text", target="expected"))
