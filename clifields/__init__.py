"""Settings declared once, as dataclass fields, and the command lines built from them.

A setting is a dataclass field whose metadata holds its help text (and, where the command line
needs more than the field's name, type and default, its flag, choices or value parser):

    @dataclass(frozen=True)
    class ClipSpec:
        fps: float = option(10.0, help="frames per second of the clips")

`add_arguments(parser, ClipSpec)` adds `--fps` (type float, help "frames per second of the
clips (default: 10.0)"); `values(ClipSpec, namespace)` gives back the fields the command line
set. The parser holds no default of its own (argparse.SUPPRESS): a default lives in the
dataclass only, and a caller can tell a flag given from a default (a named run's settings,
changed by the flags given). Standard library only: `--help` must not wait for torch or Beam.
"""

from clifields.declare import gather, option, same_as
from clifields.parser import add_arguments, cli_fields, values

__all__ = ["add_arguments", "cli_fields", "gather", "option", "same_as", "values"]
