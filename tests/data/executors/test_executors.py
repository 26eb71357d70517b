"""Choosing an executor; these run without Ray."""

from __future__ import annotations

import sys

import pytest

from roots.cli import main
from roots.common.errors import UserError
from roots.data.executors import LocalExecutor, make_executor


def _square(x: int) -> int:
    return x * x


def test_local_executor_maps_in_processes_and_in_process():
    for workers in (1, 2):
        with make_executor("local", workers) as executor:
            assert isinstance(executor, LocalExecutor) and executor.workers == workers
            assert sorted(executor.imap(_square, range(5))) == [0, 1, 4, 9, 16]


def test_missing_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    executor = make_executor("ray", 2)
    with pytest.raises(UserError, match=r"pip install 'roots\[ray\]'"):
        list(executor.imap(_square, [1]))


def test_a_ray_address_needs_the_ray_executor(tmp_path, capsys):
    (tmp_path / "a.txt").write_text("some text\n")
    code = main(["curate", "--recipe", "extract", "--input", str(tmp_path / "a.txt"),
                 "--output", str(tmp_path / "out"), "--ray-address", "auto"])
    assert code == 2 and "--ray-address needs --executor ray" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
