"""
Every dataset a run trains on, behind one interface (`Data`): walks on a chain with a known transition
matrix P (graphs.py), the corpus itself (corpus.py), and sequences sampled from a teacher GPT (teacher.py).

A Data gives the stream of training batches, the held-out eval set (the same for every run of a sweep), the
expected loss of a model's predictions, and the floor, the exact minimum of that loss on that eval set in nats
per prediction (DESIGN.md, "Floor"), or None where nobody knows it (natural text).

The teacher-sample directory format is read and written here, and only here:

    tokens.bin, eval_tokens.bin      uint16 (n, T+1) token ids
    entropy.bin, eval_entropy.bin    float32 (n, T) nats: the entropy of each next-token distribution
    teacher.pt                       the teacher (model.save_model), so the directory is self-contained
    meta.json                        V, length, sequences, eval_sequences, tau, the floors, the teacher
"""
import json
import math
import os
import shutil
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

import corpus
import files
import graphs
import walks
from model import load_model

EVAL_SEED = 1_000_003  # held-out walks come from their own stream, the same for every run of a sweep
GRAPHS = ("er", "ba", "file", "percolation", "critical-er", "critical-trees", "bigram")  # walks on a known P
DATASETS = GRAPHS + ("text", "teacher:PATH")
TEACHER_ARRAYS = (("tokens.bin", np.uint16), ("eval_tokens.bin", np.uint16),
                  ("entropy.bin", np.float32), ("eval_entropy.bin", np.float32))
TEACHER_FILES = [name for name, _ in TEACHER_ARRAYS] + ["teacher.pt", "meta.json"]  # what write_teacher_samples writes


@dataclass
class Data:
    """A run's dataset, whatever its rung. batches(seed, step) is the stream of (B, T+1) token batches on the
    device from batch number `step` on; eval_tokens (n, T+1) are held out, the same for every run;
    expected_loss(log_probs, tokens) is the mean nats of the predictions log_probs (n, T, V) on
    tokens (n, T+1) against the true next-token distributions (against the sampled next token where the
    truth is unknown: text). floor: the exact minimum of that loss on eval_tokens, nats per prediction, or
    None. floor_population: the same minimum over the whole population the eval set is drawn from (the
    entropy rate, for walks with a stationary start), for reference, or None."""
    name: str
    args: dict
    V: int
    floor: float | None
    floor_population: float | None
    batches: object
    eval_tokens: torch.Tensor
    expected_loss: object


def dataset_name(text):
    """A --graph value: a name of GRAPHS, 'text', or 'teacher:PATH'; a ValueError otherwise."""
    if text in GRAPHS or text == "text" or (text.startswith("teacher:") and len(text) > len("teacher:")):
        return text
    raise ValueError(f"dataset {text!r} is not one of {', '.join(DATASETS)}")


def check(cfg):
    """Refuse, before anything is built or trained, dataset arguments that cannot make a dataset: a
    ValueError naming the flag. The builders check again; this is the cheap part, run for every config
    (so a sweep refuses a bad grid before its first run)."""
    if cfg.directed and cfg.graph != "file":
        raise ValueError(f"--directed applies to --graph file only, not to {cfg.graph!r}")
    if cfg.graph in ("er", "ba", "critical-er", "critical-trees") and cfg.nodes < 2:
        raise ValueError(f"--nodes must be >= 2 for --graph {cfg.graph}, got {cfg.nodes}")
    if cfg.graph == "er" and not 1 <= cfg.edges <= cfg.nodes * (cfg.nodes - 1) // 2:
        raise ValueError(f"--edges must be in [1, n(n-1)/2 = {cfg.nodes * (cfg.nodes - 1) // 2}] for {cfg.nodes} "
                         f"nodes, got {cfg.edges}")
    if cfg.graph == "ba" and cfg.m >= cfg.nodes:
        raise ValueError(f"--m must be < --nodes for Barabasi-Albert, got m={cfg.m}, nodes={cfg.nodes}")
    if cfg.graph == "critical-er" and not cfg.c < cfg.nodes - 1:
        raise ValueError(f"--c must be < nodes - 1 = {cfg.nodes - 1} for critical-er, got {cfg.c}")
    if cfg.graph == "critical-trees" and cfg.c > 1:
        raise ValueError(f"--c must be in (0, 1] for critical-trees (mean offspring), got {cfg.c}")
    for path in ([cfg.edges_file] if cfg.graph == "file" else []) + list(cfg.text or []):
        files.check_regular(path)
    if cfg.graph.startswith("teacher:"):
        read_teacher_meta(cfg.graph.removeprefix("teacher:"))


# Bytes per stored transition (nonzero of P) of a walk dataset, measured on ER and BA chains of 10^6 to 4*10^6
# entries: while its builder runs (pairs, COO, CSR, the kappa ranking's sort), and what stays (P, the alias
# tables, P as tensors for the expected loss); and per node (row pointers, alias starts, degrees, pi, entropies).
BUILD_BYTES, TABLE_BYTES, NODE_BYTES = 120, 48, 64


def transitions(cfg):
    """The stored transitions (nonzeros of P) a walk dataset will have, estimated from its config before it is
    built: both directions of every edge (an edge list: one per 5 bytes of the file, lines of ~10 bytes); a
    smoothed bigram chain is dense; 0 for the rest (an unsmoothed bigram chain, bounded by its corpus; text;
    teachers)."""
    counts = {"er": 2 * cfg.edges, "ba": 2 * cfg.m * cfg.nodes, "critical-er": math.ceil(cfg.c * cfg.nodes),
              "critical-trees": 2 * cfg.nodes, "percolation": 4 * cfg.L ** 2,
              "bigram": cfg.vocab ** 2 if cfg.smoothing else 0}
    if cfg.graph == "file":
        return os.path.getsize(cfg.edges_file) // 5
    return counts.get(cfg.graph, 0)


def dataset_bytes(cfg, V):
    """(while built, kept) bytes of a run's dataset, estimated from its config before it is built: a walk
    dataset's chain and tables (transitions, BUILD_BYTES...), its eval walks and its fixed training set or
    the block of fresh walks sampled ahead; a teacher's sequences. A corpus's own tokens are left out (its
    size is the corpus's). V: the vocabulary (0 if unknown). Tokens count 16 bytes: int64, and one copy."""
    if cfg.graph == "text":
        return 0, 0
    if cfg.graph.startswith("teacher:"):
        meta = read_teacher_meta(cfg.graph.removeprefix("teacher:"))
        return 0, 16 * (meta["sequences"] + min(cfg.eval_walks, meta["eval_sequences"])) * meta["length"]
    train_walks = math.ceil(cfg.data_tokens / cfg.block_size) if cfg.data_tokens else max(walks.BLOCK, cfg.batch_size)
    tokens = 16 * (train_walks + cfg.eval_walks) * (cfg.block_size + 1)
    entries = transitions(cfg)
    return BUILD_BYTES * entries + NODE_BYTES * V, TABLE_BYTES * entries + NODE_BYTES * V + tokens


def vocab_size(cfg):
    """The V a run's dataset will have, known before it is built: nodes, L² for percolation, the BPE
    vocabulary for the corpus rungs (a teacher's V is read from its meta.json)."""
    if cfg.graph == "percolation":
        return cfg.L ** 2
    if cfg.graph.startswith("teacher:"):
        return read_teacher_meta(cfg.graph.removeprefix("teacher:"))["V"]
    return cfg.vocab if cfg.graph in ("bigram", "text") else cfg.nodes


def load_data(cfg, device):
    """The Data of a run's config (train.RunConfig) on device."""
    if cfg.graph in GRAPHS:
        return walk_data(cfg, device)
    if cfg.graph == "text":
        return text_data(cfg, device)
    return teacher_data(cfg, device, cfg.graph.removeprefix("teacher:"))


def chain(cfg):
    """The Markov chain (graphs.Graph) a walk dataset walks on."""
    if cfg.graph == "bigram":
        return graphs.bigram(corpus.corpus_tokens(cfg.text, cfg.vocab, "train"), cfg.vocab, cfg.smoothing,
                             args=dict(text=cfg.text or "kjv", vocab=cfg.vocab, smoothing=cfg.smoothing))
    return graphs.make(cfg.graph, cfg.nodes, cfg.edges, cfg.m, cfg.edges_file, cfg.directed, cfg.kappa,
                       cfg.graph_seed, cfg.L, cfg.p, cfg.kind, not cfg.open, cfg.forest, cfg.c)


def walk_data(cfg, device):
    """Walks on a graph, fresh every step (or a fixed dataset of data_tokens predictions reused over
    epochs). The floor is the exact expected loss of P itself on the eval walks (walks.eval_floor), not the
    population's (chain.Graph.loss_floor): the eval set's own mean entropy differs from it by sampling noise,
    and an excess measured against the population's could go negative."""
    graph, length = chain(cfg), cfg.block_size + 1

    def batches(seed, step):
        if cfg.data_tokens:
            n_walks = math.ceil(cfg.data_tokens / cfg.block_size)
            return walks.fixed_dataset_batches(graph, n_walks * length, cfg.batch_size, length, seed, device,
                                               cfg.start, step)
        return walks.fresh_batches(graph, cfg.batch_size, length, seed, device, cfg.start, step)
    eval_tokens = walks.eval_set(graph, cfg.eval_walks, length, EVAL_SEED, device, cfg.start)
    return Data(graph.name, graph.args, graph.V, walks.eval_floor(eval_tokens[:, :-1], graph),
                graph.loss_floor(cfg.start, cfg.block_size), batches, eval_tokens,
                lambda log_probs, tokens: walks.expected_loss(log_probs, tokens[:, :-1], graph))


def sequences(tokens, length, limit=None):
    """A 1-D token array cut into consecutive (n, length) int64 sequences (a tail shorter than length is
    dropped), at most limit of them."""
    n = len(tokens) // length if limit is None else min(len(tokens) // length, limit)
    return torch.from_numpy(np.asarray(tokens[:n * length], dtype=np.int64).reshape(n, length))


def finite_data_batches(seqs, cfg, device):
    """Batches from fixed sequences: the first data_tokens / T of them if asked, shuffled each epoch."""
    if cfg.data_tokens:
        seqs = seqs[:math.ceil(cfg.data_tokens / cfg.block_size)]
    seqs = seqs.to(device)
    return lambda seed, step: walks.epoch_batches(seqs, cfg.batch_size, seed, step)


def sampled_loss(log_probs, tokens):
    """Mean nats of log_probs (n, T, V) against the sampled next tokens of tokens (n, T+1)."""
    return F.nll_loss(log_probs.flatten(0, 1), tokens[:, 1:].flatten())


def text_data(cfg, device):
    """The corpus itself, BPE-tokenised (corpus.py), cut into sequences of T+1 tokens; the eval set is the
    first eval_walks sequences of the held-out split. Nobody knows the true next-token distribution of
    English, so the floor is None (fit.py fits E) and the eval loss is against the sampled next token."""
    length = cfg.block_size + 1
    train_seqs = sequences(corpus.corpus_tokens(cfg.text, cfg.vocab, "train"), length)
    eval_tokens = sequences(corpus.corpus_tokens(cfg.text, cfg.vocab, "val"), length, cfg.eval_walks)
    args = dict(text=cfg.text or "kjv", vocab=cfg.vocab, sequences=len(train_seqs), floor="unknown: natural text")
    return Data("text", args, cfg.vocab, None, None, finite_data_batches(train_seqs, cfg, device),
                eval_tokens.to(device), sampled_loss)


def write_teacher_samples(out, meta, tokens, eval_tokens, entropy, eval_entropy, teacher_path):
    """Write a teacher-sample directory (the format in the module docstring): the four arrays, a copy of the
    teacher, and meta.json last, so a directory with a meta.json is complete."""
    os.makedirs(out, exist_ok=True)
    for (name, dtype), array in zip(TEACHER_ARRAYS, (tokens, eval_tokens, entropy, eval_entropy)):
        array = array.cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
        files.atomic_write(os.path.join(out, name), array.astype(dtype).tobytes())
    shutil.copyfile(teacher_path, os.path.join(out, "teacher.pt"))
    files.write_json(os.path.join(out, "meta.json"), meta)


def read_teacher_meta(path):
    """meta.json of a teacher-sample directory; a ValueError if it is missing or malformed."""
    try:
        with open(os.path.join(path, "meta.json"), encoding="utf-8") as f:
            meta = json.load(f)
        if not isinstance(meta, dict) or not all(isinstance(meta.get(k), int) for k in
                                                 ("V", "length", "sequences", "eval_sequences")):
            raise ValueError("meta.json lacks V, length, sequences or eval_sequences")
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not a dataset written by `teacher.py sample` ({str(e).splitlines()[0]})")
    return meta


def read_teacher_samples(path):
    """(meta, tokens (n, T+1) int64 tensor, eval_tokens (m, T+1) int64 tensor, eval_entropy (m, T) float32
    numpy array) of a
    teacher-sample directory; a ValueError if anything is missing or of the wrong size."""
    meta = read_teacher_meta(path)
    rows = (meta["sequences"], meta["eval_sequences"], meta["eval_sequences"])
    widths = (meta["length"], meta["length"], meta["length"] - 1)
    arrays = []
    for (name, dtype), n, width in zip((TEACHER_ARRAYS[0], TEACHER_ARRAYS[1], TEACHER_ARRAYS[3]), rows, widths):
        try:
            array = np.fromfile(os.path.join(path, name), dtype).reshape(n, width)
        except (OSError, ValueError) as e:
            raise ValueError(f"{path}/{name}: missing or not {n} x {width} {np.dtype(dtype).name} ({e})")
        arrays.append(torch.from_numpy(array.astype(np.int64)) if dtype == np.uint16 else array)
    return meta, *arrays


def teacher_data(cfg, device, path):
    """Sequences sampled from a teacher GPT by `teacher.py sample` into the directory `path`. The eval loss is
    the cross-entropy against the teacher's full next-token distributions at the sampling temperature τ,
    and the floor is the mean entropy of those distributions along the eval sequences (so excess is
    exactly the mean KL(teacher || student) there); the training set's own mean entropy (its estimate of the
    population's) is floor_population, and in args."""
    meta, train_seqs, eval_seqs, eval_entropy = read_teacher_samples(path)
    if meta["length"] != cfg.block_size + 1:
        raise ValueError(f"{path} holds sequences of {meta['length']} tokens; --block-size {cfg.block_size} needs "
                         f"{cfg.block_size + 1}")
    n_eval = min(cfg.eval_walks, len(eval_seqs))
    tau, model = meta["tau"], load_model(os.path.join(path, "teacher.pt"), device)

    @torch.no_grad()
    def expected_loss(log_probs, tokens):
        logits = model(tokens[:, :-1]).float()
        target = F.one_hot(logits.argmax(-1), logits.size(-1)).float() if tau == 0 else F.softmax(logits / tau, -1)
        return -(target * log_probs).sum(-1).mean()
    args = {k: meta.get(k) for k in ("path", "teacher", "tau", "sequences", "floor_train", "floor_train_se")}
    return Data("teacher", args, meta["V"], float(eval_entropy[:n_eval].mean()), meta.get("floor_train"),
                finite_data_batches(train_seqs, cfg, device), eval_seqs[:n_eval].to(device), expected_loss)
