"""The package's layers point one way (README, "Layout").

``mmseg.utils`` is the bottom layer and loads nothing above it; ``mmseg.models``, ``mmseg.datasets``
and ``mmseg.core.evaluation`` never load the training runner (``mmseg.core.runner``) or the
library entry points (``mmseg.apis``). The imports run in one fresh interpreter, ``mmseg.utils``
first, so what another test imported does not hide an upward import (``sys.modules`` only grows, so
a module that loaded the runner would show in every later record).
"""
import ast
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORDER = ['mmseg.utils', 'mmseg.core.evaluation', 'mmseg.datasets', 'mmseg.models']


@pytest.fixture(scope='module')
def loaded_after_import():
    """{module: the ``mmseg`` modules in ``sys.modules`` after importing it}, in ``ORDER``."""
    code = ('import importlib, json, sys\n'
            'loaded = {}\n'
            f'for module in {ORDER!r}:\n'
            '    importlib.import_module(module)\n'
            '    loaded[module] = sorted(m for m in sys.modules if m == "mmseg" or '
            'm.startswith("mmseg."))\nprint(json.dumps(loaded))\n')
    res = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, env=dict(os.environ, PYTHONPATH=ROOT))
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def under(modules, *packages):
    return [m for m in modules if any(m == p or m.startswith(p + '.') for p in packages)]


@pytest.mark.parametrize('module', ['mmseg.models', 'mmseg.datasets', 'mmseg.core.evaluation'])
def test_models_datasets_and_evaluation_do_not_load_the_runner_or_apis(module, loaded_after_import):
    loaded = loaded_after_import[module]
    assert module in loaded
    assert under(loaded, 'mmseg.core.runner', 'mmseg.apis') == []


def test_utils_loads_nothing_above_it(loaded_after_import):
    loaded = loaded_after_import['mmseg.utils']
    assert 'mmseg.utils' in loaded
    assert under(loaded, 'mmseg.models', 'mmseg.datasets', 'mmseg.core', 'mmseg.apis') == []


def imported_modules(path: str, package: str):
    """Absolute names of every module ``path`` (a module of ``package``) imports, at any depth."""
    tree = ast.parse(open(path).read(), filename=path)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - node.level + 1]
                target = '.'.join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ''
            names.append(target)
            # `from mmseg import apis`
            names.extend(f'{target}.{alias.name}' for alias in node.names)
    return names


def python_files(folder: str):
    for dirpath, _, filenames in os.walk(os.path.join(ROOT, folder)):
        for name in sorted(filenames):
            if name.endswith('.py'):
                yield os.path.join(dirpath, name)


def test_imported_modules_resolves_relative_imports():
    path = os.path.join(ROOT, 'mmseg', 'models', 'backbones', 'mix_transformer.py')
    # from ..builder / ..utils / .mit_weights
    names = imported_modules(path, 'mmseg.models.backbones')
    assert {'mmseg.models.builder', 'mmseg.models.utils.fast_mode',
            'mmseg.models.backbones.mit_weights', 'torch.nn'} <= set(names)


@pytest.mark.parametrize('folder', ['mmseg/models', 'mmseg/datasets'])
def test_no_module_of_models_or_datasets_imports_the_runner_or_apis(folder):
    offenders = []
    for path in python_files(folder):
        parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
        package = '.'.join(parts[:-1])  # a module's package; an __init__'s own package
        for name in imported_modules(path, package):
            if under([name], 'mmseg.core.runner', 'mmseg.apis'):
                offenders.append(f'{os.path.relpath(path, ROOT)} imports {name}')
    assert offenders == []
