"""
The GPT of DESIGN.md: token + learned position embeddings, n_layer pre-LayerNorm blocks with causal
self-attention (F.scaled_dot_product_attention, the fused/flash kernel on CUDA) and a 4x GELU MLP,
a final LayerNorm and a linear readout. Small on purpose: the paper's students are 2 layers, context 50.
Beside it, the machine it runs on: which device, which autocast, the peak FLOP/s that MFU divides by, and
the memory a run may use (a run that cannot fit is refused before it starts).

Three multipliers let mup.py set a parametrization without touching this file's code:
  attn_scale      the factor on q.k (None = 1/sqrt(head_dim), standard; muP uses 1/head_dim)
  embed_mult      the factor on the summed token + position embeddings (1 = standard)
  readout_mult    the factor on the logits (1 = standard; muP uses base_width/width)
"""
import contextlib
import math
import os
import pickle
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPTConfig:
    vocab_size: int = 1000
    block_size: int = 50      # context: the model sees T tokens and makes T next-token predictions
    n_layer: int = 2
    width: int = 128          # residual stream width (d_model)
    head_dim: int = 16        # n_head = width // head_dim
    tie_weights: bool = False # readout shares the token embedding matrix
    attn_scale: float | None = None
    embed_mult: float = 1.0
    readout_mult: float = 1.0

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "width", "head_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.width % self.head_dim:
            raise ValueError(f"width {self.width} is not divisible by head_dim {self.head_dim}")

    @property
    def n_head(self):
        return self.width // self.head_dim


class KVCache:
    """One attention layer's keys and values during generation, so that a new token costs one query against
    them instead of recomputing the prefix: k, v of shape (B, n_head, block_size, head_dim), allocated at the
    first append in the dtype the layer produces (bf16 under autocast); pos = positions filled so far."""

    def __init__(self, block_size):
        self.block_size, self.k, self.v, self.pos = block_size, None, None, 0

    def append(self, k, v):
        """Store k, v (B, n_head, T, head_dim) at the next T positions; return the keys and values of all
        positions so far, (B, n_head, pos, head_dim) views of the buffers."""
        if self.k is None:
            B, h, _, hd = k.shape
            self.k, self.v = k.new_empty(B, h, self.block_size, hd), v.new_empty(B, h, self.block_size, hd)
        T = k.size(2)
        self.k[:, :, self.pos:self.pos + T], self.v[:, :, self.pos:self.pos + T] = k, v
        self.pos += T
        return self.k[:, :, :self.pos], self.v[:, :, :self.pos]


class CausalSelfAttention(nn.Module):

    def __init__(self, config):
        super().__init__()
        self.qkv = nn.Linear(config.width, 3 * config.width)
        self.proj = nn.Linear(config.width, config.width)
        self.config = config  # read at every call, so mup.py can set config.attn_scale after init

    def forward(self, x, cache=None):
        """x: (B, T, width) → (B, T, width). With a KVCache, x holds the T positions after those cached; their
        keys and values are appended and the queries attend to every position up to their own."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        h = self.config.n_head
        q, k, v = (t.view(B, T, h, C // h).transpose(1, 2) for t in (q, k, v))
        if cache is None:  # training: the fused causal kernel
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.config.attn_scale)
        else:
            k, v = cache.append(k, v)
            S = k.size(2)
            # One new query sees all S cached positions: no mask. T > 1 new queries (a prompt) see up to their
            # own position S - T + i: a causal mask aligned to the bottom right, which is_causal (top left) is not.
            mask = None if T == 1 else torch.ones(T, S, dtype=torch.bool, device=x.device).tril(S - T)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.config.attn_scale)
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):

    def __init__(self, config):
        super().__init__()
        self.fc = nn.Linear(config.width, 4 * config.width)
        self.proj = nn.Linear(4 * config.width, config.width)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    """Pre-LN residual block: x + attn(LN(x)), then x + mlp(LN(x))."""

    def __init__(self, config):
        super().__init__()
        self.ln_1, self.attn = nn.LayerNorm(config.width), CausalSelfAttention(config)
        self.ln_2, self.mlp = nn.LayerNorm(config.width), MLP(config)

    def forward(self, x, cache=None):
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.width)
        self.wpe = nn.Embedding(config.block_size, config.width)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.width)
        self.lm_head = nn.Linear(config.width, config.vocab_size, bias=False)
        if config.tie_weights:
            self.lm_head.weight = self.wte.weight
        self.apply(self._init_weights)
        # GPT-2's scaled init of the residual projections: each block adds two terms to the stream,
        # so their std is divided by sqrt(2 n_layer) to keep the residual variance O(1) in depth.
        for block in self.blocks:
            for proj in (block.attn.proj, block.mlp.proj):
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx, cache=None):
        """idx: (B, T) int64 tokens → logits (B, T, vocab_size). Training passes no cache: idx holds positions
        0..T-1, T <= block_size. Generation passes a cache (one KVCache per block): idx holds the T positions
        after those cached, which are then cached too."""
        T = idx.size(1)
        start = 0 if cache is None else cache[0].pos
        if start + T > self.config.block_size:
            raise ValueError(f"sequence of length {start + T} exceeds block_size {self.config.block_size}")
        pos = torch.arange(start, start + T, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        if self.config.embed_mult != 1:  # skipped at 1: a multiply is a full pass over the tensor
            x = self.config.embed_mult * x
        for i, block in enumerate(self.blocks):
            x = block(x, None if cache is None else cache[i])
        logits = self.lm_head(self.ln_f(x))
        return logits if self.config.readout_mult == 1 else self.config.readout_mult * logits

    def param_counts(self):
        """Parameters by part (DESIGN.md, "N"): total; embedding = token + position tables; readout = the
        lm_head matrix (0 when tied: it is the token table); non_embedding = total - embedding (readout
        included: nanoGPT's count, whose 6N is the matmul FLOPs per token); kaplan = the blocks alone,
        12·n_layer·width² + 13·n_layer·width (Kaplan et al. 2020's N excludes every embedding and the
        unembedding and drops the biases and norms they call sub-leading; we count those, they are < 1/w)."""
        total = sum(p.numel() for p in self.parameters())  # a tied matrix is counted once
        embedding = self.wte.weight.numel() + self.wpe.weight.numel()
        readout = 0 if self.config.tie_weights else self.lm_head.weight.numel()
        kaplan = sum(p.numel() for p in self.blocks.parameters())
        return dict(total=total, embedding=embedding, readout=readout, non_embedding=total - embedding,
                    kaplan=kaplan)

    def flops_per_token(self):
        """Training FLOPs per token (forward + backward), nanoGPT's estimate as DESIGN.md defines it:
        6 * (non-embedding parameters, readout included) + 12 * n_layer * width * T (attention scores
        and their weighted sum). A tied readout still costs its matmul, so it is added back."""
        c = self.config
        matmul_params = self.param_counts()["non_embedding"] + (c.vocab_size * c.width if c.tie_weights else 0)
        return 6 * matmul_params + 12 * c.n_layer * c.width * c.block_size

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, generator=None, return_entropy=False):
        """Extend idx (B, T0) int64, T0 >= 1, by max_new_tokens sampled tokens → (B, T0 + max_new_tokens) int64;
        with return_entropy also (B, max_new_tokens) float32: the entropy in nats of the distribution each token
        was drawn from, softmax(logits / temperature) (computed in float32, also under autocast). temperature 0
        picks the argmax (greedy), entropy 0. generator: a torch.Generator on idx's device, for reproducible draws.
        A KV cache makes each new token one query against the cached positions: O(T) per token, not O(T^2).
        The last token is never fed back, so T0 + max_new_tokens may be block_size + 1 (a teacher's 1 + 50 = 51);
        longer raises ValueError: there is no sliding window, since a teacher never samples past its context."""
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        B, T0 = idx.shape
        if T0 < 1:
            raise ValueError("generate needs at least one prompt token")
        if T0 + max_new_tokens - 1 > self.config.block_size:
            raise ValueError(f"{T0} + {max_new_tokens} tokens need {T0 + max_new_tokens - 1} positions, more than "
                             f"block_size {self.config.block_size} (generate has no sliding window)")
        cache = [KVCache(self.config.block_size) for _ in self.blocks]
        tokens, x = [idx], idx  # x: what the model has not seen yet (the prompt, then the last sampled token)
        entropy = torch.zeros(B, max_new_tokens, device=idx.device)  # stays 0 when greedy
        for t in range(max_new_tokens):
            logits = self(x, cache)[:, -1].float()
            if temperature == 0:
                x = logits.argmax(dim=-1, keepdim=True)
            else:
                logp = F.log_softmax(logits / temperature, dim=-1)
                p = logp.exp()
                x = torch.multinomial(p, 1, generator=generator)
                entropy[:, t] = -(p * logp).sum(-1)
            tokens.append(x)
        out = torch.cat(tokens, dim=1)
        return (out, entropy) if return_entropy else out


def temporary_path(path):
    """Where save_atomic writes path's content before renaming it into place."""
    return f"{path}.tmp"


def save_atomic(obj, path):
    """torch.save obj to path through its temporary file (temporary_path) and one rename, so a crash never
    leaves half a file at path; a save cut short (Ctrl-C, a full disk) removes the temporary file."""
    tmp = temporary_path(path)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.remove(tmp)
        raise


def save_model(path, config, state):
    """Write a trained GPT to path as plain tensors and numbers: its GPTConfig (multipliers included) and its
    state dict (a tied readout is stored once, as the token table), atomically (save_atomic)."""
    state = {n: t.detach().cpu().clone() for n, t in state.items() if not (config.tie_weights and n == "lm_head.weight")}
    save_atomic(dict(config=asdict(config), state=state), path)


def load_model(path, device="cpu"):
    """A GPT written by save_model (train.py --save), in eval mode on device. weights_only loading: a
    checkpoint can never run code. A file that is not such a model is a ValueError naming it."""
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
        model, state = GPT(GPTConfig(**saved["config"])), dict(saved["state"])
        if model.config.tie_weights:
            state["lm_head.weight"] = state["wte.weight"]
        model.load_state_dict(state)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such model file")
    except (KeyError, TypeError, ValueError, RuntimeError, EOFError, AttributeError, IndexError,
            pickle.UnpicklingError) as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise ValueError(f"{path}: not a model saved by train.py --save ({first})")
    return model.to(device).eval()


# ---------------------------------------------------------------------------------------------------
# the machine a model trains on

def pick_device(name="auto"):
    """auto: cuda > mps > cpu. On CUDA under torchrun, each rank takes the GPU of its LOCAL_RANK. A ValueError
    for a device this machine does not have."""
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if name in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if name == "auto":
        return torch.device("mps" if mps else "cpu")
    if (name == "cuda") or (name == "mps" and not mps):
        raise ValueError(f"--device {name}: this machine has no {name.upper()} device that torch can use "
                         "(--device auto takes the best it has)")
    return torch.device(name)


def autocast_for(device, dtype):
    """bf16 autocast on CUDA by default (matmuls in bf16, reductions and the loss in float32)."""
    if dtype == "auto":
        dtype = "bfloat16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "float32"
    if dtype == "float32":
        return dtype, contextlib.nullcontext()
    return dtype, torch.autocast(device_type=device.type, dtype=getattr(torch, dtype))


NOMINAL_FLOPS = dict(cpu=3e10, mps=2e12, cuda=5e13)  # rough achieved FLOP/s, for --dry-run estimates only
# Peak dense bf16 tensor FLOP/s of GPUs we know, for MFU (vendor datasheets, no sparsity).
PEAK_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12,
              "A10": 125e12, "4090": 165e12, "3090": 71e12, "V100": 125e12}


def peak_flops(device):
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_FLOPS.items() if k in name), None)


FIXED_BYTES = 64 << 20  # what any run adds: allocator arenas, library work buffers (measured: ~55 MB)
STATE_BYTES = 32  # per parameter and member: flat, grad, m, v (4 each), member index (8), lr_mult, decay (4 each)
STEP_BYTES = 12  # per parameter and member: AdamW's temporaries in a step
EVAL_FLOATS = 2e7  # logits a chunk of the eval pass holds at most (evaluate), unless one walk needs more


def memory_estimate(cfg, E, V, dataset_bytes):
    """Peak bytes of training E runs of cfg's shape together (train.py, a train.RunConfig or any object with
    its fields), by part, before anything is built: the dataset while it is built, then its tables
    (dataset_bytes: both, as data.dataset_bytes gives them) beside the model and AdamW state (STATE_BYTES) and
    the larger of a step's activations and the eval pass. A step keeps, per token, ~18 width floats per
    block, the attention probabilities and 3 V floats of logits, log-probabilities and their gradient. V: the
    vocabulary, None if only the built dataset knows it (an edge list's): what depends on it is then left
    out. Tested against measured peaks (within 2x)."""
    V = V or 0
    w, L, T, B = cfg.width, cfg.n_layer, cfg.block_size, cfg.batch_size
    # model.param_counts' total, in Python integers: a meta model of a width this refuses would overflow int64
    params = E * (L * (12 * w * w + 13 * w) + (T + 2) * w + V * w * (1 if cfg.tie_weights else 2))
    per_token = L * (18 * w + 2 * (w // cfg.head_dim) * T) + 3 * V
    step = 4 * E * B * T * per_token + STEP_BYTES * params
    evaluation = 8 * min(E * cfg.eval_walks * T * V, max(EVAL_FLOATS, E * T * V))  # logits and log-probabilities
    building, kept = dataset_bytes
    total = FIXED_BYTES + max(building, kept + STATE_BYTES * params + max(step, evaluation))
    return dict(total=total, model=STATE_BYTES * params, activations=max(step, evaluation), dataset=max(building, kept))


def memory_bytes(device):
    """The memory a run on device can use, in bytes: the GPU's own on CUDA (torch.cuda.mem_get_info), else
    the machine's physical memory (CPU and MPS, which shares it), capped by a cgroup v2 limit if one is set."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[1]
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
    except OSError:
        return physical
    return min(physical, int(limit)) if limit.isdigit() else physical


def check_fits(need, device, what, hint):
    """Refuse, before any work, what needs more than the device's memory (memory_bytes): a ValueError with
    need (a dict of bytes by part, with 'total'), what the machine has, and hint (the flags to lower)."""
    have = memory_bytes(device)
    if need["total"] > have:
        parts = ", ".join(f"{name} {size_text(b)}" for name, b in need.items() if name != "total" and b)
        raise ValueError(f"{what} needs ~{size_text(need['total'])} of memory ({parts}), more than the "
                         f"{size_text(have)} of this machine's {device.type}; {hint}")


def size_text(n):
    """Bytes n in words: '512 MB', '3.8 TB'; from 1000 PB on in powers of ten ('1e+31 bytes')."""
    if n >= 1e18:
        return f"{n:.2g} bytes"
    unit, scale = next(((u, s) for u, s in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9)) if n >= s), ("MB", 1e6))
    return f"{n / scale:.3g} {unit}"
