"""tools/browse_dataset.py draws clips after the pipeline, with a legend; bad input is one line."""
import os

import numpy as np
import pytest
from PIL import Image

from mmseg.datasets.toy_dataset import TOY_PALETTE, make_toy_dataset
from mmseg.utils.errors import UsageError
from tool_runs import ROOT, run_tool, tool_main
from toolkit.figures import VOID_COLOUR

CONFIG = 'local_configs/custom/themask_b0_3class_example.py'


def main():
    return tool_main('browse_dataset')


def test_montages_show_frames_masks_and_legend(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    data = str(tmp_path / 'toy')
    make_toy_dataset(data, videos=3, frames=(4, 5), size=(64, 96))
    out = tmp_path / 'train'
    assert main()([CONFIG, '--out', str(out), '--num', '2', '--options', f'data_root={data}']) == 0
    assert sorted(os.listdir(out)) == ['train_0000.png', 'train_0001.png']
    image = np.asarray(Image.open(out / 'train_0000.png').convert('RGB'))
    # 2 frames of a 64x64 crop, side by side
    assert image.shape[0] >= 2 * 64 and image.shape[1] > 2 * 64
    colours = {tuple(int(v) for v in c) for c in np.unique(image.reshape(-1, 3), axis=0)}
    assert tuple(TOY_PALETTE[0]) in colours and VOID_COLOUR in colours  # background mask, legend
    out = tmp_path / 'val'
    assert main()([CONFIG, '--split', 'val', '--out', str(out), '--num', '1',
                   '--options', f'data_root={data}']) == 0
    assert os.listdir(out) == ['val_0000.png']


def test_bad_input_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    with pytest.raises(UsageError, match='--num'):
        main()([CONFIG, '--num', '0'])
    code, _, err = run_tool('browse_dataset',
                            [CONFIG, '--options', f'data_root={tmp_path}/missing'], capsys)
    assert code == 1  # a traceback would have raised here
    errors = [line for line in err.splitlines() if line.startswith('error:')]
    assert len(errors) == 1 and errors[0].startswith('error: split file'), err
