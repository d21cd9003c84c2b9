"""The one home of every camera and rotation formula (docs/CONVENTIONS.md).

Every function is batched over leading dimensions, takes torch tensors or numpy arrays and
returns the same kind, keeping the input's floating dtype.
"""

from .affine import (
    DEFAULT_CROP_SIZE,
    affine_intrinsics,
    apply_affine,
    compose_affine,
    get_crop_affine,
    get_resize_affine,
    get_rotation_affine,
    invert_affine,
)
from .bbox import DEFAULT_BBOX_PADDING, bbox_xyxy_to_center_wh, bbox_xyxy_to_roi, roi_size
from .camera import (
    BBOX_INFO_CHANNELS,
    BBOX_INFO_MODES,
    CLIFF_BBOX_INFO_CENTER_SCALE,
    CLIFF_BBOX_INFO_SIZE_MEAN,
    CLIFF_BBOX_INFO_SIZE_STD,
    CROP_SCALE_PARAMS,
    DEFAULT_CROP_CAMERA,
    MIN_DEPTH,
    MIN_FINITE_BBOX_SCALE,
    MIN_PERSON_BBOX_SCALE,
    ROI_LAYOUT_CHANNELS,
    backproject_pixel,
    cam_crop_to_full,
    cam_full_to_crop,
    carry_crop_camera,
    compute_bbox_info,
    decode_crop_camera,
    default_intrinsics,
    default_principal_point,
    encode_crop_camera,
    estimate_focal_length,
    fit_translation_to_box,
    fuse_full_cameras,
    image_to_normalized_crop,
    normalized_crop_to_image,
    perspective_projection,
    relative_roi_layout,
    transfer_crop_camera,
    weak_perspective_projection,
)
from .procrustes import similarity_procrustes
from .rigid import MIRROR_X, rigid_move_about_root
from .rotation import (
    axis_angle_to_rotmat,
    mean_rotation,
    rot6d_to_rotmat,
    rotmat_about_z,
    rotmat_to_axis_angle,
    rotmat_to_rot6d,
)

__all__ = [
    # bbox
    "DEFAULT_BBOX_PADDING",
    "bbox_xyxy_to_center_wh",
    "bbox_xyxy_to_roi",
    "roi_size",
    # camera
    "CLIFF_BBOX_INFO_CENTER_SCALE",
    "CLIFF_BBOX_INFO_SIZE_MEAN",
    "CLIFF_BBOX_INFO_SIZE_STD",
    "BBOX_INFO_MODES",
    "BBOX_INFO_CHANNELS",
    "MIN_FINITE_BBOX_SCALE",
    "MIN_PERSON_BBOX_SCALE",
    "MIN_DEPTH",
    "DEFAULT_CROP_CAMERA",
    "estimate_focal_length",
    "default_principal_point",
    "default_intrinsics",
    "backproject_pixel",
    "compute_bbox_info",
    "CROP_SCALE_PARAMS",
    "decode_crop_camera",
    "encode_crop_camera",
    "cam_crop_to_full",
    "cam_full_to_crop",
    "perspective_projection",
    "weak_perspective_projection",
    "image_to_normalized_crop",
    "normalized_crop_to_image",
    "transfer_crop_camera",
    "ROI_LAYOUT_CHANNELS",
    "relative_roi_layout",
    "carry_crop_camera",
    "fit_translation_to_box",
    "fuse_full_cameras",
    # affine
    "DEFAULT_CROP_SIZE",
    "get_crop_affine",
    "get_resize_affine",
    "get_rotation_affine",
    "apply_affine",
    "invert_affine",
    "compose_affine",
    "affine_intrinsics",
    # rotation
    "rot6d_to_rotmat",
    "rotmat_to_rot6d",
    "axis_angle_to_rotmat",
    "rotmat_to_axis_angle",
    "rotmat_about_z",
    "mean_rotation",
    # procrustes
    "similarity_procrustes",
    # rigid moves of a posed body
    "MIRROR_X",
    "rigid_move_about_root",
]
