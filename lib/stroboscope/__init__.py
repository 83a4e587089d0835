"""stroboscope: a statistical profiler for Python with a C engine."""

import atexit as _atexit

from . import _core
from .profiler import Profiler, ProfilerError, profile
from .session import Session, SessionLoadError, ViewOptions

__all__ = ["Profiler", "ProfilerError", "Session", "SessionLoadError", "ViewOptions", "profile", "__version__"]
__version__ = "0.1.0"

# A profiler never stopped must not keep re-arming while the interpreter
# tears down thread states.
_atexit.register(_core.stop_all)
