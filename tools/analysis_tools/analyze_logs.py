"""Training curves from a run's scalars (mmdet's ``analyze_logs.py plot_curve``).

``python tools/analysis_tools/analyze_logs.py plot_curve LOG [LOG ...] --keys loss hmr/pa_mpjpe
[--legend A B] [--title T] [--out curves.png]``

``LOG`` is a run's ``vis_data/scalars.json`` (written by mmengine's ``LocalVisBackend``: one
JSON object per line, training lines every ``LoggerHook.interval`` iterations with ``step`` =
iteration, validation lines with ``step`` = epoch) or a work dir / run dir, whose newest
``*/vis_data/scalars.json`` is used. Each key gets its own panel, one curve per log; training
keys are plotted against iterations, validation metrics against epochs. A summary of every
key (points, first, last, min, max) is printed. ``summary LOG`` prints it alone.
"""
import argparse
import glob
import json
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

# Keys every training line carries that are not curves.
_INDEX_KEYS = ('step', 'epoch', 'iter')
_TRAIN_MARKERS = ('lr', 'iter')

Series = Dict[str, Tuple[List[float], List[float]]]


def find_scalars(path: str) -> str:
    """``path`` itself if it is a file, else the newest ``scalars.json`` below it."""
    if osp.isfile(path):
        return path
    if not osp.isdir(path):
        raise FileNotFoundError(f'No such log file or folder: {path}')
    found = glob.glob(osp.join(path, 'vis_data', 'scalars.json')) + glob.glob(
        osp.join(path, '*', 'vis_data', 'scalars.json'))
    if not found:
        raise FileNotFoundError(
            f'No vis_data/scalars.json under {path}; give the run folder '
            '(work_dirs/<config>/<timestamp>) or the file itself. It is written by '
            "LocalVisBackend (visualizer.vis_backends in the config).")
    return max(found, key=osp.getmtime)


def load_scalars(path: str) -> Tuple[Series, Series]:
    """Read a ``scalars.json``.

    Returns:
        tuple: ``(train, val)``, each ``{key: (steps, values)}``; training steps are
        iterations, validation steps are what the run logged them at (epochs by default).

    Raises:
        ValueError: A line is not a JSON object (names the line).
    """
    train: Series = {}
    val: Series = {}
    with open(path, encoding='utf-8') as file:
        for number, line in enumerate(file, 1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f'{path}:{number} is not JSON ({error}); is it a '
                                 'scalars.json of LocalVisBackend?') from None
            if not isinstance(record, dict) or 'step' not in record:
                raise ValueError(f'{path}:{number} has no "step"; expected one JSON object '
                                 'per line as LocalVisBackend writes.')
            target = train if any(k in record for k in _TRAIN_MARKERS) else val
            for key, value in record.items():
                if key in _INDEX_KEYS or not isinstance(value, (int, float)):
                    continue
                steps, values = target.setdefault(key, ([], []))
                steps.append(float(record['step']))
                values.append(float(value))
    return train, val


def summarize(name: str, train: Series, val: Series) -> str:
    """One line per key: points, first, last, min, max."""
    lines = [f'{name}:']
    for kind, series in (('train', train), ('val', val)):
        for key in sorted(series):
            values = series[key][1]
            lines.append(f'  {kind:5s} {key:32s} n={len(values):5d} first={values[0]:.6g} '
                         f'last={values[-1]:.6g} min={min(values):.6g} max={max(values):.6g}')
    return '\n'.join(lines)


def plot_curve(logs: Sequence[Tuple[Series, Series]], keys: Sequence[str],
               legend: Sequence[str], out: Optional[str] = None,
               title: Optional[str] = None) -> None:
    """One panel per key, one curve per log; saved to ``out`` or shown."""
    import matplotlib
    if out is not None:
        matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(len(keys), 1, figsize=(7, 3 * len(keys)), squeeze=False)
    for axis, key in zip(axes[:, 0], keys):
        xlabel = 'iteration'
        for (train, val), label in zip(logs, legend):
            if key in train:
                steps, values = train[key]
            elif key in val:
                steps, values = val[key]
                xlabel = 'epoch'
            else:
                continue
            axis.plot(steps, values, label=label, marker='o' if len(values) < 30 else None)
        axis.set_xlabel(xlabel)
        axis.set_ylabel(key)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    if out is None:
        plt.show()
    else:
        figure.savefig(out)
        print(f'saved {out}')
    plt.close(figure)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Analyse training logs')
    commands = parser.add_subparsers(dest='command', required=True)
    plot = commands.add_parser('plot_curve', help='plot curves of some keys')
    plot.add_argument('logs', nargs='+', help='scalars.json files or run folders')
    plot.add_argument('--keys', nargs='+', default=['loss'], help='keys to plot (default loss)')
    plot.add_argument('--legend', nargs='+', help='one label per log (default: the paths)')
    plot.add_argument('--title', help='figure title')
    plot.add_argument('--out', help='save the figure here (.png, .pdf, ...) instead of showing')
    summary = commands.add_parser('summary', help='print every key of the logs')
    summary.add_argument('logs', nargs='+', help='scalars.json files or run folders')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        paths = [find_scalars(log) for log in args.logs]
        logs = [load_scalars(path) for path in paths]
    except (FileNotFoundError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    for path, (train, val) in zip(paths, logs):
        print(summarize(path, train, val))
    if args.command == 'summary':
        return 0
    legend = args.legend or paths
    if len(legend) != len(logs):
        print(f'error: {len(logs)} logs but {len(legend)} --legend labels', file=sys.stderr)
        return 1
    known = set()
    for train, val in logs:
        known |= set(train) | set(val)
    missing = [key for key in args.keys if key not in known]
    if missing:
        print(f'error: no log has {missing}; available: {sorted(known)}', file=sys.stderr)
        return 1
    plot_curve(logs, args.keys, legend, args.out, args.title)
    return 0


if __name__ == '__main__':
    sys.exit(main())
