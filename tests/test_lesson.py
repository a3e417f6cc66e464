"""
The lesson (lesson/scaling_laws.ipynb, paired with lesson/scaling_laws.py by jupytext) executed top to bottom
by nbclient at its smoke size, as a teacher would run it: any cell that raises, including any of the lesson's
own checks against independent truths, fails the test. The lesson must not write into the repository, and the
notebook and the script must hold the same cells.
"""
import pathlib
import subprocess

import jupytext
import nbformat
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent
LESSON = ROOT / "lesson"
NOTEBOOK, SCRIPT = LESSON / "scaling_laws.ipynb", LESSON / "scaling_laws.py"


def cells(nb):
    return [(c.cell_type, c.source) for c in nb.cells]


def test_notebook_and_script_are_in_sync():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert cells(nb) == cells(jupytext.read(SCRIPT)), \
        "lesson/scaling_laws.ipynb and .py differ: run `.venv/bin/jupytext --sync lesson/scaling_laws.py`"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit the notebook without outputs"


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
    monkeypatch.setenv("LESSON_FIGURES", str(tmp_path / "figures"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))         # the lesson's working folder (tempfile.mkdtemp)
    monkeypatch.delenv("LESSON_REPO", raising=False)     # found from the notebook's folder, as in Jupyter
    before = repository_files()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # the kernel starts in the notebook's folder, as Jupyter starts it; 300 s per cell at most
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(LESSON)}}).execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "lesson finished at size 'smoke'" in text
    assert text.count("check passed") >= 25, text
    images = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {}))
    assert images >= 15, f"only {images} figures shown inline"
    assert len(list((tmp_path / "figures").glob("*.png"))) >= 15
    if before is not None:
        assert repository_files() - before == set(), "the lesson wrote into the repository"
