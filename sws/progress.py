"""Progress of long work, as the command line shows it: one bar (tqdm) on stderr when stderr is a terminal,
nothing when it is not (a pipe, a file, CI) or with `--quiet`, so that what a command prints is its result.

The library calls take a `progress(done, total, text)` callback: `done` of `total` items finished, `text`
what is under way. `Progress` is such a callback; it draws nothing for work of a single item.
"""

from __future__ import annotations

import sys

__all__ = ["Progress"]


class Progress:
    """A progress callback drawing one tqdm bar on `stream` (default stderr) while the work runs.

    Parameters
    ----------
    quiet : bool
        Draw nothing (the command's `--quiet`).
    desc : str
        The bar's label (the command).
    stream : file or None
        Where the bar goes; it is drawn only if this is a terminal.
    """

    def __init__(self, quiet: bool = False, desc: str = "", stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.enabled = not quiet and _is_terminal(self.stream)
        self.desc = desc
        self._bar = None

    def __call__(self, done: int, total: int, text: str = "") -> None:
        if not self.enabled or total <= 1:
            return
        if self._bar is None:
            from tqdm import tqdm
            self._bar = tqdm(total=total, desc=self.desc or None, file=self.stream, leave=False,
                             dynamic_ncols=True, unit="item")
        self._bar.total = total
        self._bar.n = min(done, total)
        self._bar.set_postfix_str(str(text), refresh=False)
        self._bar.refresh()
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
