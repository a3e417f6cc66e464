"""
The two experiments that tell the parametrizations of mup.py apart: the coordinate check and learning-rate
transfer.

    python mup_experiments.py coord-check --param mup --widths 32,64,128,256,512
    python mup_experiments.py lr-transfer --param mup --widths 32,64,128,256

(They were `python mup.py coord-check|lr-transfer`: lr transfer trains through train.py, which imports mup.py,
so the experiments live in their own file, which nothing imports.)
"""
import argparse
import dataclasses
import functools
import itertools
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

import cli
import graphs
import mup
import plots
import records
import train
import walks
from model import GPT, GPTConfig

COORD_TOLERANCE = 1.2          # the `mup` package's test: widths 4x apart agree within a factor 1.2 ...
COORD_CHECKED_STEPS = (1, 2, 3)  # ... after each of the first three updates


# ---------------------------------------------------------------------------------------------------
# the coordinate check (TP5's "coord check"; the `mup` package's get_coord_data and its test)
#
# Each width trains a few AdamW steps at a fixed lr on one fixed batch; the mean |output| of every module
# should then be the same at every width under μP, and grow with width under SP. Three choices make the
# check meaningful from width 32 on:
# - the readout starts at zero, as in the `mup` package's test (readout_zero_init). With the model's
#   N(0, 0.02²) readout, μP's logits carry an init term that shrinks like 1/sqrt(m) (see mup.apply) and
#   dominates them for the first steps at small widths: a term that vanishes in the infinite-width limit,
#   not a scaling error. --keep-readout-init shows it.
# - the batch is small: 4 walks of 8 predictions. μP is the limit width -> infinity at a fixed batch; at
#   finite width an Adam update of a matrix, seen by one input, carries beside its coherent O(1) part an
#   incoherent one of relative size ~ sqrt(tokens in the batch / width). With 32 walks of 50 tokens it
#   fails the check at 32 -> 128 (logits 0.58); the `mup` package's test uses widths 1000 and 4000.
# - the lr, 2^-9, is high (a quarter of the best lr of the transfer sweep, here with no warmup) but below
#   the loss spike that 2^-8 gives at steps 4-5 on this one batch, whose timing depends on width.
# Step t is the forward pass after t updates, so steps 1-3 all see trained weights (t = 0: init).

def watched_modules(model):
    """The modules whose outputs the check measures: the token and position embeddings, each block's
    attention and MLP outputs (what they add to the residual stream) and the residual stream after the
    block, and the logits (the output of the whole model)."""
    modules = dict(wte=model.wte, wpe=model.wpe)
    for i, block in enumerate(model.blocks):
        modules.update({f"blocks.{i}.attn": block.attn, f"blocks.{i}.mlp": block.mlp, f"blocks.{i}": block})
    modules["logits"] = model
    return modules


def mean_abs_activations(model, tokens, optimizer, steps):
    """Train on the same batch `steps` times; return {module: [mean |output| at step t, t = 0..steps]},
    where step t is the forward pass after t optimizer updates (t = 0: at initialisation)."""
    record = {name: [] for name in watched_modules(model)}
    hooks = [module.register_forward_hook(lambda mod, inp, out, name=name: record[name].append(out.abs().mean().item()))
             for name, module in watched_modules(model).items()]
    x, y = tokens[:, :-1], tokens[:, 1:]
    for t in range(steps + 1):
        logits = model(x)
        if t < steps:
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(logits.flatten(0, 1), y.flatten()).backward()
            optimizer.step()
    for hook in hooks:
        hook.remove()
    return record


def coord_check(models, tokens, make_optimizer, steps=5, seeds=32):
    """Mean |activation| of each watched module per width and step, averaged over seeds:
    {module: {width: [value after t updates, t = 0..steps]}}. models: {width: a function that builds the
    model} (the `mup` package's lazy models), called after torch.manual_seed(seed), so seed s sets the
    initialisation at every width; make_optimizer(model) gives its optimizer; every model trains on the
    one batch `tokens` (walks x tokens)."""
    mean = {}
    for seed, (width, build) in itertools.product(range(seeds), models.items()):
        torch.manual_seed(seed)
        model = build()
        for name, values in mean_abs_activations(model, tokens, make_optimizer(model), steps).items():
            mean.setdefault(name, {}).setdefault(width, np.zeros(steps + 1))
            mean[name][width] += np.array(values) / seeds
    return {name: {w: v.tolist() for w, v in by_width.items()} for name, by_width in mean.items()}


def coord_model(param, width, vocab_size, base_width=64, head_dim=16, zero_readout=True):
    """A fresh GPT of this width in a parametrization (mup.apply); zero_readout: its readout starts at zero."""
    model = mup.apply(GPT(GPTConfig(vocab_size=vocab_size, width=width, head_dim=head_dim)), param, base_width)
    if zero_readout:
        torch.nn.init.zeros_(model.lm_head.weight)
    return model


def adamw(model, lr, weight_decay, param, base_width):
    """AdamW on mup.param_groups at the constant lr (no warmup, no clipping: the parametrization alone)."""
    return torch.optim.AdamW(mup.param_groups(model, lr, weight_decay, param, base_width), betas=(0.9, 0.95))


def gpt_coord_check(param, widths, steps=5, lr=2 ** -9, seeds=32, base_width=64, head_dim=16, weight_decay=0.01,
                    n_walks=4, length=9, zero_readout=True, graph=None):
    """coord_check of model.GPT at these widths in a parametrization, trained with adamw on one fixed batch
    of n_walks walks of `length` tokens on `graph` (default: ER, 1000 nodes, 5000 edges)."""
    graph = graph or graphs.erdos_renyi(1000, 5000, seed=0)
    tokens = torch.from_numpy(walks.sample_walks(graph, n_walks, length, seed=0))
    models = {w: functools.partial(coord_model, param, w, graph.V, base_width, head_dim, zero_readout) for w in widths}
    make_optimizer = functools.partial(adamw, lr=lr, weight_decay=weight_decay, param=param, base_width=base_width)
    return coord_check(models, tokens, make_optimizer, steps, seeds)


def width_pairs(widths):
    """The pairs (w, 4w) among the widths: the `mup` package's test compares widths 4x apart."""
    pairs = [(w, 4 * w) for w in widths if 4 * w in widths]
    if not pairs:
        raise ValueError(f"the coordinate check needs two widths 4x apart, got {', '.join(map(str, widths))}")
    return pairs


def coord_ratios(activations, widths, steps=COORD_CHECKED_STEPS):
    """{module: {"w-4w": [mean |activation| at 4w over that at w, for each of the steps]}} (nan for 0/0)."""
    return {name: {f"{w}-{w4}": [by_width[w4][t] / by_width[w][t] if by_width[w][t] else math.nan for t in steps]
                   for w, w4 in width_pairs(widths)}
            for name, by_width in activations.items()}


def coord_pass(ratios):
    """The `mup` package's criterion: every ratio of every module (at steps 1-3) in [1/1.2, 1.2]."""
    return all(1 / COORD_TOLERANCE <= r <= COORD_TOLERANCE
               for by_pair in ratios.values() for rs in by_pair.values() for r in rs)


def farthest_from_1(ratios):
    """The ratio farthest from 1 (in log) among a list of ratios (nan if they are all nan)."""
    return max(ratios, key=lambda r: -1 if math.isnan(r) else abs(math.log(r)))


def plot_coord_check(activations, widths, param, path):
    """One panel per step: mean |activation| against width, one line per module (log-log)."""
    steps = len(activations["logits"][widths[0]])
    fig, axes = plots.figure(1, steps, figsize=(2.3 * steps + 1.5, 3.2), sharey=True)
    colors = plots.plt.cm.viridis(np.linspace(0, 0.95, len(activations)))
    for t, ax in enumerate(axes):
        for color, (name, by_width) in zip(colors, activations.items()):
            ax.plot(widths, [by_width[w][t] or np.nan for w in widths], "o-", ms=3, color=color, label=name)
        checked = " (checked)" if t in COORD_CHECKED_STEPS else ""
        ax.set(xscale="log", yscale="log", xlabel="width", title="init" if t == 0 else f"after {t} step{'s' * (t > 1)}{checked}")
        ax.set_xticks(widths, [str(w) for w in widths])
        ax.minorticks_off()
    axes[0].set_ylabel("mean |activation|")
    axes[-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.suptitle(f"coordinate check, {param.upper()}: flat lines = activations independent of width", fontsize=10)
    plots.savefig(fig, path)


# ---------------------------------------------------------------------------------------------------
# learning-rate transfer

def transfer_configs(param, widths, lrs, tokens=100_000, batch_size=20, base_width=64, head_dim=16,
                     embed_lr_mult=1.0, seed=0):
    """{width: [train.RunConfig for each lr]} with train.py's recipe (ER 1000/5000 walks, AdamW, warmup +
    cosine), evaluated only at the last step (only the final loss is needed). A bad value is a ValueError
    naming its flag (RunConfig checks each), raised before anything trains."""
    by_width = {}
    for width in widths:
        cfgs = [train.RunConfig(width=width, head_dim=head_dim, param=param, base_width=base_width, lr=lr,
                                embed_lr_mult=embed_lr_mult, tokens=tokens, batch_size=batch_size, seed=seed)
                for lr in lrs]
        by_width[width] = [dataclasses.replace(c, eval_every=c.steps) for c in cfgs]
    return by_width


def lr_transfer(configs, out, log=print):
    """Train the runs of transfer_configs, the lrs of a width together as one batched ensemble, and return
    {width: [final expected eval loss in nats for each lr, None if diverged]}. Records are appended to
    out/runs.jsonl as each width finishes; finished runs already recorded there are read back, not trained
    again."""
    os.makedirs(out, exist_ok=True)
    done = {r.get("run"): r for r in records.read_records(out, quiet=True) if r.get("status") in records.FINISHED}
    losses = {}
    for width, cfgs in configs.items():
        todo = [c for c in cfgs if c.run_id() not in done]
        if todo:
            for record in train.train_runs(todo, log=train.quiet):
                records.append_record(os.path.join(out, "runs.jsonl"), record)
                done[record["run"]] = record
        losses[width] = [done[c.run_id()]["loss"] for c in cfgs]
        log(f"width {width:>4}: " + "  ".join(f"lr {c.lr:.3g} " + ("diverged" if loss is None else f"{loss:.4f}")
                                             for c, loss in zip(cfgs, losses[width])))
    return losses


def best_lrs(losses, lrs):
    """{width: the lr of lowest final loss (None if every run diverged)}."""
    return {width: min(((loss, lr) for loss, lr in zip(ls, lrs) if loss is not None), default=(None, None))[1]
            for width, ls in losses.items()}


def plot_lr_transfer(losses, lrs, param, path):
    """Final loss against learning rate, one curve per width, a star at each width's optimum."""
    fig, ax = plots.figure(figsize=(5, 3.6))
    colors = plots.plt.cm.viridis(np.linspace(0, 0.9, len(losses)))
    best = best_lrs(losses, lrs)
    for color, (width, ls) in zip(colors, losses.items()):
        ax.plot(lrs, [np.nan if loss is None else loss for loss in ls], "o-", ms=3, color=color, label=f"width {width}")
        if best[width] is not None:
            ax.plot(best[width], ls[lrs.index(best[width])], "*", ms=13, color=color, mec="k")
    ax.set(xscale="log", xlabel="peak learning rate" + (" (of the base-width model)" if param == "mup" else ""),
           ylabel="final eval loss (nats)", title=f"learning-rate transfer, {param.upper()} (star: best lr)")
    ax.legend(fontsize=8)
    plots.savefig(fig, path)


# ---------------------------------------------------------------------------------------------------
# command line

def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--param", default="mup", help=f"parametrization: {' or '.join(mup.PARAMS)}")
    common.add_argument("--base-width", type=int, default=64, help="width at which μP equals SP")
    common.add_argument("--head-dim", type=int, default=16, help="dimension per attention head: n_head = width / head_dim")
    common.add_argument("--plot", help="PNG of the result (None: out/<command>_<param>.png)")
    common.add_argument("--json", metavar="PATH", help="also write the numbers to PATH as JSON")
    p = cli.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    defaults = dict(parents=[common], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    cc = sub.add_parser("coord-check", help="mean |activation| per module and width over a few steps", **defaults)
    cc.add_argument("--widths", default="32,64,128,256,512", help="comma-separated widths, with pairs 4x apart")
    cc.add_argument("--steps", type=int, default=5, help="AdamW updates (the check reads steps 1-3)")
    cc.add_argument("--lr", type=cli.parse_float, default=2 ** -9, help="constant learning rate (of the base-width model)")
    cc.add_argument("--seeds", type=int, default=32, help="initialisations averaged at each width")
    cc.add_argument("--walks", type=int, default=4, help="walks in the one fixed batch")
    cc.add_argument("--length", type=int, default=9, help="tokens per walk (length - 1 predictions)")
    cc.add_argument("--keep-readout-init", action="store_true",
                    help="keep the readout's N(0, 0.02^2) init instead of zero (the logits then fail under μP: "
                         "their init term shrinks like 1/sqrt(width / base width))")
    lt = sub.add_parser("lr-transfer", help="final loss against learning rate at several widths", **defaults)
    lt.add_argument("--widths", default="32,64,128,256", help="comma-separated widths")
    lt.add_argument("--lrs", default=",".join(str(2.0 ** -k) for k in range(11, 4, -1)),
                    help="comma-separated peak learning rates (2^-11 .. 2^-5, a factor 2 apart)")
    lt.add_argument("--tokens", type=cli.parse_count, default=100_000, help="training tokens per run, e.g. 100k")
    lt.add_argument("--batch-size", type=int, default=20, help="walks per step (100k tokens: 100 steps of 20 walks)")
    lt.add_argument("--embed-lr-mult", type=cli.parse_float, default=1.0,
                    help="extra factor on the embeddings' learning rate")
    lt.add_argument("--seed", type=int, default=0, help="seed of every run")
    lt.add_argument("--out", help="directory of the run records, appended to DIR/runs.jsonl; runs already "
                                  "there are not trained again (None: out/lr_transfer_<param>)")
    return p


def parse_widths(text, head_dim):
    """--widths as a sorted list, each divisible by --head-dim (n_head = width / head_dim)."""
    widths = cli.parse_list(text, int, "widths")
    for w in widths:
        if w % head_dim:
            raise ValueError(f"width {w} is not divisible by --head-dim {head_dim}")
    return widths


def check_common(args):
    """The flags both commands share (a ValueError naming the flag); returns the widths."""
    mup.check_param(args.param, args.base_width)
    cli.in_range("head_dim", args.head_dim, 1)
    return parse_widths(args.widths, args.head_dim)


def check_outputs(args):
    """After the flags, before any work: the plot (default out/<command>_<param>.png) and the JSON writable."""
    args.plot = args.plot or f"out/{args.command.replace('-', '_')}_{args.param}.png"
    for path in filter(None, (args.plot, args.json)):
        cli.check_writable(path)


def finite_or_none(value):
    """value, or None for nan (a 0/0 ratio): strict JSON has no NaN."""
    return None if isinstance(value, float) and math.isnan(value) else value


def coord_check_summary(args, widths, activations, ratios, passed):
    """The JSON of coord-check (keys as they have always been)."""
    ratios_json = {name: {pair: [finite_or_none(r) for r in rs] for pair, rs in by_pair.items()}
                   for name, by_pair in ratios.items()}
    return dict(param=args.param, base_width=args.base_width, head_dim=args.head_dim, lr=args.lr, seeds=args.seeds,
                walks=args.walks, length=args.length, zero_readout=not args.keep_readout_init, widths=widths,
                steps=list(range(args.steps + 1)), checked_steps=list(COORD_CHECKED_STEPS), tolerance=COORD_TOLERANCE,
                mean_abs_activation={name: {str(w): v for w, v in by_width.items()} for name, by_width in activations.items()},
                ratios=ratios_json,
                farthest_from_1={name: finite_or_none(farthest_from_1(sum(r.values(), []))) for name, r in ratios.items()},
                **{"pass": passed})


def run_coord_check(args):
    """coord-check: check every flag and output, run the check, print its table, plot, write the JSON."""
    widths = check_common(args)
    pairs = width_pairs(widths)
    if args.steps < max(COORD_CHECKED_STEPS) or min(args.seeds, args.walks) < 1 or args.length < 2:
        raise ValueError(f"need --steps >= {max(COORD_CHECKED_STEPS)}, --seeds >= 1, --walks >= 1, --length >= 2")
    cli.in_range("lr", args.lr, 0, low_open=True)
    check_outputs(args)
    activations = gpt_coord_check(args.param, widths, args.steps, args.lr, args.seeds, args.base_width, args.head_dim,
                                  n_walks=args.walks, length=args.length, zero_readout=not args.keep_readout_init)
    ratios = coord_ratios(activations, widths)
    at_init = coord_ratios(activations, widths, steps=(0,))
    passed = coord_pass(ratios)
    print(f"coordinate check, {args.param}: mean |activation| at width 4w over width w, the ratio farthest from 1 "
          f"over steps 1-3 (pass: all in [{1 / COORD_TOLERANCE:.3f}, {COORD_TOLERANCE}]); at init for reference")
    print(f"{'module':<16}" + "".join(f"{f'{w}->{w4}':>10}" for w, w4 in pairs) + f"{'init':>10}")
    for name, by_pair in ratios.items():
        print(f"{name:<16}" + "".join(f"{farthest_from_1(rs):>10.3f}" for rs in by_pair.values())
              + f"{farthest_from_1(sum(at_init[name].values(), [])):>10.3f}")
    print(f"pass: {'yes' if passed else 'no'}")
    plot_coord_check(activations, widths, args.param, args.plot)
    if args.json:
        cli.write_json(args.json, coord_check_summary(args, widths, activations, ratios, passed))


def run_lr_transfer(args):
    """lr-transfer: build every run's config (checking every flag) and the outputs, train what is not
    recorded yet, print the best lr per width, plot, write the JSON."""
    widths = check_common(args)
    lrs = cli.parse_list(args.lrs, cli.parse_float, "lrs")
    configs = transfer_configs(args.param, widths, lrs, args.tokens, args.batch_size, args.base_width,
                               args.head_dim, args.embed_lr_mult, args.seed)
    check_outputs(args)
    out = cli.check_writable(args.out or f"out/lr_transfer_{args.param}", directory=True)
    t0 = time.time()
    losses = lr_transfer(configs, out)
    best = best_lrs(losses, lrs)
    steps = [lrs.index(best[w]) for w in widths if best[w] is not None]
    moved = max(steps) - min(steps) if steps else None
    print(f"best lr per width ({args.param}): " + ", ".join(f"{w}: {best[w]:.3g}" if best[w] else f"{w}: -" for w in widths))
    print(f"the best lr moves by {moved} grid step(s) across widths {widths[0]}..{widths[-1]} ({time.time() - t0:.0f}s)")
    plot_lr_transfer(losses, lrs, args.param, args.plot)
    if args.json:
        cli.write_json(args.json, dict(
            param=args.param, base_width=args.base_width, widths=widths, lrs=lrs, tokens=args.tokens,
            batch_size=args.batch_size, embed_lr_mult=args.embed_lr_mult, loss={str(w): ls for w, ls in losses.items()},
            best_lr={str(w): b for w, b in best.items()}, grid_steps_moved=moved, time_s=time.time() - t0))


COMMANDS = {"coord-check": run_coord_check, "lr-transfer": run_lr_transfer}


def main(argv=None):
    args = build_parser().parse_args(argv)
    cli.guarded(COMMANDS[args.command], args)


if __name__ == "__main__":
    main()
