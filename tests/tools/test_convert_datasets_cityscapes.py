"""tools/convert_datasets/cityscapes.py: converts in parallel, keeps what exists, lists failures."""
import os

import numpy as np
from PIL import Image

from tool_runs import run_tool

TOOL = 'convert_datasets/cityscapes'


def test_convert_keep_and_fail(tmp_path, capsys):
    folder = tmp_path / 'gtFine' / 'train' / 'ulm'
    folder.mkdir(parents=True)
    for i in range(3):
        name = f'ulm_00000{i}_000019_gtFine_labelIds.png'
        Image.fromarray(np.full((4, 8), 24, np.uint8)).save(folder / name)
    code, out, err = run_tool(TOOL, [str(tmp_path), '--workers', '2'], capsys)
    assert code == 0, err
    assert f'3 labelIds images under {tmp_path / "gtFine"}: wrote 3, kept 0 that existed' in out
    assert ', 0 failed' in out
    assert 'converting' in err  # the progress bar
    label = np.asarray(Image.open(folder / 'ulm_000001_000019_gtFine_labelTrainIds.png'))
    assert (label == 11).all()  # person
    bad = folder / 'ulm_000003_000019_gtFine_labelIds.png'
    Image.fromarray(np.full((4, 8), 99, np.uint8)).save(bad)
    code, out, _ = run_tool(TOOL, [str(tmp_path), '--workers', '0'], capsys)
    assert code == 1
    assert f'mask {bad} holds values [99]' in out
    assert 'wrote 0, kept 3 that existed, 1 failed' in out
    assert not os.path.exists(str(bad).replace('labelIds', 'labelTrainIds'))
