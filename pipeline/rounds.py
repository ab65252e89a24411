"""Rounds of a build: the first build is round 0; `--retry-failed` on a finished output runs one
more round over the videos whose failure may pass (fetch errors, timeouts, 5xx). Its clips go to
new shards numbered after the committed ones, which are never rewritten. A round is done when
`{round folder}/done.json` exists (written after finalize); an unfinished round is resumed.
"""

from __future__ import annotations

from pipeline.records import RoundRecord
from pipeline.work import done_uri
from vattclips import storage


def completed_rounds(output: str) -> list[RoundRecord]:
    """The done records of rounds 0, 1, ... up to the first unfinished one."""
    rounds: list[RoundRecord] = []
    while storage.exists(done_uri(output, len(rounds))):
        rounds.append(RoundRecord.from_json(storage.read_bytes(done_uri(output, len(rounds)))))
    return rounds


def first_shards(rounds: list[RoundRecord]) -> dict[str, int]:
    """Per split, the number of the next round's first shard: after every committed one."""
    first: dict[str, int] = {}
    for r in rounds:
        for split, n in r.shards.items():
            first[split] = first.get(split, 0) + n
    return first
