"""
Throughput figures against the obvious alternatives, measured in the same run, as a table.

    python bench.py                            # sections 1-4 below (walks on ER 50K nodes / 2M edges, kappa 1)
    python bench.py --quick                    # smaller graph and generation batch, fewer repeats: a smoke test
    python bench.py --sections generation      # only some sections
    python bench.py --gpu --json out/gpu.json  # section 5, the CUDA path: <= 8 minutes on one H100/H200
    python bench.py --gpu --smoke              # every part of section 5 at a tiny size (CPU too): seconds
    python bench.py --gpu --sections ensemble  # only some parts of section 5

1. walk sampling: walks.py (alias tables, vectorised) against a plain networkx sampler, a Python loop
   choosing a random neighbour per step;
2. training step: train.py's step against a minimal nanoGPT-style reference written below, same
   configuration and batches, with achieved FLOP/s (model.flops_per_token() x tokens/s);
3. ensembles: train.py's batched ensemble step against its members stepped one after another;
4. generation: GPT.generate (KV cache: one query per new token) against a sampler that recomputes the whole
   prefix every step, on a teacher-sized model (4 layers, width 128, V=2048), on CUDA when there is one;
5. --gpu, what a GPU sweep needs to know before it starts: training tokens/s, achieved FLOP/s and MFU at
   widths 256-2048 (2 layers, T=50, V=8192, bf16 autocast, the fastest attention kernel that runs), eager
   and torch.compile'd; 8 ensembled runs (lrs x seeds) against the same 8 one after another; walks sampled
   on the GPU against numpy on the CPU; the default run in bf16 against float32; KV-cached generation of a
   4-layer teacher; and from these, the hours of the ladder's gpu scale and of a paper-scale ER sweep. A part
   that fails (no flash kernel, a compile error, out of memory) is reported as 'failed: <reason>' and the
   other parts still run;
6. --sections jobs: a slice of the quick sweep preset with --jobs 2 against --jobs 1 (whole sweeps, fresh
   output each, in alternating order): the throughput two worker processes gain on a sweep of small models.
Sections 1-4 run by default; jobs only when named (it runs whole sweeps: minutes). Timings are medians over repeats, interleaved so that machine noise hits both sides alike.
"""
import argparse
import functools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace

import networkx as nx
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import cli
import devices
import ensemble
import graphs
import sweep
import train
import walks
from bench_gpu import (GPU_SECTIONS, GPU_SIZES, best_by_width, gpu_estimates, gpu_precision, one_line,
                       pinned_kernel, print_gpu_estimates, print_gpu_precision, print_gpu_sampling,
                       print_gpu_training, rates)
from files import check_writable, write_json
from model import GPT, GPTConfig

ROOT = os.path.dirname(os.path.abspath(__file__))

CPU = torch.device("cpu")


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


def synced(fn, device):
    """fn, made to wait for the device's queued kernels before it returns: CUDA runs asynchronously, so an
    unsynchronised timing would measure the launch, not the work."""
    if device.type != "cuda":
        return fn

    def run():
        fn()
        torch.cuda.synchronize(device)
    return run


def attempt(fn, *args):
    """fn(*args), or {'failed': the error in one line}: on a GPU a part can meet a missing kernel, a compiler
    error or an out-of-memory, and one failing part must leave the others running."""
    try:
        return fn(*args)
    except Exception as e:  # dynamo and inductor raise many types of their own; each is this part's result
        if torch.cuda.is_available():
            torch.cuda.empty_cache()  # what an out-of-memory part held is free for the next one
        return dict(failed=one_line(e))


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


def member_step(cfgs, V, batch, device=CPU, dtype="float32", fwd=ensemble.forward, steps=1):
    """A closure doing `steps` train.py steps of the members cfgs (an ensemble when several) on batch
    (E, B, T+1), on device under dtype's autocast, returning once the device has finished them."""
    members = ensemble.build_members(cfgs, functools.partial(train.new_model, V=V), device)
    E, batch = len(cfgs), batch.to(device)
    lr = torch.tensor([c.lr for c in cfgs], device=device)
    clip, live = torch.ones(E, device=device), torch.ones(E, dtype=torch.bool, device=device)
    ctx = devices.autocast_for(device, dtype)[1]

    def run():
        for _ in range(steps):
            ensemble.train_step(members, batch, lr, clip, live, ctx, fwd)
    return synced(run, device)


def bench_ensemble(widths, V, repeats, members=8, batch_size=100, T=50, device=CPU, dtype="float32", steps=1):
    """Seconds per step of `members` runs (4 learning rates x 2 seeds) trained as one batched ensemble
    against the same members stepped one after another."""
    g = graphs.erdos_renyi(V, 5 * V, seed=0)
    batch = torch.stack([walks.WalkSampler(g, seed=e % 2).sample(batch_size, T + 1) for e in range(members)])
    rows = []
    for width in widths:
        base = train.RunConfig(nodes=V, edges=5 * V, width=width, batch_size=batch_size, block_size=T)
        cfgs = [replace(base, lr=1e-3 * 2 ** (e // 2), seed=e % 2) for e in range(members)]
        together = member_step(cfgs, g.V, batch, device, dtype, steps=steps)
        alone = [member_step([c], g.V, batch[e:e + 1], device, dtype, steps=steps) for e, c in enumerate(cfgs)]

        def one_after_another():
            for step in alone:
                step()

        t_ens, t_seq = interleaved_medians(together, one_after_another, repeats)
        rows.append(dict(width=width, members=members, ensemble_s=t_ens / steps, sequential_s=t_seq / steps,
                         speedup=t_seq / t_ens))
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
        counted = train.counted_model(cfg, g.V)
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


def bench_generation(repeats, batch_size=256, new_tokens=50, n_layer=4, width=128, V=2048, device=None):
    """Tokens/s of GPT.generate and of naive_generate: batch_size sequences of 1 start token + new_tokens,
    float32, same model, interleaved repeats; on CUDA when there is one unless device says otherwise."""
    device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=V, block_size=new_tokens, n_layer=n_layer, width=width)).to(device)
    start = torch.zeros(batch_size, 1, dtype=torch.long, device=device)

    def timed(sampler):
        return synced(lambda: sampler(model, start, new_tokens, generator=torch.Generator(device).manual_seed(0)),
                      device)
    t_cached, t_naive = interleaved_medians(timed(GPT.generate), timed(naive_generate), repeats)
    rate, naive_rate = batch_size * new_tokens / t_cached, batch_size * new_tokens / t_naive
    return dict(device=str(device), n_layer=n_layer, width=width, V=V, batch_size=batch_size, new_tokens=new_tokens,
                cached_tokens_per_s=rate, naive_tokens_per_s=naive_rate, speedup=rate / naive_rate)


# ---------------------------------------------------------------------------------------------------
# 5. the CUDA path (--gpu); --smoke shrinks every part to seconds, on any device, so the tests keep it working

def throughput(width, size, device, dtype, repeats):
    """One width's training throughput on device, eager and torch.compile'd (train.py --compile: the model's
    forward only), both under the fastest attention kernel that runs eagerly."""
    V, T, B, steps = size["V"], size["T"], size["batch_size"], size["steps"]
    cfg = train.RunConfig(nodes=V, edges=5 * V, width=width, batch_size=B, block_size=T)
    batch = torch.randint(V, (1, B, T + 1), generator=torch.Generator().manual_seed(0))  # tokens do not change the cost
    fpt = train.counted_model(cfg, V).flops_per_token()
    kernel, eager, errors = pinned_kernel(member_step([cfg], V, batch, device, dtype, steps=steps))
    torch.compiler.reset()  # compile each width afresh: dynamo would compile a shape it saw change as dynamic

    def compiled_step():  # inside attempt: an unknown backend or a compiler error fails the compiled column only
        fwd = torch.compile(ensemble.forward, backend=size["compile_backend"])
        return pinned_kernel(member_step([cfg], V, batch, device, dtype, fwd, steps), kernel)
    compiled = attempt(compiled_step)
    row = dict(n_layer=cfg.n_layer, V=V, block_size=T, batch_size=B, flops_per_token=fpt, kernel=kernel,
               kernel_errors=errors)
    tokens, peak = steps * B * T, devices.peak_flops(device)
    if isinstance(compiled, dict):  # failed: the first call compiles: its error is the compiled column's result
        return dict(row, eager=rates(median_time(eager, repeats), tokens, fpt, peak), compiled=compiled)
    t_eager, t_compiled = interleaved_medians(eager, compiled[1], repeats)
    return dict(row, eager=rates(t_eager, tokens, fpt, peak), compiled=rates(t_compiled, tokens, fpt, peak))


def gpu_training(size, device, dtype, repeats):
    """Every width's throughput; a width that fails (out of memory) is that row's result."""
    rows = [dict(width=w, **attempt(throughput, w, size, device, dtype, repeats)) for w in size["widths"]]
    return dict(dtype=dtype, compile_backend=size["compile_backend"], steps_per_timing=size["steps"], V=size["V"],
                block_size=size["T"], batch_size=size["batch_size"], rows=rows)


def gpu_ensemble(size, device, dtype, repeats):
    e = size["ensemble"]
    return dict(dtype=dtype, rows=bench_ensemble(e["widths"], e["V"], repeats, 8, e["batch_size"], e["T"], device,
                                                 dtype, size["steps"]))


def gpu_sampling(nodes, edges, n_walks, repeats, device, length=51):
    """Tokens/s of walks sampled on device (walks.py's torch backend, what a GPU run trains on) against the
    numpy sampler on the CPU, ER with kappa = 1."""
    g = graphs.erdos_renyi(nodes, edges, kappa=1.0, seed=0)
    on_device = walks.WalkSampler(g, device=device, seed=0, backend="torch")
    on_cpu = walks.WalkSampler(g, device="cpu", seed=0)
    t_device, t_cpu = interleaved_medians(synced(lambda: on_device.sample(n_walks, length), device),
                                          lambda: on_cpu.sample(n_walks, length), repeats)
    tokens = n_walks * length
    return dict(graph=f"ER {nodes} nodes / {edges} edges, kappa 1", device=str(device), n_walks=n_walks,
                length=length, device_tokens_per_s=tokens / t_device, numpy_tokens_per_s=tokens / t_cpu,
                speedup=t_cpu / t_device)


def part(fn, *args):
    """attempt(fn, *args) with the seconds it took, so a GPU session can check the 8-minute budget per part."""
    t0 = time.perf_counter()
    result = attempt(fn, *args)
    return dict(result, seconds=time.perf_counter() - t0)


def bench_gpu(size, device, repeats, report, sections=GPU_SECTIONS):
    """The parts of section 5 named in sections, in GPU_SECTIONS' order, each failing on its own, into the dict
    that --json writes. report(out, name) follows each part (name None: before the first), so a run stopped by
    a time limit has printed and saved the parts it finished: those that size sweeps go first."""
    dtype = "bfloat16"
    out = dict(torch=torch.__version__, device=str(device), threads=torch.get_num_threads(),
               device_name=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               peak_flops=devices.peak_flops(device), dtype=dtype, smoke=size["smoke"])
    report(out, None)
    w = size["walks"]
    parts = dict(training=(gpu_training, size, device, dtype, repeats),
                 generation=(lambda: bench_generation(repeats, device=device, **size["generation"]),),
                 estimates=(lambda: gpu_estimates(out.get("achieved_flops", {}), out.get("generation", {})),),
                 ensemble=(gpu_ensemble, size, device, dtype, repeats),
                 sampling=(gpu_sampling, w["nodes"], w["edges"], w["n_walks"], repeats, device),
                 bf16_vs_f32=(gpu_precision, size["run"], device))
    for name in (s for s in GPU_SECTIONS if s in sections):
        fn, *args = parts[name]
        out[name] = part(fn, *args)
        if name == "training":
            out["achieved_flops"] = best_by_width(out["training"])
        report(out, name)
    return out


# ---------------------------------------------------------------------------------------------------
# tables

def print_sampling(s):
    print(f"walk sampling, {s['graph']} (built in {s['build_s']:.1f}s)")
    print(f"  walks.py   {s['walks_tokens_per_s'] / 1e6:8.1f} M tokens/s")
    print(f"  networkx   {s['networkx_tokens_per_s'] / 1e6:8.2f} M tokens/s   (python loop, one neighbour per step)")
    print(f"  speedup    {s['speedup']:8.0f} x")


def print_training(rows, threads):
    print(f"\ntraining step, batch 100 x 50 tokens, V=1000, 2 layers, float32, {threads} threads")
    print(f"  {'width':>5} {'params':>9} {'train.py tok/s':>15} {'nanoGPT-ref tok/s':>18} {'ratio':>6} {'GFLOP/s':>8}")
    for r in rows:
        print(f"  {r['width']:>5} {r['params']:>9,} {r['tokens_per_s']:>15,.0f} "
              f"{r['reference_tokens_per_s']:>18,.0f} {r['ratio']:>6.2f} {r['flops_per_s'] / 1e9:>8.1f}")


def print_ensemble(rows, dtype="float32"):
    print(f"\nensembles: 8 members (4 lrs x 2 seeds) in one batched step vs one after another, {dtype}")
    print(f"  {'width':>5} {'ensemble s/step':>16} {'sequential s/step':>18} {'speedup':>8}")
    for r in rows:
        print(f"  {r['width']:>5} {r['ensemble_s']:>16.4f} {r['sequential_s']:>18.4f} {r['speedup']:>8.2f}")


def print_generation(g):
    print(f"\ngeneration, {g['n_layer']} layers, width {g['width']}, V={g['V']}, batch {g['batch_size']} x "
          f"(1 + {g['new_tokens']} tokens), float32, {g['device']}")
    print(f"  GPT.generate (KV cache)  {g['cached_tokens_per_s']:>10,.0f} tokens/s")
    print(f"  naive (full prefix)      {g['naive_tokens_per_s']:>10,.0f} tokens/s")
    print(f"  speedup                  {g['speedup']:>10.1f} x")


GPU_PARTS = dict(training=print_gpu_training, ensemble=lambda r: print_ensemble(r["rows"], r["dtype"]),
                 sampling=print_gpu_sampling, bf16_vs_f32=print_gpu_precision, generation=print_generation,
                 estimates=print_gpu_estimates)


def print_gpu_part(out, name):
    """The table of one part of section 5 (name None: the header), or its one-line failure."""
    if name is None:
        print(f"CUDA path: {out['device_name']} ({out['device']}), torch {out['torch']}"
              + (", smoke sizes (numbers meaningless)" if out["smoke"] else ""), flush=True)
    elif "failed" in out[name]:
        print(f"\n{name}: failed: {out[name]['failed']}", flush=True)
    else:
        GPU_PARTS[name](out[name])
        sys.stdout.flush()  # a part's table is out before the next part starts, also through a pipe


# ---------------------------------------------------------------------------------------------------
# command line

SECTIONS = ("sampling", "training", "ensemble", "generation", "jobs")


def build_parser():
    p = cli.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small graph and generation batch, few repeats: a smoke test")
    p.add_argument("--repeats", type=cli.parse_int, default=None, help="timing repeats (median is reported)")
    p.add_argument("--widths", default=None, help="model widths for the training tables (default 32,64,128,256; "
                   "--gpu: 256,512,1024,2048)")
    p.add_argument("--sections", help=f"comma-separated sections to run (default all), of: {', '.join(SECTIONS)}; "
                   f"with --gpu, parts of: {', '.join(GPU_SECTIONS)}")
    p.add_argument("--gpu", action="store_true", help="section 5, the CUDA path, instead of sections 1-4")
    p.add_argument("--smoke", action="store_true", help="with --gpu: every part at a tiny size, on any device")
    p.add_argument("--threads", type=cli.parse_int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--json", help="write the figures to this file")
    return p


def check_args(args):
    """The flags' values, refused with a ValueError naming the flag before any work."""
    if args.threads is not None:
        cli.in_range("threads", args.threads, 1)
    if args.repeats is not None:
        cli.in_range("repeats", args.repeats, 1)
    widths = args.widths and cli.parse_list(args.widths, cli.parse_int, "widths")
    if widths and any(w % 16 for w in widths):
        raise ValueError(f"--widths must be multiples of 16 (head_dim 16), got {args.widths}")
    known = GPU_SECTIONS if args.gpu else SECTIONS
    sections = args.sections.split(",") if args.sections else [s for s in known if s != "jobs"]
    if not set(sections) <= set(known):
        raise ValueError(f"--sections: unknown {sorted(set(sections) - set(known))}, choose from {', '.join(known)}")
    if args.smoke and not args.gpu:
        raise ValueError("--smoke goes with --gpu (the smoke test of sections 1-4 is --quick)")
    if args.json:
        check_writable(args.json, kind="json")  # never over a file that is not JSON (an edge list, a record file)
    return widths, sections


def run_cpu(args, widths, sections):
    repeats = args.repeats or (3 if args.quick else 9)
    nodes, edges = (5_000, 50_000) if args.quick else (50_000, 2_000_000)
    widths, out = widths or [32, 64, 128, 256], dict(torch=torch.__version__, threads=torch.get_num_threads())
    if "sampling" in sections:
        print_sampling(out.setdefault("sampling", bench_sampling(nodes, edges, 1.0, repeats)))
    if "training" in sections:
        print_training(out.setdefault("training", bench_training(widths, 1000, repeats)), out["threads"])
    if "ensemble" in sections:
        print_ensemble(out.setdefault("ensemble", bench_ensemble([w for w in widths if w <= 64] or widths[:1], 1000,
                                                                 repeats)))
    if "generation" in sections:
        print_generation(out.setdefault("generation", bench_generation(repeats, batch_size=64 if args.quick else 256)))
    if "jobs" in sections:
        print_jobs(out.setdefault("jobs", bench_jobs(args.repeats or 3, quick_slice(1 if args.quick else 3))))
    return out


def quick_slice(budgets=3):
    """The quick preset with only its smallest token budgets: the same widths and mix of run sizes."""
    spec = dict(sweep.PRESETS["quick"])
    spec["tokens"] = spec["tokens"][:budgets]
    return spec


def bench_jobs(repeats, spec):
    """Wall seconds of the sweep `spec` (fresh output each time) with --jobs 2 against --jobs 1, the order
    alternating every repeat; the ratio of medians is --jobs 2's throughput over --jobs 1's."""
    times = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "spec.json")
        write_json(path, spec)
        for i in range(repeats):
            for jobs in (1, 2) if i % 2 else (2, 1):
                t0 = time.perf_counter()
                subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--sweep", path, "--out",
                                os.path.join(tmp, f"{jobs}-{i}"), "--jobs", str(jobs)], check=True, capture_output=True)
                times[jobs].append(time.perf_counter() - t0)
    one, two = statistics.median(times[1]), statistics.median(times[2])
    return dict(spec=spec, repeats=repeats, jobs1_s=one, jobs2_s=two, ratio=one / two, times=times)


def print_jobs(j):
    print(f"\n--jobs: a slice of the quick preset ({j['spec']['tokens']} tokens), median of {j['repeats']} wall times")
    print(f"  --jobs 1 {j['jobs1_s']:>8.1f} s\n  --jobs 2 {j['jobs2_s']:>8.1f} s\n  ratio    {j['ratio']:>8.2f} x")


def run_gpu(args, widths, sections):
    size = dict(GPU_SIZES["smoke" if args.smoke else "full"], **({"widths": widths} if widths else {}))

    def report(out, name):
        print_gpu_part(out, name)
        if args.json:
            write_json(args.json, out)
    bench_gpu(size, devices.pick_device("cuda" if torch.cuda.is_available() else "cpu"), args.repeats or size["repeats"],
              report, sections)


def main(argv=None):
    args = build_parser().parse_args(argv)
    widths, sections = cli.guarded(check_args, args)
    if args.gpu and not args.smoke and not torch.cuda.is_available():
        cli.fail("--gpu: no CUDA device is present (torch.cuda.is_available() is False); --gpu --smoke runs "
                 "every part at a tiny size on the CPU")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.gpu:
        run_gpu(args, widths, sections)  # writes --json after every part
    else:
        out = run_cpu(args, widths, sections)
        if args.json:
            write_json(args.json, out)


if __name__ == "__main__":
    main()
