"""custom_imports: configs import their own modules; a failure is an error unless allowed."""
import sys

import pytest

from mmseg.utils.custom_imports import import_modules_from_config
from mmseg.utils.errors import ConfigError


def test_imports_a_module_named_as_a_string_or_in_a_list(tmp_path, monkeypatch):
    (tmp_path / 'my_project_hooks.py').write_text('LOADED = True\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, 'my_project_hooks', raising=False)
    import_modules_from_config(dict(imports='my_project_hooks'))
    assert sys.modules['my_project_hooks'].LOADED
    import_modules_from_config(None)  # nothing to do
    import_modules_from_config(dict(imports=['my_project_hooks']))


def test_a_missing_module_is_an_error_unless_allowed(mmseg_caplog):
    with pytest.raises(ConfigError, match="custom_imports: cannot import 'no_such_module_xyz'"):
        import_modules_from_config(dict(imports=['no_such_module_xyz']))
    import_modules_from_config(dict(imports=['no_such_module_xyz'], allow_failed_imports=True))
    assert "skipping 'no_such_module_xyz'" in mmseg_caplog.text
