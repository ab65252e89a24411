"""Word counts of the whole train split: the corpus vocabulary, as `OUTPUT/word_counts.json`.

Each train video's worker counts the words of the captions its samples carry (`segments` and
`neighbors`, each caption once per video) into `_work/words/{video_id}.json`, next to its
commit record. The Beam branch `CorpusWordCounts` sums them per word (a combiner: Beam
pre-combines on each worker, so no worker holds more than its own videos' words and one
word's partial sums), keeps the `MAX_WORDS` most frequent (another combiner, bounded by that
cap) and writes them with the totals. The trainer builds its 2^16-word vocabulary from this
file at the start of pretraining (docs/shard-format.md, docs/training.md).

A retry round (`--retry-failed`) counts its own videos into its round folder; `merge_rounds`
then rewrites word_counts.json as the sum of every round's counts (round 0's kept as
`_work/word_counts.json` once a retry merges, so a merge can be redone and never counts twice).

Words are split by the one rule of `vattclips.words`, the rule of the trainer's tokenizer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

import apache_beam as beam

from pipeline.records import VideoRecord
from pipeline.work import round_folder, work_uri
from vattclips import storage
from vattclips.words import (
    WORD_COUNTS_FILE,
    WordCounts,
    count_words,
    merge_counts,
    most_frequent_first,
)

# The tail cut: 4x the paper's 2^16-word vocabulary. At HowTo100M's scale the distinct "words"
# run to millions (names, numbers, ASR misspellings), nearly all seen a handful of times; the
# kept 2^18 cover any vocabulary up to 4x the paper's, and `tokens` still counts the cut ones,
# so the [UNK] share of any such vocabulary is exact. ~5 MB of JSON.
MAX_WORDS = 2**18


def round_counts_uri(output: str, round_: int) -> str:
    """A round's own counts: `_work/word_counts.json` holds round 0's once a retry merged."""
    return storage.join(output, round_folder(round_), WORD_COUNTS_FILE)


def words_uri(output: str, video_id: str) -> str:
    return work_uri(output, "words", f"{video_id}.json")


def write_video_words(output: str, video_id: str, texts: Iterable[str]) -> None:
    """Count the words of one train video's captions (each given once) into _work/words/."""
    texts = list(texts)
    body = {"captions": len(texts), "words": dict(sorted(count_words(texts).items()))}
    data = json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")
    storage.write_atomic(words_uri(output, video_id), data)


@dataclass(frozen=True)
class VideoWords:
    """One train video's word counts; `words` None when it has none on record (a video
    processed by a build from before counting)."""

    captions: int
    words: dict[str, int] | None


def read_video_words(record: VideoRecord, output: str) -> VideoWords:
    try:  # one request per video (an exists() first would be two, on a bucket)
        body = json.loads(storage.read_bytes(words_uri(output, record.video_id)))
    except FileNotFoundError:
        return VideoWords(0, None)
    return VideoWords(int(body["captions"]), {str(w): int(c) for w, c in body["words"].items()})


def _is_train_video(record: VideoRecord) -> bool:
    return record.split == "train" and record.clips > 0


def _word_items(video: VideoWords) -> Iterable[tuple[str, int]]:
    return (video.words or {}).items()


def _frequency(item: tuple[str, int]) -> tuple[int, str]:
    # Top.Of keeps the greatest: by count, then (a total order, for a deterministic cut) word.
    return (item[1], item[0])


class VideoTotalsFn(beam.CombineFn):
    """(videos, videos without counts, captions, tokens) over the train videos."""

    def create_accumulator(self) -> tuple[int, int, int, int]:
        return (0, 0, 0, 0)

    def add_input(self, acc: tuple[int, int, int, int], video: VideoWords):
        videos, missing, captions, tokens = acc
        if video.words is None:
            return (videos, missing + 1, captions, tokens)
        return (videos + 1, missing, captions + video.captions, tokens + sum(video.words.values()))

    def merge_accumulators(self, accs):
        return tuple(sum(parts) for parts in zip(*accs, strict=True)) or self.create_accumulator()

    def extract_output(self, acc):
        return acc


def write_word_counts(
    top: list[tuple[str, int]],
    target: str,
    distinct: int,
    totals: tuple[int, int, int, int],
    max_words: int,
) -> None:
    videos, missing, captions, tokens = totals
    counts = WordCounts(
        words=most_frequent_first(dict(top)),
        tokens=tokens,
        distinct=distinct,
        captions=captions,
        videos=videos,
        videos_without_counts=missing,
        max_words=max_words,
    )
    storage.write_atomic(target, counts.to_json())


class CorpusWordCounts(beam.PTransform):
    """Video records (ProcessVideo's output) -> OUTPUT/word_counts.json (`target`: elsewhere,
    a retry round's own counts)."""

    def __init__(self, output: str, max_words: int = MAX_WORDS, target: str | None = None) -> None:
        super().__init__()
        self.output = output
        self.max_words = max_words
        self.target = target or storage.join(output, WORD_COUNTS_FILE)

    def expand(self, videos):
        per_video = (
            videos
            | "TrainVideos" >> beam.Filter(_is_train_video)
            | "ReadVideoWords" >> beam.Map(read_video_words, self.output)
        )
        per_word = (
            per_video
            | "VideoWordCounts" >> beam.FlatMap(_word_items)
            | "SumPerWord" >> beam.CombinePerKey(sum)
        )
        distinct = per_word | "DistinctWords" >> beam.combiners.Count.Globally()
        totals = per_video | "CorpusTotals" >> beam.CombineGlobally(VideoTotalsFn())
        return (
            per_word
            | "MostFrequent" >> beam.combiners.Top.Of(self.max_words, key=_frequency)
            | "WriteWordCounts"
            >> beam.Map(
                write_word_counts,
                self.target,
                beam.pvalue.AsSingleton(distinct),
                beam.pvalue.AsSingleton(totals),
                self.max_words,
            )
        )


def merge_rounds(output: str, rounds: int, max_words: int = MAX_WORDS) -> WordCounts | None:
    """OUTPUT/word_counts.json = the counts of rounds 0 .. `rounds` - 1 summed (after a retry
    round). None, and nothing written, when round 0 has no counts (a build from before them).

    Words past a round's cut are not in its list, so a word's sum can miss what a round cut;
    retry rounds are small next to the first, and `tokens` stays exact.
    """
    final = storage.join(output, WORD_COUNTS_FILE)
    base = round_counts_uri(output, 0)
    if not storage.exists(base):  # the first merge: keep round 0's own counts aside
        if not storage.exists(final):
            return None
        storage.write_atomic(base, storage.read_bytes(final))
    uris = [round_counts_uri(output, r) for r in range(rounds)]
    parts = [WordCounts.from_json(storage.read_bytes(u), name=u) for u in uris if storage.exists(u)]
    merged = merge_counts(parts)
    merged.words = merged.words[:max_words]
    merged.max_words = max_words
    storage.write_atomic(final, merged.to_json())
    return merged
