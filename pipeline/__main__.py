import sys

from pipeline.interrupt import block_ctrl_c

block_ctrl_c()  # before any library starts a thread: see pipeline/interrupt.py

from pipeline.cli import main  # noqa: E402

sys.exit(main())
