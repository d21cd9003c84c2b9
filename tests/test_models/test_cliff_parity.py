"""CLIFF's released architectures (ResNet-50, HRNet-W48) reproduce the official code's outputs.

How the expected numbers were obtained (``tests/data/cliff_parity.json``, ``provenance``): the
official CLIFF code (github.com/huawei-noah/noah-research, folder ``CLIFF/``, commit
aa0f80c8ce4815b1f072500be6906f56fc76a91a) was run once, outside this repository, on CPU in
float32 (torch 2.13, OpenCV 4.14). Its models were built with its own classes
(``models/cliff_res50/cliff.py``, ``models/cliff_hr48/cliff.py``); the script asserted that
their state-dict names and shapes equal ``tests/released_layouts.cliff_layout(arch)``, filled
them with ``tests/cliff_parity.parity_state_dict(layout, weight_seed)``, saved them as CLIFF's
trainer does and loaded them as ``demo.py`` does (``strict=True``), then called
``model(crops, bbox_info)`` on ``parity_inputs(input_seed, batch, height, width)`` and stored
``pred_rotmat``, ``pred_shape`` and ``pred_cam`` (rounded to 1e-7). Only the seeds, the
generator and those numbers are in the repository.

Here the same weights go through our converter and ``init_model`` (strict) with
``configs/cliff``, and our network must give the same outputs to 1e-4. HRNet-W48 is checked
at 128x96 (its real architecture; the official HRNet accepts any size divisible by 32) so the
test stays fast on CPU; ResNet-50 at CLIFF's 256x192.
"""
import os.path as osp

import pytest
import torch

from mroi_plugin.apis import init_model
from tests.cliff_parity import converted_official_weights, load_fixture, parity_inputs

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = {
    'res50': osp.join(REPO, 'configs/cliff/cliff_r50.py'),
    'hr48': osp.join(REPO, 'configs/cliff/cliff_hrnet48.py'),
}
TOLERANCE = 1e-4


def load_converted(arch: str, checkpoint: str, standin_dir: str) -> torch.nn.Module:
    """``init_model`` loads strictly: every parameter and buffer must come from the file."""
    return init_model(CONFIGS[arch], checkpoint,
                      cfg_options={'model.body_model.model_path': standin_dir})


@pytest.mark.parametrize('arch', ['res50', 'hr48'])
def test_network_matches_official_cliff(arch, tmp_path, standin_dir):
    case = load_fixture()['network'][arch]
    checkpoint = converted_official_weights(arch, case['weight_seed'], str(tmp_path))
    model = load_converted(arch, checkpoint, standin_dir)
    crops, bbox_info = parity_inputs(case['input_seed'], case['batch'], case['height'],
                                     case['width'])
    with torch.no_grad():
        feats = model.extract_feat(crops, num_people=case['batch'])  # (B, 1, D)
        preds = model.head(feats, feats.mean(dim=1), bbox_info[:, None])
    expected = {key: torch.tensor(case[key]) for key in
                ('pred_rotmat', 'pred_betas', 'pred_cam_crop')}
    # The outputs are O(1) and differ between people and joints: a wrong connection, column
    # order or normalisation would move them by far more than the tolerance.
    assert expected['pred_cam_crop'].std() > 0.1 and expected['pred_betas'].std() > 0.1
    torch.testing.assert_close(preds['pred_rotmat'], expected['pred_rotmat'], rtol=0,
                               atol=TOLERANCE)
    torch.testing.assert_close(preds['pred_betas'], expected['pred_betas'], rtol=0,
                               atol=TOLERANCE)
    torch.testing.assert_close(preds['pred_cam_crop'][:, 0], expected['pred_cam_crop'], rtol=0,
                               atol=TOLERANCE)
