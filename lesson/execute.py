"""
The executed copy of the lesson: lesson/scaling_laws.executed.ipynb is lesson/scaling_laws.ipynb run top to
bottom at the default size with every part, its outputs and figures kept, for students to browse without
running anything.

    .venv/bin/python lesson/execute.py            # regenerate the executed copy (minutes on 2 cores)
    .venv/bin/python lesson/execute.py --check    # run it again and compare with the committed copy

The lesson is deterministic, so two executions print the same text and draw the same figures, except for
its timing lines: lines that start with `[time]` and the `elapsed ..s | eta ..s` of a sweep's progress lines
(`normalise`). `--check` compares everything else, figures included, and exits 1 on a difference.
tests/test_lesson.py checks quickly that the copy holds the current source's cells, and runs `--check`'s
comparison when LESSON_BENCHMARK=1.
"""
import argparse
import contextlib
import os
import pathlib
import re
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient

LESSON = pathlib.Path(__file__).resolve().parent
NOTEBOOK = LESSON / "scaling_laws.ipynb"
EXECUTED = LESSON / "scaling_laws.executed.ipynb"
SIZE, PARTS = "default", "all"
CELL_TIMEOUT = 900  # seconds per cell at most


def normalise(text):
    """text with its timing lines masked: what varies from one execution to the next."""
    text = re.sub(r"^\[time\].*$", "[time] ...", text, flags=re.M)
    return re.sub(r"elapsed \d+s \| eta \d+s", "elapsed ...s | eta ...s", text)


def set_environment(values):
    """os.environ updated with values; a value of None removes its name."""
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@contextlib.contextmanager
def environment(**values):
    """os.environ with values set (None: removed) for the block, restored after it."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        set_environment(values)
        yield
    finally:
        set_environment(saved)


def execute(size=SIZE, parts=PARTS):
    """The paired notebook executed in a fresh kernel started in lesson/ (as Jupyter starts it), its working
    folder a temporary one; returns (notebook, seconds). The copy is not paired with any script, and records
    how it was made."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    with tempfile.TemporaryDirectory(prefix="lesson-execute-") as tmp, \
            environment(LESSON_SIZE=size, LESSON_PARTS=parts, TMPDIR=tmp, LESSON_FIGURES=None, LESSON_QUICK=None,
                        LESSON_REPO=None, LESSON_THREADS=None):
        t0 = time.time()
        NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", record_timing=False, coalesce_streams=True,
                       resources={"metadata": {"path": str(LESSON)}}).execute()
        seconds = time.time() - t0
    nb.metadata.pop("jupytext", None)
    nb.metadata["lesson"] = dict(size=size, parts=parts, source="lesson/scaling_laws.py",
                                 regenerate=".venv/bin/python lesson/execute.py")
    return nb, seconds


def outputs(nb):
    """Each code cell's outputs as comparable values: stream and plain text normalised, figures as base64. A
    stream's text comes in as many pieces as the kernel flushed it in, which depends on timing: consecutive
    pieces of one stream are joined."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        out = []
        for o in cell.get("outputs", []):
            if o.output_type == "stream" and out and out[-1][0] == o.name:
                out[-1] = (o.name, out[-1][1] + o.text)
            elif o.output_type == "stream":
                out.append((o.name, o.text))
            elif o.output_type in ("display_data", "execute_result"):
                out.append(tuple(sorted((k, normalise(v) if k.startswith("text/") else v) for k, v in o.data.items())))
            else:
                out.append((o.output_type, o.get("ename"), o.get("evalue")))
        cells.append([(o[0], normalise(o[1])) if o[0] in ("stdout", "stderr") else o for o in out])
    return cells


def stream_text(outs):
    """The printed text of one cell's comparable outputs (see `outputs`)."""
    return "".join(o[1] for o in outs if o and o[0] in ("stdout", "stderr"))


def differences(a, b):
    """Lines describing where notebooks a and b differ in their cells or normalised outputs (empty: none)."""
    if [(c.cell_type, c.source) for c in a.cells] != [(c.cell_type, c.source) for c in b.cells]:
        return ["the cells differ: the copy was executed from another version of the source"]
    found = []
    for i, (x, y) in enumerate(zip(outputs(a), outputs(b))):
        if x != y:
            lx, ly = stream_text(x).splitlines(), stream_text(y).splitlines()
            first = next((f"{p!r} != {q!r}" for p, q in zip(lx, ly) if p != q), "a figure or the number of outputs")
            found.append(f"code cell {i}: {first}")
    return found


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="execute and compare with the committed copy; write nothing")
    args = p.parse_args(argv)
    nb, seconds = execute()
    print(f"executed {NOTEBOOK.name} at size {SIZE!r}, parts {PARTS!r}, in {seconds:.0f} s")
    if args.check:
        found = differences(nbformat.read(EXECUTED, as_version=4), nb)
        print("\n".join(found) if found else f"{EXECUTED.name} regenerates identically, timing lines aside")
        return 1 if found else 0
    nbformat.write(nb, EXECUTED)
    print(f"wrote {EXECUTED.relative_to(LESSON.parent)}")
    return 0


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    sys.exit(main())
