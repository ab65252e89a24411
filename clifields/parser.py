"""argparse options built from the settings of a dataclass (declared with `option`)."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import types
import typing
from collections.abc import Iterator
from typing import Any

from clifields.declare import AUTO


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _nested(cls: type, f: dataclasses.Field) -> type | None:
    """The dataclass a field holds (its settings are the command line's too), else None."""
    hint = _hints(cls)[f.name]
    return hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None


def cli_fields(cls: type, skip: tuple[str, ...] = ()) -> Iterator[dataclasses.Field]:
    """The fields of `cls` that the command line sets (a flag, or a nested dataclass)."""
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        if "help" not in f.metadata and _nested(cls, f) is None:
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with option(help=...)")
        if _nested(cls, f) is not None or f.metadata["flag"] is not None:
            yield f


def _scalar(hint: Any) -> Any:
    """The value type of one command-line value: int for `int | None`, str for list[str]."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is list:
        hint = typing.get_args(hint)[0]
    return hint if hint in (int, float, str) else str


def _default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None or value == {} or value == []:
        return "none"
    return str(value)


def _help(f: dataclasses.Field, required: bool) -> str:
    text = f.metadata["help"]
    if required:
        text += " (required)"
    else:
        text += f" (default: {f.metadata['default_text'] or _shown(_default(f))})"
    return text.replace("%", "%%")  # argparse formats help with %


def add_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    skip: tuple[str, ...] = (),
    prefix: str = "",
) -> None:
    """One option per setting of `cls` (nested dataclasses' settings included, their dest
    prefixed by the field's name), `skip` left out. Every option has its help and default."""
    for f in cli_fields(cls, skip):
        nested = _nested(cls, f)
        if nested is not None:
            add_arguments(parser, nested, prefix=f"{prefix}{f.name}.")
            continue
        meta = f.metadata
        flag = meta["flag"] if meta["flag"] != AUTO else "--" + f.name.replace("_", "-")
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        kwargs: dict[str, Any] = {
            "dest": prefix + f.name,
            "default": argparse.SUPPRESS,
            "help": _help(f, required),
        }
        if required:
            kwargs["required"] = True
        hint = _scalar(_hints(cls)[f.name])
        if _hints(cls)[f.name] is bool:
            default = _default(f)
            kwargs["action"] = argparse.BooleanOptionalAction if default else "store_true"
        else:
            kwargs["action"] = "append" if meta["many"] else "store"
            kwargs["type"] = meta["parse"] or hint
            if meta["choices"] is not None:
                kwargs["choices"] = meta["choices"]
            else:  # argparse's own metavar, not the prefixed dest
                kwargs["metavar"] = meta["metavar"] or flag.lstrip("-").upper().replace("-", "_")
        parser.add_argument(flag, **kwargs)


def values(
    cls: type, namespace: argparse.Namespace, skip: tuple[str, ...] = (), prefix: str = ""
) -> dict[str, Any]:
    """The settings of `cls` given on the command line (parsed by `add_arguments` with the
    same `skip`), by field name; a nested dataclass with any setting given is its default with
    those changed."""
    out: dict[str, Any] = {}
    for f in cli_fields(cls, skip):
        dest = prefix + f.name
        nested = _nested(cls, f)
        if nested is not None:
            changed = values(nested, namespace, prefix=dest + ".")
            if changed:
                out[f.name] = dataclasses.replace(_default(f), **changed)
        elif hasattr(namespace, dest):
            value = getattr(namespace, dest)
            convert = f.metadata["convert"]
            out[f.name] = convert(value) if convert else value
    return out
