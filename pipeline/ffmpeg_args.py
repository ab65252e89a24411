"""How local paths are handed to ffmpeg/ffprobe (always an argument list, never a shell)."""

from __future__ import annotations

import os


def local_media_arg(path: str) -> str:
    """`file:` + absolute path: a name like `-x.mp4` or `concat:a|b` stays a plain file name."""
    return "file:" + os.path.abspath(path)
