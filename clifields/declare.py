"""Declaring a setting: a dataclass field with its help, flag and value parser in its metadata."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

AUTO = "--"  # the flag of a field is --its-name-with-dashes
_MISSING: Any = dataclasses.MISSING


def option(
    default: Any = _MISSING,
    *,
    help: str,
    default_factory: Callable[[], Any] = _MISSING,
    flag: str | None = AUTO,
    default_text: str | None = None,
    choices: Sequence[Any] | None = None,
    metavar: str | None = None,
    parse: Callable[[str], Any] | None = None,
    many: bool = False,
    convert: Callable[[Any], Any] | None = None,
) -> Any:
    """A dataclass field that is a setting.

    help: what it means (shown with its default by --help). flag: its command-line name
    (None: no flag, a setting of the Python API only). default_text: the default in words, when
    the value alone would not say it ("clip length" for None). parse: str -> value (argparse's
    `type`; default: the field's type). many: a flag given once per value (argparse's append),
    the values in order. convert: turns what the command line gave (the list of `many`) into
    the field's value; its ValueError is the caller's to report.
    """
    if not help:
        raise ValueError("a setting needs its help text")
    metadata = {
        "help": help,
        "flag": flag,
        "default_text": default_text,
        "choices": tuple(choices) if choices is not None else None,
        "metavar": metavar,
        "parse": parse,
        "many": many,
        "convert": convert,
    }
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


def same_as(source: type, name: str, **changes: Any) -> Any:
    """The setting `source.name` declared again in another dataclass (its default, help and
    parsing, any of them changed by `changes`), remembered as that field: `gather` builds a
    `source` from the fields declared this way. One setting, one declaration, under the name
    the other dataclass gives it (TrainConfig.lr is ScheduleConfig.peak_lr)."""
    original = {f.name: f for f in dataclasses.fields(source)}[name]
    metadata = {**original.metadata}
    unknown = set(changes) - set(metadata) - {"default", "default_factory"}
    if unknown:
        raise TypeError(f"same_as({source.__name__}, {name!r}): unknown {sorted(unknown)}")
    metadata.update({k: v for k, v in changes.items() if k in metadata})
    if "default" in changes or "default_factory" in changes:
        default = changes.get("default", _MISSING)
        factory = changes.get("default_factory", _MISSING)
    else:
        default, factory = original.default, original.default_factory
    metadata["source"] = (source, name)
    return dataclasses.field(default=default, default_factory=factory, metadata=metadata)


def gather(settings: Any, target: type) -> Any:
    """A `target` built from the fields of `settings` declared `same_as(target, ...)`."""
    values = {
        f.metadata["source"][1]: getattr(settings, f.name)
        for f in dataclasses.fields(settings)
        if f.metadata.get("source", (None,))[0] is target
    }
    return target(**values)
