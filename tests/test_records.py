import json
import os
from dataclasses import dataclass

import pytest

import records


@dataclass(frozen=True)
class Config:
    width: int = 128
    lr: float = 3e-3
    seed: int = 0
    tokens: int = 2_000_000


def test_run_id_hashes_only_changed_fields():
    assert records.run_id(Config()) == records.digest({})
    assert records.run_id(Config(width=64)) == records.digest({"width": 64})
    assert records.run_id(Config(width=64)) != records.run_id(Config(width=32))


def test_group_ignores_lr_and_seed_only():
    base = records.group_id(Config(width=64))
    assert records.group_id(Config(width=64, lr=1e-2, seed=3)) == base
    assert records.group_id(Config(width=64, tokens=10)) != base
    old = {"config": {"width": 64, "lr": 1e-2, "seed": 1, "tokens": 10}}
    assert records.group_key(old) == records.group_key({"config": {"width": 64, "lr": 3e-3, "seed": 0, "tokens": 10}})


def test_append_record_writes_whole_lines_and_closes_a_torn_one(tmp_path):
    path = tmp_path / "runs.jsonl"
    records.append_record(str(path), {"run": "0"})
    with open(path, "a") as f:
        f.write('{"run": "torn')  # a crash mid-write
    for i in (1, 2):
        records.append_record(str(path), {"run": str(i), "curve": [[1, 2.0]] * 1000})
    assert [r["run"] for r in records.read_records(str(path), quiet=True)] == ["0", "1", "2"]
    with pytest.raises(ValueError):
        records.append_record(str(path), {"run": "nan", "loss": float("nan")})
    assert len(path.read_text().splitlines()) == 4  # the refused record wrote nothing


def test_reader_skips_bad_lines_naming_file_and_line(tmp_path, capsys):
    path = tmp_path / "runs.jsonl"
    path.write_bytes(b'{"run": "a"}\n42\nnull\n[1]\n\xff\xfe\n{"run": "b"}\nnot json\n')
    assert [r["run"] for r in records.read_records(str(tmp_path))] == ["a", "b"]
    warnings = capsys.readouterr().err.strip().splitlines()
    assert len(warnings) == 5 and all(w.startswith(f"warning: {path}:") for w in warnings)
    assert [int(w.split(":")[2]) for w in warnings] == [2, 3, 4, 5, 7]


def test_missing_path_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        records.read_records(str(tmp_path / "nope"))
    os.makedirs(tmp_path / "empty")
    assert records.read_records(str(tmp_path / "empty")) == []
    assert json.dumps(records.summary({"status": "failed", "error": "boom"})) == '"failed (boom)"'
