"""Backbones: image crops ``(B, 3, H, W)`` -> tuple of feature maps."""
from .hrnet import HRNet
from .resnet import ResNet
from .tiny_convnet import TinyConvNet

__all__ = ['ResNet', 'HRNet', 'TinyConvNet']
