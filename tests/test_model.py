import math

import pytest
import torch
import torch.nn.functional as F

from model import GPT, GPTConfig, KVCache


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
                                        non_embedding=total - embedding, kaplan=L * per_block)
    # Kaplan et al.'s leading term, 12·n_layer·d², and the biases and norms it drops: 13·n_layer·d
    assert model.param_counts()["kaplan"] == 12 * L * d * d + 13 * L * d
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


# ---------------------------------------------------------------------------------------------------
# generation with a KV cache

# Non-default multipliers, as mup.py may set them: TP5's 1/head_dim on q.k, a readout multiplier base/width,
# an embedding multiplier; each one is applied once by forward and must be applied once by the cached path.
MULTS = dict(attn_scale=1 / 8, embed_mult=3.0, readout_mult=0.25)


@pytest.mark.parametrize("n_layer", [1, 4])
def test_cached_logits_equal_full_forward_at_every_position(n_layer):
    model = small(n_layer=n_layer, **MULTS)
    x = torch.randint(0, 37, (3, 12), generator=torch.Generator().manual_seed(5))
    cache = [KVCache(12) for _ in model.blocks]
    with torch.no_grad():
        # a 3-token prompt, single tokens, then a 3-token chunk after cached positions, then single tokens
        chunks = [model(x[:, a:b], cache) for a, b in [(0, 3), (3, 4), (4, 5), (5, 8), (8, 9), (9, 10), (10, 12)]]
        full = model(x)
    torch.testing.assert_close(torch.cat(chunks, dim=1), full, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="exceeds block_size"):  # the cache is full
        model(x[:, :1], cache)


def test_greedy_generate_equals_brute_force_argmax():
    model = small(**MULTS)
    start = torch.randint(0, 37, (4, 2), generator=torch.Generator().manual_seed(6))
    out, entropy = model.generate(start, 11, temperature=0, return_entropy=True)  # 2 + 11 = block_size + 1
    brute = start
    with torch.no_grad():
        for _ in range(11):
            brute = torch.cat((brute, model(brute)[:, -1].argmax(-1, keepdim=True)), dim=1)
    assert out.dtype == torch.int64 and torch.equal(out, brute)
    assert entropy.shape == (4, 11) and entropy.dtype == torch.float32 and not entropy.any()


@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_entropies_equal_full_forward_entropies_along_the_sample(tau):
    model = small(attn_scale=1 / 8, embed_mult=3.0, readout_mult=20.0)  # spread-out logits: entropies vary
    start = torch.randint(0, 37, (5, 1), generator=torch.Generator().manual_seed(7))
    out, entropy = model.generate(start, 12, temperature=tau, generator=torch.Generator().manual_seed(8),
                                  return_entropy=True)
    assert out.shape == (5, 13) and entropy.shape == (5, 12)
    with torch.no_grad():
        logp = F.log_softmax(model(out[:, :-1]) / tau, dim=-1)  # the distributions of tokens 1..12
    torch.testing.assert_close(entropy, -(logp.exp() * logp).sum(-1), rtol=1e-5, atol=1e-5)
    assert entropy.std() > 0.1


def chi_square_p_value(counts, probs):
    """Pearson's chi-square test of counts against probs; bins expecting < 5 draws are pooled into one."""
    from scipy.stats import chi2
    expected = probs * counts.sum()
    small_bins = expected < 5
    obs = torch.cat((counts[~small_bins], counts[small_bins].sum(0, keepdim=True)))
    exp = torch.cat((expected[~small_bins], expected[small_bins].sum(0, keepdim=True)))
    keep = exp > 0  # an empty pooled bin
    stat = ((obs[keep] - exp[keep]) ** 2 / exp[keep]).sum().item()
    return chi2.sf(stat, keep.sum().item() - 1)


def test_first_sampled_token_follows_softmax_at_temperature():
    """20000 seeded draws of the first sampled token after a fixed prompt, against softmax(logits / tau).
    False-alarm rate 1e-3: a correct sampler fails with probability 1e-3 per seed (here one fixed seed)."""
    model, tau, n = small(readout_mult=20.0), 0.7, 20000
    prompt = torch.tensor([[3, 14, 15]]).expand(n, 3)
    out = model.generate(prompt, 1, temperature=tau, generator=torch.Generator().manual_seed(9))
    counts = torch.bincount(out[:, -1], minlength=37).double()
    with torch.no_grad():
        logits = model(prompt[:1])[0, -1].double()
    assert chi_square_p_value(counts, F.softmax(logits / tau, dim=-1)) > 1e-3
    assert chi_square_p_value(counts, F.softmax(logits, dim=-1)) < 1e-3  # the test can tell temperatures apart


def test_same_generator_seed_same_samples():
    model = small()
    start = torch.zeros(8, 1, dtype=torch.long)

    def draw(seed):
        return model.generate(start, 11, temperature=1.0, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(draw(10), draw(10))
    assert not torch.equal(draw(10), draw(11))


def test_generate_refuses_too_long_and_negative_temperature():
    model = small()  # block_size 12: 1 + 12 tokens is the longest generation (the last is never fed back)
    start = torch.zeros(2, 1, dtype=torch.long)
    assert model.generate(start, 12).shape == (2, 13)
    with pytest.raises(ValueError, match="block_size 12"):
        model.generate(start, 13)
    with pytest.raises(ValueError, match="block_size 12"):
        model.generate(torch.zeros(2, 5, dtype=torch.long), 9)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(start, 3, temperature=-0.5)


def test_entropies_are_float32_under_bf16_autocast():
    model = small(readout_mult=20.0)
    start = torch.zeros(4, 1, dtype=torch.long)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, entropy = model.generate(start, 12, generator=torch.Generator().manual_seed(12), return_entropy=True)
        logits = model(out[:, :-1])
    assert logits.dtype == torch.bfloat16 and out.dtype == torch.int64 and entropy.dtype == torch.float32
    logp = F.log_softmax(logits.float(), dim=-1)
    torch.testing.assert_close(entropy, -(logp.exp() * logp).sum(-1), rtol=0, atol=0.05)  # bf16 matmuls
