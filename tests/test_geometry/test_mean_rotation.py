"""The chordal mean rotation behind the mean-pose baseline."""
import math

import torch

from mroi_plugin.geometry import axis_angle_to_rotmat, mean_rotation, rotmat_to_axis_angle


def test_mean_of_identical_rotations_is_that_rotation():
    rot = axis_angle_to_rotmat(torch.tensor([[0.3, -1.2, 0.5]], dtype=torch.float64))
    torch.testing.assert_close(mean_rotation(rot.expand(4, 3, 3)), rot[0])


def test_mean_of_symmetric_rotations_about_one_axis_is_the_middle():
    axis = torch.tensor([0.0, 0.6, 0.8], dtype=torch.float64)
    middle = 0.4
    angles = torch.tensor([middle - 0.3, middle + 0.3, middle - 0.1, middle + 0.1])
    rots = axis_angle_to_rotmat(angles[:, None].double() * axis)
    mean = rotmat_to_axis_angle(mean_rotation(rots))
    torch.testing.assert_close(mean, middle * axis, atol=1e-8, rtol=0)


def test_mean_is_a_proper_rotation_even_for_spread_out_inputs():
    gen = torch.Generator().manual_seed(0)
    rots = axis_angle_to_rotmat(math.pi * torch.rand(50, 24, 3, generator=gen).double())
    mean = mean_rotation(rots)
    eye = torch.eye(3, dtype=torch.float64).expand(24, 3, 3)
    torch.testing.assert_close(mean @ mean.transpose(-1, -2), eye, atol=1e-10, rtol=0)
    torch.testing.assert_close(torch.det(mean), torch.ones(24, dtype=torch.float64))
