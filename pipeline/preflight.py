"""Checks of a build's inputs that must fail as configuration errors before anything is written.

A manifest with no usable row (a binary file named `.jsonl`, a CSV of the wrong table, an empty
file) would otherwise run the whole job and write an empty dataset with exit 0; an `--output`
that is a file would be reported as "not empty".
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from pipeline.errors import ConfigError
from pipeline.manifest import ManifestError, ManifestRow
from pipeline.split_files import SplitFileOptions, read_input
from pipeline.work import staged_inputs_uri
from vattclips import storage


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """The logger `name` silenced below ERROR for the block (the real read reports rows)."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def check_output_is_a_folder(output: str) -> None:
    fs, path = storage.fs_for(output)
    try:
        is_file = fs.isfile(path)
    except Exception:  # noqa: BLE001 - unreachable stores are reported by check_output
        return
    if is_file:
        raise ConfigError(
            f"--output {output} is a file; give a folder (or a bucket prefix) for the dataset"
        )


def check_manifest_has_a_video(
    uri: str, video_root: str | None, split_files: SplitFileOptions | None = None
) -> None:
    """Read `uri` up to its first usable row; ConfigError naming it when there is none.

    Cheap for a good manifest (one row is read); a manifest of only malformed rows is read
    to its end once, to say how many rows it had and why the first one failed.
    """
    rows = 0
    first_error = ""
    with _quiet("pipeline.manifest"), _quiet("pipeline.split_files"):
        try:
            for item in read_input(uri, video_root, split_files):
                if isinstance(item, ManifestRow):
                    return
                rows += 1
                if not first_error:
                    first_error = f"line {item.line}: {item.error}"
        except ManifestError as exc:
            raise ConfigError(str(exc)) from exc
    if rows == 0:
        raise ConfigError(f"manifest {uri} has no rows")
    raise ConfigError(
        f"manifest {uri}: none of its {rows} rows is usable (is it a manifest?); "
        f"first: {first_error[:200]}"
    )


def check_inputs(
    input_uri: str,
    output: str,
    video_root: str | None,
    split_files: SplitFileOptions | None = None,
) -> None:
    """Both checks; skipped for the manifest once a run has staged it (a resume reads the
    staged copy, so a manifest moved away since does not stop it)."""
    check_output_is_a_folder(output)
    try:
        staged = storage.exists(staged_inputs_uri(output, 0))
    except Exception:  # noqa: BLE001 - an unreachable output is check_output's to report
        staged = False
    if not staged:
        check_manifest_has_a_video(input_uri, video_root, split_files)
