import pytest

from mmseg.utils.registry import Registry, UnknownTypeError


def test_build_and_unknown_type_lists_registered_names():
    reg = Registry('widget')

    @reg.register_module()
    class Gadget:
        def __init__(self, size=1):
            self.size = size

    @reg.register_module()
    class Gizmo:
        pass

    assert reg.build(dict(type='Gadget', size=3)).size == 3
    assert reg.build(dict(type='Gadget'), default_args=dict(size=4)).size == 4
    with pytest.raises(UnknownTypeError) as err:
        reg.build(dict(type='Gadgte'))
    msg = str(err.value)
    assert "unknown widget type 'Gadgte'" in msg and "'Gadget'" in msg and 'Gadget, Gizmo' in msg
    with pytest.raises(TypeError, match='Gadget .*could not be built.*colour'):
        reg.build(dict(type='Gadget', colour='red'))
    with pytest.raises(KeyError, match='needs a "type" key'):
        reg.build(dict(size=2))


def test_builders_importable_as_in_mmseg0x():
    from mmseg.core.runner import HOOKS  # noqa: F401
    from mmseg.datasets import DATASETS, PIPELINES  # noqa: F401
    from mmseg.models import (  # noqa: F401
        BACKBONES,
        HEADS,
        LOSSES,
        SEGMENTORS,
        build_backbone,
        build_head,
        build_segmentor,
    )


def test_alias_translates_arguments_and_notices_once(monkeypatch, mmseg_caplog):
    from mmseg.utils import logger as logger_module
    monkeypatch.setattr(logger_module, '_LOGGED_ONCE', set())
    reg = Registry('widget')

    @reg.register_module()
    class Gadget:
        def __init__(self, size=1):
            self.size = size

    reg.add_alias('OldGadget', target='Gadget', translate=lambda args: dict(size=args['width'] * 2))
    reg.add_alias('SameGadget', target='Gadget')
    assert reg.build(dict(type='OldGadget', width=3)).size == 6
    assert reg.build(dict(type='OldGadget', width=1)).size == 2
    assert reg.build(dict(type='SameGadget', size=5)).size == 5
    assert reg.resolve(dict(type='OldGadget', width=4)) == dict(type='Gadget', size=8)
    assert [r.getMessage() for r in mmseg_caplog.records] == [
        "widget type 'OldGadget' is read as 'Gadget'",
        "widget type 'SameGadget' is read as 'Gadget'"]
    with pytest.raises(KeyError, match='already'):
        reg.add_alias('Gadget', target='Gadget')
    with pytest.raises(KeyError, match='already'):
        reg.add_alias('OldGadget', target='Gadget')
