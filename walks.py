"""
Token sequences from a graph: batched random walks with O(1) work per token (Walker's alias method), on
the CPU or on the training device; fresh walks every step, a fixed finite dataset reused over epochs, or
a held-out eval set; and the exact expected loss of a model's predictions under the true transitions P,
with its exact minimum on a given set of inputs (the eval set's floor).

A sequence of `length` tokens is one walk of length - 1 steps (T + 1 = 51 tokens: 50 predictions).
Every stream here is a pure function of (graph, seed, step), so a resumed run gets the same batches.
"""

import functools
import math

import numpy as np
import torch

CHUNK = 1 << 16  # walks sampled together: bounds the random-number buffer at 8 bytes x CHUNK x length
BLOCK = 1 << 13  # fresh walks sampled ahead for training, in whole batches


# -----------------------------------------------------------------------------
# alias tables

def _segmented_cumsum(x, rows):
    """Running sum of x that restarts at every change of the (sorted) row id."""
    c = np.cumsum(x, dtype=np.longdouble)  # extended precision: totals reach ~nnz, values stay ~1
    first = np.flatnonzero(np.diff(rows, prepend=-1))
    base = np.repeat((c - x)[first], np.diff(np.append(first, x.size)))
    return (c - base).astype(np.float64)


def alias_tables(P):
    """
    Walker/Vose alias tables for every row of a CSR stochastic matrix, flattened in CSR order.
    Returns prob (nnz,) float64 and alias (nnz,) int64: a step from node i picks slot s of row i
    uniformly, keeps s with probability prob[s] and takes slot alias[s] (a slot of the same row) otherwise.

    Vectorised over all rows at once with prefix sums. In row i scale q = P_ij * k_i (mean 1); "small"
    slots (q < 1) each need 1 - q, "large" slots (q >= 1) have q - 1 to spare. Lay the smalls' needs end
    to end on [0, D) and the larges' spares on [0, E) (D = E): a small is served by the large whose
    stretch holds the start of its need, and a large whose stretch ends inside a small's need covers the
    overshoot from its own bucket, becoming small itself and served by the next large. This is Vose's
    sweep, done with two searchsorted calls instead of a loop.
    """
    V = P.shape[0]
    degree = np.diff(P.indptr)
    rows = np.repeat(np.arange(V), degree)
    q = P.data * degree[rows]
    # q within 1e-9 of 1 count as exactly 1: uniform rows, whose q round to 1 +- ulp, need no alias, and
    # every row keeps a slot with q >= 1 (rounding moves Σq by ~k² 1e-16, far below 1e-9 k for k < 10^6)
    q[np.abs(q - 1) < 1e-9] = 1.0
    small = q < 1
    s_slot, l_slot = np.flatnonzero(small), np.flatnonzero(~small)
    s_row, l_row = rows[small], rows[~small]
    need_end = _segmented_cumsum(1 - q[small], s_row)
    need_start = np.where(np.diff(s_row, prepend=-1) != 0, 0.0, np.append(0.0, need_end[:-1]))
    spare_end = _segmented_cumsum(q[~small] - 1, l_row)
    # (row, position) pairs compared lexicographically: numpy orders complex numbers by real, then imaginary
    s_key, l_key = s_row + 1j * need_start, l_row + 1j * spare_end
    # small: the first large in its row whose stretch ends after the start of the small's need
    last_large = np.cumsum(np.bincount(l_row, minlength=V)) - 1
    server = np.minimum(np.searchsorted(l_key, s_key, side="right"), last_large[s_row])
    # large: the small whose need straddles the end of its stretch, if any, sets its overshoot
    straddler = np.searchsorted(s_key, l_key, side="left") - 1
    has = straddler >= 0
    has[has] = s_row[straddler[has]] == l_row[has]
    overshoot = np.zeros(l_slot.size)
    overshoot[has] = np.maximum(need_end[straddler[has]] - spare_end[has], 0)
    next_large = np.arange(1, l_slot.size + 1)
    next_large[np.append(l_row[1:] != l_row[:-1], True)] -= 1  # the last large of a row is its own alias

    prob, alias = np.empty(P.nnz), np.empty(P.nnz, dtype=np.int64)
    prob[s_slot], alias[s_slot] = q[small], l_slot[server]
    prob[l_slot], alias[l_slot] = np.clip(1 - overshoot, 0, 1), l_slot[next_large]
    return prob, alias


SLOT = np.dtype([("threshold", np.float64), ("targets", np.int64)])  # 16 bytes: one cache miss per step


def _walk_tables(graph):
    """
    The arrays a step reads, cached on the graph: node i's first CSR slot `start` and `degree`; per
    slot s a record of `threshold` = (offset of s in its row) + prob[s] and `targets` = own column << 32
    | alias column, so that a step from a large graph's tables costs one random memory access.
    """
    if "walk_tables" not in graph.cache:
        P = graph.P
        prob, alias = alias_tables(P)
        start = P.indptr[:-1].astype(np.int64)
        degree = np.diff(P.indptr)
        slots = np.empty(P.nnz, dtype=SLOT)
        slots["threshold"] = np.arange(P.nnz) - np.repeat(start, degree) + prob
        slots["targets"] = P.indices.astype(np.int64) << 32 | P.indices[alias]
        graph.cache["walk_tables"] = dict(start=start, degree=degree.astype(np.float64), slots=slots)
    return graph.cache["walk_tables"]


# -----------------------------------------------------------------------------
# sampling

def derive_seed(seed, *keys):
    """An independent 63-bit seed for the stream named by (seed, *keys) (numpy SeedSequence)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(np.random.SeedSequence([int(seed), *keys]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def _check_count(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class WalkSampler:
    """
    Random walks on `graph`, sampled on `device` by one alias-table step with one of two backends:
    "numpy" (the CPU default: lower per-call overhead at these batch sizes) or "torch" with a
    torch.Generator on the device (the default elsewhere, so a GPU run never waits for host data).
    The same seed gives the same walks for the same backend and device type. Successive sample()
    calls continue one random stream; manual_seed restarts it.
    """

    def __init__(self, graph, device="cpu", seed=0, start="stationary", backend=None):
        self.device = torch.device(device)
        self.backend = backend or ("numpy" if self.device.type == "cpu" else "torch")
        if self.backend not in ("numpy", "torch") or (self.backend == "numpy" and self.device.type != "cpu"):
            raise ValueError(f"backend must be 'torch', or 'numpy' on the CPU, got {backend!r} on {device}")
        tables = _walk_tables(graph)
        cdf = np.cumsum(graph.start_distribution(start))
        self.start_cdf = cdf / cdf[-1]  # ends at exactly 1 > u: searchsorted stays below V
        self.start, self.degree, self.slots = tables["start"], tables["degree"], tables["slots"]
        if self.backend == "torch":  # torch has no records: one tensor per field
            def to_device(a):
                return torch.as_tensor(np.ascontiguousarray(a), device=self.device)
            self.start_cdf, self.start, self.degree = map(to_device, (self.start_cdf, self.start, self.degree))
            self.threshold, self.targets = to_device(self.slots["threshold"]), to_device(self.slots["targets"])
            self.generator = torch.Generator(self.device)
        self.manual_seed(seed)

    def manual_seed(self, seed):
        """Restart the random stream from `seed`."""
        seed = derive_seed(seed)
        if self.backend == "numpy":
            self.rng = np.random.Generator(np.random.SFC64(seed))  # numpy's fastest bit generator
        else:
            self.generator.manual_seed(seed)
        return self

    def sample(self, n_walks, length):
        """(n_walks, length) int64 tensor on the device: walks whose first token is drawn from `start`."""
        n_walks, length = _check_count("n_walks", n_walks), _check_count("length", length)
        chunks = [self._sample(min(CHUNK, n_walks - lo), length) for lo in range(0, n_walks, CHUNK)]
        if self.backend == "numpy":
            return torch.from_numpy(np.concatenate(chunks) if len(chunks) > 1 else chunks[0])
        return torch.cat(chunks) if len(chunks) > 1 else chunks[0]

    def _sample(self, n, length):
        # One uniform u per token: the first picks the start token, each later one a step out of node x
        # with k = degree[x] neighbours: u * k = slot offset (integer part) + coin (fraction); the coin
        # takes the slot's own column if below prob, else its alias. Rounded to nearest, u * k < k for
        # every double u < 1 and integer k < 2^53, so the slot never leaves the row.
        if self.backend == "numpy":
            u = self.rng.random((length, n))
            out = np.empty((length, n), dtype=np.int64)
            out[0] = x = np.searchsorted(self.start_cdf, u[0], side="right")
            for t in range(1, length):  # in-place where possible: each numpy call costs ~1 us
                offset = u[t] * self.degree[x]
                slot = offset.astype(np.int64)
                slot += self.start[x]
                record = self.slots[slot]
                x = record["targets"] >> (offset < record["threshold"]) * 32
                x &= 0xFFFFFFFF
                out[t] = x
            return np.ascontiguousarray(out.T)
        u = torch.rand((length, n), dtype=torch.float64, device=self.device, generator=self.generator)
        out = torch.empty((length, n), dtype=torch.int64, device=self.device)
        out[0] = x = torch.searchsorted(self.start_cdf, u[0], right=True)
        for t in range(1, length):
            offset = u[t] * self.degree.index_select(0, x)
            slot = self.start.index_select(0, x) + offset.long()
            shift = (offset < self.threshold.index_select(0, slot)).long().mul_(32)
            x = self.targets.index_select(0, slot).bitwise_right_shift_(shift).bitwise_and_(0xFFFFFFFF)
            out[t] = x
        return out.T.contiguous()


def sample_walks(graph, n_walks, length, seed=0, start="stationary"):
    """(n_walks, length) int64 numpy array of random walks on the CPU."""
    return WalkSampler(graph, "cpu", seed, start).sample(n_walks, length).numpy()


# -----------------------------------------------------------------------------
# streams for training and evaluation; each batch is (B, T+1) int64 on the device

FRESH, DATASET, SHUFFLE, EVAL = range(4)  # stream names: the same seed gives unrelated streams


def fresh_batches(graph, batch_size, length, seed=0, device="cpu", start="stationary", step=0):
    """
    Endless fresh walks: one epoch of never-repeated data, the paper's setting. Walks are sampled about
    BLOCK walks at a time, then served batch by batch: a step of the sampler costs the same few kernel
    launches (or numpy calls) for a block as for a batch. Batch k is a function of (graph, batch_size,
    seed, k) alone: to resume after k batches, call again with step=k.
    """
    batch_size, length = _check_count("batch_size", batch_size), _check_count("length", length)
    per_block = max(1, BLOCK // batch_size)
    sampler = WalkSampler(graph, device, 0, start)
    block_id = None
    while True:
        b, i = divmod(step, per_block)
        if b != block_id:
            sampler.manual_seed(derive_seed(seed, FRESH, b))
            block_id, block = b, sampler.sample(per_block * batch_size, length)
        yield block[i * batch_size:(i + 1) * batch_size]
        step += 1


def fixed_dataset_batches(graph, n_tokens, batch_size, length, seed=0, device="cpu", start="stationary",
                          step=0):
    """
    Endless batches from a finite dataset of ceil(n_tokens / length) walks, served by epoch_batches.
    Tokens are counted as train.py counts D: all `length` = T + 1 tokens of a sequence.
    """
    n_tokens, length = _check_count("n_tokens", n_tokens), _check_count("length", length)
    data = WalkSampler(graph, device, derive_seed(seed, DATASET), start).sample(math.ceil(n_tokens / length), length)
    return epoch_batches(data, batch_size, seed, step)


def epoch_batches(data, batch_size, seed=0, step=0):
    """
    Endless (batch_size, length) batches from the fixed sequences data (n, length), on data's device. The
    epochs' shuffles are laid end to end and batch k takes places kB .. kB + B - 1, so every batch is full
    and each sequence is seen once per epoch. Batch k is a function of (data, seed, k) alone: to resume
    after k batches, pass step=k.
    """
    batch_size, n = _check_count("batch_size", batch_size), len(data)

    @functools.lru_cache(maxsize=2)
    def epoch_order(epoch):
        g = torch.Generator().manual_seed(derive_seed(seed, SHUFFLE, epoch))  # CPU: same order on any device
        return torch.randperm(n, generator=g).to(data.device)

    while True:
        first = step * batch_size
        epochs = range(first // n, (first + batch_size - 1) // n + 1)
        order = torch.cat([epoch_order(e) for e in epochs])
        at = first - epochs[0] * n
        yield data[order[at:at + batch_size]]
        step += 1


def eval_set(graph, n_walks, length, seed=0, device="cpu", start="stationary"):
    """A fixed held-out (n_walks, length) tensor; its stream differs from every training stream."""
    return WalkSampler(graph, device, derive_seed(seed, EVAL), start).sample(n_walks, length)


# -----------------------------------------------------------------------------
# the exact expected loss

def _csr_tensors(graph, device):
    """P's indptr, column indices and values as tensors on `device`, cached on the graph."""
    key = ("csr", str(device))
    if key not in graph.cache:
        P = graph.P
        graph.cache[key] = tuple(torch.as_tensor(a, device=device) for a in
                                 (P.indptr.astype(np.int64), P.indices.astype(np.int64), P.data))
    return graph.cache[key]


def expected_loss(log_probs, tokens, graph):
    """
    Mean over (b, t) of -Σ_j P[x_t, j] log q(j | x_≤t), in nats per prediction: the cross-entropy against
    the true next-token distribution (DESIGN.md, "Expected eval loss"); same mean as the loss on sampled
    next tokens, far lower variance. log_probs (B, T, V) are log-softmax outputs; tokens (B, T) are the
    inputs x_t. Returns a 0-dim differentiable tensor.
    """
    _, values, picked = row_terms(log_probs, tokens, graph)
    dtype = torch.promote_types(log_probs.dtype, torch.float32)  # bf16 sums lose too many digits
    return -(values.to(dtype) * picked.to(dtype)).sum() / tokens.numel()


def row_terms(log_probs, tokens, graph):
    """(m, P[x_m, j], log q_m(j)) for every nonzero j of the row of P at each input x_m (m indexes the B*T
    predictions): the terms of the expected loss. Reads only the nonzeros of the rows in use (a
    repeat_interleave over their degrees), so memory stays below that of the logits, hubs included."""
    if log_probs.shape[-1] != graph.V or log_probs.shape[:-1] != tokens.shape:
        raise ValueError(f"expected log_probs (..., V={graph.V}) and tokens of its leading shape, got "
                         f"{tuple(log_probs.shape)} and {tuple(tokens.shape)}")
    if tokens.numel() == 0:
        raise ValueError("expected_loss needs at least one token")
    indptr, columns, values = _csr_tensors(graph, log_probs.device)
    x = tokens.reshape(-1).to(log_probs.device, torch.int64)
    first, degree = indptr[x], indptr[x + 1] - indptr[x]
    # for prediction m, its row's slots first[m] .. first[m] + degree[m] - 1, all predictions end to end
    m = torch.repeat_interleave(torch.arange(x.numel(), device=x.device), degree)
    slot = first[m] + torch.arange(m.numel(), device=x.device) - (torch.cumsum(degree, 0) - degree)[m]
    return m, values[slot], log_probs.reshape(-1).gather(0, m * graph.V + columns[slot])


def expected_losses(log_probs, tokens, graph):
    """
    The per-prediction terms of expected_loss, (B, T) nats: -Σ_j P[x_t, j] log q(j | x_≤t) for each input
    x_t, differentiable: the loss of training on the true next-token distribution (train.py --target
    expected), whose gradient is the mean of the sampled-token gradients with no label noise. Where P's row
    is one-hot it is exactly the sampled token's cross-entropy, bit for bit (one term, times 1.0, added to 0).
    """
    m, values, picked = row_terms(log_probs, tokens, graph)
    terms = -(values.to(picked.dtype) * picked)
    return torch.zeros(tokens.numel(), dtype=picked.dtype, device=picked.device).index_add(0, m, terms).view(tokens.shape)


def eval_floor(tokens, graph):
    """
    The exact minimum of expected_loss on these inputs, in nats per prediction: the mean over (b, t) of
    H(P[x_t]), reached by q = P (Gibbs). tokens (B, T) are the inputs x_t, as for expected_loss (a tensor on
    any device, or an array). A float (float64 sums). It differs from graph.loss_floor, the mean over all
    walks, by the sampling noise of this set of inputs.
    """
    x = torch.as_tensor(tokens).cpu().numpy()
    if x.size == 0:
        raise ValueError("eval_floor needs at least one token")
    return float(graph.row_entropy()[x].mean())
