"""The records of a shard build: what crosses the Beam graph and what is committed under _work/.

Dataclasses all the way (they pickle, so any runner moves them as they are); only at the edge
of OUTPUT do they become JSON, and `to_json` / `from_json` fix that JSON: a re-run resumes from
the records an earlier run committed, so their bytes do not change (field order as written,
keys sorted where they always were).

    manifest row (pipeline.manifest.ManifestRow) -> VideoRecord (+ its Failures)
        -> ClipRef / ShardSpec (pipeline.shards) -> ShardCommit (+ its IndexRows)
        -> finalize: index.parquet, failures.parquet, dataset.json (ShardEntry list)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

from pipeline.errors import Stage


@dataclass
class Failure:
    """One row of failures.parquet: an input that yielded no sample or lost part of its data."""

    source: str
    line: int
    video_id: str
    stage: Stage
    error: str
    clips_lost: int = 0
    transient: bool = False  # the cause may pass: `--retry-failed` tries the video again


@dataclass
class VideoRecord:
    """What became of one manifest row; written as `_work/videos/{video_id}.json`."""

    video_id: str
    line: int
    source: str
    split: str
    clips: int = 0
    bytes: int = 0
    duration: float = 0.0  # seconds of source video covered by the plan (0 when it failed)
    text_source: str = "none"
    spill: str | None = None  # per-video tar, relative to OUTPUT
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0  # wall time spent
    # byte offset of each sample in the spill tar, and its end: clip i is [offsets[i], offsets[i+1])
    offsets: list[int] = field(default_factory=list)
    round: int = 0  # 0: the first build; k: the k-th retry of videos whose failure may pass

    @property
    def retryable(self) -> bool:
        """No clip, and a cause that may pass: what `--retry-failed` tries again."""
        return self.clips == 0 and any(f.transient for f in self.failures)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> VideoRecord:
        d = json.loads(data)
        d["failures"] = [Failure(**f) for f in d.get("failures", [])]
        return cls(**d)


@dataclass(frozen=True)
class IndexRow:
    """One row of index.parquet (fields in the order of its columns): one sample of a shard."""

    key: str
    shard: str
    split: str
    video_id: str
    source: str
    clip: int
    start: float
    end: float
    has_audio: bool
    has_video: bool
    labels: list[str]  # the clip's class names ([] when unlabelled)
    text_chars: int
    n_segments: int
    n_neighbors: int


class LostClips(NamedTuple):
    """Clips of one video a shard could not read for good (JSON: `[clips, error]`)."""

    clips: int
    error: str


@dataclass(frozen=True)
class ShardEntry:
    """A finished shard as `dataset.json` lists it."""

    name: str  # relative to OUTPUT: shards/{split}-{n:06d}.tar
    split: str
    samples: int
    bytes: int


@dataclass
class ShardCommit:
    """A shard written: `_work/shards/{stem}.json`, the commit of the shard (written after the
    shard is complete under its final name); finalize builds index.parquet from its rows."""

    name: str
    split: str
    samples: int
    bytes: int
    lost: dict[str, LostClips] = field(default_factory=dict)  # by video id: failures `write`
    rows: list[IndexRow] = field(default_factory=list)

    def entry(self) -> ShardEntry:
        return ShardEntry(self.name, self.split, self.samples, self.bytes)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> ShardCommit:
        d = json.loads(data)
        return cls(
            name=d["name"],
            split=d["split"],
            samples=d["samples"],
            bytes=d["bytes"],
            lost={vid: LostClips(*entry) for vid, entry in d.get("lost", {}).items()},
            rows=[IndexRow(**r) for r in d.get("rows", [])],
        )


@dataclass(frozen=True)
class RoundRecord:
    """`{round folder}/done.json`: a round (the first build, or a retry) is finished."""

    round: int
    videos: int  # videos the round processed
    shards: dict[str, int]  # shards it added, by split

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> RoundRecord:
        return cls(**json.loads(data))
