"""The one logging setup: both jobs' lines in one format, storage chatter and each job's named
framework loggers at WARNING."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import logging
from vattclips import logs
logs.configure(quiet=("apache_beam",))
logging.getLogger("pipeline.build").info("ours")
logging.getLogger("train.loop").debug("hidden")
logging.getLogger("fsspec.caching").info("hidden")
logging.getLogger("apache_beam.runners").info("hidden")
logging.getLogger("gcsfs").warning("storage trouble")
"""


def test_one_format_and_quiet_libraries() -> None:
    res = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    lines = res.stderr.splitlines()
    assert len(lines) == 2, res.stderr
    assert re.fullmatch(r"\d\d:\d\d:\d\d INFO pipeline\.build: ours", lines[0])
    assert re.fullmatch(r"\d\d:\d\d:\d\d WARNING gcsfs: storage trouble", lines[1])
