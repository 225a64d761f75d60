"""Paths that scenario and stack files name: checked to be paths a file system can look up.

A path with a NUL byte (YAML's ``"\\0"`` escape) or a name longer than the file system allows
makes ``Path.is_file()`` raise instead of answering, far from the line that wrote it. The
:data:`FilePath` type refuses both when the file is validated, so the error names the key and
its line (``stack.yaml:4: postgres.init_sql: ...``).

>>> check_path(Path("captures/x.parquet"))
PosixPath('captures/x.parquet')
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator

#: Longest name of one path component, and of a whole path, in bytes (Linux: NAME_MAX, PATH_MAX).
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096


def check_path(path: Path) -> Path:
    """``path`` when a file system can look it up; ``ValueError`` saying why not."""
    text = str(path)
    if "\0" in text:
        raise ValueError("a path cannot contain a NUL character")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError("a path must be valid Unicode") from None
    if size > MAX_PATH_BYTES:
        raise ValueError(f"a path of {size} bytes is longer than {MAX_PATH_BYTES}")
    for part in path.parts:
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            raise ValueError(f"a file name of more than {MAX_NAME_BYTES} bytes: {part[:40]}...")
    return path


#: A path field of a scenario or stack file (see the module docstring).
FilePath = Annotated[Path, AfterValidator(check_path)]
