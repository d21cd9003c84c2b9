#!/usr/bin/env bash
# Check that a pip install of the wheel works on its own, without the repository:
#   1. clone the repository's HEAD into a scratch folder and build the wheel there
#      (so only committed files go in, as from a fresh clone);
#   2. install it into a fresh virtual environment (--system-site-packages reuses the
#      installed torch; pip resolves the wheel's other requirements against it);
#   3. from an empty folder, train the packaged quickstart config by its package path
#      with `mroi-train`, evaluate the checkpoint with `mroi-test`, and call `mroi-demo -h`.
# Arguments after the options are passed to `mroi-train` and `mroi-test` (.ci/run gives its
# shortened-quickstart --cfg-options). Prints the wheel size and the install and run times.
#
# usage: tools/check_wheel.sh [--keep] [-- EXTRA_ARGS...]
set -euo pipefail
usage="usage: $0 [--keep] [-- EXTRA_ARGS...]"
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        --keep) keep=1; shift ;;
        --) shift; break ;;
        -h|--help) echo "$usage"; exit 0 ;;
        *) echo "$0: unknown argument '$1'." >&2; echo "$usage" >&2; exit 2 ;;
    esac
done

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python}"
scratch="$(mktemp -d)"
if [ "$keep" -eq 1 ]; then
    echo "check_wheel: keeping $scratch"
else
    trap 'rm -rf "$scratch"' EXIT
fi

git clone --quiet "$repo" "$scratch/src"
start=$(date +%s)
# No build isolation: the build needs only setuptools, already installed.
"$python" -m pip wheel --quiet --no-deps --no-build-isolation -w "$scratch/dist" "$scratch/src"
wheel="$(ls "$scratch"/dist/mroi_plugin-*.whl)"
built=$(date +%s)
echo "check_wheel: built $(basename "$wheel"), $(du -k "$wheel" | cut -f1) KiB, in $((built - start)) s"

"$python" -m venv --system-site-packages --without-pip "$scratch/venv"
venv_python="$scratch/venv/bin/python"
"$python" -m pip --python "$venv_python" install --quiet "$wheel"
installed=$(date +%s)
echo "check_wheel: venv and install in $((installed - built)) s"

mkdir "$scratch/run"
cd "$scratch/run"
# The package must come from the venv, not from a checkout on the path.
"$venv_python" - "$scratch/venv" <<'EOF'
import os.path as osp
import sys

import mroi_plugin
from mroi_plugin.utils.package_files import packaged_dir

venv = osp.realpath(sys.argv[1])
for what, path in (('mroi_plugin', mroi_plugin.__file__),
                   ('configs', packaged_dir('configs')), ('tools', packaged_dir('tools'))):
    if not osp.realpath(path).startswith(venv + osp.sep):
        sys.exit(f'check_wheel: {what} comes from {path}, not from the venv {venv}')
print(f'check_wheel: mroi_plugin and its configs/tools from {osp.dirname(mroi_plugin.__file__)}')
EOF
config=mroi_plugin::quickstart/mroi_synthetic.py
"$scratch/venv/bin/mroi-train" "$config" "$@" 2>&1 | tee train.log
grep -q "hmr/pa_mpjpe" train.log
checkpoint="$(ls work_dirs/mroi_synthetic/epoch_*.pth | sort -V | tail -n 1)"
"$scratch/venv/bin/mroi-test" "$config" "$checkpoint" "$@" 2>&1 | tee test.log
grep -q "hmr/pa_mpjpe" test.log
"$scratch/venv/bin/mroi-demo" -h > /dev/null
finished=$(date +%s)
echo "check_wheel: train, test and demo -h in $((finished - installed)) s"
echo "check_wheel: the wheel installs and runs the packaged quickstart on its own"
