# `python -m sws`. The start-up signal handlers go in first (sws._startup imports only what CPython has
# loaded), so that a signal while `sws.cli` and its imports load is one line and 130/143 (sws.cli installs
# them at its first line too, for the `sws` script).
import sys

from ._startup import install

install()

from .cli import main  # noqa: E402

sys.exit(main())
