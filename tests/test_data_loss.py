"""
Nothing already written is ever lost. An output that is one of the command's inputs or another of its
outputs (through a symlink or a hard link too), a file some other program wrote, or a device or FIFO that
a rename would replace is refused before any work: one line on stderr, exit 2, every file as it was. A claim
can never strand a run, and an interrupted sweep stops its workers, leaves no temporary file and resumes
with every run exactly once. Devices are never touched: a FIFO and symlinks in tmp_path stand in for them.
"""
import hashlib
import importlib
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import cli
import model
import sweep
import train

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--nodes", "50", "--edges", "150", "--width", "8", "--head-dim", "8", "--batch-size", "10", "--tokens", "5000"]
TEACHER_META = dict(V=20, length=51, sequences=1, eval_sequences=1)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """Inputs of every kind, a record file, a model, a teacher dataset, links to them, and a FIFO."""
    monkeypatch.chdir(tmp_path)
    Path("edges.txt").write_text("0 1\n1 2\n2 0\n2 3\n3 0\n")
    Path("corpus.txt").write_text("In the beginning was the word.\n" * 20)
    Path("corpus.json").write_text("a corpus file, not JSON\n")
    Path("runs.jsonl").write_text("".join(json.dumps({"run": f"r{i}", "status": "ok"}) + "\n" for i in range(2)))
    Path("m.pt").write_bytes(b"PK\x03\x04 a saved model")
    Path("tokens.bin").write_bytes(bytes(range(20)))
    Path("pts.csv").write_text("N,D,loss\n1e6,1e9,2.5\n2e6,1e9,2.4\n")
    Path("spec.json").write_text(json.dumps({"seed": [0, 1]}))
    Path("sd").mkdir()
    Path("sd/runs.jsonl").write_text("0 1\n1 2\n")  # an edge list where a sweep's record file would go
    Path("sp").mkdir()
    Path("sp/runs.jsonl").write_text(json.dumps({"seed": [0, 1]}))  # a spec where a sweep's record file would go
    Path("tdir").mkdir()
    Path("tdir/meta.json").write_text(json.dumps(TEACHER_META))
    Path("tdir/teacher.pt").write_bytes(b"PK\x03\x04 a teacher")
    Path("tdir/teacher.pt.json").write_text(json.dumps({"config": {}}))
    os.link("edges.txt", "hard.txt")
    os.symlink("edges.txt", "soft.txt")
    os.mkfifo("fifo")
    os.symlink("fifo", "fifo_link")
    return tmp_path


def state(root):
    """Every path under root: a regular file's SHA-256, a symlink's target, or the kind of anything else."""
    out = {}
    for p in sorted(root.rglob("*")):
        mode = p.lstat().st_mode
        if stat.S_ISLNK(mode):
            out[str(p.relative_to(root))] = "link to " + os.readlink(p)
        elif stat.S_ISREG(mode):
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif not stat.S_ISDIR(mode):
            out[str(p.relative_to(root))] = stat.S_IFMT(mode)
    return out


CASES = [
    # train.py, one run: an output that is an input, or another output
    ("train", ["--graph", "file", "--edges-file", "edges.txt", "--save", "edges.txt"], "--edges-file edges.txt"),
    ("train", ["--graph", "file", "--edges-file", "edges.txt", "--out", "edges.txt"], "--edges-file edges.txt"),
    ("train", ["--graph", "file", "--edges-file", "edges.txt", "--json", "soft.txt"], "--edges-file edges.txt"),
    ("train", ["--graph", "file", "--edges-file", "edges.txt", "--ckpt", "hard.txt"], "--edges-file edges.txt"),
    ("train", ["--graph", "text", "--text", "corpus.txt", "--json", "corpus.txt"], "--text corpus.txt"),
    ("train", ["--graph", "teacher:tdir", "--save", "tdir/teacher.pt"], "--graph teacher:tdir"),
    ("train", ["--out", "runs.jsonl", "--json", "runs.jsonl"], "--out runs.jsonl"),
    ("train", ["--out", "runs.jsonl", "--save", "runs.jsonl"], "--out runs.jsonl"),
    ("train", ["--out", "runs.jsonl", "--ckpt", "runs.jsonl"], "--out runs.jsonl"),
    ("train", ["--ckpt", "m.pt", "--save", "m.pt"], "--save m.pt"),
    ("train", ["--ckpt", "c.pt", "--save", "c.pt.tmp"], "temporary file"),
    # train.py, one run: a file another program wrote, a FIFO (a device) a rename would replace
    ("train", ["--json", "edges.txt"], "not a JSON file"), ("train", ["--out", "edges.txt"], "not a JSON Lines file"),
    ("train", ["--save", "corpus.txt"], "not a PyTorch file"), ("train", ["--ckpt", "runs.jsonl"], "not a PyTorch"),
    ("train", ["--save", "fifo"], "not a regular file"), ("train", ["--ckpt", "fifo_link"], "not a regular file"),
    # sweep.py: the record file in --out DIR against the spec and the runs' inputs
    ("sweep", ["spec.json", "--out", "sd", "--graph", "file", "--edges-file", "sd/runs.jsonl"],
     "--edges-file sd/runs.jsonl"),
    ("sweep", ["sp/runs.jsonl", "--out", "sp"], "SPEC sp/runs.jsonl"),
    ("sweep", ["spec.json", "--out", "sd"], "not a JSON Lines file"),
    ("sweep", ["spec.json", "--out", "s2", "--save", "m.pt"], "--save"),
    # theory.py graph (graphs.py's command line)
    ("theory", ["graph", "file", "--edges-file", "edges.txt", "--json", "edges.txt"], "--edges-file edges.txt"),
    ("theory", ["graph", "file", "--edges-file", "soft.txt", "--json", "hard.txt"], "--edges-file soft.txt"),
    ("theory", ["graph", "file", "--edges-file", "edges.txt", "--spectrum", "--plot", "edges.txt"], "--edges-file"),
    ("theory", ["graph", "bigram", "--tokens", "tokens.bin", "--V", "20", "--json", "tokens.bin"],
     "--tokens tokens.bin"),
    ("theory", ["graph", "er", "--nodes", "20", "--edges", "30", "--json", "edges.txt"], "not a JSON file"),
    # teacher.py
    ("teacher", ["train", "--text", "corpus.txt", "--out", "corpus.txt"], "--text corpus.txt"),
    ("teacher", ["train", "--text", "corpus.json", "--out", "corpus"], "--text corpus.json"),
    ("teacher", ["train", "--out", "fifo"], "not a regular file"),
    ("teacher", ["sample", "--teacher", "tdir/teacher.pt", "--out", "tdir"], "--teacher tdir/teacher.pt"),
    ("teacher", ["prepare", "--text", "corpus.txt", "--json", "corpus.txt"], "--text corpus.txt"),
    # bench.py: no inputs, but never over a file it did not write
    ("bench", ["--gpu", "--smoke", "--json", "edges.txt"], "not a JSON file"),
    ("bench", ["--json", "runs.jsonl"], "not a JSON file"),
]


@pytest.mark.parametrize("module, argv, message", CASES, ids=[f"{m}:{' '.join(a)}" for m, a, _ in CASES])
def test_an_output_never_destroys_what_is_there(module, argv, message, workdir, capsys):
    before = state(workdir)
    with pytest.raises(SystemExit) as exit_:
        importlib.import_module(module).main(SMALL + argv if module == "train" else argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], err
    assert state(workdir) == before  # every file byte-identical, every link and FIFO still one


def read_fifo(path, into):
    with open(path, "rb") as f:
        into.append(f.read())


def test_atomic_write_never_renames_over_a_fifo_or_a_symlink(workdir):
    got = []
    reader = threading.Thread(target=read_fifo, args=("fifo", got), daemon=True)
    reader.start()
    cli.write_json("fifo_link", {"a": 1})  # through a link to a FIFO: a plain write
    reader.join(10)
    assert got == [b'{\n "a": 1\n}\n'] and stat.S_ISFIFO(os.lstat("fifo").st_mode) and os.path.islink("fifo_link")
    Path("record.json").write_text("{}")
    os.symlink("record.json", "record_link")
    cli.write_json("record_link", {"b": 2})  # through a link to a file: the file replaced, the link kept
    assert os.path.islink("record_link") and json.loads(Path("record.json").read_text()) == {"b": 2}


def test_checking_a_fifo_neither_opens_it_nor_lets_a_rename_replace_it(workdir):
    checker = threading.Thread(target=cli.check_writable, args=("fifo",), daemon=True)
    checker.start()
    checker.join(10)
    assert not checker.is_alive()  # opening a FIFO for writing would wait for a reader forever
    with pytest.raises(ValueError, match="not a regular file"):
        cli.check_writable("fifo_link", regular=True)


STALE = [b"", b"garbage \xff", b"pid 1 on another-host\n", b"pid %d on this host\n" % os.getpid()]


@pytest.mark.parametrize("content", STALE)
def test_a_claim_nobody_holds_is_free_whatever_its_file_says(content, tmp_path):
    """Empty (killed between creating and writing it), unparsable, another host's, a reused pid: all free."""
    path = tmp_path / "claim"
    path.write_bytes(content)
    fd = cli.claim(str(path))
    assert fd is not None and str(os.getpid()) in path.read_text()
    cli.release(str(path), fd)
    assert not path.exists()


GRID = sweep.expand({"seed": [0, 1]}, train.RunConfig(nodes=50, edges=150, width=8, head_dim=8, tokens=5000,
                                                        batch_size=10))


def fake_trainer(group, ckpt):
    """sweep.run's train_group without training: every run ok at loss 1."""
    for cfg in group:
        yield cfg, dict(run=cfg.run_id(), status="ok", loss=1.0)


def recorded_ids(out):
    return [json.loads(line)["run"] for line in (out / "runs.jsonl").read_text().splitlines()]


def test_a_run_held_by_a_live_process_is_skipped_and_said_then_trained_once_it_dies(tmp_path):
    out, held = tmp_path / "out", GRID[1].run_id()
    (out / "claims").mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", "import cli, sys, time; cli.claim(sys.argv[1]); "
                               "print('held', flush=True); time.sleep(60)", str(out / "claims" / held)],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        lines = []
        sweep.run(GRID, str(out), fake_trainer, lambda c: 1.0, log=lines.append)
        assert recorded_ids(out) == [GRID[0].run_id()]
        assert any(line.startswith(f"skipped {held}: another live process holds its claim (pid {holder.pid} on ")
                   for line in lines), lines
        assert any(line.startswith("held: 1 run(s)") and held in line for line in lines), lines
    finally:
        holder.kill()
        holder.wait()
    sweep.run(GRID, str(out), fake_trainer, lambda c: 1.0, log=lambda line: None)  # its lock died with it
    assert recorded_ids(out) == [c.run_id() for c in GRID]
    assert not list((out / "claims").iterdir())


class CtrlC:
    """An object whose saving is interrupted by Ctrl-C, once torch.save has opened its file."""
    def __reduce__(self):
        raise KeyboardInterrupt


def interrupted_trainer(group, ckpt):
    """A trainer interrupted (Ctrl-C) while it saves a checkpoint, through the save every checkpoint takes."""
    model.save_atomic({"step": 1}, ckpt)
    model.save_atomic({"step": 2, "state": CtrlC()}, ckpt)


def test_an_interrupted_group_keeps_its_checkpoint_drops_its_temporary_and_releases_its_claims(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(KeyboardInterrupt):
        sweep.run(GRID, str(out), interrupted_trainer, lambda c: 1.0, log=lambda line: None)
    assert [p.suffix for p in (out / "ckpt").iterdir()] == [".pt"]
    assert not list((out / "claims").iterdir()) and not (out / "runs.jsonl").exists()


def alive(pids):
    """The pids of pids that are still running (a zombie waiting for its parent to reap it is not)."""
    running = []
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z":
                running.append(pid)
        except (FileNotFoundError, IndexError):
            pass
    return running


def children(pid, count, timeout=60):
    """The pids of pid's children once it has at least count of them."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if len(kids) >= count:
            return kids
        time.sleep(0.1)
    raise AssertionError(f"{pid} did not start {count} processes")


def gone(pids, timeout=15):
    deadline = time.time() + timeout
    while alive(pids) and time.time() < deadline:
        time.sleep(0.2)
    return not alive(pids)


PARALLEL = ("import cli, sweep, time\nwith cli.resumable('sweep_test.py', []):\n"
            "    sweep.parallel(time.sleep, [(60,), (60,)])\n")


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_workers_stop_with_their_parent(sig):
    """SIGTERM: the parent stops its workers, then one line and status 130; SIGKILL: they notice and stop."""
    p = subprocess.Popen([sys.executable, "-c", PARALLEL], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    workers = children(p.pid, 3)  # two workers and multiprocessing's resource tracker
    time.sleep(1)  # past the workers' start, into their sleep
    p.send_signal(sig)
    _, stderr = p.communicate(timeout=60)
    assert gone(workers)
    if sig == signal.SIGTERM:
        assert p.returncode == 130 and stderr.splitlines() == [
            "interrupted; resume with the same command: python sweep_test.py"]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_ctrl_c_stops_a_jobs_sweep_with_one_line_and_it_resumes_with_every_run_once(tmp_path):
    """Ctrl-C reaches every process of the terminal's group: one line saying how to resume, status 130, no
    worker left, no temporary file, no claim; the same command then finishes every run exactly once."""
    spec, out = tmp_path / "spec.json", tmp_path / "out"
    spec.write_text(json.dumps({"tokens": ["1M"], "seed": [0, 1]}))  # seconds per run: time to interrupt one
    command = [sys.executable, "train.py", "--sweep", str(spec), "--out", str(out), "--jobs", "2", "--nodes", "60",
               "--edges", "200", "--width", "8", "--head-dim", "8", "--batch-size", "10", "--eval-walks", "20"]
    # a shell's background job inherits SIGINT ignored (POSIX), and so would the sweep: restore the default
    p = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not list(out.glob("ckpt/*.pt")) and time.time() < deadline:  # mid-run, a checkpoint written
        time.sleep(0.1)
    workers = children(p.pid, 3)  # and the resource tracker
    os.killpg(p.pid, signal.SIGINT)
    _, stderr = p.communicate(timeout=60)
    assert p.returncode == 130 and len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith("interrupted; resume with the same command: python sweep.py")  # train.py --sweep is sweep.py
    assert gone(workers)
    assert not list(out.glob("ckpt/*.tmp")) and not list(out.glob("claims/*"))
    assert len(recorded_ids(out) if (out / "runs.jsonl").exists() else []) < 2  # interrupted before the end
    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    ids = recorded_ids(out)
    assert len(ids) == len(set(ids)) == 2 and not list(out.glob("ckpt/*")) and not list(out.glob("claims/*"))


def test_a_save_cut_short_leaves_the_old_file_and_no_temporary(tmp_path):
    """model.save_atomic (every model and checkpoint save): a save that raises mid-write (here an object
    torch.save cannot pickle, after the temporary file is open) leaves the previous file byte-identical and
    removes its temporary file; a save that succeeds replaces the file."""
    path = tmp_path / "m.pt"
    model.save_atomic({"step": 1}, str(path))
    before = path.read_bytes()
    with pytest.raises(Exception):
        model.save_atomic({"step": 2, "bad": lambda: None}, str(path))
    assert path.read_bytes() == before and not Path(model.temporary_path(str(path))).exists()
    model.save_atomic({"step": 3}, str(path))
    assert path.read_bytes() != before and not Path(model.temporary_path(str(path))).exists()
