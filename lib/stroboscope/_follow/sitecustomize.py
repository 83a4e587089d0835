# Put first on PYTHONPATH by stroboscope for the children of a program it
# follows (`stroboscope --subprocess`, `Profiler(follow_children=True)`): a
# Python child starts profiling itself here (stroboscope.children.boot).
#
# The program must see no difference, so this directory leaves sys.path and
# the sitecustomize that would have run without it runs now. Any Python may
# read this file (a child need not be the parent's interpreter): old syntax,
# and silence when stroboscope cannot be imported.
import os as _os
import sys as _sys


def _chain():
    here = _os.path.dirname(_os.path.abspath(__file__))
    _sys.path[:] = [p for p in _sys.path if _os.path.abspath(p or ".") != here]
    _sys.path_importer_cache.pop(here, None)
    me = _sys.modules.pop("sitecustomize", None)
    try:
        import sitecustomize  # the next one on sys.path; it replaces this module
    except ImportError as e:
        if getattr(e, "name", "sitecustomize") != "sitecustomize":
            raise
    finally:
        # The import system expects a module under this name when we return.
        if me is not None:
            _sys.modules.setdefault("sitecustomize", me)


def _follow():
    if _os.environ.get("STROBOSCOPE_FOLLOW"):
        try:
            from stroboscope import children

            children.boot()
        except Exception:
            pass  # another Python, a broken install: the child runs unprofiled


try:
    _chain()
finally:
    _follow()
