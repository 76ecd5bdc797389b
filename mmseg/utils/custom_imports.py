"""``custom_imports``: import the modules a config names, so that their registrations happen.

    custom_imports = dict(imports=['my_project.hooks'], allow_failed_imports=False)

As in mmcv 1.x, this lets a project add hooks, datasets or models without editing this package.
"""
import importlib
from typing import Any, Mapping, Optional

from .config import ConfigError
from .logger import get_root_logger


def import_modules_from_config(custom_imports: Optional[Mapping[str, Any]]) -> None:
    """Import ``custom_imports['imports']``; a failure is an error unless
    ``allow_failed_imports``."""
    if not custom_imports:
        return
    imports = custom_imports.get('imports', [])
    if isinstance(imports, str):
        imports = [imports]
    allow_failed = custom_imports.get('allow_failed_imports', False)
    for name in imports:
        try:
            importlib.import_module(name)
        except ImportError as err:
            if not allow_failed:
                raise ConfigError(f'custom_imports: cannot import {name!r} ({err})') from err
            get_root_logger().warning(f'custom_imports: skipping {name!r}, which cannot be '
                                      f'imported ({err})')
