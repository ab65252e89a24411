"""The command line is built from the dataclass fields: one declaration per setting."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field

import pytest

from clifields import add_arguments, gather, option, same_as, values


def _size(text: str) -> int:
    return int(text.removesuffix("k")) * 1024


def _pairs(items: list[str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in items)


@dataclass(frozen=True)
class Inner:
    rate: float = option(2.5, help="a rate")
    name: str | None = option(None, flag="--inner-name", help="a name", default_text="unnamed")


@dataclass(frozen=True)
class Outer:
    target: str = option(help="where to")
    inner: Inner = field(default_factory=Inner)
    count: int = option(3, help="how many, 100% sure")
    size: int = option(2048, parse=_size, default_text="2k", help="how big")
    mode: str = option("fast", choices=("fast", "slow"), help="how")
    quiet: bool = option(False, help="say less")
    colour: bool = option(True, help="in colour")
    roots: list[str] = option(default_factory=list, many=True, help="one per flag")
    pairs: dict[str, str] = option(
        default_factory=dict, flag="--set", many=True, convert=_pairs, help="K=V"
    )
    hidden: int = option(7, flag=None, help="not on the command line")


def _parser(cls: type = Outer) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="x")
    add_arguments(p, cls)
    return p


def _help(parser: argparse.ArgumentParser, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", "1000")  # one line per option: no wrapping inside a help
    return parser.format_help()


def test_every_setting_is_an_option_with_its_help_and_default(monkeypatch):
    text = _help(_parser(), monkeypatch)
    for line in (
        "--target TARGET  where to (required)",
        "--rate RATE  a rate (default: 2.5)",
        "--inner-name INNER_NAME  a name (default: unnamed)",
        "--count COUNT  how many, 100% sure (default: 3)",
        "--size SIZE  how big (default: 2k)",
        "--mode {fast,slow}  how (default: fast)",
        "--quiet  say less (default: off)",
        "--colour, --no-colour  in colour (default: on)",
        "--roots ROOTS  one per flag (default: none)",
        "--set SET  K=V (default: none)",
    ):
        assert " ".join(line.split()) in " ".join(text.split()), line
    assert "--hidden" not in text


def test_values_are_what_was_given_and_the_defaults_the_dataclasses():
    parser = _parser()
    assert values(Outer, parser.parse_args(["--target", "t"])) == {"target": "t"}
    assert Outer(**values(Outer, parser.parse_args(["--target", "t"]))) == Outer(target="t")
    args = parser.parse_args(
        "--target t --rate 4 --inner-name n --count 5 --size 3k --mode slow --quiet "
        "--no-colour --roots a --roots b --set k=v --set j=w".split()
    )
    assert Outer(**values(Outer, args)) == Outer(
        target="t",
        inner=Inner(rate=4.0, name="n"),
        count=5,
        size=3072,
        mode="slow",
        quiet=True,
        colour=False,
        roots=["a", "b"],
        pairs={"k": "v", "j": "w"},
    )
    # a nested dataclass with one setting given keeps its other defaults
    assert values(Outer, parser.parse_args(["--target", "t", "--rate", "1"])) == {
        "target": "t",
        "inner": Inner(rate=1.0),
    }


def test_argument_errors_are_argparse_errors(capsys):
    parser = _parser()
    for argv in ([], ["--target", "t", "--count", "many"], ["--target", "t", "--mode", "x"]):
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args(argv)
        assert exit_.value.code == 2
    assert "invalid choice: 'x'" in capsys.readouterr().err


def test_a_field_added_to_the_dataclass_is_on_the_command_line(monkeypatch):
    grown = dataclasses.make_dataclass(
        "Grown", [("knob", int, option(11, help="a new knob"))], bases=(Outer,), frozen=True
    )
    parser = _parser(grown)
    assert "--knob KNOB a new knob (default: 11)" in " ".join(_help(parser, monkeypatch).split())
    assert values(grown, parser.parse_args(["--target", "t", "--knob", "12"]))["knob"] == 12


def test_a_field_without_help_is_refused():
    @dataclass
    class Bare:
        knob: int = 1

    with pytest.raises(TypeError, match="Bare.knob is not declared with option"):
        _parser(Bare)
    with pytest.raises(ValueError, match="needs its help"):
        option(1, help="")


@dataclass(frozen=True)
class Schedule:
    peak: float = option(1.0, help="peak rate")
    total: int = option(100, help="steps")
    smooth: bool = option(False, help="smoothly")


@dataclass
class Run:
    lr: float = same_as(Schedule, "peak")
    steps: int = same_as(Schedule, "total", default=10, help="steps of the run")
    other: int = option(0, help="something else")


def test_same_as_declares_a_setting_once_under_another_name(monkeypatch):
    assert Run().lr == 1.0 and Run().steps == 10  # the source's default, or the one changed
    text = " ".join(_help(_parser(Run), monkeypatch).split())
    assert "--lr LR peak rate (default: 1.0)" in text
    assert "--steps STEPS steps of the run (default: 10)" in text
    assert gather(Run(lr=0.5, steps=7, other=3), Schedule) == Schedule(peak=0.5, total=7)
    with pytest.raises(TypeError, match="unknown"):
        same_as(Schedule, "peak", hepl="typo")
