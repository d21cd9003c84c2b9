"""Seeded weights and inputs shared by the CLIFF parity tests and the script that recorded them.

The parity fixtures (``tests/data/cliff_parity.json``) hold what the official CLIFF code
outputs for weights and inputs made by the functions below; the tests rebuild the same weights
and inputs, convert the weights and compare our model's outputs. How the numbers were recorded
is written in the fixture itself (``provenance``) and in ``tests/test_models/
test_cliff_parity.py``.
"""
import hashlib
import json
import os.path as osp
from typing import Any, Dict, Mapping, Tuple

import torch
from torch import Tensor

from mroi_plugin.utils.checkpoint_conversion import convert_checkpoint
from tests.released_layouts import cliff_layout

__all__ = [
    'FIXTURE', 'load_fixture', 'layout_digest', 'parity_state_dict', 'parity_inputs',
    'write_checkpoint', 'converted_official_weights'
]

SOURCE_FORMATS = {'res50': 'cliff_r50', 'hr48': 'cliff_hrnet48'}
FIXTURE = osp.join(osp.dirname(osp.abspath(__file__)), 'data', 'cliff_parity.json')
# Conv / linear weights are N(0, 1) * GAIN / sqrt(fan_in): activations keep their scale
# through the ~50 (ResNet) to ~300 (HRNet) layers, so outputs are O(1) and a wrong
# connection shows; the regressor's decoders are damped as CLIFF initialises them
# (xavier, gain 0.01) so the 3 feedback iterations stay tame.
WEIGHT_GAIN = 1.0
DECODER_GAIN = 0.1
BN_SCALE_RANGE = (0.5, 1.0)  # BN weight ~ U(0.5, 1.0): damps the residual sums
BIAS_STD = 0.05
RUNNING_MEAN_STD = 0.1
RUNNING_VAR_RANGE = (0.5, 1.5)
INIT_STD = 0.5  # init_pose (6D) and init_shape
INIT_CAM = (0.9, 0.0, 0.0)  # SPIN's mean camera
INIT_CAM_STD = 0.05
BBOX_INFO_STD = 0.5  # CLIFF's normalised bbox_info lies in about [-1, 1]


def layout_digest(layout: Mapping[str, Tuple[int, ...]]) -> str:
    """SHA-1 of the sorted ``key:shape`` lines: names a layout in a few characters."""
    text = '\n'.join(f'{key}:{tuple(int(s) for s in layout[key])}' for key in sorted(layout))
    return hashlib.sha1(text.encode()).hexdigest()


def _tensor(key: str, shape: Tuple[int, ...], gen: torch.Generator) -> Tensor:
    name = key.rsplit('.', 1)[-1]
    if name == 'num_batches_tracked':
        return torch.tensor(0)
    if name == 'running_mean':
        return torch.randn(shape, generator=gen) * RUNNING_MEAN_STD
    if name == 'running_var':
        low, high = RUNNING_VAR_RANGE
        return low + (high - low) * torch.rand(shape, generator=gen)
    if name == 'init_cam':
        return torch.tensor(INIT_CAM).view(shape) + torch.randn(shape, generator=gen) * INIT_CAM_STD
    if name.startswith('init_'):
        return torch.randn(shape, generator=gen) * INIT_STD
    if name == 'bias':
        return torch.randn(shape, generator=gen) * BIAS_STD
    if name == 'weight' and len(shape) == 1:  # a BN scale
        low, high = BN_SCALE_RANGE
        return low + (high - low) * torch.rand(shape, generator=gen)
    if name == 'weight':
        fan_in = 1
        for size in shape[1:]:
            fan_in *= size
        gain = DECODER_GAIN if key.startswith('dec') else WEIGHT_GAIN
        return torch.randn(shape, generator=gen) * (gain / fan_in**0.5)
    raise KeyError(f'parity_state_dict: no rule for {key!r}')


def parity_state_dict(layout: Mapping[str, Tuple[int, ...]], seed: int) -> Dict[str, Tensor]:
    """Deterministic weights for a state-dict layout.

    Tensor ``k`` in sorted key order is drawn from ``torch.Generator().manual_seed(seed + k)``
    with the rules above, so every tensor depends only on the seed, its rank and its shape
    (not on how many values others take), on any machine.

    Args:
        layout (Mapping[str, tuple]): Key -> shape (e.g. ``cliff_layout('res50')``).
        seed (int): Base seed.

    Returns:
        dict[str, Tensor]: float32 tensors (int64 ``num_batches_tracked``), sorted keys.
    """
    state = {}
    for index, key in enumerate(sorted(layout)):
        gen = torch.Generator().manual_seed(seed + index)
        state[key] = _tensor(key, tuple(layout[key]), gen)
    return state


def parity_inputs(seed: int, batch: int, height: int, width: int) -> Tuple[Tensor, Tensor]:
    """Normalised crops ``(B, 3, H, W)`` ~ N(0, 1) and bbox_info ``(B, 3)`` ~ N(0, 0.5²)."""
    gen = torch.Generator().manual_seed(seed)
    crops = torch.randn(batch, 3, height, width, generator=gen)
    bbox_info = torch.randn(batch, 3, generator=gen) * BBOX_INFO_STD
    return crops, bbox_info


def write_checkpoint(state: Mapping[str, Tensor], path: str) -> None:
    """Save as CLIFF's trainer does: ``{'model': state_dict}``, DataParallel's prefix."""
    torch.save({'model': {f'module.{k}': v for k, v in state.items()}}, path)


def load_fixture() -> Dict[str, Any]:
    with open(FIXTURE) as file:
        return json.load(file)


def converted_official_weights(arch: str, seed: int, folder: str) -> str:
    """The official layout filled with the parity weights, saved as CLIFF saves it, converted.

    Returns:
        str: Path of the converted mmengine checkpoint.
    """
    case = load_fixture()['network'][arch]
    layout = cliff_layout(arch)
    # The layout the official model was checked against when the numbers were recorded.
    assert (len(layout), layout_digest(layout)) == (case['num_keys'], case['layout_sha1'])
    src, dst = osp.join(folder, f'{arch}_official.pt'), osp.join(folder, f'{arch}.pth')
    write_checkpoint(parity_state_dict(layout, seed), src)
    report = convert_checkpoint(src, dst)
    assert report.source_format == SOURCE_FORMATS[arch]
    assert report.unmapped == {} and len(report.mapped) == len(layout)
    return dst
