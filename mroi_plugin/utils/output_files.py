"""Output files of the tools: checked before the work, written whole or not at all.

A tool that evaluates for an hour and then cannot write its ``--out`` file has lost the hour;
a tool that dies half-way through ``torch.save`` leaves a truncated file under the final name.
:func:`check_output_file` fails in a second, before anything is built, and
:func:`atomic_output` writes to a temporary file in the destination's folder and renames it
over the destination only once it is complete (``os.replace`` is atomic within a file system).
"""
import contextlib
import os
import os.path as osp
import tempfile
from typing import Iterator, Optional, Union

__all__ = ['OutputPathError', 'check_output_file', 'check_not_same_file', 'atomic_output']

PathLike = Union[str, os.PathLike]


class OutputPathError(ValueError):
    """An output path that cannot be written, or that would overwrite an input."""


def _current_umask() -> int:
    # os.umask can only be read by setting it; restore it at once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_output_file(path: PathLike, what: str = 'output file') -> str:
    """Check that ``path`` can be written, creating its folder; nothing else is written.

    The folder is probed by creating and removing a temporary file in it, because permission
    bits do not tell (root ignores them; read-only mounts and full quotas do not show in
    them). An existing file is opened for appending, which leaves it unchanged.

    Args:
        path (str | PathLike): The file to be written.
        what (str): How the error names it, e.g. ``'--out'``.

    Returns:
        str: ``path`` as an absolute path.

    Raises:
        OutputPathError: ``path`` is a folder, its folder cannot be created, or the file
            cannot be written; the message names the path and the reason.
    """
    path = osp.abspath(os.fspath(path))
    folder = osp.dirname(path)
    if osp.isdir(path):
        raise OutputPathError(f'{what} {path} is a folder; give a file name inside it.')
    where = folder
    try:
        os.makedirs(folder, exist_ok=True)
        if osp.exists(path):
            where = path
            with open(path, 'ab'):
                pass
        else:
            with tempfile.NamedTemporaryFile(dir=folder, prefix='.write_probe_'):
                pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        if isinstance(error, FileExistsError):
            reason = 'a file is in the way of its folder'
        # makedirs names the folder level that failed; the probe's own name would confuse.
        if error.filename and '.write_probe_' not in str(error.filename):
            where = error.filename
        raise OutputPathError(
            f'{what} {path} cannot be written ({reason}: {where}). Choose a path in a writable '
            'folder; nothing has been computed yet.') from error
    return path


def check_not_same_file(source: PathLike, destination: PathLike,
                        what: str = 'destination') -> None:
    """Refuse a destination that is the source: the same path, a symlink or a hard link.

    Args:
        source (str | PathLike): The input file (must exist).
        destination (str | PathLike): The output file (may not exist yet).
        what (str): How the error names the destination.

    Raises:
        OutputPathError: Both name the same file.
    """
    source, destination = os.fspath(source), os.fspath(destination)
    same = osp.realpath(source) == osp.realpath(destination)
    if not same and osp.exists(source) and osp.exists(destination):
        # Hard links have different paths but one inode.
        same = osp.samefile(source, destination)
    if same:
        raise OutputPathError(
            f'The {what} {destination} is the source file {source} (same file, via the same '
            'path, a symlink or a hard link); writing it would destroy the source. Give '
            'another output path.')


@contextlib.contextmanager
def atomic_output(path: PathLike, mode: Optional[int] = None) -> Iterator[str]:
    """Yield a temporary path next to ``path``; move it onto ``path`` if the block succeeds.

    If the block raises, the temporary file is removed and ``path`` is left as it was (absent
    or the previous file): no reader ever sees a half-written file under ``path``.

    Args:
        path (str | PathLike): The final file; its folder must exist.
        mode (int, optional): Permission bits of the result. Defaults to those of the file
            being replaced, else ``0o666`` minus the umask (as ``open`` would create it).

    Yields:
        str: The temporary file to write (created empty).
    """
    path = os.fspath(path)
    if mode is None:
        mode = (os.stat(path).st_mode & 0o777 if osp.isfile(path) else
                0o666 & ~_current_umask())
    fd, tmp = tempfile.mkstemp(dir=osp.dirname(osp.abspath(path)),
                               prefix=f'.{osp.basename(path)}.', suffix='.tmp')
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
