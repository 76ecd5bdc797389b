"""Registries that map the ``type`` names used in config files to classes.

``mmengine.registry.Registry`` keeps the table and the ``register_module`` decorator; lookups and
``build`` are ours, so that an unknown ``type`` names the registry, the closest registered names and
every registered name, instead of a bare ``KeyError``. A registry also accepts aliases: another
codebase's name for a registered type, with its arguments translated (:meth:`Registry.add_alias`).
"""
import difflib
import inspect
from typing import Any, Callable, Dict, Optional, Tuple

from mmengine.registry import Registry as _MMEngineRegistry

from .errors import UnknownTypeError
from .logger import log_once

Translate = Callable[[Dict[str, Any]], Dict[str, Any]]


class Registry(_MMEngineRegistry):
    """A name -> class table with clear errors.

    Args:
        name: what the registry holds (``'backbone'``, ``'head'``, ...), used in messages.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name, scope='mmseg')
        self._aliases: Dict[str, Tuple[str, Optional[Translate], str]] = {}

    def add_alias(self, alias: str, *, target: str, translate: Optional[Translate] = None,
                  notice: Optional[str] = None) -> None:
        """Accept ``alias`` in configs as the registered type ``target``.

        Args:
            alias: the other name.
            target: the registered name it stands for.
            translate: maps the alias's keyword arguments (the config without ``type``) to the
                target's; it raises :class:`~mmseg.utils.errors.ConfigError` for what the target
                cannot do. Default: the arguments are the same.
            notice: the line logged the first time the alias is used in a process (default: says
                which type it stands for).
        """
        if alias in self._module_dict or alias in self._aliases:
            raise KeyError(f'{alias!r} is already a {self.name} type or alias')
        self._aliases[alias] = (target, translate,
                                notice or f'{self.name} type {alias!r} is read as {target!r}')

    def resolve(self, cfg: Dict[str, Any]) -> Dict[str, Any]:
        """``cfg`` as its registered type takes it: for an alias, the target's ``type`` and the
        translated arguments (the alias's notice is logged once per process); else ``cfg``."""
        alias = cfg.get('type')
        if not isinstance(alias, str) or alias not in self._aliases:
            return cfg
        target, translate, notice = self._aliases[alias]
        args = {k: v for k, v in cfg.items() if k != 'type'}
        args = translate(args) if translate is not None else args
        log_once(f'{self.name} alias {alias}', notice)
        return dict(args, type=target)

    def __contains__(self, key: str) -> bool:
        return key in self._module_dict

    def get(self, key: str) -> type:
        """Return the class registered as ``key``; an unknown key lists what is registered."""
        if not isinstance(key, str):
            raise TypeError(f'a {self.name} type must be a string, got {type(key).__name__}: '
                            f'{key!r}')
        if key in self._module_dict:
            return self._module_dict[key]
        names = sorted(self._module_dict)
        close = difflib.get_close_matches(key, names, n=3, cutoff=0.5)
        hint = f' Did you mean {" or ".join(repr(c) for c in close)}?' if close else ''
        raise UnknownTypeError(
            f'unknown {self.name} type {key!r}.{hint} Registered {self.name} types: '
            f'{", ".join(names) if names else "(none)"}.')

    def build(self, cfg: Dict[str, Any], default_args: Optional[Dict[str, Any]] = None) -> Any:
        """Build an object from ``cfg`` (see :func:`build_from_cfg`)."""
        return build_from_cfg(cfg, self, default_args)


def build_from_cfg(cfg: Dict[str, Any], registry: Registry,
                   default_args: Optional[Dict[str, Any]] = None) -> Any:
    """Build ``registry.get(cfg['type'])(**rest_of_cfg)``; a class with a ``from_config``
    classmethod gets ``cls(**cls.from_config(**rest_of_cfg))`` (Mask2Former's pattern: the
    config is translated in one place and the constructor takes plain arguments).

    Args:
        cfg: a dict with a ``type`` key (a registered name or a class) and the constructor's
            keyword arguments.
        registry: the registry to look the type up in.
        default_args: keyword arguments used where ``cfg`` does not give them.
    """
    if not isinstance(cfg, dict):
        raise TypeError(f'a {registry.name} config must be a dict, got {type(cfg).__name__}: '
                        f'{cfg!r}')
    if 'type' not in cfg and (default_args is None or 'type' not in default_args):
        raise KeyError(f'a {registry.name} config needs a "type" key; got keys {sorted(cfg)}')
    args = dict(cfg)
    for key, value in (default_args or {}).items():
        args.setdefault(key, value)
    args = registry.resolve(args)
    obj_type = args.pop('type')
    obj_cls = obj_type if inspect.isclass(obj_type) else registry.get(obj_type)
    try:
        if hasattr(obj_cls, 'from_config'):  # the class translates its config into arguments
            args = obj_cls.from_config(**args)
        return obj_cls(**args)
    except TypeError as err:
        # Name the registry entry, so a misspelled keyword in a config is easy to find.
        raise TypeError(f'{obj_cls.__name__} (a {registry.name} type) could not be built from the '
                        f'config keys {sorted(args)}: {err}') from err
