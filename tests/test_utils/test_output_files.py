"""mroi_plugin.utils.output_files: probes that change nothing, writes that are whole or absent."""
import os

import pytest

from mroi_plugin.utils.output_files import (
    OutputPathError,
    atomic_output,
    check_not_same_file,
    check_output_file,
)


def test_probe_leaves_an_existing_file_and_the_folder_unchanged(tmp_path):
    target = tmp_path / 'out.pkl'
    target.write_bytes(b'keep me')
    os.utime(target, (1_000_000, 1_000_000))
    assert check_output_file(target) == str(target)
    assert target.read_bytes() == b'keep me' and target.stat().st_mtime == 1_000_000
    new = tmp_path / 'a' / 'b' / 'new.pkl'
    assert check_output_file(new) == str(new)
    assert new.parent.is_dir() and list(new.parent.iterdir()) == []  # no file, no probe left
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a', 'out.pkl']


def test_unwritable_paths_are_named(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    with pytest.raises(OutputPathError, match=f'--out {blocker}/sub/x.pkl cannot be written'):
        check_output_file(blocker / 'sub' / 'x.pkl', what='--out')
    with pytest.raises(OutputPathError, match='is a folder'):
        check_output_file(tmp_path)
    assert blocker.read_text() == 'x'


def test_same_file_in_every_disguise(tmp_path):
    src = tmp_path / 'a.pth'
    src.write_bytes(b'1')
    (tmp_path / 'sub').mkdir()
    os.symlink(src, tmp_path / 'sym.pth')
    os.link(src, tmp_path / 'hard.pth')
    for dst in (src, tmp_path / 'sub' / '..' / 'a.pth', tmp_path / 'sym.pth',
                tmp_path / 'hard.pth'):
        with pytest.raises(OutputPathError, match='would destroy the source'):
            check_not_same_file(src, dst)
    (tmp_path / 'copy.pth').write_bytes(b'1')  # equal content, another file: allowed
    check_not_same_file(src, tmp_path / 'copy.pth')
    check_not_same_file(src, tmp_path / 'absent.pth')


def test_atomic_output_commits_only_on_success(tmp_path):
    target = tmp_path / 'ckpt.pth'
    with pytest.raises(RuntimeError, match='killed'):
        with atomic_output(target) as tmp:
            with open(tmp, 'wb') as f:
                f.write(b'half')
            raise RuntimeError('killed')
    assert list(tmp_path.iterdir()) == []
    with atomic_output(target) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path)  # same file system: rename is atomic
        with open(tmp, 'wb') as f:
            f.write(b'whole')
    assert target.read_bytes() == b'whole' and list(tmp_path.iterdir()) == [target]
    # New files get the permissions open() would give them (0o666 minus the umask).
    mask = os.umask(0o027)
    try:
        other = tmp_path / 'other.pth'
        with atomic_output(other) as tmp:
            pass
        assert other.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(mask)
