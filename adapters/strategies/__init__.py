"""User strategies: Python files in a strategies directory or named by ``path.py:ClassName`` (and, when its
module is there, TOML compositions), imported by path under private module names (docs/user-strategies.md)."""

from adapters.strategies.files import (
    MAX_FILE_BYTES,
    PACKAGE,
    DirectoryStrategies,
    classes_in_file,
    import_file,
    is_spec,
    parse_spec,
)

__all__ = [
    "MAX_FILE_BYTES",
    "PACKAGE",
    "DirectoryStrategies",
    "classes_in_file",
    "import_file",
    "is_spec",
    "parse_spec",
]
