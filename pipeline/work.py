"""Where a build commits its records: the layout of `OUTPUT/_work/` (docs/pipeline.md).

_work/options.json                 the options and input of the build (check_output)
_work/inputs/_DONE.json, *.jsonl   the staged manifest rows (staging)
_work/manifest-failures.jsonl      the manifest's malformed rows
_work/videos/{video_id}.json|tar   per-video record and clip tar (video, round 0)
_work/words/{video_id}.json        a train video's word counts (vocabulary)
_work/parts/{bucket}.jsonl         the video records of a bucket (finalize streams them)
_work/shards/{stem}.json           shard commit records
_work/done.json                    round 0 is finished
_work/rounds/NNN/...               the same for the NNN-th retry round (`--retry-failed`)
"""

from __future__ import annotations

from collections.abc import Iterator

from vattclips import storage

READ_DEPTH = 16  # records read at once by the driver (each read is a round trip on a bucket)


def work_uri(output: str, *parts: str) -> str:
    return storage.join(output, "_work", *parts)


def round_folder(round_: int) -> str:
    """Where a round keeps its records, relative to OUTPUT: `_work` for the first build,
    `_work/rounds/NNN` for the NNN-th retry (records there never overwrite earlier ones)."""
    return "_work" if round_ == 0 else f"_work/rounds/{round_:03d}"


def record_uri(output: str, video_id: str, round_: int = 0) -> str:
    return storage.join(output, round_folder(round_), "videos", f"{video_id}.json")


def spill_name(video_id: str, round_: int = 0) -> str:
    return f"{round_folder(round_)}/videos/{video_id}.tar"


def part_uri(output: str, round_: int, bucket: int) -> str:
    """The list of one bucket's video records of a round (what finalize streams)."""
    return storage.join(output, round_folder(round_), "parts", f"{bucket:06d}.jsonl")


def done_uri(output: str, round_: int) -> str:
    return storage.join(output, round_folder(round_), "done.json")


def staged_inputs_uri(output: str, round_: int) -> str:
    """The record that a round's inputs are staged (its chunk list; round 0's label space)."""
    return storage.join(output, round_folder(round_), "inputs", "_DONE.json")


def read_all(uris: list[str]) -> Iterator[bytes]:
    """The files' bytes in order, READ_DEPTH at a time."""
    for _, data in storage.prefetched(uris, storage.read_bytes, READ_DEPTH):
        yield data
