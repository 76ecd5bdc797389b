"""A trained model packaged as one folder (``tools/publish_model.py``), read and written without
pickle.

    OUT_DIR/config.py         the training config (its clip settings included), as text
    OUT_DIR/model.safetensors the model's weights only (no optimizer state), safetensors format
    OUT_DIR/meta.json         classes, palette, frames per clip, training dilation, test clip
                              length, the run's metrics, the weights' sha256, the package version

:func:`read_published_model` checks the weights against the sha256 in ``meta.json`` before
reading them (a changed byte is refused with one line) and returns what a training checkpoint
holds (``{'state_dict': ..., 'meta': {'config': text, 'published': meta}}``), so every reader of
checkpoints (``mmseg.utils.checkpoint.read_checkpoint``, hence ``init_segmentor`` and the tools)
takes the folder where it takes a checkpoint file. Files are written through temporary names and
renamed, ``meta.json`` last: a folder with a ``meta.json`` is complete.
"""
import hashlib
import json
import os
from typing import Any, Callable, Dict, Mapping

import torch

from .errors import CheckpointError

__all__ = ['CONFIG_FILE', 'WEIGHTS_FILE', 'META_FILE', 'FORMAT', 'is_published_model',
           'read_published_model', 'write_published_model', 'sha256_of']

CONFIG_FILE, WEIGHTS_FILE, META_FILE = 'config.py', 'model.safetensors', 'meta.json'
FORMAT = 'themask-published-model/1'


def is_published_model(path: Any) -> bool:
    """A folder with a ``meta.json`` (what :func:`write_published_model` writes last)."""
    return isinstance(path, (str, os.PathLike)) and os.path.isfile(os.path.join(path, META_FILE))


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _replace(path: str, write: Callable[[str], None]) -> None:
    """``write(tmp)`` a temporary file beside ``path``, sync it, rename it over ``path``."""
    tmp = os.path.join(os.path.dirname(path), f'.{os.path.basename(path)}.tmp')
    write(tmp)
    with open(tmp, 'rb') as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _text_writer(text: str) -> Callable[[str], None]:
    def write(tmp: str) -> None:
        with open(tmp, 'w', encoding='utf-8') as handle:
            handle.write(text)
    return write


def write_published_model(out_dir: str, *, state_dict: Mapping[str, torch.Tensor],
                          config_text: str, meta: Mapping[str, Any]) -> Dict[str, Any]:
    """Write the three files in ``out_dir`` (created if needed); return the ``meta.json`` written
    (``meta`` plus the format, the file names and the weights' sha256)."""
    from safetensors.torch import save_file
    os.makedirs(out_dir, exist_ok=True)
    # own contiguous copies: safetensors refuses tensors that share storage
    tensors = {key: value.detach().cpu().contiguous().clone() for key, value in state_dict.items()}
    weights = os.path.join(out_dir, WEIGHTS_FILE)
    _replace(weights, lambda tmp: save_file(tensors, tmp, metadata={'format': 'pt'}))
    _replace(os.path.join(out_dir, CONFIG_FILE), _text_writer(config_text))
    full = dict(format=FORMAT, **meta, config=CONFIG_FILE, weights=WEIGHTS_FILE,
                weights_sha256=sha256_of(weights), num_tensors=len(tensors))
    _replace(os.path.join(out_dir, META_FILE), _text_writer(json.dumps(full, indent=2) + '\n'))
    return full


def read_published_model(path: str, source: str = 'checkpoint') -> Dict[str, Any]:
    """The folder's weights, config and meta as a checkpoint dict; the weights' sha256 checked.

    Raises:
        CheckpointError: a file is missing or unreadable, or ``model.safetensors`` does not match
            the sha256 in ``meta.json``.
    """
    try:
        with open(os.path.join(path, META_FILE), encoding='utf-8') as handle:
            meta = json.load(handle)
    except (OSError, ValueError) as err:
        raise CheckpointError(f'{source}: {os.path.join(path, META_FILE)!r} cannot be read '
                              f'({type(err).__name__}: {err})') from None
    if not isinstance(meta, dict) or meta.get('format') != FORMAT:
        raise CheckpointError(f'{source}: {path!r} holds a {META_FILE} that is not a published '
                              f'THE-Mask model (format {FORMAT!r} expected)')
    missing = [name for name in (CONFIG_FILE, WEIGHTS_FILE)
               if not os.path.isfile(os.path.join(path, name))]
    if missing:
        raise CheckpointError(f'{source}: the published model {path!r} lacks {", ".join(missing)}')
    weights = os.path.join(path, WEIGHTS_FILE)
    actual, expected = sha256_of(weights), meta.get('weights_sha256')
    if actual != expected:
        raise CheckpointError(f'{source}: {weights!r} does not match {META_FILE} (sha256 '
                              f'{actual[:16]}..., expected {str(expected)[:16]}...): changed or '
                              f'damaged after publishing; refusing it')
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    try:
        state_dict = load_file(weights, device='cpu')
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f'{source}: {weights!r} cannot be read as safetensors '
                              f'({type(err).__name__}: {err})') from None
    with open(os.path.join(path, CONFIG_FILE), encoding='utf-8') as handle:
        config_text = handle.read()
    return {'state_dict': state_dict, 'meta': {'config': config_text, 'published': meta}}
