"""
The machine a run trains on: which device, which autocast, and the peak FLOP/s that MFU divides by.
"""
import contextlib
import os

import torch


def pick_device(name="auto"):
    """auto: cuda > mps > cpu. On CUDA under torchrun, each rank takes the GPU of its LOCAL_RANK."""
    if name in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if name != "auto":
        return torch.device(name)
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


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
