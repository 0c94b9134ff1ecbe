"""Writing small files so that a power cut leaves either the old content or the new, whole.

Boxes lose power often. A file is written beside its final name, flushed to the disk, then
renamed over the old one (rename is atomic), and the folder is flushed so the rename itself
survives. Used for the catalogue store's pointers and the update state.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes, mode: int | None = None) -> None:
    """`mode` (e.g. 0o600 for a password) applies from the first byte, not after the write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if mode is not None:
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        os.fchmod(fd, mode)  # the umask must not widen or narrow it
        fh_cm = os.fdopen(fd, "wb")
    else:
        fh_cm = open(tmp, "wb")  # noqa: SIM115  (closed by the with below)
    with fh_cm as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
