"""
The settings of bench.py's CUDA path (`python bench.py --gpu`, section 5) and what follows from its figures:
the sizes of every part (full, and --smoke: seconds on any device), the attention kernel a step runs
under, rates and MFU, the per-width throughput that train.py --dry-run reads, the bf16-vs-float32 check
and its tolerance, the hours of the ladder's gpu scale and of a paper-scale ER sweep, and the tables.
bench.py does the timing; nothing here times anything.

The JSON that `bench.py --gpu --json PATH` writes: torch, device, device_name, peak_flops (None when the
GPU is not in devices.PEAK_FLOPS), dtype, smoke, threads, and one dict per part, each with `seconds` and
either its figures or `failed` (one line):
    training      rows: [{width, kernel, kernel_errors, n_layer, V, block_size, batch_size, flops_per_token,
                  eager: {tokens_per_s, achieved_flops, mfu} | {failed}, compiled: (the same)} | {width, failed}]
    ensemble      rows: [{width, members, ensemble_s, sequential_s, speedup}] (seconds per step)
    sampling      device_tokens_per_s, numpy_tokens_per_s, speedup
    bf16_vs_f32   bf16_loss, f32_loss, floor, difference, tolerance, agree (nats)
    generation    cached_tokens_per_s, naive_tokens_per_s, speedup
    estimates     ladder_gpu: {runs, students_s, teachers_s, sampling_s, total_s, total_h},
                  paper_er: {..., runs, total_s, total_h}
and, for train.py --dry-run, achieved_flops: {"<width>": {tokens_per_s, achieved_flops, mfu, compiled, kernel,
n_layer, V, block_size, batch_size, flops_per_token}}, the faster of eager and compiled per width.
"""
import itertools

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

import ladder
import teacher
import train

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
# A paper-scale ER sweep, as assumed here: walks on the gpu ladder's ER graph (V = 8192), 2-layer students at
# widths 32-2048 and budgets 3M-300M tokens, 14 learning rates x 3 seeds per point (the paper's lr and seed
# counts, ladder.py; its exact widths and budgets are not in this repository).
PAPER_ER = dict(V=8192, width=[32, 64, 128, 256, 512, 1024, 2048],
                tokens=[3_000_000, 10_000_000, 30_000_000, 100_000_000, 300_000_000], lrs=14, seeds=3)
# The parts of the CUDA path in the order they run: those that size sweeps first, so a run cut short has them
GPU_SECTIONS = ("training", "generation", "estimates", "ensemble", "sampling", "bf16_vs_f32")
KERNELS = (("flash", SDPBackend.FLASH_ATTENTION), ("efficient", SDPBackend.EFFICIENT_ATTENTION),
           ("math", SDPBackend.MATH))


def one_line(error):
    return f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0][:300]}"


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


def rates(seconds, tokens, flops_per_token, peak):
    """Training tokens/s, achieved FLOP/s and MFU (None where the GPU's peak is unknown)."""
    rate = tokens / seconds
    return dict(tokens_per_s=rate, achieved_flops=rate * flops_per_token,
                mfu=rate * flops_per_token / peak if peak else None)


def flops_per_token(width, n_layer, V, T):
    """Training FLOPs per token (model.py's count) of the run's GPT, counted on the meta device."""
    return train.counted_model(train.RunConfig(width=width, n_layer=n_layer, block_size=T), V).flops_per_token()


def best_by_width(training):
    """{width (a string, as JSON keys are): the faster of eager and compiled, with tokens_per_s, achieved_flops,
    mfu, compiled and the shape measured}: what train.py --dry-run reads to turn FLOPs into seconds."""
    best = {}
    for row in training.get("rows", []):
        done = [(mode, row[mode]) for mode in ("eager", "compiled") if "tokens_per_s" in row.get(mode, {})]
        if done:
            mode, fastest = max(done, key=lambda m: m[1]["tokens_per_s"])
            best[str(row["width"])] = dict(fastest, compiled=mode == "compiled", kernel=row["kernel"],
                                           **{k: row[k] for k in ("n_layer", "V", "block_size", "batch_size",
                                                                  "flops_per_token")})
    return best


def gpu_precision(cfg, device):
    """One run in bf16 autocast and in float32 on device: final expected losses (nats) and whether they agree
    within PRECISION_TOLERANCE of the float32 run's excess over the floor."""
    runs = {dtype: train.train(cfg, device=str(device), dtype=dtype, log=lambda *a, **k: None)
            for dtype in ("bfloat16", "float32")}
    bf16, f32 = runs["bfloat16"], runs["float32"]
    if bf16["loss"] is None or f32["loss"] is None:
        raise RuntimeError(f"the runs ended {bf16['status']} (bf16) and {f32['status']} (float32)")
    difference, tolerance = bf16["loss"] - f32["loss"], PRECISION_TOLERANCE * f32["excess"]
    return dict(run=cfg.run_id(), width=cfg.width, tokens=cfg.tokens, floor=f32["floor"], bf16_loss=bf16["loss"],
                f32_loss=f32["loss"], difference=difference, tolerance=tolerance, agree=abs(difference) <= tolerance,
                tolerance_rule=f"|bf16 - float32| <= {PRECISION_TOLERANCE} x the float32 excess over the floor",
                bf16_tokens_per_s=bf16["tokens_per_s"], f32_tokens_per_s=f32["tokens_per_s"])


# ---------------------------------------------------------------------------------------------------
# from measured throughput to the hours of a sweep

def run_seconds(measured, width, tokens, n_layer, V, T=50):
    """Training seconds of one run from `measured` (best_by_width), an upper bound: tokens times the larger
    of its own FLOPs per token and those of the reference width (the nearest measured one at or above
    its width, else the widest), over the reference's achieved FLOP/s. A narrower model is charged the
    reference's tokens/s (on a GPU it is no slower per token); a wider or deeper one its FLOPs at the
    reference's FLOP/s (larger matmuls run no less efficiently). Evaluation and data time are not counted."""
    widths = sorted(int(w) for w in measured)
    ref = measured[str(next((w for w in widths if w >= width), widths[-1]))]
    return tokens * max(flops_per_token(width, n_layer, V, T), ref["flops_per_token"]) / ref["achieved_flops"]


def grid_seconds(measured, widths, budgets, per_point, V):
    """Seconds of a 2-layer student grid (widths x budgets, per_point runs each: learning rates x seeds)."""
    return per_point * sum(run_seconds(measured, w, d, 2, V) for w, d in itertools.product(widths, budgets))


def gpu_estimates(measured, generation):
    """Hours, one run at a time (--ensemble 1), of `ladder.py --scale gpu` (the paper's rungs: every rung's
    student grid, the teachers, and each teacher's dataset of the largest budget sampled at the measured
    KV-cached rate of a 4-layer teacher) and of the PAPER_ER sweep."""
    if not measured:
        raise RuntimeError("no width's training throughput was measured")
    s = ladder.SCALES["gpu"]
    grid, t, V = s["grid"], s["teacher"], s["vocab"]
    per_point = len(grid["lr"]) * len(grid["seed"])  # the gpu grid's lrs x seeds
    n_rungs = len(ladder.chosen_rungs("gpu", ""))
    students = n_rungs * grid_seconds(measured, grid["width"], grid["tokens"], per_point, V)
    teachers = sum(run_seconds(measured, t["width"], t["tokens"], k, V) for k in teacher.LAYERS)
    rate = generation.get("cached_tokens_per_s")
    sampling = len(teacher.LAYERS) * max(grid["tokens"]) / rate if rate else None
    total = students + teachers + (sampling or 0)
    paper = grid_seconds(measured, PAPER_ER["width"], PAPER_ER["tokens"], PAPER_ER["lrs"] * PAPER_ER["seeds"],
                         PAPER_ER["V"])
    runs = n_rungs * len(grid["width"]) * len(grid["tokens"]) * per_point
    paper_runs = len(PAPER_ER["width"]) * len(PAPER_ER["tokens"]) * PAPER_ER["lrs"] * PAPER_ER["seeds"]
    return dict(
        ladder_gpu=dict(rungs=n_rungs, teachers=len(teacher.LAYERS), runs=runs, students_s=students,
                        teachers_s=teachers, sampling_s=sampling, total_s=total, total_h=total / 3600),
        paper_er=dict(PAPER_ER, runs=paper_runs, total_s=paper, total_h=paper / 3600),
        basis="upper bounds from each width's measured tokens/s and FLOP/s (bench_gpu.run_seconds); --ensemble 8 "
              "divides the narrow widths' share by the ensemble part's speedup")


# ---------------------------------------------------------------------------------------------------
# tables

def rate_cells(r):
    if "failed" in r:
        return f"failed: {r['failed']}"
    mfu = "-" if r["mfu"] is None else f"{100 * r['mfu']:.1f}%"
    return f"{r['tokens_per_s']:>12,.0f} {r['achieved_flops'] / 1e12:>8.3f} {mfu:>6}"


def print_gpu_training(t):
    print(f"\ntraining, 2 layers, V={t['V']}, batch {t['batch_size']} x {t['block_size']} tokens, {t['dtype']} autocast, "
          f"eager | torch.compile ({t['compile_backend']})")
    print(f"  {'width':>5} {'kernel':>9} {'eager tok/s':>12} {'TFLOP/s':>8} {'MFU':>6} | "
          f"{'compiled tok/s':>12} {'TFLOP/s':>8} {'MFU':>6}")
    for r in t["rows"]:
        if "failed" in r:
            print(f"  {r['width']:>5} failed: {r['failed']}")
        else:
            print(f"  {r['width']:>5} {r['kernel']:>9} {rate_cells(r['eager'])} | {rate_cells(r['compiled'])}")


def print_gpu_sampling(s):
    print(f"\nwalk sampling, {s['graph']}, {s['n_walks']} walks of {s['length']}")
    print(f"  {s['device'] + ' (torch)':<14} {s['device_tokens_per_s'] / 1e6:10.2f} M tokens/s")
    print(f"  {'cpu (numpy)':<14} {s['numpy_tokens_per_s'] / 1e6:10.2f} M tokens/s")
    print(f"  {'speedup':<14} {s['speedup']:10.2f} x")


def print_gpu_precision(p):
    print(f"\nbf16 vs float32, run {p['run']} (width {p['width']}, {p['tokens']:,} tokens), floor {p['floor']:.4f}")
    print(f"  bf16 {p['bf16_loss']:.4f}  float32 {p['f32_loss']:.4f}  difference {p['difference']:+.4f} nats: "
          f"{'agree' if p['agree'] else 'DISAGREE'} ({p['tolerance_rule']} = {p['tolerance']:.4f})")


def print_gpu_estimates(e):
    lad, paper = e["ladder_gpu"], e["paper_er"]
    sampling = "not counted (no generation figures)" if lad["sampling_s"] is None else f"{lad['sampling_s'] / 3600:.2f} h"
    print(f"\nestimates, one run at a time: {e['basis']}")
    print(f"  ladder.py --scale gpu: {lad['runs']:,} student runs on {lad['rungs']} rungs "
          f"{lad['students_s'] / 3600:.1f} h + {lad['teachers']} teachers {lad['teachers_s'] / 3600:.1f} h "
          f"+ sampling their datasets {sampling} = {lad['total_h']:.1f} h")
    print(f"  paper-scale ER sweep (widths {paper['width'][0]}-{paper['width'][-1]}, {paper['tokens'][0]:.0e}-"
          f"{paper['tokens'][-1]:.0e} tokens, {paper['lrs']} lrs x {paper['seeds']} seeds): {paper['runs']:,} runs, "
          f"{paper['total_h']:.1f} h")
