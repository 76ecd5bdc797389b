from .config import Config, ConfigDict, ConfigError, DictAction, apply_overrides, load_config
from .logger import get_root_logger, print_log
from .registry import Registry, UnknownTypeError, build_from_cfg

__all__ = ['Config', 'ConfigDict', 'ConfigError', 'DictAction', 'apply_overrides', 'load_config',
           'get_root_logger', 'print_log', 'Registry', 'UnknownTypeError', 'build_from_cfg']
