import math

import pytest
import torch
import torch.nn.functional as F

from model import GPT, GPTConfig


def small(**kw):
    torch.manual_seed(0)
    return GPT(GPTConfig(**{**dict(vocab_size=37, block_size=12, n_layer=2, width=32, head_dim=8), **kw}))


def test_future_tokens_do_not_change_earlier_logits():
    model = small()
    x = torch.randint(0, 37, (3, 12), generator=torch.Generator().manual_seed(1))
    y = x.clone()
    y[:, 7:] = torch.randint(0, 37, (3, 5), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        a, b = model(x), model(y)
    assert torch.equal(a[:, :7], b[:, :7])
    assert not torch.allclose(a[:, 7:], b[:, 7:])


def explicit_attention(attn, x):
    """Textbook masked-softmax attention with the module's own weights."""
    B, T, C = x.shape
    h = attn.config.n_head
    q, k, v = attn.qkv(x).split(C, dim=2)
    q, k, v = (t.view(B, T, h, C // h).transpose(1, 2) for t in (q, k, v))
    scale = attn.config.attn_scale if attn.config.attn_scale is not None else 1 / math.sqrt(C // h)
    scores = (q @ k.transpose(-2, -1)) * scale
    scores = scores.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
    y = F.softmax(scores, dim=-1) @ v
    return attn.proj(y.transpose(1, 2).reshape(B, T, C))


@pytest.mark.parametrize("scale", [None, 1 / 8])
def test_fused_attention_equals_explicit(scale):
    model = small(attn_scale=scale)
    attn = model.blocks[0].attn
    x = torch.randn(4, 12, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(attn(x), explicit_attention(attn, x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tie", [False, True])
def test_param_counts_match_hand_count(tie):
    V, T, L, d = 37, 12, 2, 32
    model = small(tie_weights=tie)
    embedding = V * d + T * d
    per_block = (2 * 2 * d          # two LayerNorms (gain, bias)
                 + d * 3 * d + 3 * d  # qkv
                 + d * d + d          # attention output
                 + d * 4 * d + 4 * d  # MLP in
                 + 4 * d * d + d)     # MLP out
    readout = 0 if tie else V * d
    total = embedding + L * per_block + 2 * d + readout
    assert model.param_counts() == dict(total=total, embedding=embedding, readout=readout,
                                        non_embedding=total - embedding)
    assert model.flops_per_token() == 6 * (L * per_block + 2 * d + V * d) + 12 * L * d * T


def test_multipliers_scale_embedding_and_logits():
    base = small()
    x = torch.randint(0, 37, (2, 12), generator=torch.Generator().manual_seed(4))
    scaled = small(readout_mult=0.25)
    with torch.no_grad():
        torch.testing.assert_close(scaled(x), 0.25 * base(x))
    # LayerNorm after the embedding makes block inputs scale-free, but the residual stream is not:
    assert not torch.allclose(small(embed_mult=3.0)(x), base(x))


def test_width_not_divisible_by_head_dim_is_refused():
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(width=30, head_dim=8)


def test_greedy_generate_follows_argmax():
    model = small()
    start = torch.zeros(2, 1, dtype=torch.long)
    out = model.generate(start, 5, temperature=0)
    assert out.shape == (2, 6)
    for t in range(1, 6):
        with torch.no_grad():
            assert torch.equal(out[:, t], model(out[:, :t])[:, -1].argmax(-1))
