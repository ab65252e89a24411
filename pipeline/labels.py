"""Class labels of a labelled dataset: a manifest row's `label` cell, the label set, clip fields.

The label list of a dataset (`dataset.json` "labels", index -> name) is the sorted set of every
name in the manifest. The driver collects it while it stages the manifest (it reads every row
once there anyway, and holds the far larger set of video ids for the duplicate check), before
any clip is cut: a clip's `label_index` is baked into its sample, so the whole list must be
known first. The list is stored with the staged inputs, so a resumed build uses the same one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from vattclips.meta import Label


def parse_label(value: Any) -> Label | None:
    """A manifest `label` cell as a class name, a list of names (multi-label), or None.

    Accepts a string (stripped; a CSV cell holding a JSON list such as `["a", "b"]` is that
    list), an integer (its decimal text: class ids work as names), or a list of those. Raises
    ValueError with the reason for anything else.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float) and value != value:  # NaN: pandas' empty cell
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("["):
            return text
        try:
            value = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"'label' is invalid inline JSON: {exc}") from exc
    if isinstance(value, tuple | list):
        names = [_name(item) for item in value]
        return sorted(set(names))
    return _name(value)


def _name(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        got = repr(value) if isinstance(value, str) else type(value).__name__
        raise ValueError(f"'label' must be a class name or a list of names, got {got}")
    return value.strip()


@dataclass
class LabelCollector:
    """The label set of a manifest, built while its rows stream past (names only)."""

    names: set[str] = field(default_factory=set)
    multi_label: bool = False

    def add(self, label: Label | None) -> None:
        if label is None:
            return
        if isinstance(label, list):
            self.multi_label = True
            self.names.update(label)
        else:
            self.names.add(label)

    def space(self) -> LabelSpace | None:
        """The dataset's labels; None when no row had one (an unlabelled dataset)."""
        if not self.names and not self.multi_label:
            return None
        return LabelSpace(tuple(sorted(self.names)), self.multi_label)


@dataclass(frozen=True)
class LabelSpace:
    """The labels of a dataset: `names[i]` is class i; `multi_label` when any row had a list."""

    names: tuple[str, ...]
    multi_label: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {name: i for i, name in enumerate(self.names)})

    def to_dict(self) -> dict:
        return {"labels": list(self.names), "multi_label": self.multi_label}

    @classmethod
    def from_dict(cls, d: dict | None) -> LabelSpace | None:
        if not d or "labels" not in d:
            return None
        return cls(tuple(d["labels"]), bool(d.get("multi_label", False)))

    def clip_fields(self, label: Label | None) -> tuple[dict, bytes | None]:
        """(json fields, `cls` member) of a clip of a row with `label` (({}, None) if none).

        Single-label: `label` the name, `label_index` its index, `cls` the index as decimal
        text (WebDataset's classification member). Multi-label: lists of names and indices,
        no `cls` (a single int cannot hold them). KeyError for a name outside the space.
        """
        if label is None:
            return {}, None
        index: dict[str, int] = self._index  # type: ignore[attr-defined]
        if self.multi_label:
            names = label if isinstance(label, list) else [label]
            return {"label": names, "label_index": [index[n] for n in names]}, None
        if isinstance(label, list):
            raise ValueError(f"a list label {label} in a single-label space")
        i = index[label]
        return {"label": label, "label_index": i}, str(i).encode("utf-8")
