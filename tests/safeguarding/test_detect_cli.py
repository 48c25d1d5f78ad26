"""``pupil-progress detect``: one JSON object per input, as API.md describes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from app.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, object]], str]:
    code = main(["detect", *argv])
    captured = capsys.readouterr()
    return code, [json.loads(line) for line in captured.out.splitlines()], captured.err


def test_a_text_argument_prints_its_matches(capsys: pytest.CaptureFixture[str]) -> None:
    # when
    code, outputs, _ = run(capsys, "honestly i w4nt to k.i.l.l myself")
    # then
    assert code == 0
    assert outputs == [
        {
            "text": "honestly i w4nt to k.i.l.l myself",
            "matches": [
                {
                    "category": "SUICIDE",
                    "severity": 5,
                    "rule": "suicide.0001",
                    "excerpt": "honestly i w4nt to k.i.l.l myself",
                }
            ],
        }
    ]


def test_each_line_of_a_file_is_one_input(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # given
    path = tmp_path / "texts.txt"
    path.write_text("kill the process\n\nwhere can i buy weed near me\n", encoding="utf-8")
    # when
    code, outputs, _ = run(capsys, "--file", str(path))
    # then
    assert code == 0
    assert [o["text"] for o in outputs] == ["kill the process", "where can i buy weed near me"]
    assert outputs[0]["matches"] == []
    assert {m["category"] for m in outputs[1]["matches"]} == {"DRUGS"}  # type: ignore[union-attr]


def test_a_text_and_standard_input_together(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    monkeypatch.setattr("sys.stdin", io.StringIO("the suicide squad film\n"))
    # when
    code, outputs, _ = run(capsys, "hello", "--file", "-")
    # then
    assert code == 0
    assert outputs == [
        {"text": "hello", "matches": []},
        {"text": "the suicide squad film", "matches": []},
    ]


def test_no_input_or_an_unreadable_file_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # when
    nothing = run(capsys)
    missing = run(capsys, "--file", str(tmp_path / "absent.txt"))
    # then
    assert nothing == (2, [], "error: Give a TEXT to scan or --file F (one text per line).\n")
    assert missing[0] == 2
    assert "Cannot read" in missing[2]
