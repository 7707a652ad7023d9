"""The start-up signal handlers of the `sws` program: until `sws.cli.main` installs its own, SIGINT and SIGTERM
end the process at once with one line on stderr and exit 130 or 143 (docs/guide/errors.md), so that a signal
while numpy, Amaranth and the project load is no traceback. Only C modules CPython has already loaded are
imported here (`signal` imports enum, a window of its own)."""

import _signal
import os

_EXIT = {_signal.SIGINT: (130, b"sws: interrupted\n"), _signal.SIGTERM: (143, b"sws: terminated\n")}


def _exit_at_start_up(signum, frame):
    code, line = _EXIT[signum]
    try:
        os.write(2, line)
    finally:
        os._exit(code)


def install() -> None:
    """Install the handlers; an ignored signal (nohup, a background job) stays ignored."""
    for sig in _EXIT:
        if _signal.getsignal(sig) != _signal.SIG_IGN:
            _signal.signal(sig, _exit_at_start_up)
