"""Shard assignment and writing: per-video clip tars -> `shards/{split}-{n:06d}.tar`.

Assignment is a pure function of the video records (deterministic, so a re-run assigns the
same samples to the same shard names). Shards roll over on sample count and on bytes, like
webdataset's ShardWriter; a video may continue in the next shard.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field

from pipeline import storage
from pipeline.tars import SampleTarWriter
from pipeline.video import iter_spill_samples

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Part:
    """Samples [first, last) (positions within the video's tar) of one video."""

    video_id: str
    spill: str
    first: int
    last: int


@dataclass
class ShardSpec:
    name: str  # relative to OUTPUT: shards/{split}-{n:06d}.tar
    split: str
    parts: list[Part] = field(default_factory=list)
    samples: int = 0
    est_bytes: int = 0

    @property
    def stem(self) -> str:
        return self.name.rsplit("/", 1)[-1].removesuffix(".tar")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ShardSpec:
        d = dict(d)
        d["parts"] = [Part(**p) for p in d["parts"]]
        return cls(**d)


def assign_shards(records: list[dict], shard_samples: int, shard_bytes: int) -> list[ShardSpec]:
    """Pack the clips of every video into shards, per split, in video-id order.

    `records` are video summaries: {video_id, split, clips, bytes, spill}. A shard closes when
    one more sample would pass `shard_samples`, or `shard_bytes` (clip sizes of one video are
    taken as its mean, so the byte limit holds to within one clip's variation).
    """
    out: list[ShardSpec] = []
    by_split: dict[str, list[dict]] = {}
    for r in records:
        if r["clips"] > 0:
            by_split.setdefault(r["split"], []).append(r)
    for split in sorted(by_split):
        # "id_" so that the tar keys ({id}_{clip:05d}) come out in key order across videos
        videos = sorted(by_split[split], key=lambda r: r["video_id"] + "_")
        cur: ShardSpec | None = None
        for r in videos:
            per_clip = r["bytes"] / r["clips"]
            pos = 0
            while pos < r["clips"]:
                if (
                    cur is None
                    or cur.samples >= shard_samples
                    or (cur.samples and cur.est_bytes + per_clip > shard_bytes)
                ):
                    n = sum(1 for s in out if s.split == split)
                    cur = ShardSpec(name=f"shards/{split}-{n:06d}.tar", split=split)
                    out.append(cur)
                room = shard_samples - cur.samples
                if per_clip > 0:
                    by_bytes = int((shard_bytes - cur.est_bytes) // per_clip)
                    # an empty shard takes at least one sample, however large
                    room = min(room, by_bytes if cur.samples else max(1, by_bytes))
                take = min(room, r["clips"] - pos)
                cur.parts.append(Part(r["video_id"], r["spill"], pos, pos + take))
                cur.samples += take
                cur.est_bytes += int(round(take * per_clip))
                pos += take
    return out


def commit_uri(output: str, spec: ShardSpec) -> str:
    return storage.join(output, "_work", "shards", f"{spec.stem}.json")


def index_row(sample: dict, shard: str, split: str) -> dict:
    meta = json.loads(sample["json"])
    return {
        "key": sample["__key__"],
        "shard": shard,
        "split": split,
        "video_id": meta["video_id"],
        "source": meta["source"],
        "clip": int(meta["clip"]),
        "start": float(meta["start"]),
        "end": float(meta["end"]),
        "has_audio": bool(meta["has_audio"]),
        "has_video": bool(meta.get("has_video", True)),
        "labels": _names(meta.get("label")),
        "text_chars": len(sample.get("txt", b"").decode("utf-8")),
        "n_segments": len(meta["segments"]),
        "n_neighbors": len(meta["neighbors"]),
    }


def _names(label: str | list[str] | None) -> list[str]:
    return [] if label is None else [label] if isinstance(label, str) else list(label)


def write_shard(output: str, spec: ShardSpec) -> dict:
    """Write one shard (atomically) and its commit record; a committed shard is kept as is.

    Returns the shard summary {name, split, samples, bytes} and its index rows.
    """
    commit = commit_uri(output, spec)
    if storage.exists(commit):
        return json.loads(storage.read_bytes(commit))
    rows: list[dict] = []
    with storage.open_atomic(storage.join(output, spec.name)) as f:
        counter = _CountingWriter(f)
        with SampleTarWriter(counter) as tw:
            for part in spec.parts:
                for pos, sample in enumerate(iter_spill_samples(output, part.spill)):
                    if pos >= part.last:
                        break
                    if pos >= part.first:
                        tw.write(sample)
                        rows.append(index_row(sample, spec.name, spec.split))
        size = counter.written
    if len(rows) != spec.samples:
        raise RuntimeError(f"{spec.name}: wrote {len(rows)} samples, planned {spec.samples}")
    summary = {
        "name": spec.name,
        "split": spec.split,
        "samples": len(rows),
        "bytes": size,
        "rows": rows,
    }
    # the record is the commit: written after the shard is complete under its final name
    storage.write_atomic(commit, json.dumps(summary).encode())
    log.info("wrote %s: %d samples, %.1f MB", spec.name, len(rows), size / 1e6)
    return summary


class _CountingWriter:
    """A write-only file wrapper that counts bytes (object-store files cannot always tell())."""

    def __init__(self, f) -> None:
        self.f = f
        self.written = 0

    def write(self, data: bytes) -> int:
        self.written += len(data)
        return self.f.write(data)

    def flush(self) -> None:
        self.f.flush()

    def close(self) -> None:  # the tar writer closes its stream; the owner closes the real file
        pass
