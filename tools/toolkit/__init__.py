"""Helpers only the command-line tools use (timing and memory measurement, charts, figures, the
dist scripts' stderr filter). The library (``mmseg``) never imports them; the tools find this
package beside them (``python tools/x.py`` puts ``tools/`` on the path; the tests add it too)."""
