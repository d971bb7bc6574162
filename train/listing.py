"""Which files of a File-mode channel a job reads: regular files, never what only looks like one.

Why: a FIFO in a channel made `mode=vectors` wait forever for a writer, a device can be read without
end, and a symbolic link to /etc/passwd was read as training data. Special files (FIFOs, devices,
sockets) and links that lead out of the channel are skipped with a log line, never opened. (Pipe-mode
FIFOs are not listed here: train/pipe.py opens them on purpose.)
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)


def readable(path: Path, root: Path) -> bool:
    """True for a regular file or a directory inside root (after following links); otherwise log why it is
    skipped and return False. root must be resolved."""
    if path.is_symlink():
        target = path.resolve()
        if target != root and root not in target.parents:
            log.warning("skipping %s: a symbolic link to %s, outside the channel", path, target)
            return False
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        log.warning("skipping %s: %s", path, exc.strerror or exc)
        return False
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return True
    kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
    log.warning("skipping %s: it is %s, not a regular file (reading it could wait forever or never end)", path, kind)
    return False


def regular_files(root: Path) -> list[Path]:
    """Every regular, non-hidden file under root (hidden folders too are left out), in path order;
    linked directories are not entered."""
    real_root = root.resolve()
    found: list[Path] = []
    for directory, folders, names in os.walk(root):
        for folder in list(folders):
            if folder.startswith(".") or os.path.islink(os.path.join(directory, folder)):
                folders.remove(folder)
                if not folder.startswith("."):
                    log.warning("skipping %s: a linked directory is not entered", Path(directory) / folder)
        for name in names:
            path = Path(directory) / name
            if not name.startswith(".") and readable(path, real_root):
                found.append(path)
    return sorted(found)
