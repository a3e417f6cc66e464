"""
Throughput figures against the obvious alternatives, measured in the same run, as tables.

    python bench.py                            # sections 1-4 below (walks on ER 50K nodes / 2M edges, kappa 1)
    python bench.py --quick                    # smaller graph and generation batch, fewer repeats: a smoke test
    python bench.py --sections generation      # only some sections
    python bench.py --gpu --json out/gpu.json  # section 5, the CUDA path: <= 8 minutes on one H100/H200
    python bench.py --gpu --smoke              # every part of section 5 at a tiny size (CPU too): seconds
    python bench.py --gpu --sections ensemble  # only some parts of section 5

1. sampling: walks.py (alias tables, vectorised) against a networkx loop choosing a random neighbour per step;
2. training: train.py's step against a minimal nanoGPT-style reference (same configuration and batches), with
   achieved FLOP/s (model.flops_per_token() x tokens/s);
3. ensemble: train.py's batched ensemble step (4 lrs x 2 seeds) against its members stepped one after another;
4. generation: GPT.generate (KV cache: one query per new token) against a sampler that recomputes the whole
   prefix every step, on a teacher-sized model (4 layers, width 128, V=2048), on CUDA when there is one;
5. --gpu, what a GPU sweep needs to know before it starts: training tokens/s, achieved FLOP/s and MFU at
   widths 256-2048 (2 layers, T=50, V=8192, bf16 autocast, the fastest attention kernel that runs), eager and
   torch.compile'd; 8 ensembled runs against the same 8 one after another; walks sampled on the GPU against
   numpy on the CPU; the default run in bf16 against float32; KV-cached generation of a 4-layer teacher; and
   from these, the hours of the ladder's gpu scale and of a paper-scale ER sweep (ladder.gpu_estimates). A
   part that fails (no flash kernel, a compile error, out of memory) is 'failed: <reason>', the others run;
6. jobs (only when named: whole sweeps, minutes): a slice of the quick sweep preset with --jobs 2 against
   --jobs 1, fresh output each: the throughput two worker processes gain on a sweep of small models.
Timings are medians over repeats, interleaved so that machine noise hits both sides alike.

`--gpu --json PATH` writes torch, device, device_name, peak_flops (None: a GPU not in model.PEAK_FLOPS), dtype,
smoke, threads, and per part a dict of `seconds` and either `failed` (one line) or its figures:
    training      rows: [{width, kernel, kernel_errors, n_layer, V, block_size, batch_size, flops_per_token,
                  eager: {tokens_per_s, achieved_flops, mfu} | {failed}, compiled: (the same)} | {width, failed}]
    ensemble      rows: [{width, members, ensemble_s, sequential_s, speedup}] (seconds per step)
    sampling      device_tokens_per_s, numpy_tokens_per_s, speedup
    bf16_vs_f32   bf16_loss, f32_loss, floor, difference, tolerance, agree (nats)
    generation    cached_tokens_per_s, naive_tokens_per_s, speedup
    estimates     ladder_gpu: {runs, students_s, teachers_s, sampling_s, total_s, total_h}, paper_er: {..., total_h}
and achieved_flops: {"<width>": the faster of eager and compiled, with its shape}, what `sweep.py --dry-run
--throughput` reads.
"""
import argparse
import functools
import itertools
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
from torch.nn.attention import SDPBackend, sdpa_kernel

import cli
import ensemble
import graphs
import ladder
import model
import sweep
import train
import walks
from cli import check_writable, write_json
from model import GPT, GPTConfig

ROOT = os.path.dirname(os.path.abspath(__file__))
CPU = torch.device("cpu")

GPU_SIZES = dict(
    full=dict(smoke=False, widths=(256, 512, 1024, 2048), V=8192, T=50, batch_size=100, steps=10, repeats=5,
              compile_backend="inductor", ensemble=dict(widths=(32, 64, 128), V=1000, batch_size=100, T=50),
              walks=dict(nodes=50_000, edges=2_000_000, n_walks=65_536), run=train.RunConfig(),
              generation=dict(batch_size=512, new_tokens=50, n_layer=4, width=512, V=8192)),
    # aot_eager traces forward and backward as inductor does but generates no code: an inductor compile on
    # this project's 2-core CPU costs ~30 s per width, too slow for a test of the wiring
    smoke=dict(smoke=True, widths=(16,), V=64, T=16, batch_size=4, steps=1, repeats=2, compile_backend="aot_eager",
               ensemble=dict(widths=(16,), V=64, batch_size=4, T=16), walks=dict(nodes=500, edges=2500, n_walks=256),
               run=train.RunConfig(nodes=64, edges=320, width=16, tokens=2000, batch_size=10, block_size=16,
                                   eval_walks=20),
               generation=dict(batch_size=8, new_tokens=8, n_layer=4, width=16, V=64)),
)
# bf16 and float32 runs agree if their final expected losses differ by at most this fraction of the float32
# run's excess over the floor (0.007 nats for the default run's 0.0711): bf16's rounding (2^-9 relative)
# moves a trajectory about as much as another data order does, a few percent of the excess, while a real
# precision fault (a loss or softmax computed in bf16) costs a large share of it.
PRECISION_TOLERANCE = 0.1
# The parts of the CUDA path in the order they run: those that size sweeps first, so a run cut short has them
GPU_SECTIONS = ("training", "generation", "estimates", "ensemble", "sampling", "bf16_vs_f32")
KERNELS = (("flash", SDPBackend.FLASH_ATTENTION), ("efficient", SDPBackend.EFFICIENT_ATTENTION), ("math", SDPBackend.MATH))


# ---------------------------------------------------------------------------------------------------
# timing

def timed(fn, *args):
    """(fn(*args), the seconds it took)."""
    t0 = time.perf_counter()
    return fn(*args), time.perf_counter() - t0


def median_time(fn, repeats):
    return statistics.median([timed(fn)[1] for _ in range(repeats)])


def interleaved_medians(ours, baseline, repeats, warm_up=True, median=statistics.median):
    """Median seconds of ours() and of baseline() (median=list: every call's), after one warm-up call each,
    timed in alternation with the order flipped every repeat, so that machine noise hits both sides alike."""
    if warm_up:
        ours(), baseline()
    times = ([], [])
    for i in range(repeats):
        for fn, t in ((ours, times[0]), (baseline, times[1]))[::1 if i % 2 else -1]:
            t.append(timed(fn)[1])
    return median(times[0]), median(times[1])


def synced(fn, device):
    """fn, made to wait for the device's queued kernels before it returns: CUDA runs asynchronously, so an
    unsynchronised timing would measure the launch, not the work."""
    return (lambda: (fn(), torch.cuda.synchronize(device))) if device.type == "cuda" else fn


def one_line(error):
    return f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0][:300]}"


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
    rng, nodes = random.Random(seed), list(neighbours)
    out = np.empty((n_walks, length), dtype=np.int64)
    for w in range(n_walks):
        x = rng.choice(nodes)
        for t in range(length):
            out[w, t] = x
            x = rng.choice(neighbours[x])
    return out


def bench_sampling(n_nodes, n_edges, kappa, repeats):
    g, build_s = timed(lambda: graphs.erdos_renyi(n_nodes, n_edges, kappa=kappa, seed=0))
    n_walks, length, base_walks = 4000, 51, 2000
    sampler = walks.WalkSampler(g, device="cpu", seed=0)
    ours = median_time(lambda: sampler.sample(n_walks, length), repeats)
    neighbours = {x: list(nbrs) for x, nbrs in nx.from_scipy_sparse_array(g.P).adj.items()}
    base = median_time(lambda: networkx_walks(neighbours, base_walks, length), max(3, repeats // 2))
    ours_rate, base_rate = n_walks * length / ours, base_walks * length / base
    return dict(graph=f"ER {n_nodes} nodes / {n_edges} edges, kappa {kappa}", build_s=build_s,
                walks_tokens_per_s=ours_rate, networkx_tokens_per_s=base_rate, speedup=ours_rate / base_rate)


# ---------------------------------------------------------------------------------------------------
# 2. training step, against a minimal nanoGPT-style reference; 3. ensembles

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
    batch, lr = batch.to(device), torch.tensor([c.lr for c in cfgs], device=device)
    live = torch.ones(len(cfgs), dtype=torch.bool, device=device)
    dtype, ctx = model.autocast_for(device, dtype)
    run = train.Run(cfgs, None, members, device, dtype, ctx, fwd)  # no dataset: the batch is given

    def steps_taken():
        for _ in range(steps):
            train.train_step(run, batch, lr, live)
    return synced(steps_taken, device)


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


def bench_ensemble(widths, V, repeats, members=8, batch_size=100, T=50, device=CPU, dtype="float32", steps=1):
    """Seconds per step of `members` runs (4 lrs x 2 seeds) as one ensemble and one after another."""
    g = graphs.erdos_renyi(V, 5 * V, seed=0)
    batch = torch.stack([walks.WalkSampler(g, seed=e % 2).sample(batch_size, T + 1) for e in range(members)])
    rows = []
    for width in widths:
        base = train.RunConfig(nodes=V, edges=5 * V, width=width, batch_size=batch_size, block_size=T)
        cfgs = [replace(base, lr=1e-3 * 2 ** (e // 2), seed=e % 2) for e in range(members)]
        together = member_step(cfgs, g.V, batch, device, dtype, steps=steps)
        alone = [member_step([c], g.V, batch[e:e + 1], device, dtype, steps=steps) for e, c in enumerate(cfgs)]
        t_ens, t_seq = interleaved_medians(together, lambda: [step() for step in alone], repeats)
        rows.append(dict(width=width, members=members, ensemble_s=t_ens / steps, sequential_s=t_seq / steps,
                         speedup=t_seq / t_ens))
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
    """Tokens/s of GPT.generate and naive_generate: batch_size sequences of 1 start token + new_tokens."""
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

def pinned_kernel(step, kernel=None):
    """(name, step pinned to that attention kernel, errors of the kernels tried before it): the first of
    KERNELS (fastest first), or `kernel`, under which step() runs. sdpa picks silently, so each is forced."""
    errors = {}
    for name, backend in KERNELS:
        if kernel not in (None, name):
            continue

        def pinned(backend=backend):
            with sdpa_kernel(backend):
                step()
        try:
            pinned()
            return name, pinned, errors
        except RuntimeError as e:
            errors[name] = one_line(e)
    raise RuntimeError(f"no attention kernel ran: {errors}")


def throughput(width, size, device, dtype, repeats):
    """One width's training throughput, eager and compiled (as train.py --compile: the forward only)."""
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
    if isinstance(compiled, dict):  # failed: the first call compiles: its error is the compiled column's result
        times = dict(eager=median_time(eager, repeats))
    else:
        times = dict(zip(("eager", "compiled"), interleaved_medians(eager, compiled[1], repeats)))
    rates = {mode: steps * B * T / t for mode, t in times.items()}
    peak = model.peak_flops(device)  # None where the GPU is unknown: MFU None
    figures = {mode: dict(tokens_per_s=r, achieved_flops=r * fpt, mfu=r * fpt / peak if peak else None)
               for mode, r in rates.items()}
    return dict(n_layer=cfg.n_layer, V=V, block_size=T, batch_size=B, flops_per_token=fpt, kernel=kernel,
                kernel_errors=errors, eager=figures["eager"], compiled=figures.get("compiled", compiled))


def gpu_training(size, device, dtype, repeats):
    """Every width's throughput; a width that fails (out of memory) is that row's result."""
    rows = [dict(width=w, **attempt(throughput, w, size, device, dtype, repeats)) for w in size["widths"]]
    return dict(dtype=dtype, compile_backend=size["compile_backend"], steps_per_timing=size["steps"], V=size["V"],
                block_size=size["T"], batch_size=size["batch_size"], rows=rows)


def best_by_width(training):
    """{width (a string, as JSON keys are): the faster of eager and compiled, with tokens_per_s, achieved_flops,
    mfu, compiled and the shape measured}: the achieved_flops of --json."""
    best = {}
    for row in training.get("rows", []):
        done = [(mode, row[mode]) for mode in ("eager", "compiled") if "tokens_per_s" in row.get(mode, {})]
        if done:
            mode, fastest = max(done, key=lambda m: m[1]["tokens_per_s"])
            shape = {k: row[k] for k in ("kernel", "n_layer", "V", "block_size", "batch_size", "flops_per_token")}
            best[str(row["width"])] = dict(fastest, compiled=mode == "compiled", **shape)
    return best


def gpu_sampling(nodes, edges, n_walks, repeats, device, length=51):
    """Tokens/s of walks.py's torch backend on device (what a GPU run trains on) and of numpy on the CPU."""
    g = graphs.erdos_renyi(nodes, edges, kappa=1.0, seed=0)
    on_device = walks.WalkSampler(g, device=device, seed=0, backend="torch")
    on_cpu = walks.WalkSampler(g, device="cpu", seed=0)
    t_device, t_cpu = interleaved_medians(synced(lambda: on_device.sample(n_walks, length), device),
                                          lambda: on_cpu.sample(n_walks, length), repeats)
    tokens = n_walks * length
    return dict(graph=f"ER {nodes} nodes / {edges} edges, kappa 1", device=str(device), n_walks=n_walks,
                length=length, device_tokens_per_s=tokens / t_device, numpy_tokens_per_s=tokens / t_cpu,
                speedup=t_cpu / t_device)


def gpu_precision(cfg, device):
    """One run in bf16 autocast and in float32 on device: final expected losses (nats) and whether they agree
    within PRECISION_TOLERANCE of the float32 run's excess over the floor."""
    bf16, f32 = (train.train(cfg, device=str(device), dtype=dtype, log=train.quiet)
                 for dtype in ("bfloat16", "float32"))
    if bf16["loss"] is None or f32["loss"] is None:
        raise RuntimeError(f"the runs ended {bf16['status']} (bf16) and {f32['status']} (float32)")
    difference, tolerance = bf16["loss"] - f32["loss"], PRECISION_TOLERANCE * f32["excess"]
    return dict(run=cfg.run_id(), width=cfg.width, tokens=cfg.tokens, floor=f32["floor"], bf16_loss=bf16["loss"],
                f32_loss=f32["loss"], difference=difference, tolerance=tolerance, agree=abs(difference) <= tolerance,
                tolerance_rule=f"|bf16 - float32| <= {PRECISION_TOLERANCE} x the float32 excess over the floor",
                bf16_tokens_per_s=bf16["tokens_per_s"], f32_tokens_per_s=f32["tokens_per_s"])


def bench_gpu(size, device, repeats, report, sections=GPU_SECTIONS):
    """The parts of section 5 named in sections, in GPU_SECTIONS' order, each failing on its own, into the dict
    that --json writes. report(out, name) follows each part (name None: before the first), so a run stopped by
    a time limit has printed and saved the parts it finished: those that size sweeps go first."""
    dtype = "bfloat16"
    out = dict(torch=torch.__version__, device=str(device), threads=torch.get_num_threads(),
               device_name=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               peak_flops=model.peak_flops(device), dtype=dtype, smoke=size["smoke"])
    report(out, None)
    parts = dict(training=lambda: gpu_training(size, device, dtype, repeats),
                 generation=lambda: bench_generation(repeats, device=device, **size["generation"]),
                 estimates=lambda: ladder.gpu_estimates(out.get("achieved_flops", {}),
                                                        out.get("generation", {}).get("cached_tokens_per_s")),
                 ensemble=lambda: dict(dtype=dtype, rows=bench_ensemble(repeats=repeats, device=device, dtype=dtype,
                                                                        steps=size["steps"], **size["ensemble"])),
                 sampling=lambda: gpu_sampling(repeats=repeats, device=device, **size["walks"]),
                 bf16_vs_f32=lambda: gpu_precision(size["run"], device))
    for name in (s for s in GPU_SECTIONS if s in sections):
        result, seconds = timed(attempt, parts[name])
        out[name] = dict(result, seconds=seconds)  # so a GPU session can check its budget per part
        if name == "training":
            out["achieved_flops"] = best_by_width(out["training"])
        report(out, name)
    return out


# ---------------------------------------------------------------------------------------------------
# 6. --jobs 2 against --jobs 1 on a sweep

def bench_jobs(repeats, spec):
    """Wall seconds of the sweep `spec` (fresh output each time) with --jobs 2 against --jobs 1, the order
    alternating every repeat; the ratio of medians is --jobs 2's throughput over --jobs 1's."""
    with tempfile.TemporaryDirectory() as tmp:
        path, runs = os.path.join(tmp, "spec.json"), itertools.count()
        write_json(path, spec)

        def sweep_with(jobs):
            return lambda: subprocess.run([sys.executable, os.path.join(ROOT, "sweep.py"), path, "--out",
                                           os.path.join(tmp, f"{jobs}-{next(runs)}"), "--jobs", str(jobs)],
                                          check=True, capture_output=True)
        times = dict(zip((1, 2), interleaved_medians(sweep_with(1), sweep_with(2), repeats, False, list)))
    one, two = statistics.median(times[1]), statistics.median(times[2])
    return dict(spec=spec, repeats=repeats, jobs1_s=one, jobs2_s=two, ratio=one / two, times=times)


# ---------------------------------------------------------------------------------------------------
# tables

def table(title, rows, align=""):
    """Print title, then rows (tuples of cells) in columns as wide as their widest cell, aligned per `align`
    ('<' or '>', default '>'); a row shorter than the longest ends in a note (a failure), printed as it is."""
    n = max(map(len, rows))
    rows = [[str(c) for c in r] for r in rows]
    widths = [max([len(r[i]) for r in rows if i < len(r) - (len(r) < n)], default=0) for i in range(n)]
    print(title)
    for r in rows:
        print("  " + "  ".join(c if len(r) < n and i == len(r) - 1 else f"{c:{(align[i:i + 1] or '>')}{widths[i]}}"
                              for i, c in enumerate(r)).rstrip())
    sys.stdout.flush()  # a part's table is out before the next part starts, also through a pipe


def print_sampling(s):
    table(f"walk sampling, {s['graph']} (built in {s['build_s']:.1f}s)",
          [("walks.py", f"{s['walks_tokens_per_s'] / 1e6:.1f}", "M tokens/s"),
           ("networkx", f"{s['networkx_tokens_per_s'] / 1e6:.2f}", "M tokens/s   (python loop, one neighbour per step)"),
           ("speedup", f"{s['speedup']:.0f}", "x")], "<><")


def print_training(rows, threads):
    table(f"\ntraining step, batch 100 x 50 tokens, V=1000, 2 layers, float32, {threads} threads",
          [("width", "params", "train.py tok/s", "nanoGPT-ref tok/s", "ratio", "GFLOP/s")]
          + [(r["width"], f"{r['params']:,}", f"{r['tokens_per_s']:,.0f}", f"{r['reference_tokens_per_s']:,.0f}",
              f"{r['ratio']:.2f}", f"{r['flops_per_s'] / 1e9:.1f}") for r in rows])


def print_ensemble(rows, dtype="float32"):
    table(f"\nensembles: 8 members (4 lrs x 2 seeds) in one batched step vs one after another, {dtype}",
          [("width", "ensemble s/step", "sequential s/step", "speedup")]
          + [(r["width"], f"{r['ensemble_s']:.4f}", f"{r['sequential_s']:.4f}", f"{r['speedup']:.2f}") for r in rows])


def print_generation(g):
    table(f"\ngeneration, {g['n_layer']} layers, width {g['width']}, V={g['V']}, batch {g['batch_size']} x "
          f"(1 + {g['new_tokens']} tokens), float32, {g['device']}",
          [("GPT.generate (KV cache)", f"{g['cached_tokens_per_s']:,.0f}", "tokens/s"),
           ("naive (full prefix)", f"{g['naive_tokens_per_s']:,.0f}", "tokens/s"),
           ("speedup", f"{g['speedup']:.1f}", "x")], "<><")


def print_jobs(j):
    table(f"\n--jobs: a slice of the quick preset ({j['spec']['tokens']} tokens), median of {j['repeats']} wall times",
          [("--jobs 1", f"{j['jobs1_s']:.1f}", "s"), ("--jobs 2", f"{j['jobs2_s']:.1f}", "s"),
           ("ratio", f"{j['ratio']:.2f}", "x")], "<><")


def print_gpu_training(t):
    def rate_cells(r):
        if "failed" in r:
            return [f"failed: {r['failed']}"]
        return [f"{r['tokens_per_s']:,.0f}", f"{r['achieved_flops'] / 1e12:.3f}",
                "-" if r["mfu"] is None else f"{100 * r['mfu']:.1f}%"]
    table(f"\ntraining, 2 layers, V={t['V']}, batch {t['batch_size']} x {t['block_size']} tokens, {t['dtype']} "
          f"autocast, eager | torch.compile ({t['compile_backend']})",
          [("width", "kernel", "eager tok/s", "TFLOP/s", "MFU", "|", "compiled tok/s", "TFLOP/s", "MFU")]
          + [(r["width"], f"failed: {r['failed']}") if "failed" in r else
             (r["width"], r["kernel"], *rate_cells(r["eager"]), "|", *rate_cells(r["compiled"])) for r in t["rows"]])


def print_gpu_sampling(s):
    table(f"\nwalk sampling, {s['graph']}, {s['n_walks']} walks of {s['length']}",
          [(s["device"] + " (torch)", f"{s['device_tokens_per_s'] / 1e6:.2f}", "M tokens/s"),
           ("cpu (numpy)", f"{s['numpy_tokens_per_s'] / 1e6:.2f}", "M tokens/s"),
           ("speedup", f"{s['speedup']:.2f}", "x")], "<><")


def print_gpu_precision(p):
    print(f"\nbf16 vs float32, run {p['run']} (width {p['width']}, {p['tokens']:,} tokens), floor {p['floor']:.4f}")
    print(f"  bf16 {p['bf16_loss']:.4f}  float32 {p['f32_loss']:.4f}  difference {p['difference']:+.4f} nats: "
          f"{'agree' if p['agree'] else 'DISAGREE'} ({p['tolerance_rule']} = {p['tolerance']:.4f})")


GPU_PARTS = dict(training=print_gpu_training, ensemble=lambda r: print_ensemble(r["rows"], r["dtype"]),
                 sampling=print_gpu_sampling, bf16_vs_f32=print_gpu_precision, generation=print_generation,
                 estimates=lambda e: print(ladder.estimates_text(e)))


def print_gpu_part(out, name, json_path=None):
    """The table of one part of section 5 (name None: the header) or its one-line failure; out to json_path."""
    if name is None:
        print(f"CUDA path: {out['device_name']} ({out['device']}), torch {out['torch']}"
              + (", smoke sizes (numbers meaningless)" if out["smoke"] else ""))
    elif "failed" in out[name]:
        print(f"\n{name}: failed: {out[name]['failed']}")
    else:
        GPU_PARTS[name](out[name])
    sys.stdout.flush()
    if json_path:
        write_json(json_path, out)


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
    for name in ("threads", "repeats"):
        if getattr(args, name) is not None:
            cli.in_range(name, getattr(args, name), 1)
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
        quick = sweep.QUICK_DATA  # with its smallest budgets only: the same widths and mix of run sizes
        print_jobs(out.setdefault("jobs", bench_jobs(args.repeats or 3,
                                                     dict(quick, tokens=quick["tokens"][:1 if args.quick else 3]))))
    return out


def main(argv=None):
    args = build_parser().parse_args(argv)
    widths, sections = cli.guarded(check_args, args)
    if args.gpu and not args.smoke and not torch.cuda.is_available():
        cli.fail("--gpu: no CUDA device is present (torch.cuda.is_available() is False); --gpu --smoke runs "
                 "every part at a tiny size on the CPU")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.gpu:  # writes --json after every part
        size = dict(GPU_SIZES["smoke" if args.smoke else "full"], **({"widths": widths} if widths else {}))
        bench_gpu(size, model.pick_device("cuda" if torch.cuda.is_available() else "cpu"),
                  args.repeats or size["repeats"], functools.partial(print_gpu_part, json_path=args.json), sections)
    else:
        out = run_cpu(args, widths, sections)
        if args.json:
            write_json(args.json, out)


if __name__ == "__main__":
    main()
