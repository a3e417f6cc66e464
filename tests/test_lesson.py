"""
The lesson (lesson/scaling_laws.ipynb, paired with lesson/scaling_laws.py by jupytext, and its executed copy
lesson/scaling_laws.executed.ipynb, made by lesson/execute.py).

- The notebook and the script hold the same cells, and the notebook is committed without outputs.
- The executed copy holds the current source's cells, executed at the default size with every part.
- The text states no measured number (every one is printed by a cell, or asserted by a check).
- The optional parts are skipped by LESSON_PARTS=core: each of their code cells is guarded.
- The lesson runs at its smoke size under nbclient, as a teacher would run it: any cell that raises,
  including any of its own checks, fails the test, and it must not write into the repository.
- With LESSON_BENCHMARK=1 (minutes; CI skips them): the executed copy regenerates identically, timing lines
  aside, and LESSON_PARTS=core runs the core path alone.
"""
import importlib.util
import os
import pathlib
import re
import subprocess
import sys
import time

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent
LESSON = ROOT / "lesson"
NOTEBOOK, SCRIPT, EXECUTED = LESSON / "scaling_laws.ipynb", LESSON / "scaling_laws.py", LESSON / "scaling_laws.executed.ipynb"
BENCHMARK = pytest.mark.skipif(not os.environ.get("LESSON_BENCHMARK"), reason="a benchmark (minutes): set LESSON_BENCHMARK=1")
MIN_CHECKS, MIN_FIGURES = 55, 15   # what an execution of every part shows at least


def cells(nb):
    return [(c.cell_type, c.source) for c in nb.cells]


def execute_module():
    """lesson/execute.py as a module, imported without writing bytecode into the repository."""
    spec = importlib.util.spec_from_file_location("lesson_execute", LESSON / "execute.py")
    module = importlib.util.module_from_spec(spec)
    saved, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = saved
    return module


def text_of(nb):
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


def figures_in(nb):
    return sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if "image/png" in o.get("data", {}))


def test_notebook_and_script_are_in_sync():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert cells(nb) == cells(jupytext.read(SCRIPT)), \
        "lesson/scaling_laws.ipynb and .py differ: run `.venv/bin/jupytext --sync lesson/scaling_laws.py`"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit the notebook without outputs"


def test_executed_copy_is_current():
    executed = nbformat.read(EXECUTED, as_version=4)
    assert cells(executed) == cells(jupytext.read(SCRIPT)), \
        "lesson/scaling_laws.executed.ipynb is not the current lesson: run `.venv/bin/python lesson/execute.py`"
    assert executed.metadata.get("lesson", {}).get("size") == "default"
    assert executed.metadata["lesson"].get("parts") == "all"
    assert "jupytext" not in executed.metadata, "the executed copy must not be paired with a script"
    text = text_of(executed)
    assert "lesson finished at size 'default', parts 'all'" in text
    assert text.count("check passed") >= MIN_CHECKS and "check failed" not in text
    assert figures_in(executed) >= MIN_FIGURES
    assert not any(o.output_type == "error" for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert not any(o.get("name") == "stderr" for c in executed.cells if c.cell_type == "code" for o in c.outputs), \
        "a warning or a progress bar in the executed copy"


def test_text_states_no_measured_number():
    """Measured numbers are printed by the cells, never written into the text, where they would go stale: the
    markdown holds no decimal number and no percentage outside code spans."""
    for cell in jupytext.read(SCRIPT).cells:
        if cell.cell_type == "markdown":
            prose = re.sub(r"`[^`]*`", "", cell.source)               # code spans are code, not claims
            found = re.findall(r"\d+\.\d+|\d+\s*%", prose)
            assert not found, f"a number in the text (print it from the computation instead): {found} in\n{cell.source[:300]}"


def test_optional_parts_are_guarded():
    """Every code cell of the optional parts (7 to 9) and of their answers runs only `if OPTIONAL:`, so that
    LESSON_PARTS=core skips them; every code cell of the core path runs unconditionally."""
    part, optional_cells, core_cells = None, 0, 0
    for cell in jupytext.read(SCRIPT).cells:
        if cell.cell_type == "markdown":
            heading = re.match(r"## (\d)\.|\*\*Answer (\d)", cell.source)
            if heading:
                part = int(heading.group(1) or heading.group(2))
            elif cell.source.startswith("## "):    # a section of no part: the runs, the answers, the end
                part = None
            continue
        if part is not None and part >= 7:
            assert cell.source.startswith("if OPTIONAL:"), f"an optional cell runs unguarded:\n{cell.source[:200]}"
            optional_cells += 1
        elif part is not None:
            assert "OPTIONAL" not in cell.source, f"a core cell depends on the optional parts:\n{cell.source[:200]}"
            core_cells += 1
    assert optional_cells >= 6 and core_cells >= 10


def repository_files():
    """Untracked and ignored paths of the checkout (bytecode caches left out), or None outside git."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return {line[3:] for line in out.splitlines() if "__pycache__" not in line and ".pytest_cache" not in line}


def test_lesson_runs_at_smoke_size(tmp_path, monkeypatch):
    monkeypatch.setenv("LESSON_SIZE", "smoke")
    monkeypatch.setenv("LESSON_PARTS", "all")
    monkeypatch.setenv("LESSON_FIGURES", str(tmp_path / "figures"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))         # the lesson's working folder (tempfile.mkdtemp)
    monkeypatch.delenv("LESSON_REPO", raising=False)     # found from the notebook's folder, as in Jupyter
    monkeypatch.delenv("LESSON_QUICK", raising=False)
    before = repository_files()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    t0 = time.time()
    # the kernel starts in the notebook's folder, as Jupyter starts it; 300 s per cell at most
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(LESSON)}}).execute()
    print(f"the lesson at its smoke size: {time.time() - t0:.0f} s under nbclient")
    text = text_of(nb)
    assert "lesson finished at size 'smoke', parts 'all'" in text
    assert text.count("check passed") >= MIN_CHECKS, text
    assert figures_in(nb) >= MIN_FIGURES, f"only {figures_in(nb)} figures shown inline"
    assert len(list((tmp_path / "figures").glob("*.png"))) >= MIN_FIGURES - 2   # the committed ones are not copied
    if before is not None:
        assert repository_files() - before == set(), "the lesson wrote into the repository"


@BENCHMARK
def test_executed_copy_regenerates():
    execute = execute_module()
    nb, _ = execute.execute()
    found = execute.differences(nbformat.read(EXECUTED, as_version=4), nb)
    assert not found, "\n".join(found)


@BENCHMARK
def test_core_path_alone(tmp_path):
    env = dict(os.environ, LESSON_SIZE="smoke", LESSON_PARTS="core", TMPDIR=str(tmp_path))
    out = subprocess.run([sys.executable, str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    assert "lesson finished at size 'smoke', parts 'core'" in out
    assert "part 6" in out and not any(f"part {k}:" in out for k in (7, 8, 9))
