"""Per-joint and per-sample errors from ``HMRMetric``'s per-sample file.

``python tools/analysis_tools/analyze_errors.py RESULTS.per_sample.json [--out errors.png]
[--worst K] [--metric mpjpe|pa_mpjpe]``

``HMRMetric`` writes ``{outfile_prefix}.per_sample.json`` when its ``outfile_prefix`` is set,
e.g. ``python tools/test.py CONFIG CKPT --cfg-options
test_evaluator.0.outfile_prefix=work_dirs/eval/hmr`` (``test_evaluator.outfile_prefix=...``
when the evaluator is a single metric): one record per sample with its MPJPE, PA-MPJPE and
per-joint errors in millimetres. This tool prints the mean error of every joint (over the
samples where the joint is visible) and the ``K`` worst samples (image and ``sample_idx``, to
look at with ``tools/test.py --show-dir``), and plots the per-joint means and the distribution
of the per-sample errors.
"""
import argparse
import json
import math
import sys
from typing import Any, Dict, List, Optional, Sequence

_METRICS = ('mpjpe', 'pa_mpjpe')
_JOINT_KEYS = {'mpjpe': 'joint_errors', 'pa_mpjpe': 'pa_joint_errors'}


def load_per_sample(path: str) -> Dict[str, Any]:
    """Read and check a ``*.per_sample.json`` of ``HMRMetric``."""
    try:
        with open(path, encoding='utf-8') as file:
            data = json.load(file)
    except FileNotFoundError:
        raise FileNotFoundError(
            f'{path} not found; HMRMetric writes it when outfile_prefix is set, e.g. '
            '--cfg-options test_evaluator.0.outfile_prefix=work_dirs/eval/hmr') from None
    except json.JSONDecodeError as error:
        raise ValueError(f'{path} is not JSON: {error}') from None
    if not isinstance(data, dict) or 'samples' not in data or 'joint_names' not in data:
        raise ValueError(f'{path} has no "samples" / "joint_names": not a per-sample file of '
                         'HMRMetric.')
    return data


def joint_means(data: Dict[str, Any], metric: str = 'mpjpe') -> List[Optional[float]]:
    """Mean error of each joint over the samples where it has one (None: never), mm."""
    key = _JOINT_KEYS[metric]
    names = data['joint_names']
    sums = [0.0] * len(names)
    counts = [0] * len(names)
    for sample in data['samples']:
        for index, error in enumerate(sample.get(key) or []):
            if error is not None and math.isfinite(error):
                sums[index] += error
                counts[index] += 1
    return [s / c if c else None for s, c in zip(sums, counts)]


def evaluated(data: Dict[str, Any], metric: str = 'mpjpe') -> List[Dict[str, Any]]:
    """The samples that have ``metric`` (the others were skipped by the metric)."""
    return [s for s in data['samples'] if s.get(metric) is not None]


def report(data: Dict[str, Any], metric: str = 'mpjpe', worst: int = 10) -> str:
    """Per-joint table and the worst samples, as text."""
    samples = evaluated(data, metric)
    lines = [f'{len(samples)} of {len(data["samples"])} samples have {metric}; mean '
             f'{sum(s[metric] for s in samples) / max(len(samples), 1):.2f} mm',
             f'per-joint mean {metric} (mm):']
    for name, mean in zip(data['joint_names'], joint_means(data, metric)):
        lines.append(f'  {name:24s} {"-" if mean is None else f"{mean:8.2f}"}')
    lines.append(f'worst {min(worst, len(samples))} samples by {metric}:')
    for sample in sorted(samples, key=lambda s: s[metric], reverse=True)[:worst]:
        lines.append(f'  {sample[metric]:8.2f} mm  sample_idx={sample.get("sample_idx")}  '
                     f'{sample.get("img_path", "")}')
    return '\n'.join(lines)


def plot(data: Dict[str, Any], out: Optional[str] = None) -> None:
    """Per-joint mean MPJPE / PA-MPJPE bars and the histogram of per-sample errors."""
    import matplotlib
    if out is not None:
        matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np
    names = data['joint_names']
    figure, (bars, hist) = plt.subplots(2, 1, figsize=(max(7, 0.45 * len(names)), 7))
    positions = np.arange(len(names))
    width = 0.4
    for offset, metric in zip((-width / 2, width / 2), _METRICS):
        means = [np.nan if m is None else m for m in joint_means(data, metric)]
        bars.bar(positions + offset, means, width, label=metric)
    bars.set_xticks(positions, names, rotation=60, ha='right')
    bars.set_ylabel('mean error (mm)')
    bars.legend()
    for metric in _METRICS:
        values = [s[metric] for s in evaluated(data, metric)]
        if values:
            hist.hist(values, bins=min(30, max(5, len(values) // 3)), alpha=0.6, label=metric)
    hist.set_xlabel('per-sample error (mm)')
    hist.set_ylabel('samples')
    hist.legend()
    figure.tight_layout()
    if out is None:
        plt.show()
    else:
        figure.savefig(out)
        print(f'saved {out}')
    plt.close(figure)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Plot HMRMetric's per-joint/per-sample errors")
    parser.add_argument('per_sample', help='{outfile_prefix}.per_sample.json of HMRMetric')
    parser.add_argument('--out', help='save the figure here instead of showing it')
    parser.add_argument('--worst', type=int, default=10, help='list the K worst samples')
    parser.add_argument('--metric', choices=_METRICS, default='mpjpe',
                        help='metric of the table and the ranking (default mpjpe)')
    args = parser.parse_args(argv)
    try:
        data = load_per_sample(args.per_sample)
    except (FileNotFoundError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    if not evaluated(data, args.metric):
        print(f'error: no sample of {args.per_sample} has {args.metric}.', file=sys.stderr)
        return 1
    print(report(data, args.metric, args.worst))
    plot(data, args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
