"""Helpers shared by the backbones: ``norm_eval`` and checking a ``Pretrained`` init_cfg."""
import os.path as osp
from typing import Any, Optional, Sequence, Union

import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ['check_pretrained_checkpoint', 'freeze_batch_norm', 'NormEvalMixin']

# Checkpoint locations that mmengine resolves itself (downloads or remote storage); only
# plain local paths can be checked for existence here.
_REMOTE_PREFIXES = ('http://', 'https://', 'torchvision://', 'open-mmlab://', 'openmmlab://',
                    'mmcls://', 'pavi://', 's3://', 'modelzoo://')


def check_pretrained_checkpoint(init_cfg: Optional[Union[dict, Sequence[dict]]],
                                owner: str) -> None:
    """Raise a clear error when a ``Pretrained`` init_cfg names a missing local file.

    mmengine would otherwise fail deep inside ``load_checkpoint`` with a message that
    names neither the module nor the config key. Called from ``init_weights`` (not the
    constructor) so that a model can still be built for testing from a full checkpoint
    when the backbone's pretraining file is absent.

    Args:
        init_cfg (dict | list[dict] | None): The module's ``init_cfg``.
        owner (str): Class name used in the message, e.g. ``'ResNet'``.

    Raises:
        ValueError: A ``Pretrained`` entry has no ``checkpoint`` key.
        FileNotFoundError: The local checkpoint file does not exist.
    """
    if init_cfg is None:
        return
    cfgs = [init_cfg] if isinstance(init_cfg, dict) else list(init_cfg)
    for cfg in cfgs:
        if cfg.get('type') != 'Pretrained':
            continue
        checkpoint = cfg.get('checkpoint')
        if not checkpoint:
            raise ValueError(
                f"{owner}: init_cfg of type 'Pretrained' needs a 'checkpoint' key "
                f'(got {dict(cfg)}); set it to the path of a .pth file.')
        if str(checkpoint).startswith(_REMOTE_PREFIXES):
            continue
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(
                f"{owner}: pretrained checkpoint '{checkpoint}' (init_cfg.checkpoint) does "
                'not exist. Download or convert it (docs/usage.md#train-and-evaluate) and set '
                'model.backbone.init_cfg.checkpoint to its local path, or set '
                'model.backbone.init_cfg=None to start from random weights.')


def freeze_batch_norm(module: nn.Module) -> None:
    """Put every BatchNorm layer under ``module`` in eval mode (running statistics frozen)."""
    for child in module.modules():
        if isinstance(child, _BatchNorm):
            child.eval()


class NormEvalMixin:
    """``train()`` that keeps the BatchNorm layers in eval mode when ``self.norm_eval``.

    For a backbone ``class B(NormEvalMixin, BaseModule)`` that sets ``self.norm_eval``.
    """

    norm_eval: bool

    def train(self, mode: bool = True) -> Any:
        """Set train/eval mode, keeping BN layers in eval mode if ``norm_eval``."""
        super().train(mode)  # type: ignore[misc]
        if mode and self.norm_eval:
            freeze_batch_norm(self)  # type: ignore[arg-type]
        return self
