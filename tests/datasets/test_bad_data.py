"""Bad data gets a DataError that names the offending file (one test per case)."""
import os
import re

import numpy as np
import pytest
from PIL import Image

from mmseg.datasets import DataError, VSPWDataset2, VSPWDataset_multiFrameTest

PIPELINE = [dict(type='LoadImageFromFile_clips'), dict(type='LoadAnnotations_clips'),
            dict(type='DefaultFormatBundle_clips'),
            dict(type='Collect_clips', keys=['img', 'gt_semantic_seg'],
                 meta_keys=['video', 'frame'])]


@pytest.fixture
def one_video(tiny_vspw):
    tiny_vspw.add_video('vid', num_frames=1, size=(8, 10))
    tiny_vspw.write_split('train', ['vid'])
    return tiny_vspw


def load(root):
    return VSPWDataset2(root, 'train', PIPELINE, dilation=[0])[0]


def expect(match, path):
    return pytest.raises(DataError, match=re.escape(path) + '.*' + match)


def test_missing_frame_file(one_video):
    ds = VSPWDataset2(one_video.root, 'train', PIPELINE, dilation=[0])
    os.remove(one_video.frame('vid', '00000000'))
    with expect('does not exist', one_video.frame('vid', '00000000')):
        ds[0]


def test_zero_byte_frame(one_video):
    open(one_video.frame('vid', '00000000'), 'wb').close()
    with expect(r'is empty \(0 bytes\)', one_video.frame('vid', '00000000')):
        load(one_video.root)


def test_corrupt_jpeg(one_video):
    with open(one_video.frame('vid', '00000000'), 'wb') as f:
        f.write(b'this is not a jpeg' * 10)
    with expect('could not be decoded', one_video.frame('vid', '00000000')):
        load(one_video.root)


def test_missing_mask(one_video):
    os.remove(one_video.mask('vid', '00000000'))
    with expect('does not exist', one_video.mask('vid', '00000000')):
        load(one_video.root)


def test_mask_size_differs_from_frame(one_video):
    Image.fromarray(np.ones((8, 9), np.uint8)).save(one_video.mask('vid', '00000000'))
    with expect(r'has size 8x9 .*expected the size of frame .*00000000.jpg, 8x10',
                one_video.mask('vid', '00000000')):
        load(one_video.root)


def test_mask_values_out_of_range(one_video):
    label = np.ones((8, 10), np.uint8)
    label[0, :2] = (125, 200)
    Image.fromarray(label).save(one_video.mask('vid', '00000000'))
    with expect(r'holds values \[125, 200\]; expected only 0..124 and 255',
                one_video.mask('vid', '00000000')):
        load(one_video.root)


def test_colour_mask(one_video):
    Image.fromarray(np.ones((8, 10, 3), np.uint8)).save(one_video.mask('vid', '00000000'))
    with expect('is a colour image; expected a single-channel 8-bit index PNG',
                one_video.mask('vid', '00000000')):
        load(one_video.root)


def test_empty_video_folder(tiny_vspw):
    os.makedirs(os.path.join(tiny_vspw.root, 'data', 'vid', 'origin'))
    tiny_vspw.write_split('train', ['vid'])
    with expect(r'has no \*.jpg frames .*listed in .*train.txt',
                os.path.join(tiny_vspw.root, 'data', 'vid', 'origin')):
        load(tiny_vspw.root)


def test_split_names_a_missing_video(one_video):
    one_video.write_split('train', ['vid', 'ghost'])
    with expect(r'; expected its frames in .*listed in .*train.txt',
                os.path.join(one_video.root, 'data', 'ghost')):
        load(one_video.root)


def test_missing_split_file(one_video):
    with expect('does not exist; expected a text file with one video name per line',
                os.path.join(one_video.root, 'val.txt')):
        VSPWDataset_multiFrameTest(one_video.root, 'val', PIPELINE)


def test_frames_of_one_clip_differ_in_size(tiny_vspw):
    tiny_vspw.add_video('vid', num_frames=2, size=(8, 10))
    Image.fromarray(np.zeros((9, 10, 3), np.uint8)).save(tiny_vspw.frame('vid', '00000001'))
    tiny_vspw.write_split('train', ['vid'])
    ds = VSPWDataset2(tiny_vspw.root, 'train', PIPELINE, dilation=[-1])
    # the clip and its frame order are drawn at random: every draw is reported
    for seed in range(4):
        np.random.seed(seed)
        with pytest.raises(DataError) as error:
            ds[0]
        message = str(error.value)
        sizes = re.search(r'has size (\d+x\d+) \(HxW\); expected the size of the other frames of '
                          r'its clip, (\d+x\d+)', message)
        assert sizes and set(sizes.groups()) == {'8x10', '9x10'}, message
        assert os.path.dirname(tiny_vspw.frame('vid', '00000000')) in message
