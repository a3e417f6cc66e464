"""
Parametrizations of model.GPT, standard (SP) and maximal-update (μP), and the two experiments that tell
them apart: the coordinate check and learning-rate transfer.

    python mup.py coord-check --param mup --widths 32,64,128,256,512
    python mup.py lr-transfer --param mup --widths 32,64,128,256

train.py calls apply() once on a freshly built model, then builds AdamW from param_groups():

    model = GPT(config); mup.apply(model, "mup", base_width=64)
    groups = mup.param_groups(model, lr, weight_decay, "mup", base_width=64)  # each with 'lr_mult'

SP is model.py's GPT-2 recipe: every matrix and embedding N(0, 0.02²), the residual projections
0.02 / sqrt(2 n_layer), zero biases, one learning rate and weight decay for all. μP for Adam follows
Yang et al. 2022, "Tensor Programs V" (TP5), Table 3, in the equivalent form of its Table 8 that the
`mup` package implements. With the width multiplier m = width / base_width:

    parameter                          init std      Adam lr     weight decay   forward multiplier
    token and position embeddings      0.02          lr          wd             1
    hidden matrices (qkv, attn out,    SP / sqrt(m)  lr / m      wd * m         1
      MLP in, MLP out)
    readout (lm_head)                  0.02          lr          wd             1 / m on the logits
    vectors (LayerNorm, biases)        SP            lr          0              1
    attention logits                                                            1 / sqrt(head_dim)

Every entry is the identity at m = 1, so at the base width μP and SP are the same model with the same
learning rates. Weight decay is torch's decoupled AdamW decay, p <- p (1 - lr wd) per step: wd * m keeps
lr * wd, the fraction of a hidden matrix decayed per step, the same at every width. The reason for
each rule is beside the code that applies it.
"""
import argparse
import dataclasses
import itertools
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import graphs
import walks
from model import GPT, GPTConfig

PARAMS = ("sp", "mup")
COORD_TOLERANCE = 1.2          # the `mup` package's test: widths 4x apart agree within a factor 1.2 ...
COORD_CHECKED_STEPS = (1, 2, 3)  # ... after each of the first three updates


# ---------------------------------------------------------------------------------------------------
# the parametrizations

def check_param(param, base_width):
    if param not in PARAMS:
        raise ValueError(f"unknown parametrization {param!r}: choose one of {', '.join(PARAMS)}")
    if base_width < 1:
        raise ValueError(f"base width must be >= 1, got {base_width}")


def width_mult(model, param, base_width):
    """m = width / base_width under μP; SP has no base width, so 1."""
    return model.config.width / base_width if param == "mup" else 1.0


def parameters_by_role(model):
    """The trainable parameters by their μP role, each tensor once (a tied readout is the token table):
    'embedding' (token and position tables), 'hidden' (the blocks' matrices: both dimensions grow with
    width), 'readout' (lm_head) and 'vector' (LayerNorm gains and biases, linear biases)."""
    roles = dict(embedding=[], hidden=[], readout=[], vector=[])
    for p in model.parameters():
        if p is model.wte.weight or p is model.wpe.weight:
            roles["embedding"].append(p)
        elif p is model.lm_head.weight:
            roles["readout"].append(p)
        else:
            roles["hidden" if p.dim() >= 2 else "vector"].append(p)
    return roles


@torch.no_grad()
def apply(model, param="sp", base_width=64):
    """Set the initialisation and the forward multipliers of a freshly built model for a parametrization.
    SP is model.py's default and is left untouched. μP rescales the SP initialisation in place (so call
    this once): at the base width every factor is exactly 1 and the model is bit-identical to SP."""
    check_param(param, base_width)
    if param == "sp":
        return model
    config, m = model.config, width_mult(model, param, base_width)
    # Hidden matrices: init variance ∝ 1/fan_in, so that W x has O(1) coordinates at init at every width
    # (TP5 Table 3 / 8, hidden weights). SP's fixed std 0.02 lets W x grow like sqrt(width).
    for w in parameters_by_role(model)["hidden"]:
        w.mul_(1 / math.sqrt(m))
    # Readout: training correlates the readout with its input, so the logits' sum over `width` terms grows
    # like width; the multiplier 1/m cancels that, with the readout's init and Adam lr independent of width
    # (TP5 Table 8, output weights: multiplier 1/fan_in, as mup.MuReadout). At init the logits then
    # shrink like 1/sqrt(m): μP's initial output vanishes as the width grows.
    config.readout_mult = base_width / config.width
    # Attention: TP5 scales q.k by 1/head_dim, not 1/sqrt(head_dim), because trained q and k are correlated
    # and q.k grows like head_dim (TP5, Table 3 and its notes on attention); anchored to SP at the base
    # model, the scale is sqrt(base_head_dim) / head_dim. This model widens by adding heads of a fixed
    # head_dim, so head_dim = base_head_dim at every width and the scale stays SP's 1/sqrt(head_dim):
    # q.k sums the same number of terms at every width.
    config.attn_scale = 1 / math.sqrt(config.head_dim)
    # Embeddings: a table lookup has fan_in 1 at every width, so SP's init and embed_mult = 1 already are
    # μP's (TP5 Table 8, input weights).
    return model


def param_groups(model, lr, weight_decay, param="sp", base_width=64, embed_lr_mult=1.0):
    """AdamW parameter groups, one per role (parameters_by_role), each with 'name', 'lr' = lr * lr_mult,
    'lr_mult' (train.py multiplies the scheduled lr by it every step) and 'weight_decay'. lr is the
    learning rate of the base-width model. embed_lr_mult multiplies the embeddings' learning rate only
    (SP or μP; their weight decay stays wd, so their lr * wd moves with it as with any lr change)."""
    check_param(param, base_width)
    m = width_mult(model, param, base_width)
    rules = dict(  # role: (lr multiplier, weight decay)
        # Embeddings: an Adam step moves a row's coordinates by ~lr at any width, the O(1) change μP
        # wants, so their lr does not depend on width (TP5 Table 3 / 8, input weights).
        embedding=(embed_lr_mult, weight_decay),
        # Hidden matrices: an Adam step moves every entry by ~lr and W x adds up fan_in ∝ width such moves
        # coherently, so the lr must scale as 1/m for an O(1) change of W x (TP5 Table 3, Adam: 1/fan_in).
        # wd * m keeps lr * wd width-independent (the `mup` package's MuAdam default, decoupled_wd=False).
        hidden=(1 / m, weight_decay * m),
        # Readout: its 1/m forward multiplier already tames its sum over width (TP5 Table 8, output weights).
        readout=(1.0, weight_decay),
        # Vectors: each entry acts on one coordinate, no sum over width (TP5 Table 3 / 8, biases); no decay.
        vector=(1.0, 0.0),
    )
    groups = []
    for role, params in parameters_by_role(model).items():
        if params:  # no readout group when the readout is tied to the token table
            lr_mult, decay = rules[role]
            groups.append(dict(name=role, params=params, lr=lr * lr_mult, lr_mult=lr_mult, weight_decay=decay))
    return groups


# ---------------------------------------------------------------------------------------------------
# the coordinate check (TP5's "coord check"; the `mup` package's get_coord_data and its test)
#
# Each width trains a few AdamW steps at a fixed lr on one fixed batch; the mean |output| of every module
# should then be the same at every width under μP, and grow with width under SP. Three choices make the
# check meaningful from width 32 on:
# - the readout starts at zero, as in the `mup` package's test (readout_zero_init). With the model's
#   N(0, 0.02²) readout, μP's logits carry an init term that shrinks like 1/sqrt(m) (see apply) and
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


def coord_check(param, widths, steps=5, lr=2 ** -9, seeds=32, base_width=64, head_dim=16, weight_decay=0.01,
                n_walks=4, length=9, zero_readout=True, graph=None):
    """Mean |activation| of each watched module per width and step, averaged over seeds:
    {module: {width: [value after t updates, t = 0..steps]}}. Every model trains with AdamW at the
    constant learning rate lr (no warmup, no clipping: the parametrization alone) on one fixed batch of
    n_walks walks of `length` tokens on `graph` (default: ER, 1000 nodes, 5000 edges); seed s sets the
    initialisation at every width. zero_readout: start the readout at zero (see above)."""
    graph = graph or graphs.erdos_renyi(1000, 5000, seed=0)
    tokens = torch.from_numpy(walks.sample_walks(graph, n_walks, length, seed=0))
    mean = {}
    for seed, width in itertools.product(range(seeds), widths):
        torch.manual_seed(seed)
        model = apply(GPT(GPTConfig(vocab_size=graph.V, width=width, head_dim=head_dim)), param, base_width)
        if zero_readout:
            torch.nn.init.zeros_(model.lm_head.weight)
        optimizer = torch.optim.AdamW(param_groups(model, lr, weight_decay, param, base_width), betas=(0.9, 0.95))
        for name, values in mean_abs_activations(model, tokens, optimizer, steps).items():
            mean.setdefault(name, {}).setdefault(width, np.zeros(steps + 1))
            mean[name][width] += np.array(values) / seeds
    return {name: {w: v.tolist() for w, v in by_width.items()} for name, by_width in mean.items()}


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
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    steps = len(activations["logits"][widths[0]])
    fig, axes = plt.subplots(1, steps, figsize=(2.3 * steps + 1.5, 3.2), sharey=True)
    colors = plt.cm.viridis(np.linspace(0, 0.95, len(activations)))
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
    save_figure(fig, path)


# ---------------------------------------------------------------------------------------------------
# learning-rate transfer

def lr_transfer(param, widths, lrs, tokens=100_000, batch_size=20, out=None, base_width=64, head_dim=16,
                embed_lr_mult=1.0, seed=0, log=print):
    """Train one model per (width, lr) with train.py's recipe (ER 1000/5000 walks, AdamW, warmup + cosine;
    the lrs of a width train together as one batched ensemble) and return {width: [final expected eval
    loss in nats for each lr, None if diverged]}. Records are appended to out/runs.jsonl (default out:
    out/lr_transfer_<param>) as each width finishes; runs already recorded there are read back, not
    trained again."""
    import train  # train imports mup: a top-level import would be circular
    out = out or f"out/lr_transfer_{param}"
    done = {r["run"]: r for r in train.read_records(out) if r.get("status") in train.FINISHED}
    losses = {}
    for width in widths:
        cfgs = [train.RunConfig(width=width, head_dim=head_dim, param=param, base_width=base_width, lr=lr,
                                embed_lr_mult=embed_lr_mult, tokens=tokens, batch_size=batch_size, seed=seed)
                for lr in lrs]
        cfgs = [dataclasses.replace(c, eval_every=c.steps) for c in cfgs]  # only the final loss is needed
        todo = [c for c in cfgs if c.run_id() not in done]
        if todo:
            for record in train.train_members(todo, log=train.quiet):
                train.append_record(os.path.join(out, "runs.jsonl"), record)
                done[record["run"]] = record
        losses[width] = [done[c.run_id()]["loss"] for c in cfgs]
        log(f"width {width:>4}: " + "  ".join(f"lr {lr:.3g} " + ("diverged" if loss is None else f"{loss:.4f}")
                                             for lr, loss in zip(lrs, losses[width])))
    return losses


def best_lrs(losses, lrs):
    """{width: the lr of lowest final loss (None if every run diverged)}."""
    return {width: min(((loss, lr) for loss, lr in zip(ls, lrs) if loss is not None), default=(None, None))[1]
            for width, ls in losses.items()}


def plot_lr_transfer(losses, lrs, param, path):
    """Final loss against learning rate, one curve per width, a star at each width's optimum."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.6))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(losses)))
    best = best_lrs(losses, lrs)
    for color, (width, ls) in zip(colors, losses.items()):
        ax.plot(lrs, [np.nan if loss is None else loss for loss in ls], "o-", ms=3, color=color, label=f"width {width}")
        if best[width] is not None:
            ax.plot(best[width], ls[lrs.index(best[width])], "*", ms=13, color=color, mec="k")
    ax.set(xscale="log", xlabel="peak learning rate" + (" (of the base-width model)" if param == "mup" else ""),
           ylabel="final eval loss (nats)", title=f"learning-rate transfer, {param.upper()} (star: best lr)")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def save_figure(fig, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


# ---------------------------------------------------------------------------------------------------
# command line

def parse_list(text, kind, name):
    """'32,64,128' -> [32, 64, 128] (sorted, without repeats); a ValueError for anything else."""
    try:
        values = sorted({kind(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise ValueError(f"--{name} must be a comma-separated list of numbers, got {text!r}")
    if not values:
        raise ValueError(f"--{name} is empty")
    if not (values[0] > 0 and math.isfinite(values[-1])):
        raise ValueError(f"--{name} must be positive and finite, got {text!r}")
    return values


def parse_widths(text, head_dim):
    widths = parse_list(text, int, "widths")
    for w in widths:
        if w % head_dim:
            raise ValueError(f"width {w} is not divisible by --head-dim {head_dim}")
    return widths


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def build_parser(count):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--param", default="mup", help=f"parametrization: {' or '.join(PARAMS)}")
    common.add_argument("--base-width", type=int, default=64, help="width at which μP equals SP")
    common.add_argument("--head-dim", type=int, default=16, help="dimension per attention head: n_head = width / head_dim")
    common.add_argument("--plot", help="PNG of the result (None: out/<command>_<param>.png)")
    common.add_argument("--json", metavar="PATH", help="also write the numbers to PATH as JSON")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    defaults = dict(parents=[common], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    cc = sub.add_parser("coord-check", help="mean |activation| per module and width over a few steps", **defaults)
    cc.add_argument("--widths", default="32,64,128,256,512", help="comma-separated widths, with pairs 4x apart")
    cc.add_argument("--steps", type=int, default=5, help="AdamW updates (the check reads steps 1-3)")
    cc.add_argument("--lr", type=float, default=2 ** -9, help="constant learning rate (of the base-width model)")
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
    lt.add_argument("--tokens", type=count, default=100_000, help="training tokens per run, e.g. 100k")
    lt.add_argument("--batch-size", type=int, default=20, help="walks per step (100k tokens: 100 steps of 20 walks)")
    lt.add_argument("--embed-lr-mult", type=float, default=1.0, help="extra factor on the embeddings' learning rate")
    lt.add_argument("--seed", type=int, default=0, help="seed of every run")
    lt.add_argument("--out", help="directory of the run records, appended to DIR/runs.jsonl; runs already "
                                  "there are not trained again (None: out/lr_transfer_<param>)")
    for parser in (p, cc, lt):
        parser.error = fail  # a bad flag gets one line, like every other bad input
    return p


def run_coord_check(args):
    widths = parse_widths(args.widths, args.head_dim)
    pairs = width_pairs(widths)
    if args.steps < max(COORD_CHECKED_STEPS) or min(args.seeds, args.walks) < 1 or args.length < 2:
        raise ValueError(f"need --steps >= {max(COORD_CHECKED_STEPS)}, --seeds >= 1, --walks >= 1, --length >= 2")
    activations = coord_check(args.param, widths, args.steps, args.lr, args.seeds, args.base_width, args.head_dim,
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
    plot_coord_check(activations, widths, args.param, args.plot or f"out/coord_check_{args.param}.png")
    return dict(param=args.param, base_width=args.base_width, head_dim=args.head_dim, lr=args.lr, seeds=args.seeds,
                walks=args.walks, length=args.length, zero_readout=not args.keep_readout_init, widths=widths,
                steps=list(range(args.steps + 1)), checked_steps=list(COORD_CHECKED_STEPS), tolerance=COORD_TOLERANCE,
                mean_abs_activation={name: {str(w): v for w, v in by_width.items()} for name, by_width in activations.items()},
                ratios=ratios, farthest_from_1={name: farthest_from_1(sum(r.values(), [])) for name, r in ratios.items()},
                **{"pass": passed})


def run_lr_transfer(args):
    widths = parse_widths(args.widths, args.head_dim)
    lrs = parse_list(args.lrs, float, "lrs")
    t0 = time.time()
    losses = lr_transfer(args.param, widths, lrs, args.tokens, args.batch_size, args.out, args.base_width,
                         args.head_dim, args.embed_lr_mult, args.seed)
    best = best_lrs(losses, lrs)
    steps = [lrs.index(best[w]) for w in widths if best[w] is not None]
    moved = max(steps) - min(steps) if steps else None
    print(f"best lr per width ({args.param}): " + ", ".join(f"{w}: {best[w]:.3g}" if best[w] else f"{w}: -" for w in widths))
    print(f"the best lr moves by {moved} grid step(s) across widths {widths[0]}..{widths[-1]} ({time.time() - t0:.0f}s)")
    plot_lr_transfer(losses, lrs, args.param, args.plot or f"out/lr_transfer_{args.param}.png")
    return dict(param=args.param, base_width=args.base_width, widths=widths, lrs=lrs, tokens=args.tokens,
                batch_size=args.batch_size, embed_lr_mult=args.embed_lr_mult, loss={str(w): ls for w, ls in losses.items()},
                best_lr={str(w): b for w, b in best.items()}, grid_steps_moved=moved, time_s=time.time() - t0)


def main(argv=None):
    import train  # for its token-count parser; not at the top, as train imports mup
    args = build_parser(train.count).parse_args(argv)
    try:
        check_param(args.param, args.base_width)
        if args.head_dim < 1:
            raise ValueError(f"--head-dim must be >= 1, got {args.head_dim}")
        summary = (run_coord_check if args.command == "coord-check" else run_lr_transfer)(args)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(summary, f, indent=1)
    except (ValueError, OSError) as e:
        fail(e)


if __name__ == "__main__":
    main()
