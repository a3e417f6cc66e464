"""
An ensemble: E runs that share every shape, stacked into one batched model and trained as one.

Each member is initialised exactly as it would be alone, sees its own batches and keeps its own learning
rate, weight decay and gradient clipping, so member e of an ensemble is the run e alone, up to float
rounding (tests/test_sweep.py). train.py's loop takes the step: forward, loss, backward, then
clip_grad_norms and adamw_step here. All parameters of all members live in one flat buffer, so AdamW and the
clip are a few whole-buffer operations; torch.func.vmap runs the members' forward passes together. A lone
run is an ensemble of one, and takes a plain call with the fused attention kernel.
"""
import dataclasses
from dataclasses import dataclass

import torch
from torch.func import functional_call, vmap
from torch.nn.attention import SDPBackend, sdpa_kernel

import mup

MEMBER_FIELDS = ("lr", "embed_lr_mult", "weight_decay", "seed")  # what may tell the members of an ensemble apart


def shape_key(cfg, but=()):
    """Runs with equal keys can train together: they differ only in MEMBER_FIELDS (and the fields named in
    but). The other fields' values as a tuple: no model is built, so a 10^4-run grid groups in milliseconds."""
    return tuple(getattr(cfg, f.name) for f in dataclasses.fields(cfg)
                 if f.name not in MEMBER_FIELDS and f.name not in but)


def member_key(cfg):
    """What tells a member of an ensemble apart from the others."""
    return tuple(getattr(cfg, name) for name in MEMBER_FIELDS)


@dataclass
class Members:
    """E models of one shape stacked. template: the GPT on the meta device (it holds the code and the
    multipliers, not the weights); params: name -> (E, *shape) leaf view of flat; flat, grad: every weight and
    its gradient in one buffer each; member: the member of each entry of flat; lr_mult, decay: each entry's
    lr multiplier and weight decay (mup.param_groups); m, v, t: AdamW's state."""
    template: torch.nn.Module
    params: dict
    flat: torch.Tensor
    grad: torch.Tensor
    member: torch.Tensor
    lr_mult: torch.Tensor
    decay: torch.Tensor
    m: torch.Tensor
    v: torch.Tensor
    t: int = 0

    @property
    def size(self):
        """E, the number of members."""
        return len(next(iter(self.params.values())))


def flat_views(blocks, device):
    """One flat buffer holding the (E, *shape) blocks one after another, each block a leaf view of it whose
    .grad is a view of a second buffer: backward writes straight into one buffer."""
    flat = torch.cat([b.flatten() for b in blocks]).to(device)
    grad = torch.zeros_like(flat)
    views, offset = [], 0
    for b in blocks:
        view = flat[offset:offset + b.numel()].view(b.shape).requires_grad_()
        view.grad = grad[offset:offset + b.numel()].view(b.shape)
        views.append(view)
        offset += b.numel()
    return flat, grad, views


def build_members(cfgs, build, device):
    """Initialise each member exactly as it would be alone (torch.manual_seed(its seed), then build(cfg):
    its GPT with mup.apply'd, on the device given by torch's default, which build_members keeps the CPU),
    then lay all parameters out in one flat buffer, parameter by parameter, each an (E, *shape) block of
    the E members, so AdamW is a few whole-buffer operations. Returns their Members."""
    models, hyper = [], []
    for cfg in cfgs:
        torch.manual_seed(cfg.seed)
        model = build(cfg)
        name_of = {id(p): n for n, p in model.named_parameters()}
        groups = mup.param_groups(model, cfg.lr, cfg.weight_decay, cfg.param, cfg.base_width, cfg.embed_lr_mult)
        hyper.append({name_of[id(p)]: (g["lr_mult"], g["weight_decay"]) for g in groups for p in g["params"]})
        models.append(dict(model.named_parameters()))
    E, names = len(cfgs), list(models[0])
    blocks = [torch.stack([m[n].detach() for m in models]) for n in names]
    flat, grad, views = flat_views(blocks, device)

    def per_entry(values):  # values[e] for every entry of member e, in the buffer's layout
        return torch.cat([torch.tensor(values(n)).repeat_interleave(b[0].numel()) for n, b in zip(names, blocks)])
    # the template is built on the meta device, not moved there: .to("meta") would untie a tied readout
    with torch.device("meta"):
        template = build(cfgs[0])
    return Members(template=template, params=dict(zip(names, views)), flat=flat, grad=grad,
                   member=per_entry(lambda n: list(range(E))).to(device),
                   lr_mult=per_entry(lambda n: [h[n][0] for h in hyper]).to(device, flat.dtype),
                   decay=per_entry(lambda n: [h[n][1] for h in hyper]).to(device, flat.dtype),
                   m=torch.zeros_like(flat), v=torch.zeros_like(flat))


def forward(members, x):
    """Logits (E, B, T, V) of each member on its own tokens x (E, B, T)."""
    template, params = members.template, members.params
    if x.size(0) == 1:  # a lone run: a plain call, with the fused attention kernel
        return functional_call(template, {n: p[0] for n, p in params.items()}, (x[0],)).unsqueeze(0)
    with sdpa_kernel(SDPBackend.MATH):  # vmap has no batching rule for the fused kernels; the math one has
        return vmap(lambda p, xi: functional_call(template, p, (xi,)))(params, x)


@torch.no_grad()
def adamw_step(members, lr, betas=(0.9, 0.95), eps=1e-8):
    """AdamW (Loshchilov & Hutter 2019) as torch.optim.AdamW computes it, on the flat buffer of all
    members at once: lr (E,) is each member's scheduled learning rate, times its per-parameter lr_mult."""
    b1, b2 = betas
    flat, g, m, v = members.flat, members.grad, members.m, members.v
    members.t += 1
    c1, c2 = 1 - b1 ** members.t, 1 - b2 ** members.t
    lr = lr.to(flat.dtype)[members.member] * members.lr_mult
    flat.mul_(1 - lr * members.decay)  # decoupled weight decay
    m.lerp_(g, 1 - b1)
    v.mul_(b2).addcmul_(g, g, value=1 - b2)
    flat.sub_(lr / c1 * m / ((v / c2).sqrt_() + eps))


@torch.no_grad()
def clip_grad_norms(members, max_norm):
    """Scale each member's gradient to norm <= max_norm[e] (0: no clipping), as clip_grad_norm_ does."""
    g, member = members.grad, members.member
    norms = torch.zeros(len(max_norm), device=g.device).index_add_(0, member, g.float().pow(2)).sqrt()
    coef = torch.where(max_norm > 0, (max_norm / (norms + 1e-6)).clamp(max=1.0), torch.ones_like(norms))
    g.mul_(coef.to(g.dtype)[member])


def snapshot(members):
    """Copies of the weights and AdamW state: a point to branch from (restore puts them back)."""
    return dict(flat=members.flat.detach().clone(), m=members.m.clone(), v=members.v.clone(), t=members.t)


@torch.no_grad()
def restore(members, saved):
    """Put back the weights and AdamW state of a snapshot (or a checkpoint), in place: the parameters stay
    views of flat."""
    members.flat.copy_(saved["flat"])
    members.m.copy_(saved["m"])
    members.v.copy_(saved["v"])
    members.t = saved["t"]
