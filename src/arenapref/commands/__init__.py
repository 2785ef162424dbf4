"""One module per sub-command of the ``arenapref`` CLI, and the one way a command is run."""

from __future__ import annotations

import argparse
import sys

from arenapref.data.validation import DataError
from arenapref.runs import OutputExistsError


def run_command(args: argparse.Namespace, command: str) -> int:
    """Run a parsed command: errors the user can fix print one line (``arenapref COMMAND: error: ...``)
    and return 2; an interrupt returns 130."""
    try:
        return int(args.func(args) or 0)
    except (DataError, OutputExistsError, FileNotFoundError, ValueError, ImportError) as err:
        print(f"arenapref {command}: error: {one_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:  # an output folder that is read-only, full, or a file: one line, not a traceback
        where = f"{err.filename}: " if getattr(err, "filename", None) else ""
        print(f"arenapref {command}: error: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"arenapref {command}: interrupted; no partial output was kept", file=sys.stderr)
        return 130


def one_line(err: BaseException) -> str:
    """The error's message on one line (a multi-line message from a library is folded)."""
    return " ".join(str(err).split()) if "\n" in str(err) else str(err)
