# `python -m sws`. The start-up signal handlers go in first, through the C module CPython has loaded (no
# import), so that a signal while `sws.cli` and its imports load is one line and 130/143 (sws.cli installs
# its own at its first line, the same behaviour, for the `sws` script).
import _signal
import os
import sys

_EXIT = {_signal.SIGINT: (130, b"sws: interrupted\n"), _signal.SIGTERM: (143, b"sws: terminated\n")}


def _exit_at_start_up(signum, frame):
    code, line = _EXIT[signum]
    try:
        os.write(2, line)
    finally:
        os._exit(code)


for _sig in _EXIT:
    if _signal.getsignal(_sig) != _signal.SIG_IGN:   # an ignored signal (nohup, a background job) stays so
        _signal.signal(_sig, _exit_at_start_up)

from .cli import main  # noqa: E402

sys.exit(main())
