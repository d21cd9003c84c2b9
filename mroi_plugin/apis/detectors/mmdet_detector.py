"""An mmdetection 3.x detector as a person detector (needs mmdet and mmcv's compiled ops)."""
import os.path as osp
from typing import Optional

import numpy as np

from mroi_plugin.registry import TASK_UTILS

__all__ = ['MMDetPersonDetector']


@TASK_UTILS.register_module()
class MMDetPersonDetector:
    """Keep the person boxes of an mmdetection detector.

    Args:
        config (str): mmdet config file.
        checkpoint (str): Its weights.
        device (str): Where it runs.
        person_label (int): Class index of "person" (0 in COCO-trained detectors).

    Raises:
        ImportError: mmdet (with a compiled mmcv) does not import.
        FileNotFoundError: A file is missing.
    """

    def __init__(self, config: str, checkpoint: str, device: str = 'cpu',
                 person_label: int = 0) -> None:
        try:
            from mmdet.apis import inference_detector, init_detector
        except Exception as error:  # ImportError, or mmcv._ext missing under mmcv-lite
            raise ImportError(
                f'An mmdet detector needs mmdetection 3.x with a compiled mmcv (mmcv.ops), '
                f'which does not import here ({type(error).__name__}: {error}). Install them '
                '(docs/install.md, "Full mmcv and mmdet"), or use an ONNX detector or '
                'person boxes instead (docs/inference.md).') from error
        for what, path in (('config', config), ('checkpoint', checkpoint)):
            if not osp.isfile(path):
                raise FileNotFoundError(f'mmdet detector {what} not found: {path}')
        self._inference = inference_detector
        self.model = init_detector(config, checkpoint, device=device)
        self.person_label = int(person_label)

    def __call__(self, img: np.ndarray, name: Optional[str] = None) -> np.ndarray:
        """``(M, 5)`` ``x1, y1, x2, y2, score`` person boxes of one BGR image."""
        instances = self._inference(self.model, img).pred_instances
        keep = instances.labels == self.person_label
        boxes = instances.bboxes[keep].detach().cpu().numpy().astype(np.float64)
        scores = instances.scores[keep].detach().cpu().numpy().astype(np.float64)
        return np.concatenate([boxes.reshape(-1, 4), scores.reshape(-1, 1)], axis=1)
