"""`workers/fields/mont6.py` is exactly what `workers/fields/gen_mont6.py` writes."""

from __future__ import annotations

import difflib

import pytest

from workers.fields import gen_mont6


def test_mont6_is_the_generators_output() -> None:
    committed = gen_mont6.TARGET.read_text(encoding="utf-8")
    generated = gen_mont6.render()
    if committed != generated:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                generated.splitlines(keepends=True),
                "workers/fields/mont6.py (committed)",
                "workers/fields/mont6.py (generated)",
            )
        )
        pytest.fail(
            "mont6.py differs from the generator's output; edit gen_mont6.py and run "
            f"`python -m workers.fields.gen_mont6 --write`:\n{diff}"
        )


def test_generator_check_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert gen_mont6.main(["--check"]) == 0
    assert capsys.readouterr().out == ""


def test_generator_prints_the_module(capsys: pytest.CaptureFixture[str]) -> None:
    assert gen_mont6.main([]) == 0
    assert capsys.readouterr().out == gen_mont6.render()
