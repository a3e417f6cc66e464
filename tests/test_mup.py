import functools
import json
import math
import pathlib
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

import graphs
import mup
import mup_experiments
import walks
from model import GPT, GPTConfig

HIDDEN = ("attn.qkv.weight", "attn.proj.weight", "mlp.fc.weight", "mlp.proj.weight")
EMBEDDINGS = ("wte.weight", "wpe.weight")
ROOT = pathlib.Path(__file__).resolve().parent.parent


def build(param, width, base_width=64, seed=0, **kw):
    torch.manual_seed(seed)
    return mup.apply(GPT(GPTConfig(vocab_size=50, block_size=16, width=width, **kw)), param, base_width)


def hyper_by_name(model, *args, **kw):
    """{parameter name: (lr_mult, weight_decay)} from mup.param_groups, each parameter in exactly one group."""
    name_of = {id(p): n for n, p in model.named_parameters()}
    groups = mup.param_groups(model, *args, **kw)
    seen = [name_of[id(p)] for g in groups for p in g["params"]]
    assert sorted(seen) == sorted(name_of.values())
    return {name_of[id(p)]: (g["lr_mult"], g["weight_decay"]) for g in groups for p in g["params"]}


def test_sp_leaves_the_model_untouched():
    torch.manual_seed(3)
    plain = GPT(GPTConfig(vocab_size=50, block_size=16, width=128))
    sp = build("sp", 128, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), sp.state_dict().values()))
    assert (sp.config.attn_scale, sp.config.embed_mult, sp.config.readout_mult) == (None, 1.0, 1.0)


def test_mup_equals_sp_bit_for_bit_at_the_base_width():
    tokens = torch.randint(0, 50, (4, 17), generator=torch.Generator().manual_seed(1))
    losses = {}
    for param in ("sp", "mup"):
        model = build(param, 64, base_width=64)
        groups = mup.param_groups(model, 1e-2, 0.01, param, 64)
        optimizer = torch.optim.AdamW(groups, betas=(0.9, 0.95))
        losses[param] = []
        for _ in range(3):
            loss = F.cross_entropy(model(tokens[:, :-1]).flatten(0, 1), tokens[:, 1:].flatten())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses[param].append(loss.item())
        losses[param].append(dict(model.named_parameters()))
        losses[param].append(hyper_by_name(model, 1e-2, 0.01, param, 64))
    sp, mp = losses["sp"], losses["mup"]
    assert sp[:3] == mp[:3]  # first-step (and next) losses, exactly
    assert all(torch.equal(sp[3][n], mp[3][n]) for n in sp[3])  # parameters after 3 steps, exactly
    assert sp[4] == mp[4]  # every parameter's lr multiplier and weight decay


def test_mup_init_and_multipliers_follow_the_rules():
    sp, mp = build("sp", 256, seed=5), build("mup", 256, base_width=64, seed=5)  # m = 4: same draws, rescaled
    for name, p in mp.named_parameters():
        ratio = 0.5 if name.endswith(HIDDEN) else 1.0  # hidden init std / sqrt(m)
        assert torch.equal(p, dict(sp.named_parameters())[name] * ratio), name
    assert mp.config.readout_mult == 1 / 4
    assert mp.config.attn_scale == 1 / math.sqrt(16)  # head_dim is fixed as the width grows
    assert mp.config.embed_mult == 1.0


@pytest.mark.parametrize("tie", [False, True])
def test_per_parameter_learning_rates_follow_the_rules(tie):
    width, base, wd = 256, 64, 0.1
    model = build("mup", width, base_width=base, tie_weights=tie)
    for name, (lr_mult, decay) in hyper_by_name(model, 1e-3, wd, "mup", base).items():
        if name.endswith(HIDDEN):
            assert lr_mult == base / width and decay == pytest.approx(wd * width / base), name  # lr*wd fixed
        elif name in EMBEDDINGS or name == "lm_head.weight":
            assert (lr_mult, decay) == (1.0, wd), name  # width-independent
        else:
            assert name.endswith(("bias", "ln_1.weight", "ln_2.weight", "ln_f.weight")), name
            assert (lr_mult, decay) == (1.0, 0.0), name  # vectors: width-independent, no decay
    sp = hyper_by_name(build("sp", width, tie_weights=tie), 1e-3, wd, "sp", base)
    assert {h for n, h in sp.items() if n.endswith(HIDDEN)} == {(1.0, wd)}


@pytest.mark.parametrize("param", ["sp", "mup"])
def test_embed_lr_mult_changes_only_the_embeddings(param):
    model = build(param, 128)
    plain = hyper_by_name(model, 1e-3, 0.01, param, 64)
    boosted = hyper_by_name(model, 1e-3, 0.01, param, 64, embed_lr_mult=10.0)
    changed = {n for n in plain if plain[n] != boosted[n]}
    assert changed == set(EMBEDDINGS)
    assert all(boosted[n] == (plain[n][0] * 10.0, plain[n][1]) for n in EMBEDDINGS)
    groups = {g["name"]: g for g in mup.param_groups(model, 1e-3, 0.01, param, 64, embed_lr_mult=10.0)}
    assert groups["embedding"]["lr"] == pytest.approx(1e-2)


def test_bad_parametrization_is_refused():
    with pytest.raises(ValueError, match="unknown parametrization"):
        build("ntk", 64)
    with pytest.raises(ValueError, match="base width"):
        mup.param_groups(build("sp", 64), 1e-3, 0.0, "mup", 0)


# The coordinate check on CPU at widths 32 and 128 (4x apart), 3 steps, the command's lr (2^-9). It is
# seeded, so its outcome is fixed rather than a false-alarm rate; what matters is the margin. Under μP
# with 16 seeds the ratio farthest from 1 is 1.09 (blocks.1.mlp after 2 steps; 1.07 with 32 seeds, so
# part of it is the noise of a mean over few width-32 models) and the logits' is 0.95 after 1 step,
# against the bounds 1.2 and 0.83. Under SP the attention and MLP outputs are 4x apart already after
# one step (std 0.02 at every width) and the logits 6x (one lr for all): far outside for any seeds, so
# 8 suffice there and for the broken μP below.
WIDTHS = [32, 128]


@pytest.fixture(scope="module")
def graph():
    return graphs.erdos_renyi(1000, 5000, seed=0)


def small_check(param, graph, seeds):
    activations = mup_experiments.gpt_coord_check(param, WIDTHS, steps=3, seeds=seeds, graph=graph)
    return mup_experiments.coord_ratios(activations, WIDTHS)


def test_coord_check_passes_under_mup(graph):
    assert mup_experiments.coord_pass(small_check("mup", graph, seeds=16))


def test_coord_check_fails_under_sp_for_attention_mlp_and_logits(graph):
    ratios = small_check("sp", graph, seeds=8)
    assert not mup_experiments.coord_pass(ratios)
    for name in ("blocks.0.attn", "blocks.0.mlp", "blocks.1.attn", "blocks.1.mlp", "logits"):
        assert min(ratios[name]["32-128"]) > 2, name
    assert all(1 / 1.2 < r < 1.2 for r in ratios["wte"]["32-128"])  # the embeddings are width-independent in SP too


def test_coord_check_catches_a_mup_without_its_hidden_lr_rule(graph, monkeypatch):
    """The check is not vacuous: μP with the hidden matrices' lr left at lr (not lr / m) fails it."""
    right = mup.param_groups

    def hidden_lr_not_scaled(model, lr, weight_decay, param="sp", base_width=64, embed_lr_mult=1.0):
        groups = right(model, lr, weight_decay, param, base_width, embed_lr_mult)
        for g in groups:
            if g["name"] == "hidden":
                g["lr"], g["lr_mult"] = lr, 1.0
        return groups

    monkeypatch.setattr(mup, "param_groups", hidden_lr_not_scaled)
    ratios = small_check("mup", graph, seeds=8)
    assert not mup_experiments.coord_pass(ratios)
    assert max(ratios["blocks.1.mlp"]["32-128"]) > 1.5


def test_coord_check_command_writes_json(tmp_path, capsys):
    path = tmp_path / "cc.json"
    mup_experiments.main(["coord-check", "--param", "mup", "--widths", "16,64", "--steps", "3", "--seeds", "2",
              "--json", str(path), "--plot", str(tmp_path / "cc.png")])
    summary = json.loads(path.read_text())
    assert summary["widths"] == [16, 64] and summary["steps"] == [0, 1, 2, 3]
    assert set(summary["mean_abs_activation"]) >= {"wte", "blocks.0.attn", "blocks.1.mlp", "logits"}
    assert len(summary["mean_abs_activation"]["logits"]["64"]) == 4
    assert isinstance(summary["pass"], bool)
    assert (tmp_path / "cc.png").stat().st_size > 0
    assert "pass:" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["coord-check", "--widths", "40,160"], "not divisible"),
    (["coord-check", "--param", "ntk"], "unknown parametrization"),
    (["coord-check", "--widths", ","], "list of positive numbers"),
    (["coord-check", "--lr", "nan"], "finite"),
    (["coord-check", "--lr", "0"], "--lr must be > 0"),
    (["lr-transfer", "--batch-size", "0"], "--batch-size must be >= 1"),
    (["lr-transfer", "--tokens", "-5"], "non-negative count"),
    (["lr-transfer", "--embed-lr-mult", "-1"], "--embed-lr-mult must be > 0"),
    (["coord-check", "--widths", "32,64"], "4x apart"),
    (["lr-transfer", "--lrs", "0.01,-1"], "positive"),
    (["coord-check", "--steps", "x"], "invalid int"),
])
def test_bad_input_is_one_line_and_status_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit:
        mup_experiments.main(argv)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_lr_transfer_records_runs_and_skips_them_on_a_rerun(tmp_path):
    argv = ["lr-transfer", "--param", "mup", "--widths", "16,32", "--lrs", "0.001,0.01", "--tokens", "200",
            "--batch-size", "2", "--out", str(tmp_path / "runs"), "--plot", str(tmp_path / "lt.png"),
            "--json", str(tmp_path / "lt.json")]
    mup_experiments.main(argv)
    records = (tmp_path / "runs" / "runs.jsonl").read_text().splitlines()
    assert len(records) == 4
    assert {(r["width"], r["lr"], r["param"]) for r in map(json.loads, records)} == \
        {(w, lr, "mup") for w in (16, 32) for lr in (0.001, 0.01)}
    summary = json.loads((tmp_path / "lt.json").read_text())
    assert set(summary["best_lr"]) == {"16", "32"} and summary["lrs"] == [0.001, 0.01]
    mup_experiments.main(argv)  # everything is recorded: nothing trains, nothing is appended
    assert len((tmp_path / "runs" / "runs.jsonl").read_text().splitlines()) == 4


@pytest.mark.parametrize("argv", [["coord-check", "--lr", "nan"], ["lr-transfer", "--batch-size", "0"]])
def test_refused_command_line_is_one_line_before_any_work(argv, tmp_path):
    """Run as a command: exit 2, exactly one line on stderr, no traceback, and nothing written."""
    outputs = ["--json", str(tmp_path / "s.json"), "--plot", str(tmp_path / "p.png")]
    if argv[0] == "lr-transfer":
        outputs += ["--out", str(tmp_path / "runs")]
    done = subprocess.run([sys.executable, str(ROOT / "mup_experiments.py"), *argv, *outputs],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_unwritable_json_is_refused_before_the_check(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        mup_experiments.main(["coord-check", "--json", str(tmp_path), "--plot", str(tmp_path / "p.png")])
    assert exit.value.code == 2 and "is a directory" in capsys.readouterr().err
    assert not (tmp_path / "p.png").exists()


def test_coord_check_builds_only_through_the_lazy_models(graph):
    """coord_check calls each width's builder once per seed, after seeding: the same numbers as building
    the models itself."""
    calls = []

    def build(width):
        calls.append(width)
        return mup_experiments.coord_model("mup", width, graph.V)

    tokens = torch.from_numpy(walks.sample_walks(graph, 4, 9, seed=0))
    make_optimizer = functools.partial(mup_experiments.adamw, lr=2 ** -9, weight_decay=0.01, param="mup", base_width=64)
    lazy = mup_experiments.coord_check({16: lambda: build(16), 32: lambda: build(32)}, tokens, make_optimizer,
                                       steps=1, seeds=2)
    assert calls == [16, 32, 16, 32]
    assert lazy == mup_experiments.gpt_coord_check("mup", [16, 32], steps=1, seeds=2, graph=graph)
