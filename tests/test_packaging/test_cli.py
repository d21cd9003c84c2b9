"""mroi-train / mroi-test / mroi-demo run the packaged tools with their own arguments and status."""
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_command(command, *args, cwd):
    code = f'import sys; from mroi_plugin.cli import {command}; sys.argv[0] = "mroi-{command}"; ' \
           f'{command}()'
    return subprocess.run([sys.executable, '-c', code, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize('command', ['train', 'test', 'demo'])
def test_help_is_the_tools_own(command, tmp_path):
    result = run_command(command, '--help', cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert 'mroi_plugin::REL for a packaged config' in ' '.join(result.stdout.split())
    # argparse names the script it parsed for: the tool file, not this test.
    assert f'usage: {command}.py' in result.stdout


def test_tool_exit_status_and_message_come_through(tmp_path):
    # tools/test.py reports a bad config on stderr and returns EXIT_ERROR (1); the checkpoint
    # is checked first, so one must exist.
    (tmp_path / 'epoch_1.pth').write_bytes(b'')
    result = run_command('test', 'mroi_plugin::quickstart/mroi_synthetc.py', 'epoch_1.pth',
                         cwd=tmp_path)
    assert result.returncode == 1
    assert 'Did you mean mroi_plugin::quickstart/mroi_synthetic.py' in result.stderr
