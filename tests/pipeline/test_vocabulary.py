"""The corpus word counts branch of the Beam graph on a few thousand fake video records: exact
sums, the tail cut, totals, videos without counts, and the same bytes on a re-run."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import apache_beam as beam
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from pipeline.records import VideoRecord
from pipeline.vocabulary import CorpusWordCounts, write_video_words
from vattclips.words import WORD_COUNTS_FILE, WordCounts, split_words

VIDEOS = 2000


def _record(video_id: str, split: str, clips: int) -> VideoRecord:
    return VideoRecord(
        video_id=video_id, line=0, source=f"{video_id}.mp4", split=split, clips=clips
    )


def _fake_corpus(out: Path) -> tuple[list[VideoRecord], Counter, int]:
    """Video records as ProcessVideo yields them, and per-video word files for the train
    ones, with Zipf-like words; returns the summaries, the true counts and the captions."""
    rng = random.Random(5)
    vocab = ["it's", "don't", "café"] + [f"w{i}" for i in range(5000)]
    weights = [1.0 / (i + 1) for i in range(len(vocab))]
    summaries, truth, captions = [], Counter(), 0
    for v in range(VIDEOS):
        split = "val" if v % 10 == 0 else "train"
        clips = 0 if v % 97 == 0 else 120  # a few failed videos (no clips)
        summaries.append(_record(f"vid{v:05d}", split, clips))
        if split != "train" or clips == 0 or v % 500 == 7:  # v % 500 == 7: built before counting
            continue
        texts = [
            " ".join(rng.choices(vocab, weights, k=rng.randint(1, 12))).capitalize() + "."
            for _ in range(rng.randint(0, 30))
        ]
        write_video_words(str(out), f"vid{v:05d}", texts)
        truth.update(w for t in texts for w in split_words(t))
        captions += len(texts)
    return summaries, truth, captions


def _run(summaries: list[dict], out: Path, max_words: int) -> bytes:
    with beam.Pipeline(runner=FnApiRunner()) as p:
        _ = p | beam.Create(summaries) | CorpusWordCounts(str(out), max_words=max_words)
    return (out / WORD_COUNTS_FILE).read_bytes()


def test_word_counts_are_exact_capped_and_deterministic(tmp_path: Path) -> None:
    summaries, truth, captions = _fake_corpus(tmp_path)
    first = _run(summaries, tmp_path, max_words=1000)
    counts = WordCounts.from_json(first)
    assert len(truth) > 1000  # the cut really cuts
    ranked = sorted(truth.items(), key=lambda wc: (-wc[1], wc[0]))
    assert [c for _, c in counts.words] == [c for _, c in ranked[:1000]]
    assert all(truth[w] == c for w, c in counts.words)  # exact sums, not estimates
    assert counts.tokens == sum(truth.values()) and counts.distinct == len(truth)
    assert counts.captions == captions and counts.max_words == 1000
    train = [s for s in summaries if s.split == "train" and s.clips]
    assert counts.videos_without_counts == sum(1 for s in train if int(s.video_id[3:]) % 500 == 7)
    assert counts.videos + counts.videos_without_counts == len(train)
    assert ("it's", truth["it's"]) in counts.words and ("cafe", truth["cafe"]) in counts.words
    share = 1 - sum(c for _, c in ranked[:100]) / sum(truth.values())
    assert abs(counts.unk_share(100) - share) < 1e-12
    # A re-run (another bundling of the same records) writes the same bytes.
    assert _run(list(reversed(summaries)), tmp_path, max_words=1000) == first


def test_no_train_video_writes_empty_counts(tmp_path: Path) -> None:
    counts = WordCounts.from_json(_run([_record("v", "val", 3)], tmp_path, 10))
    assert counts.words == [] and counts.tokens == 0 and counts.videos == 0
    assert counts.unk_share(10) == 0.0
