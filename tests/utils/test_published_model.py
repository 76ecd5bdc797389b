"""The published-model folder: written and read back without pickle, the weights' sha256 checked,
and read wherever a checkpoint is read."""
import hashlib
import json
import os

import pytest
import torch

from mmseg.utils.checkpoint import read_checkpoint, resolve_checkpoint_path
from mmseg.utils.errors import CheckpointError
from mmseg.utils.published_model import (
    FORMAT,
    is_published_model,
    read_published_model,
    write_published_model,
)

CONFIG_TEXT = "model = dict(type='EncoderDecoder_clips')\n"


@pytest.fixture
def folder(tmp_path):
    shared = torch.arange(6.0).view(2, 3)
    state = {'a.weight': shared, 'a.view': shared[:, 1],  # sharing storage, as safetensors refuses
             'b.bias': torch.tensor([1, 2], dtype=torch.int64)}
    written = write_published_model(str(tmp_path / 'pub'), state_dict=state,
                                    config_text=CONFIG_TEXT,
                                    meta=dict(classes=['x', 'y'], metrics=None))
    return tmp_path / 'pub', state, written


def test_round_trip_and_meta(folder):
    path, state, written = folder
    assert sorted(os.listdir(path)) == ['config.py', 'meta.json', 'model.safetensors']
    meta = json.loads((path / 'meta.json').read_text())
    assert meta == written and meta['format'] == FORMAT and meta['classes'] == ['x', 'y']
    weights = (path / 'model.safetensors').read_bytes()
    assert meta['weights_sha256'] == hashlib.sha256(weights).hexdigest()
    assert meta['num_tensors'] == 3
    checkpoint = read_published_model(str(path))
    assert checkpoint['meta']['config'] == CONFIG_TEXT and checkpoint['meta']['published'] == meta
    assert checkpoint['state_dict'].keys() == state.keys()
    for key, value in state.items():
        read = checkpoint['state_dict'][key]
        assert torch.equal(read, value) and read.dtype == value.dtype


def test_the_folder_holds_no_pickle(folder):
    path, _, _ = folder
    for name in os.listdir(path):
        head = (path / name).read_bytes()[:8]
        # neither torch.save's zip nor a pickle stream
        assert head[:2] != b'PK' and head[:1] != b'\x80', name
    raw = (path / 'model.safetensors').read_bytes()
    header = int.from_bytes(raw[:8], 'little')
    assert json.loads(raw[8:8 + header])['a.weight']['dtype'] == 'F32'  # safetensors: a JSON header


def test_a_changed_byte_in_the_weights_is_refused(folder):
    path, _, _ = folder
    weights = path / 'model.safetensors'
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of the last tensor
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as info:
        read_published_model(str(path), 'init_segmentor checkpoint')
    message = str(info.value)
    assert '\n' not in message
    assert message.startswith('init_segmentor checkpoint: ')
    assert 'model.safetensors\' does not match meta.json (sha256' in message


@pytest.mark.parametrize('damage,fragment', [
    (lambda p: (p / 'config.py').unlink(), 'lacks config.py'),
    (lambda p: (p / 'meta.json').write_text('{"format": "other"}'),
     'not a published THE-Mask model'),
    (lambda p: (p / 'meta.json').write_text('{cut'), 'meta.json\' cannot be read (JSONDecodeError'),
])
def test_damaged_folders_are_refused_with_one_line(folder, damage, fragment):
    path, _, _ = folder
    damage(path)
    with pytest.raises(CheckpointError) as info:
        read_published_model(str(path))
    assert fragment in str(info.value) and '\n' not in str(info.value)


def test_checkpoint_readers_take_the_folder(folder, tmp_path):
    path, state, _ = folder
    assert is_published_model(str(path)) and not is_published_model(str(tmp_path))
    assert resolve_checkpoint_path(str(path)) == str(path)  # not its latest.pth
    assert torch.equal(read_checkpoint(str(path))['state_dict']['a.weight'], state['a.weight'])
    with pytest.raises(FileNotFoundError, match='without a latest.pth'):
        resolve_checkpoint_path(str(tmp_path))
