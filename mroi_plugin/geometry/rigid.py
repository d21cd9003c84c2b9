"""Rigid (and mirror) moves of a posed SMPL body about its root joint.

SMPL poses a body as ``X = R_go (X_rest(theta) - J0) + J0 + T``: the global orientation
``R_go`` turns the body about its rest-pose root joint ``J0(betas)`` (body frame, metres), not
about the origin, and ``T`` (``transl``) is added after. Moving the posed body by an orthogonal
``A`` about the camera origin (``X -> A X``: an in-plane rotation of the image, a horizontal
flip, or both) therefore moves the root joint ``J0 + T`` to ``A (J0 + T)``, so
``T' = A (T + J0) - J0 = A T + (A - I) J0``. Moving ``T`` like a point (``T' = A T``) misses
the body by ``(A - I) J0``, about ``2 sin(theta / 2) |J0|`` (10 cm at 25 deg for
``|J0| = 0.23`` m).

A mirror (``det A = -1``) cannot be an SMPL global orientation: the mirrored body is SMPL's
left/right-swapped pose (``flip_smpl_pose`` in the augmentation) seen through
``R_go' = A R_go M`` with ``M = diag(-1, 1, 1)`` the mirror of the body's own x (left/right)
axis, a proper rotation again. This assumes the rest body is mirror-symmetric about the plane
``x = J0_x`` of its own frame (exact for the stand-in model, within millimetres for SMPL).
"""
from typing import Tuple

import numpy as np
import torch
from torch import Tensor

from ._array import array_function, check_last_dim

__all__ = ['MIRROR_X', 'rigid_move_about_root']

#: The horizontal flip of the camera frame (``x -> -x``), as a ``(3, 3)`` orthogonal matrix.
MIRROR_X = np.diag([-1.0, 1.0, 1.0])
# Largest |A^T A - I| accepted as orthogonal: rotations rounded to float32 (and then used in
# float64) are within ~1e-7; a scale or shear of the body by 1e-4 is not a rigid move.
ORTHOGONALITY_TOLERANCE = 1e-4


@array_function('transform', 'global_orient', 'transl', 'root_joint')
def rigid_move_about_root(transform: Tensor, global_orient: Tensor, transl: Tensor,
                          root_joint: Tensor) -> Tuple[Tensor, Tensor]:
    """SMPL global orientation and translation after moving the posed body by ``transform``.

    With ``A = transform`` the posed body ``X`` becomes ``A X`` (camera frame, about the
    camera origin). The returned parameters pose it exactly (for a mirror, together with the
    left/right-swapped body pose):

    - ``R_go' = A R_go`` if ``det A = +1``, ``A R_go M`` if ``det A = -1``
      (``M = diag(-1, 1, 1)``, the body's own left/right mirror);
    - ``T' = A (T + J0) - J0``: the root joint ``J0 + T`` moves like any point.

    ``A = I`` returns the inputs; a rotation about the camera z axis (``rotmat_about_z``) is
    the image rotation of the augmentation, ``MIRROR_X`` its flip, ``R @ MIRROR_X`` both.

    Args:
        transform (Tensor | ndarray): ``(.., 3, 3)`` orthogonal ``A`` (rotation or mirror).
        global_orient (Tensor | ndarray): ``(.., 3, 3)`` rotation matrices ``R_go``.
        transl (Tensor | ndarray): ``(.., 3)`` SMPL ``transl`` ``T``, metres.
        root_joint (Tensor | ndarray): ``(.., 3)`` rest-pose root joint ``J0(betas)`` in the
            body frame, metres (SMPL joint 0 of the shaped body with zero pose); zeros move
            the body about the camera origin.

    Returns:
        tuple: ``global_orient'`` ``(.., 3, 3)`` and ``transl'`` ``(.., 3)``, broadcast over
        the leading dimensions.

    Raises:
        ValueError: a shape is wrong, or ``transform`` is not orthogonal (``|A^T A - I|``
            above ``ORTHOGONALITY_TOLERANCE``), e.g. a scaled or sheared matrix.
    """
    check_last_dim(transform, (3, 3), 'transform', 'rigid_move_about_root')
    check_last_dim(global_orient, (3, 3), 'global_orient', 'rigid_move_about_root')
    check_last_dim(transl, (3, ), 'transl', 'rigid_move_about_root')
    check_last_dim(root_joint, (3, ), 'root_joint', 'rigid_move_about_root')
    eye = torch.eye(3, dtype=transform.dtype, device=transform.device)
    error = (transform.transpose(-1, -2) @ transform - eye).abs().amax(dim=(-2, -1))
    if error.numel() and float(error.max()) > ORTHOGONALITY_TOLERANCE:
        raise ValueError(
            'rigid_move_about_root(): `transform` must be orthogonal (a rotation, a mirror or '
            f'both); |A^T A - I| reaches {float(error.max()):.3g}. Scale or shear the camera '
            'intrinsics or the crop instead of the body.')
    orient = transform @ global_orient
    # Right-multiplying by M negates the first column: the body-frame left/right mirror that
    # makes the orientation of a mirrored body proper again.
    improper = torch.linalg.det(transform) < 0
    sign = torch.where(improper, -1.0, 1.0).to(orient.dtype)[..., None, None]
    orient = torch.cat([orient[..., :1] * sign, orient[..., 1:]], dim=-1)
    root = root_joint.unsqueeze(-1)
    moved = (transform @ (transl.unsqueeze(-1) + root) - root).squeeze(-1)
    return orient, moved
