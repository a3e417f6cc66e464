"""
Throughput figures against the obvious alternatives, measured in the same run, as a table.

    python bench.py                        # all four sections below (walks on ER 50K nodes / 2M edges, kappa 1)
    python bench.py --quick                # smaller graph and generation batch, fewer repeats: a smoke test
    python bench.py --sections generation  # only some sections

1. walk sampling: walks.py (alias tables, vectorised) against a plain networkx sampler, a Python loop
   choosing a random neighbour per step;
2. training step: train.py's step against a minimal nanoGPT-style reference written below, same
   configuration and batches, with achieved FLOP/s (model.flops_per_token() x tokens/s);
3. ensembles: train.py's batched ensemble step against its members stepped one after another;
4. generation: GPT.generate (KV cache: one query per new token) against a sampler that recomputes the whole
   prefix every step, on a teacher-sized model (4 layers, width 128, V=2048), on CUDA when there is one.
Timings are medians over repeats, interleaved so that machine noise hits both sides alike.
"""
import argparse
import json
import random
import statistics
import sys
import time

import networkx as nx
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import graphs
import train
import walks
from model import GPT, GPTConfig


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved_medians(ours, baseline, repeats):
    """Median seconds of ours() and of baseline() after one warm-up call each, timed in alternation with
    the order flipped every repeat, so that machine noise hits both sides alike."""
    ours(), baseline()
    times = ([], [])
    for i in range(repeats):
        for fn, t in ((ours, times[0]), (baseline, times[1]))[::1 if i % 2 else -1]:
            t.append(median_time(fn, 1))
    return statistics.median(times[0]), statistics.median(times[1])


# ---------------------------------------------------------------------------------------------------
# 1. sampling

def networkx_walks(neighbours, n_walks, length, seed=0):
    """The baseline: a Python loop over steps choosing a uniformly random neighbour from networkx's
    adjacency, read once into lists (so the loop pays for the choice, not for building the lists)."""
    rng = random.Random(seed)
    nodes = list(neighbours)
    out = np.empty((n_walks, length), dtype=np.int64)
    for w in range(n_walks):
        x = rng.choice(nodes)
        for t in range(length):
            out[w, t] = x
            x = rng.choice(neighbours[x])
    return out


def bench_sampling(n_nodes, n_edges, kappa, repeats):
    t0 = time.perf_counter()
    g = graphs.erdos_renyi(n_nodes, n_edges, kappa=kappa, seed=0)
    build_s = time.perf_counter() - t0
    n_walks, length = 4000, 51
    sampler = walks.WalkSampler(g, device="cpu", seed=0)
    ours = median_time(lambda: sampler.sample(n_walks, length), repeats)
    G = nx.from_scipy_sparse_array(g.P)
    neighbours = {x: list(nbrs) for x, nbrs in G.adj.items()}
    base_walks = 2000
    base = median_time(lambda: networkx_walks(neighbours, base_walks, length), max(3, repeats // 2))
    ours_rate, base_rate = n_walks * length / ours, base_walks * length / base
    return dict(graph=f"ER {n_nodes} nodes / {n_edges} edges, kappa {kappa}", build_s=build_s,
                walks_tokens_per_s=ours_rate, networkx_tokens_per_s=base_rate, speedup=ours_rate / base_rate)


# ---------------------------------------------------------------------------------------------------
# 2. training step: a minimal nanoGPT-style reference

class RefBlock(nn.Module):
    def __init__(self, d, n_head):
        super().__init__()
        self.ln_1, self.c_attn, self.c_proj = nn.LayerNorm(d), nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.ln_2, self.c_fc, self.c_proj2 = nn.LayerNorm(d), nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.n_head = n_head

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, -1).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
        x = x + self.c_proj(y)
        return x + self.c_proj2(F.gelu(self.c_fc(self.ln_2(x))))


class RefGPT(nn.Module):
    def __init__(self, V, T, d, n_layer, n_head):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, d), nn.Embedding(T, d)
        self.h = nn.Sequential(*[RefBlock(d, n_head) for _ in range(n_layer)])
        self.ln_f, self.lm_head = nn.LayerNorm(d), nn.Linear(d, V, bias=False)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.size(1)))
        logits = self.lm_head(self.ln_f(self.h(x)))
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def member_step(cfgs, V, batch):
    """A closure doing one train.py step of the members cfgs (an ensemble when several) on batch (E, B, T+1)."""
    cpu = torch.device("cpu")
    members = train.build_members(cfgs, V, cpu)
    lr, clip, live = torch.tensor([c.lr for c in cfgs]), torch.ones(len(cfgs)), torch.ones(len(cfgs), dtype=torch.bool)
    ctx = train.autocast_for(cpu, "float32")[1]
    return lambda: train.train_step(members, batch, lr, clip, live, ctx)


def bench_ensemble(widths, V, repeats, members=8, batch_size=100, T=50):
    """One step of `members` runs (4 learning rates x 2 seeds) trained as one batched ensemble against
    the same members stepped one after another."""
    g = graphs.erdos_renyi(V, 5 * V, seed=0)
    batch = torch.stack([walks.WalkSampler(g, seed=e % 2).sample(batch_size, T + 1) for e in range(members)])
    rows = []
    for width in widths:
        base = train.RunConfig(nodes=V, edges=5 * V, width=width, batch_size=batch_size, block_size=T)
        cfgs = [train.replace(base, lr=1e-3 * 2 ** (e // 2), seed=e % 2) for e in range(members)]
        together = member_step(cfgs, g.V, batch)
        alone = [member_step([c], g.V, batch[e:e + 1]) for e, c in enumerate(cfgs)]

        def one_after_another():
            for step in alone:
                step()

        t_ens, t_seq = interleaved_medians(together, one_after_another, repeats)
        rows.append(dict(width=width, members=members, ensemble_s=t_ens, sequential_s=t_seq, speedup=t_seq / t_ens))
    return rows


def bench_training(widths, V, repeats, batch_size=100, T=50):
    g = graphs.erdos_renyi(V, 5 * V, seed=0)
    batch = walks.WalkSampler(g, device="cpu", seed=0).sample(batch_size, T + 1)
    rows = []
    for width in widths:
        cfg = train.RunConfig(nodes=V, edges=5 * V, width=width, batch_size=batch_size, block_size=T)
        ours = member_step([cfg], g.V, batch[None])
        ref = RefGPT(g.V, T, width, 2, width // 16)
        ref_opt = torch.optim.AdamW(ref.parameters(), lr=1e-3, weight_decay=0.01, betas=(0.9, 0.95))

        def reference():
            loss = ref(batch[:, :-1], batch[:, 1:])
            ref_opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(ref.parameters(), 1.0)
            ref_opt.step()

        t_ours, t_ref = interleaved_medians(ours, reference, repeats)
        rate, ref_rate = batch_size * T / t_ours, batch_size * T / t_ref
        counted = GPT(train.model_config(cfg, g.V))
        rows.append(dict(width=width, params=counted.param_counts()["total"], tokens_per_s=rate,
                         reference_tokens_per_s=ref_rate, ratio=rate / ref_rate,
                         flops_per_s=rate * counted.flops_per_token()))
    return rows


# ---------------------------------------------------------------------------------------------------
# 4. generation: a naive sampler as the baseline

@torch.no_grad()
def naive_generate(model, idx, max_new_tokens, temperature=1.0, generator=None):
    """The baseline: the plain nanoGPT loop, a full forward over the whole prefix for every new token."""
    for _ in range(max_new_tokens):
        probs = F.softmax(model(idx)[:, -1].float() / temperature, dim=-1)
        idx = torch.cat((idx, torch.multinomial(probs, 1, generator=generator)), dim=1)
    return idx


def bench_generation(repeats, batch_size=256, new_tokens=50, n_layer=4, width=128, V=2048):
    """Tokens/s of GPT.generate and of naive_generate: batch_size sequences of 1 start token + new_tokens,
    float32, same model, interleaved repeats."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=V, block_size=new_tokens, n_layer=n_layer, width=width)).to(device)
    start = torch.zeros(batch_size, 1, dtype=torch.long, device=device)

    def timed(sampler):
        def run():
            sampler(model, start, new_tokens, generator=torch.Generator(device).manual_seed(0))
            if device.type == "cuda":  # kernels are asynchronous: wait for them inside the timing
                torch.cuda.synchronize()
        return run
    cached, naive = timed(GPT.generate), timed(naive_generate)
    t_cached, t_naive = interleaved_medians(cached, naive, repeats)
    rate, naive_rate = batch_size * new_tokens / t_cached, batch_size * new_tokens / t_naive
    return dict(device=str(device), n_layer=n_layer, width=width, V=V, batch_size=batch_size, new_tokens=new_tokens,
                cached_tokens_per_s=rate, naive_tokens_per_s=naive_rate, speedup=rate / naive_rate)


SECTIONS = ("sampling", "training", "ensemble", "generation")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small graph and generation batch, few repeats: a smoke test")
    p.add_argument("--repeats", type=int, default=None, help="timing repeats (median is reported)")
    p.add_argument("--widths", default="32,64,128,256", help="model widths for the training-step table")
    p.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated sections to run, of: "
                   + ", ".join(SECTIONS))
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args(argv)
    try:
        widths = [int(w) for w in args.widths.split(",")]
        if any(w < 16 or w % 16 for w in widths):
            raise ValueError("widths must be positive multiples of 16 (head_dim 16)")
    except ValueError as e:
        print(f"error: --widths: {e}", file=sys.stderr)
        sys.exit(2)
    sections = args.sections.split(",")
    if not set(sections) <= set(SECTIONS):
        print(f"error: --sections: unknown {sorted(set(sections) - set(SECTIONS))}, choose from {SECTIONS}",
              file=sys.stderr)
        sys.exit(2)
    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = args.repeats or (3 if args.quick else 9)
    nodes, edges = (5_000, 50_000) if args.quick else (50_000, 2_000_000)
    out = dict(torch=torch.__version__, threads=torch.get_num_threads())

    if "sampling" in sections:
        s = out["sampling"] = bench_sampling(nodes, edges, 1.0, repeats)
        print(f"walk sampling, {s['graph']} (built in {s['build_s']:.1f}s)")
        print(f"  walks.py   {s['walks_tokens_per_s'] / 1e6:8.1f} M tokens/s")
        print(f"  networkx   {s['networkx_tokens_per_s'] / 1e6:8.2f} M tokens/s   "
              "(python loop, one neighbour per step)")
        print(f"  speedup    {s['speedup']:8.0f} x")
    if "training" in sections:
        rows = out["training"] = bench_training(widths, 1000, repeats)
        print(f"\ntraining step, batch 100 x 50 tokens, V=1000, 2 layers, float32, {out['threads']} threads")
        print(f"  {'width':>5} {'params':>9} {'train.py tok/s':>15} {'nanoGPT-ref tok/s':>18} {'ratio':>6} "
              f"{'GFLOP/s':>8}")
        for r in rows:
            print(f"  {r['width']:>5} {r['params']:>9,} {r['tokens_per_s']:>15,.0f} "
                  f"{r['reference_tokens_per_s']:>18,.0f} {r['ratio']:>6.2f} {r['flops_per_s'] / 1e9:>8.1f}")
    if "ensemble" in sections:
        ens = out["ensemble"] = bench_ensemble([w for w in widths if w <= 64] or widths[:1], 1000, repeats)
        print("\nensembles: 8 members (4 lrs x 2 seeds) in one batched step vs one after another")
        print(f"  {'width':>5} {'ensemble s/step':>16} {'sequential s/step':>18} {'speedup':>8}")
        for r in ens:
            print(f"  {r['width']:>5} {r['ensemble_s']:>16.3f} {r['sequential_s']:>18.3f} {r['speedup']:>8.2f}")
    if "generation" in sections:
        g = out["generation"] = bench_generation(repeats, batch_size=64 if args.quick else 256)
        print(f"\ngeneration, {g['n_layer']} layers, width {g['width']}, V={g['V']}, batch {g['batch_size']} x "
              f"(1 + {g['new_tokens']} tokens), float32, {g['device']}")
        print(f"  GPT.generate (KV cache)  {g['cached_tokens_per_s']:>10,.0f} tokens/s")
        print(f"  naive (full prefix)      {g['naive_tokens_per_s']:>10,.0f} tokens/s")
        print(f"  speedup                  {g['speedup']:>10.1f} x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
