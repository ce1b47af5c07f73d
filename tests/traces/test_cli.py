"""``ailfm trace generate`` and ``ailfm trace show``."""

from __future__ import annotations

from ailfm.cli import main
from ailfm.traces import read_trace


def test_generate_then_show(tmp_path, capsys):
    out = tmp_path / "t.parquet"
    assert main(["trace", "generate", "--model", "gpt2-xl", "--instances", "2", "--threads", "4", "--requests", "3",
                 "--lengths", "fixed:16,3", "--seed", "1", "--out", str(out)]) == 0
    trace = read_trace(out)
    assert trace["instance"].nunique() == 2 and trace["threads"].eq(4).all() and trace["tokens"].sum() == 9
    assert main(["trace", "show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "3 requests" in shown and "gemv" in shown and "flop_per_byte" in shown


def test_bad_model_is_a_clear_error(tmp_path, capsys):
    assert main(["trace", "generate", "--model", "nope", "--out", str(tmp_path / "t.csv")]) == 2
    assert "model: 'nope'" in capsys.readouterr().err


def test_show_names_a_malformed_file(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text("instance,request\n0,0\n")
    assert main(["trace", "show", str(path)]) == 2
    assert f"{path}:1: missing column" in capsys.readouterr().err
