"""
Parametrizations of model.GPT: standard (SP) and maximal-update (μP). The rules only; the two experiments
that tell them apart (the coordinate check and learning-rate transfer) are in mup_experiments.py.

train.py calls apply() once on a freshly built model, then ensemble.py builds AdamW from param_groups():

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
import math

import torch

PARAMS = ("sp", "mup")


def check_param(param, base_width):
    """A ValueError unless param is one of PARAMS and base_width (the width at which μP equals SP) >= 1."""
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
    'lr_mult' (ensemble.py multiplies the scheduled lr by it every step) and 'weight_decay'. lr is the
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
