"""Top-level config variables, and the keys the config files compute from them.

A config file may set a variable at its top level and use it in the values below it::

    num_classes = 124
    dec_layers = 10
    model = dict(decode_head=dict(num_classes=num_classes,
                                  transformer_decoder_cfg=dict(dec_layers=dec_layers - 1)))

The file runs once, when it is loaded, so overriding ``dec_layers`` afterwards would change only
the variable. This module reads, from the syntax of every file of the ``_base_`` chain, which keys
are computed from which variables and how, so that an override of a variable recomputes them
(:func:`derived_overrides`). It evaluates only arithmetic on variables and constants; a key whose
value a later file sets directly is left to that file, and an override that would then change
nothing is refused with the keys to set instead.
"""
import ast
import operator
import os
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Set, Tuple

from .errors import ConfigError

__all__ = ['VariableUse', 'variable_uses', 'derived_overrides', 'MISSING', 'lookup']

#: what :func:`lookup` returns for a path the config does not have
MISSING = object()

_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
              ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.USub: operator.neg}


class VariableUse(NamedTuple):
    """The key at dotted ``path`` is ``expression`` (source text) of the top-level ``names``."""
    path: str
    expression: ast.expr
    names: Tuple[str, ...]


def _evaluate(node: ast.expr, namespace: Mapping[str, Any]) -> Any:
    """Arithmetic on names and constants (tuples and lists of them too); anything else raises."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return namespace[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.left, namespace),
                                         _evaluate(node.right, namespace))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.operand, namespace))
    if isinstance(node, (ast.Tuple, ast.List)):
        values = [_evaluate(e, namespace) for e in node.elts]
        return tuple(values) if isinstance(node, ast.Tuple) else values
    raise ValueError(f'not an arithmetic expression: {ast.unparse(node)}')


def _names(node: ast.expr) -> Tuple[str, ...]:
    return tuple(sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name)}))


def _is_dict_call(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == 'dict'


def _walk_value(node: ast.expr, path: str, uses: List[VariableUse], aliases: List[Tuple[str, str]],
                structures: Set[str]) -> None:
    """Record the uses of variables in the value ``node`` stored at ``path``."""
    if _is_dict_call(node):
        for keyword in node.keywords:
            if keyword.arg is not None:  # **other: its keys are not known here
                _walk_value(keyword.value, f'{path}.{keyword.arg}', uses, aliases, structures)
    elif isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values):
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                _walk_value(value, f'{path}.{key.value}', uses, aliases, structures)
    elif isinstance(node, (ast.List, ast.Tuple)) and any(
            _is_dict_call(e) or isinstance(e, (ast.Dict, ast.List, ast.Tuple)) for e in node.elts):
        for index, element in enumerate(node.elts):
            _walk_value(element, f'{path}.{index}', uses, aliases, structures)
    elif isinstance(node, ast.Name) and node.id in structures:
        # a copy of a dict or list variable (pipeline=train_pipeline)
        aliases.append((path, node.id))
    elif _names(node):
        uses.append(VariableUse(path, node, _names(node)))


def _base_files(tree: ast.Module, path: str) -> List[str]:
    for statement in tree.body:
        if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)
                and statement.targets[0].id == '_base_'):
            value = statement.value
            names = [value] if isinstance(value, ast.Constant) else getattr(value, 'elts', [])
            return [os.path.normpath(os.path.join(os.path.dirname(path), n.value)) for n in names
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return []


def _file_uses(path: str, seen: Set[str]) -> Tuple[List[VariableUse], List[Tuple[str, str]]]:
    """Uses and aliases of ``path`` and its bases (bases first), each file read once."""
    path = os.path.abspath(path)
    if path in seen or not path.endswith('.py') or not os.path.isfile(path):
        return [], []
    seen.add(path)
    with open(path, encoding='utf-8') as handle:
        tree = ast.parse(handle.read(), filename=path)
    uses: List[VariableUse] = []
    aliases: List[Tuple[str, str]] = []
    for base in _base_files(tree, path):
        base_uses, base_aliases = _file_uses(base, seen)
        uses += base_uses
        aliases += base_aliases
    assignments = [s for s in tree.body if isinstance(s, ast.Assign) and len(s.targets) == 1
                   and isinstance(s.targets[0], ast.Name)]
    structures = {s.targets[0].id for s in assignments
                  if _is_dict_call(s.value) or isinstance(s.value, (ast.Dict, ast.List))}
    for statement in assignments:
        name = statement.targets[0].id
        if name != '_base_':
            _walk_value(statement.value, name, uses, aliases, structures)
    return uses, aliases


def variable_uses(config_file: Optional[str]) -> List[VariableUse]:
    """Every key the config file and its bases compute from top-level variables (paths after the
    files are merged; a dict or list variable copied into another key counts at both places)."""
    if not config_file:
        return []
    uses, aliases = _file_uses(config_file, set())
    expanded = list(uses)
    for target, source in aliases:
        expanded += [use._replace(path=target + use.path[len(source):]) for use in uses
                     if use.path.startswith(source + '.')]
    return expanded


def lookup(cfg: Any, path: str) -> Any:
    """The value at dotted ``path`` of a Config or dict (integers index lists), or
    :data:`MISSING`."""
    node = cfg
    for part in path.split('.'):
        try:
            node = node[int(part)] if isinstance(node, (list, tuple)) else node[part]
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            return MISSING
    return node


def derived_overrides(cfg: Any, overrides: Mapping[str, Any], uses: Sequence[VariableUse]
                      ) -> Tuple[Dict[str, Any], Dict[str, List[str]]]:
    """The keys to set, besides ``overrides``, because overridden variables compute them.

    A key is recomputed where it still holds the value its expression gives with the variables'
    old values (a later file may have set it directly), and unless ``overrides`` sets it too.

    Returns:
        ``({path: new value}, {variable: [paths it set]})``.

    Raises:
        ConfigError: an overridden variable is used by the files but every key computed from it
            was set directly afterwards, so the override would change nothing.
    """
    variables = {name for name in overrides if '.' not in name and name in cfg}
    touched = [use for use in uses if set(use.names) & variables]
    if not touched:
        return {}, {}
    old: Dict[str, Any] = {}
    for use in touched:
        old.update({n: cfg[n] for n in use.names if n in cfg})
    new = dict(old, **{n: overrides[n] for n in variables})
    derived: Dict[str, Any] = {}
    report: Dict[str, List[str]] = {name: [] for name in variables}
    stale: Dict[str, List[str]] = {name: [] for name in variables}
    for use in touched:
        if use.path in overrides or f'+{use.path}' in overrides:
            continue
        try:
            before, after = _evaluate(use.expression, old), _evaluate(use.expression, new)
        except (KeyError, ValueError, TypeError, ZeroDivisionError):
            continue  # not arithmetic on known variables: left as it is
        current = lookup(cfg, use.path)
        for name in set(use.names) & variables:
            (report if current == before else stale)[name].append(use.path)
        if current == before and current is not MISSING:
            derived[use.path] = after
    for name in variables:
        if stale[name] and not report[name]:
            keys = ', '.join(f'{p}={lookup(cfg, p)!r}' for p in stale[name])
            raise ConfigError(f'config override {name}={overrides[name]!r} would change nothing: '
                              f'the config sets the keys computed from {name} directly ({keys}); '
                              f'override those keys instead')
    return derived, {name: paths for name, paths in report.items() if paths}
