"""bench.py: the CUDA path's smoke mode runs every part on the CPU and records it; bad flags are refused
in one line before any work; the CPU sections keep working."""
import json
import math
import os
import subprocess
import sys

import pytest
import torch

import bench
import ladder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARTS = ("training", "ensemble", "sampling", "bf16_vs_f32", "generation", "estimates")


def run_bench(*args, timeout=240):
    return subprocess.run([sys.executable, os.path.join(ROOT, "bench.py"), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def positive(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "gpu.json"
    result = run_bench("--gpu", "--smoke", "--threads", "2", "--json", str(path))
    assert result.returncode == 0, result.stderr[-3000:]
    with open(path) as f:
        return json.load(f), result.stdout


def test_smoke_has_every_part(smoke):
    out, stdout = smoke
    assert out["smoke"] is True and out["dtype"] == "bfloat16"
    for name in PARTS:
        part = out[name]
        assert isinstance(part, dict) and positive(part["seconds"]), name
        assert set(part) != {"seconds"}, name
        if "failed" in part:
            assert isinstance(part["failed"], str) and "\n" not in part["failed"]
    if not torch.cuda.is_available():  # the CPU has every piece (flash kernel, aot_eager): nothing may fail
        assert not [name for name in PARTS if "failed" in out[name]], {n: out[n].get("failed") for n in PARTS}
    for name in ("training", "ensemble", "walk sampling", "bf16 vs float32", "generation", "estimates"):
        assert name in stdout


def test_smoke_rates_are_positive(smoke):
    out, _ = smoke
    for row in out["training"]["rows"]:
        assert row["kernel"] in ("flash", "efficient", "math")
        for mode in ("eager", "compiled"):
            if "failed" not in row[mode]:
                assert positive(row[mode]["tokens_per_s"]) and positive(row[mode]["achieved_flops"])
    assert set(out["achieved_flops"]) == {str(r["width"]) for r in out["training"]["rows"] if "failed" not in r}
    for figures in out["achieved_flops"].values():  # what train.py --dry-run reads
        assert positive(figures["tokens_per_s"]) and positive(figures["achieved_flops"])
    assert all(positive(r["speedup"]) and r["members"] == 8 for r in out["ensemble"]["rows"])
    assert positive(out["sampling"]["device_tokens_per_s"]) and positive(out["sampling"]["numpy_tokens_per_s"])
    assert positive(out["generation"]["cached_tokens_per_s"])
    estimates = out["estimates"]
    assert positive(estimates["ladder_gpu"]["total_s"]) and estimates["ladder_gpu"]["runs"] > 0
    assert positive(estimates["paper_er"]["total_s"]) and estimates["paper_er"]["runs"] > 0


def test_smoke_records_bf16_against_float32(smoke):
    p = smoke[0]["bf16_vs_f32"]
    assert positive(p["bf16_loss"]) and positive(p["f32_loss"]) and positive(p["tolerance"])
    assert p["difference"] == pytest.approx(p["bf16_loss"] - p["f32_loss"])
    assert p["agree"] == (abs(p["difference"]) <= p["tolerance"])
    assert p["bf16_loss"] > p["floor"] and p["f32_loss"] > p["floor"]


@pytest.mark.parametrize("flags", [["--threads", "-1"], ["--repeats", "-1"], ["--repeats", "0"],
                                   ["--widths", "24"], ["--widths", "16,x"], ["--sections", "bogus"],
                                   ["--smoke"], ["--gpu", "--smoke", "--threads", "0"], ["--gpu", "--sections", "foo"]])
def test_bad_flags_one_line(flags, capsys):
    with pytest.raises(SystemExit) as e:
        bench.main(flags)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")


def test_unwritable_json_refused_before_work():
    result = run_bench("--gpu", "--smoke", "--json", "/proc/x", timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "/proc/x" in result.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_gpu_without_cuda_says_so(capsys):
    with pytest.raises(SystemExit) as e:
        bench.main(["--gpu"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no CUDA device" in err[0]


def test_cpu_sections_still_run(tmp_path, capsys):
    path = tmp_path / "cpu.json"
    bench.main(["--quick", "--sections", "sampling,training", "--widths", "16", "--repeats", "1", "--json", str(path)])
    with open(path) as f:
        out = json.load(f)
    assert set(out) >= {"sampling", "training"} and "ensemble" not in out  # ensemble, generation: in --gpu --smoke
    assert positive(out["sampling"]["speedup"]) and positive(out["training"][0]["tokens_per_s"])
    assert "walk sampling" in capsys.readouterr().out


def test_estimates_from_measured_throughput():
    fpt = {w: ladder.flops_per_token(w, 2, 8192, 50) for w in (256, 512)}
    measured = {str(w): dict(tokens_per_s=1e6 / (i + 1), achieved_flops=1e6 / (i + 1) * fpt[w], flops_per_token=fpt[w])
                for i, w in enumerate((256, 512))}
    # a narrower run is charged the nearest measured width's tokens/s, a measured width its own
    assert ladder.run_seconds(measured, 64, 1e6, 2, 8192) == pytest.approx(1.0)
    assert ladder.run_seconds(measured, 512, 1e6, 2, 8192) == pytest.approx(2.0)
    assert ladder.run_seconds(measured, 320, 1e6, 2, 8192) == pytest.approx(2.0)
    # wider than any measured width, or deeper: its FLOPs at the widest's FLOP/s
    wide = ladder.flops_per_token(1024, 2, 8192, 50)
    assert ladder.run_seconds(measured, 1024, 1e6, 2, 8192) == pytest.approx(2.0 * wide / fpt[512])
    assert ladder.run_seconds(measured, 512, 1e6, 4, 8192) > 2.0
    rows = [dict(width=256, kernel="flash", n_layer=2, V=8192, block_size=50, batch_size=100, flops_per_token=1,
                 eager=dict(tokens_per_s=2.0, achieved_flops=2.0, mfu=None), compiled=dict(failed="X: y")),
            dict(width=512, failed="OutOfMemoryError: ...")]
    best = bench.best_by_width(dict(rows=rows))
    assert list(best) == ["256"] and best["256"]["compiled"] is False and best["256"]["tokens_per_s"] == 2.0


def test_a_failing_compile_is_that_column_only(capsys):
    size = dict(bench.GPU_SIZES["smoke"], compile_backend="no-such-backend")
    row = bench.throughput(16, size, torch.device("cpu"), "float32", 1)
    assert positive(row["eager"]["tokens_per_s"]) and row["compiled"]["failed"].count("\n") == 0
    out = dict(training=dict(rows=[dict(width=16, **row)], dtype="float32", compile_backend="no-such-backend", V=64,
                             block_size=16, batch_size=4), ensemble=bench.attempt(torch.empty, -1))
    bench.print_gpu_part(out, "training")
    bench.print_gpu_part(out, "ensemble")
    printed = capsys.readouterr().out
    assert "failed: " in printed.splitlines()[-3] and printed.splitlines()[-1].startswith("ensemble: failed: ")
