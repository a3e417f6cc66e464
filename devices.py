"""
The machine a run trains on: which device, which autocast, the peak FLOP/s that MFU divides by, and the
memory a run may use (a run that cannot fit is refused before it starts).
"""
import contextlib
import os

import torch


def pick_device(name="auto"):
    """auto: cuda > mps > cpu. On CUDA under torchrun, each rank takes the GPU of its LOCAL_RANK. A ValueError
    for a device this machine does not have."""
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if name in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if name == "auto":
        return torch.device("mps" if mps else "cpu")
    if (name == "cuda") or (name == "mps" and not mps):
        raise ValueError(f"--device {name}: this machine has no {name.upper()} device that torch can use "
                         "(--device auto takes the best it has)")
    return torch.device(name)


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


def memory_bytes(device):
    """The memory a run on device can use, in bytes: the GPU's own on CUDA (torch.cuda.mem_get_info), else
    the machine's physical memory (CPU and MPS, which shares it), capped by a cgroup v2 limit if one is set."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[1]
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
    except OSError:
        return physical
    return min(physical, int(limit)) if limit.isdigit() else physical


def check_fits(need, device, what, hint):
    """Refuse, before any work, what needs more than the device's memory (memory_bytes): a ValueError with
    need (a dict of bytes by part, with 'total'), what the machine has, and hint (the flags to lower)."""
    have = memory_bytes(device)
    if need["total"] > have:
        parts = ", ".join(f"{name} {size_text(b)}" for name, b in need.items() if name != "total" and b)
        raise ValueError(f"{what} needs ~{size_text(need['total'])} of memory ({parts}), more than the "
                         f"{size_text(have)} of this machine's {device.type}; {hint}")


def size_text(n):
    """Bytes n in words: '512 MB', '3.8 TB'; from 1000 PB on in powers of ten ('1e+31 bytes')."""
    if n >= 1e18:
        return f"{n:.2g} bytes"
    unit, scale = next(((u, s) for u, s in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9)) if n >= s), ("MB", 1e6))
    return f"{n / scale:.3g} {unit}"
