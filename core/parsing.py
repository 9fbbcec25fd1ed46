"""What every mlp-tui command line shares: its exit codes, argparse in one line, and the checks
of the paths it names. Torch-free: the app's launch checks its flags before torch loads."""

from __future__ import annotations

import argparse
import stat
from pathlib import Path
from typing import NoReturn

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DIVERGED = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line on stderr and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message}\n")  # one form: "mlp-tui: what"


def field_type(name: str):
    """An argparse ``type`` for the config field ``name``: its own parser, so a bad value reads
    as it does everywhere else ("0 is outside [1, 65536]")."""
    from .config import ConfigError, parse_field

    def parse(text: str) -> object:
        try:
            return parse_field(name, text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[-1]) from None

    parse.__name__ = name
    return parse


def file_in_the_way(path: Path) -> Path | None:
    """The file standing where one of ``path``'s folders should be, if any."""
    for folder in path.parents:
        if folder.exists():
            return None if folder.is_dir() else folder
    return None


def not_a_file(path: Path) -> str | None:
    """What stands at ``path`` (through a symlink) when it is not a regular file a save may
    replace: "a directory", "a device", "a FIFO" or "a socket"; None for a regular file or
    nothing there. A save renames a new file over its path: over /dev/null it would delete
    the device."""
    try:
        mode = path.stat().st_mode  # follows symlinks: a link's target is what is saved
    except OSError:
        return None  # nothing there, or a dangling link: the save makes the file
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"
