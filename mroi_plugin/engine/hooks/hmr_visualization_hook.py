"""Draw validation / test predictions with :class:`~mroi_plugin.visualization.HMRVisualizer`."""
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.structures import BaseDataElement
from mmengine.visualization import Visualizer

from mroi_plugin.registry import HOOKS
from mroi_plugin.visualization import HMRVisualizer

__all__ = ['HMRVisualizationHook']


@HOOKS.register_module()
class HMRVisualizationHook(Hook):
    """Send drawn predictions to the vis backends, a window or a folder (like mmpose's
    ``PoseVisualizationHook``).

    Each drawn sample is one image: ground truth (RoI boxes, GT 2D keypoints, GT mesh when the
    sample has SMPL parameters) on the left, prediction (mesh overlay with the full-image
    camera, projected predicted keypoints) on the right. It is drawn on the sample's image file
    (``img_path``) when the sample is neither flipped nor rotated (always so in test
    pipelines), else on its RoI 0 crop.

    * Validation: the first sample of every ``interval``-th batch goes to the run's vis
      backends (``vis_backends`` of the config: local files under
      ``{work_dir}/{timestamp}/vis_data/vis_image``, TensorBoard, W&B) as ``val_img``.
    * Test: every sample is drawn. With ``test_out_dir`` it is written there as
      ``{image stem}_{sample_idx}.png`` (one file per person); with ``show`` it is shown;
      otherwise it goes to the vis backends as ``test_img``.

    The runner's visualizer must be an :class:`~mroi_plugin.visualization.HMRVisualizer`
    (``visualizer = dict(type='HMRVisualizer', ...)``, the default of
    ``configs/_base_/default_runtime.py``); the hook gives it the model's body model, for the
    mesh faces and the GT meshes.

    Args:
        enable (bool): Draw at all. Defaults to False (``tools/test.py --show-dir`` and
            ``--show`` switch it on).
        interval (int): Validation: draw every ``interval``-th batch. Defaults to 50.
        keypoint_thr (float): GT keypoints with a confidence ``<=`` this are not drawn.
        show (bool): Show each test image in a window (needs a display).
        wait_time (float): Seconds each shown image stays up (0: until a key).
        test_out_dir (str, optional): Folder for the test images; a relative path is taken
            under ``{work_dir}/{timestamp}/`` (as mmdet / mmpose).
        draw_gt (bool): Draw the ground-truth panel. Defaults to True.
        draw_pred (bool): Draw the prediction panel. Defaults to True.
    """

    priority = 'NORMAL'

    def __init__(self,
                 enable: bool = False,
                 interval: int = 50,
                 keypoint_thr: float = 0.0,
                 show: bool = False,
                 wait_time: float = 0.,
                 test_out_dir: Optional[str] = None,
                 draw_gt: bool = True,
                 draw_pred: bool = True) -> None:
        if int(interval) < 1:
            raise ValueError(f'HMRVisualizationHook: interval must be >= 1, got {interval}.')
        self.enable = bool(enable)
        self.interval = int(interval)
        self.keypoint_thr = float(keypoint_thr)
        self.show = bool(show)
        self.wait_time = float(wait_time)
        self.test_out_dir = test_out_dir
        self.draw_gt = bool(draw_gt)
        self.draw_pred = bool(draw_pred)
        self._out_dir: Optional[str] = None
        self._test_index = 0
        self._visualizer: Optional[HMRVisualizer] = None

    # ------------------------------------------------------------------ set-up
    def _setup(self, runner: Runner) -> HMRVisualizer:
        visualizer = runner.visualizer if hasattr(runner, 'visualizer') else None
        if visualizer is None:
            visualizer = Visualizer.get_current_instance()
        if not isinstance(visualizer, HMRVisualizer):
            raise TypeError(
                f'HMRVisualizationHook needs the runner\'s visualizer to be an HMRVisualizer, '
                f'got {type(visualizer).__name__}; set visualizer = dict(type=\'HMRVisualizer\', '
                "vis_backends=[dict(type='LocalVisBackend')]) in the config.")
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        body_model = getattr(model, 'body_model', None)
        if body_model is not None and visualizer.body_model is not body_model:
            visualizer.set_body_model(body_model)
        visualizer.keypoint_thr = self.keypoint_thr
        if self.show:
            # Shown images are not also sent to the backends (mmpose/mmdet do the same).
            visualizer._vis_backends = {}
        return visualizer

    def before_val(self, runner: Runner) -> None:
        if self.enable:
            self._visualizer = self._setup(runner)

    def before_test(self, runner: Runner) -> None:
        if not self.enable:
            return
        self._visualizer = self._setup(runner)
        self._test_index = 0
        self._out_dir = None
        if self.test_out_dir is not None:
            out_dir = self.test_out_dir
            if not osp.isabs(out_dir):
                out_dir = osp.join(runner.work_dir, runner.timestamp, out_dir)
            os.makedirs(out_dir, exist_ok=True)
            self._out_dir = out_dir
            runner.logger.info(f'HMRVisualizationHook: test images are written to {out_dir}')

    # ----------------------------------------------------------------- images
    @staticmethod
    def _image(data_batch: dict, index: int, sample: BaseDataElement) -> tuple:
        """The RGB image to draw on and the RoI it is (None: the full image)."""
        img_path = sample.metainfo.get('img_path')
        augmented = bool(sample.metainfo.get('flip', False)) or float(
            sample.metainfo.get('rotation', 0.0)) != 0.0
        if img_path and not augmented:
            import mmcv
            from mmengine.fileio import get
            try:
                return mmcv.imfrombytes(get(img_path), channel_order='rgb'), None
            except (OSError, ValueError):
                pass
        crops = data_batch['inputs'][index]
        crop = crops[0].detach().cpu().numpy().transpose(1, 2, 0)
        return np.ascontiguousarray(crop[..., ::-1]).astype(np.uint8), 0

    def _draw(self, name: str, data_batch: dict, index: int, sample: BaseDataElement,
              step: int, out_file: Optional[str] = None) -> None:
        image, roi = self._image(data_batch, index, sample)
        assert self._visualizer is not None  # set before the first draw
        self._visualizer.add_datasample(
            name, image, data_sample=sample, draw_gt=self.draw_gt, draw_pred=self.draw_pred,
            show=self.show, wait_time=self.wait_time, out_file=out_file, step=step, roi=roi)

    def after_val_iter(self, runner: Runner, batch_idx: int, data_batch: dict,
                       outputs: Sequence[BaseDataElement]) -> None:
        """Draw the first sample of every ``interval``-th validation batch."""
        # batch_idx % interval (not mmengine's every_n_inner_iters): the first batch is drawn.
        if not self.enable or not outputs or batch_idx % self.interval != 0:
            return
        self._draw('val_img', data_batch, 0, outputs[0], step=runner.iter + batch_idx)

    def after_test_iter(self, runner: Runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence[BaseDataElement]) -> None:
        """Draw every sample of the batch."""
        if not self.enable:
            return
        for index, sample in enumerate(outputs):
            self._test_index += 1
            out_file = None
            if self._out_dir is not None:
                out_file = osp.join(self._out_dir, self._file_name(sample, self._test_index))
            self._draw('test_img', data_batch, index, sample, step=self._test_index,
                       out_file=out_file)

    @staticmethod
    def _file_name(sample: BaseDataElement, index: int) -> str:
        """``{image stem}_{sample_idx}.png`` (lossless): one file per person of an image."""
        img_path = sample.metainfo.get('img_path')
        stem = osp.splitext(osp.basename(img_path))[0] if img_path else 'sample'
        sample_idx = sample.metainfo.get('sample_idx', index)
        return f'{stem}_{sample_idx}.png'
