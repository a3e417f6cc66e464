"""DESIGN.md cannot drift from the code: its file table lists every top-level .py file, and its import table
is exactly the project imports each file makes at its top, in layers where every import points down (no
cycle). The truth is read from the files themselves with ast."""
import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(p.stem for p in ROOT.glob("*.py"))


def project_imports(path):
    """(imports at module level, imports inside functions or classes): the project modules a file names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))}
    found = {"top": set(), "inner": set()}
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
        for name in names:
            if name.split(".")[0] in MODULES:
                found["top" if node in top else "inner"].add(name.split(".")[0])
    return found["top"], found["inner"]


def design_rows(header):
    """The rows of the DESIGN.md table whose header line starts with `header`, as lists of cells."""
    lines = (ROOT / "DESIGN.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_file_table_lists_every_file():
    listed = {m for row in design_rows("| file | its one concept") for m in re.findall(r"`(\w+)\.py`", row[0])}
    assert listed == set(MODULES)


def test_the_import_table_is_the_code():
    table, layer = {}, {}
    for level, files, imports in design_rows("| layer | file | imports"):
        for name in re.findall(r"`(\w+)\.py`", files):
            table[name] = set() if imports == "nothing from the project" else {s.strip() for s in imports.split(",")}
            layer[name] = int(level)
    actual = {m: project_imports(ROOT / f"{m}.py")[0] for m in MODULES}
    assert table == actual
    for m, imports in actual.items():
        assert all(layer[i] < layer[m] for i in imports), f"{m} imports a file of its own layer or above"


def test_no_project_import_inside_a_function():
    assert {m: inner for m in MODULES if (inner := project_imports(ROOT / f"{m}.py")[1])} == {}


MAX_FILES, MAX_LINES, MAX_FUNCTION_LINES = 22, 600, 50  # issue 22: the house kept small
ARGPARSE_BUILDERS = ("build_parser", "parser", "parents")  # a flag table reads best as one function


def test_the_house_is_small():
    assert len(MODULES) <= MAX_FILES, MODULES
    long_files = {m: n for m in MODULES if (n := len((ROOT / f"{m}.py").read_text().splitlines())) > MAX_LINES}
    assert long_files == {}


def test_functions_are_short():
    long = {}
    for m in MODULES:
        for node in ast.walk(ast.parse((ROOT / f"{m}.py").read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and not node.name.lstrip("_").startswith(ARGPARSE_BUILDERS):
                if (n := node.end_lineno - node.lineno + 1) > MAX_FUNCTION_LINES:
                    long[f"{m}.{node.name}"] = n
    assert long == {}


def test_importing_train_loads_ten_project_modules_and_no_plotting():
    """One run is read in few files: `import train` loads at most 10 other project modules, and never
    matplotlib (a run draws nothing)."""
    code = ("import sys, train; print(' '.join(sorted(m for m in sys.modules if m in sys.argv[1:])));"
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, *MODULES], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    loaded = set(out[0].split()) - {"train"}
    assert len(loaded) <= 10 and out[1] == "False", out
