"""Loading Python config files and applying command-line overrides strictly.

Config files are mmseg-0.x Python files with ``_base_`` inheritance, read by ``mmengine.Config``.
Overrides (``--options key.path=value``, parsed by ``mmengine.DictAction``) must name a key that
exists: a typo such as ``runner.max_iter=5`` is refused with the closest existing keys, and a value
of the wrong type (``data.test.test_size=two``) is refused too. A leading ``+`` adds a new key on
purpose (``+model.foo=1``).

Overriding a top-level variable that the config files use to compute other keys (``data_root``,
``num_classes``, ``dec_layers``, ``MASK_DIM``, ...; see :mod:`mmseg.utils.config_variables`)
recomputes those keys where they still hold the value computed from the old one, and says so on
stderr; keys overridden explicitly in the same command win.
"""
import argparse
import difflib
import os
import sys
from typing import Any, Iterator, List, Mapping, Optional, Tuple

from mmengine.config import Config, ConfigDict
from mmengine.config import DictAction as _MMEngineDictAction

from .config_variables import derived_overrides, variable_uses
from .errors import ConfigError
from .logger import get_root_logger

__all__ = ['Config', 'ConfigDict', 'ConfigError', 'DictAction', 'apply_overrides', 'load_config',
           'flatten_keys', 'CONFIG_SUFFIXES']

CONFIG_SUFFIXES = ('.py', '.yml', '.yaml', '.json')
MAPPINGS = (Mapping, Config)  # a Config is no Mapping, but its top level is walked as one
CHECKPOINT_SUFFIXES = ('.pth', '.pt', '.ckpt', '.bin', '.safetensors')

class DictAction(_MMEngineDictAction):
    """mmengine's ``KEY=VALUE`` action; a malformed item is an argparse error naming the flag."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        for item in values or []:
            if '=' not in item or item.startswith('='):
                raise argparse.ArgumentError(self, f'expected KEY=VALUE items (e.g. '
                                                   f'runner.max_iters=1000), got {item!r}')
        try:
            super().__call__(parser, namespace, values, option_string)
        except (AssertionError, ValueError) as err:
            raise argparse.ArgumentError(self, f'cannot parse {" ".join(values)!r}: {err} '
                                               f'(expected KEY=VALUE, lists as "[1,2]")') from None


def _read_config_file(path: str) -> Config:
    """``Config.fromfile(path)``, every failure a :class:`ConfigError` naming the file."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in CONFIG_SUFFIXES:
        kind = ('a checkpoint' if ext in CHECKPOINT_SUFFIXES or _starts_like_torch_file(path)
                else f'a {ext or "suffix-less"} file')
        raise ConfigError(f'config {path!r} is {kind}, not a config file (expected .py, .yml, '
                          f'.yaml or .json); the tools take the config first, e.g. '
                          f'tools/test.py CONFIG CHECKPOINT')
    try:
        cfg = Config.fromfile(path)
    except SyntaxError as err:
        where = err.filename if err.filename and err.filename != '<unknown>' else path
        raise ConfigError(f'config {where!r}, line {err.lineno}: syntax error: {err.msg}') from None
    except FileNotFoundError as err:  # a _base_ file
        raise ConfigError(f'config {path!r} names a file that does not exist: {err.filename!r} '
                          f'(in _base_ or an import)') from None
    except Exception as err:  # mmengine's verdicts on a .py that is not a config
        raise ConfigError(f'config {path!r} is not a config file: reading it failed with '
                          f'{type(err).__name__}: {err or "(no message)"}; a config holds '
                          f'assignments such as model = dict(...) and _base_ = [...]') from None
    if ext == '.py' and not any(key in cfg for key in ('model', 'data', '_base_')):
        raise ConfigError(f'config {path!r} is not a config file: it defines neither model nor '
                          f'data')
    return cfg


def _starts_like_torch_file(path: str) -> bool:
    """A zip archive (torch.save's format) or a pickle stream."""
    with open(path, 'rb') as handle:
        head = handle.read(4)
    return head.startswith(b'PK\x03\x04') or (len(head) >= 2 and head[0] == 0x80
                                              and 2 <= head[1] <= 5)


def load_config(path: str, overrides: Optional[Mapping[str, Any]] = None) -> Config:
    """Read the config file ``path`` and apply ``overrides`` (see :func:`apply_overrides`).

    A missing file, a checkpoint or another kind of file, a syntax error (file and line) and a .py
    that is not a config are each a one-line :class:`ConfigError` (``FileNotFoundError`` for a
    missing file).
    """
    if os.path.isdir(path):
        raise ConfigError(f'config {path!r} is a directory; expected a config file (.py)')
    if not os.path.isfile(path):
        raise FileNotFoundError(f'config file {path!r} does not exist')
    cfg = _read_config_file(path)
    if overrides:
        apply_overrides(cfg, overrides)
    return cfg


def flatten_keys(node: Any, prefix: str = '') -> Iterator[str]:
    """Yield every dotted key path of a nested dict (lists are not entered)."""
    if isinstance(node, MAPPINGS):
        for key, value in node.items():
            path = f'{prefix}{key}'
            yield path
            yield from flatten_keys(value, path + '.')


def _describe(value: Any) -> str:
    return type(value).__name__


def _check_type(key: str, old: Any, new: Any) -> Any:
    """Return ``new`` if it can stand where ``old`` stood, else raise :class:`ConfigError`.

    An integral float for an int key (``runner.max_iters=1e3``) becomes an int, with a log line.
    """
    if old is None or new is None:
        return new
    if (isinstance(old, int) and not isinstance(old, bool) and isinstance(new, float)
            and new.is_integer()):
        get_root_logger().info(f'config override {key}={new!r}: {key} is an integer, using '
                               f'{int(new)}')
        return int(new)
    if isinstance(old, bool):
        ok = isinstance(new, bool)
    elif isinstance(old, (int, float)):
        ok = isinstance(new, (int, float)) and not isinstance(new, bool)
        if ok and isinstance(old, int) and isinstance(new, float) and not new.is_integer():
            ok = False
    elif isinstance(old, str):
        ok = isinstance(new, str)
    elif isinstance(old, (list, tuple)):
        ok = isinstance(new, (list, tuple))
    elif isinstance(old, Mapping):
        ok = isinstance(new, Mapping)
    else:
        ok = True
    if not ok:
        hint = ' (an integral value)' if isinstance(old, int) and isinstance(new, float) else ''
        raise ConfigError(
            f'config override {key}={new!r} has the wrong type: expected {_describe(old)}{hint} '
            f'(the config has {key}={old!r}), got {_describe(new)}')
    return new


def _missing_key_error(path: List[str], depth: int, node: Any, root: Mapping) -> ConfigError:
    key = '.'.join(path)
    parent = '.'.join(path[:depth]) or '<top level>'
    missing = path[depth]
    if isinstance(node, MAPPINGS):
        siblings = [str(k) for k in node.keys()]
        close = difflib.get_close_matches(missing, siblings, n=3, cutoff=0.6)
        close_paths = ['.'.join(path[:depth] + [c]) for c in close]
    else:
        siblings, close_paths = [], []
    if not close_paths:  # look over every key of the config for a near match of the whole path
        close_paths = difflib.get_close_matches(key, list(flatten_keys(root)), n=3, cutoff=0.75)
    hint = f' Did you mean {" or ".join(close_paths)}?' if close_paths else ''
    where = (f' Keys of {parent}: {", ".join(siblings)}.' if siblings else
             f' {parent} is a {_describe(node)}, not a dict.')
    return ConfigError(f'config override {key!r} names a key that does not exist: {missing!r} is '
                       f'not in {parent}.{hint}{where} To add a new key on purpose, write '
                       f'+{key}=...')


def _walk(root: Mapping, path: List[str], add: bool) -> Tuple[Any, Any]:
    """Return (container, final key) for ``path``; create dicts on the way when ``add``."""
    node: Any = root
    for depth, part in enumerate(path[:-1]):
        if isinstance(node, list) and part.lstrip('-').isdigit():
            index = int(part)
            if not -len(node) <= index < len(node):
                raise ConfigError(f'config override {".".join(path)!r}: index {index} is out of '
                                  f'range for {".".join(path[:depth]) or "<top level>"} (a list of '
                                  f'{len(node)})')
            node = node[index]
            continue
        if not isinstance(node, MAPPINGS) or part not in node:
            if add and isinstance(node, MAPPINGS):
                node[part] = ConfigDict()
            else:
                raise _missing_key_error(path, depth, node, root)
        node = node[part]
    last = path[-1]
    if isinstance(node, list) and last.lstrip('-').isdigit():
        if not -len(node) <= int(last) < len(node):
            raise ConfigError(f'config override {".".join(path)!r}: index {last} is out of range')
        return node, int(last)
    if not isinstance(node, MAPPINGS) or (last not in node and not add):
        raise _missing_key_error(path, len(path) - 1, node, root)
    return node, last


def apply_overrides(cfg: Config, overrides: Mapping[str, Any]) -> Config:
    """Apply ``{'a.b.c': value}`` overrides to ``cfg`` in place and return it.

    Every key path must exist (list elements are addressed by index, ``a.0.b``) unless it starts
    with ``+``; the new value must have the type of the value it replaces (int and float mix,
    ``None`` goes anywhere). An overridden top-level variable also recomputes the keys the config
    files compute from it (see :func:`~mmseg.utils.config_variables.derived_overrides`).
    """
    uses = variable_uses(cfg.filename) if any('.' not in key for key in overrides) else []
    derived, report = derived_overrides(cfg, overrides, uses)
    for name, paths in report.items():
        print(f'config override {name}={overrides[name]!r} also sets '
              + ', '.join(f'{p}={derived[p]!r}' for p in paths), file=sys.stderr)
    for raw_key, value in {**overrides, **derived}.items():
        add = raw_key.startswith('+')
        key = raw_key[1:] if add else raw_key
        path = key.split('.')
        if not key or any(not part for part in path):
            raise ConfigError(f'config override {raw_key!r} is not a dotted key path')
        container, last = _walk(cfg, path, add)
        exists = (isinstance(container, list) or last in container)
        if exists:
            value = _check_type(key, container[last], value)
        if isinstance(value, dict):
            value = ConfigDict(value)
        container[last] = value
    return cfg
