"""One progress bar for every long loop (evaluation, dataset rendering, browsing)."""
from typing import IO, Iterable, Optional

from tqdm import tqdm

__all__ = ['progress_bar']


def progress_bar(iterable: Optional[Iterable] = None,
                 total: Optional[int] = None,
                 desc: Optional[str] = None,
                 enabled: Optional[bool] = None,
                 file: Optional[IO[str]] = None,
                 unit: str = 'it') -> tqdm:
    """A tqdm bar that only shows on a terminal unless told otherwise.

    Log files and CI output stay free of carriage-return noise: with ``enabled=None`` the
    bar is drawn only when ``file`` (stderr by default) is a terminal.

    Args:
        iterable (Iterable, optional): What to iterate; None for a manual bar
            (``bar.update(n)``).
        total (int, optional): Number of steps; defaults to ``len(iterable)``.
        desc (str, optional): Label in front of the bar.
        enabled (bool, optional): True / False force the bar on / off; None shows it on a
            terminal only.
        file (IO[str], optional): Where to draw; defaults to ``sys.stderr``.
        unit (str): Name of one step. Defaults to ``'it'``.

    Returns:
        tqdm: Iterate it, or call ``update`` and ``close``.
    """
    disable = None if enabled is None else not enabled
    return tqdm(iterable, total=total, desc=desc, disable=disable, file=file, unit=unit,
                dynamic_ncols=True)
