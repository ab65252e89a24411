"""The Arrow schemas of a dataset root's two tables (docs/shard-format.md): `index.parquet`,
one row per sample, and `failures.parquet`, one row per input (or part of one) that did not
become samples. The builder writes with them; readers may check a table against them."""

from __future__ import annotations

import pyarrow as pa

INDEX_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("shard", pa.string()),
        ("split", pa.string()),
        ("video_id", pa.string()),
        ("source", pa.string()),
        ("clip", pa.int32()),
        ("start", pa.float64()),
        ("end", pa.float64()),
        ("has_audio", pa.bool_()),
        ("has_video", pa.bool_()),
        ("labels", pa.list_(pa.string())),  # the clip's class names ([] when unlabelled)
        ("text_chars", pa.int32()),
        ("n_segments", pa.int32()),
        ("n_neighbors", pa.int32()),
    ]
)
FAILURES_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("line", pa.int64()),
        ("video_id", pa.string()),
        ("stage", pa.string()),
        ("error", pa.string()),
        ("clips_lost", pa.int64()),
        ("transient", pa.bool_()),
    ]
)
