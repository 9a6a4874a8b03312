"""Writing the project's small JSON files (state files, deployment files) so that a crash never
leaves half of one."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_json_atomically(path: str | os.PathLike[str], data, *, indent: int = 1, private: bool = False) -> Path:
    """Writes ``data`` as JSON to a temporary file next to ``path`` (mode 0600 when ``private``),
    fsyncs it, renames it over ``path`` and fsyncs the folder (parent folders created): readers
    see the old file or the new one, and a crash after the return loses nothing."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o666)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(data, indent=indent) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, p)
    dir_fd = os.open(p.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return p


def read_json(path: Path, what: str, error: type[Exception]):
    """The JSON document in ``path``; ``error`` (naming ``what`` the file is, e.g. "the state
    file") when it cannot be read or is not JSON."""
    try:
        return json.loads(path.read_text())
    except OSError as e:
        raise error(f"cannot read {what} {path}: {e.strerror or e}") from None
    except ValueError as e:
        raise error(f"{what} {path} is not JSON ({e})") from None
