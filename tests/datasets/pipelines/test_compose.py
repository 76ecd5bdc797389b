"""Compose: configs or callables in order; anything else is refused with what was given."""
import pytest

from mmseg.datasets.pipelines import Compose


def test_applies_callables_and_configs_in_order():
    pipeline = Compose([lambda r: dict(r, steps=r['steps'] + ['first']),
                        dict(type='ImageToTensor_clips', keys=[])])
    assert pipeline(dict(steps=[]))['steps'] == ['first']
    assert 'ImageToTensor_clips' in repr(pipeline)


@pytest.mark.parametrize('bad', [dict(type='ImageToTensor_clips'), 'ImageToTensor_clips', 3])
def test_a_pipeline_must_be_a_list(bad):
    with pytest.raises(TypeError, match='a pipeline must be a list of transform configs'):
        Compose(bad)


def test_a_step_must_be_a_config_or_a_callable():
    with pytest.raises(TypeError, match='a pipeline step must be a dict config or a callable, got '
                                        '3'):
        Compose([3])
