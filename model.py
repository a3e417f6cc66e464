"""
The GPT of DESIGN.md: token + learned position embeddings, n_layer pre-LayerNorm blocks with causal
self-attention (F.scaled_dot_product_attention, the fused/flash kernel on CUDA) and a 4x GELU MLP,
a final LayerNorm and a linear readout. Small on purpose: the paper's students are 2 layers, context 50.

Three multipliers let mup.py set a parametrization without touching this file's code:
  attn_scale      the factor on q.k (None = 1/sqrt(head_dim), standard; muP uses 1/head_dim)
  embed_mult      the factor on the summed token + position embeddings (1 = standard)
  readout_mult    the factor on the logits (1 = standard; muP uses base_width/width)
"""
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
