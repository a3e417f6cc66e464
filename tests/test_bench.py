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
                                   ["--smoke"], ["--gpu", "--smoke", "--threads", "0"]])
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
    bench.main(["--quick", "--sections", "training,ensemble", "--widths", "16", "--repeats", "1",
                "--json", str(path)])
    with open(path) as f:
        out = json.load(f)
    assert set(out) >= {"training", "ensemble"} and "sampling" not in out
    assert positive(out["training"][0]["tokens_per_s"]) and positive(out["ensemble"][0]["speedup"])
    assert "training step" in capsys.readouterr().out
