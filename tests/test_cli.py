from __future__ import annotations

import pytest

from roots.cli import COMMANDS, main


def test_overview(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for words in COMMANDS:
        assert words in out


@pytest.mark.parametrize("words", list(COMMANDS))
def test_every_command_has_help(words, capsys):
    with pytest.raises(SystemExit) as e:
        main([*words.split(), "--help"])
    assert e.value.code == 0
    assert "usage: roots" in capsys.readouterr().out


def test_unknown_command(capsys):
    assert main(["nope"]) == 2
