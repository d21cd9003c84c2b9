"""Render a body model front and side, at rest and in a walking pose (headless, matplotlib).

``python tools/plot_body_model.py [--model PATH | --gender G --seed S] --out PNG``

Without ``--model`` it renders the licence-free stand-in built on the fly
(``mroi_plugin.synthetic.standin``); with ``--model`` any SMPL-format ``.pkl``/``.npz``
(real SMPL files too). The views are drawn by the project's headless z-buffer renderer
(``mroi_plugin.visualization.render_mesh``) from a distant camera, so no OpenGL is needed.
"""
import argparse
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from mroi_plugin.geometry import axis_angle_to_rotmat, rotmat_to_axis_angle  # noqa: E402
from mroi_plugin.visualization import render_mesh  # noqa: E402

# Camera frames (right, up, towards the viewer) of the orthographic views, in model axes
# (y up, the body facing +z): 'front' looks at the face, 'side' at the body's right side.
VIEWS: Dict[str, Tuple[Tuple[float, float, float], ...]] = {
    'front': ((1., 0., 0.), (0., 1., 0.), (0., 0., 1.)),
    'side': ((0., 0., 1.), (0., 1., 0.), (-1., 0., 0.)),
}
LIGHT_DIR = np.array([-0.4, 0.6, 1.0])  # in view axes: from the upper left, behind the viewer
# Metres from the viewer to the model's origin: far enough for a near-orthographic view.
VIEW_DISTANCE = 1000.0
AMBIENT = 0.3
BASE_COLOUR = np.array([0.80, 0.66, 0.55])  # RGB of the lit surface
DEFAULT_OUT = 'docs/images/standin_smpl.png'


def walking_pose() -> np.ndarray:
    """A mid-stride walking pose with the arms down: ``(24, 3)`` SMPL axis-angle (rad).

    Joint rotations are relative to the parent in the rest (T-pose) frame: about ``x``
    swings a leg (negative = forward), about ``z`` lowers an arm.
    """
    deg = np.pi / 180.

    def rot(axis: Sequence[float], angle_deg: float) -> np.ndarray:
        return axis_angle_to_rotmat(np.asarray(axis, dtype=np.float64) * angle_deg * deg)

    pose = np.zeros((24, 3))
    pose[1] = [-25. * deg, 0., 0.]  # left hip: leg forward
    pose[4] = [10. * deg, 0., 0.]  # left knee
    pose[7] = [-5. * deg, 0., 0.]  # left ankle
    pose[2] = [20. * deg, 0., 0.]  # right hip: leg back
    pose[5] = [35. * deg, 0., 0.]  # right knee
    pose[8] = [15. * deg, 0., 0.]  # right ankle: push off
    pose[3] = [3. * deg, 0., 0.]
    pose[15] = [-5. * deg, 5. * deg, 0.]
    # Arms down (about z), then swung opposite to the legs (about x).
    pose[16] = rotmat_to_axis_angle(rot((1, 0, 0), 20.) @ rot((0, 0, 1), -72.))
    pose[17] = rotmat_to_axis_angle(rot((1, 0, 0), -20.) @ rot((0, 0, 1), 72.))
    pose[13] = [0., 0., -8. * deg]
    pose[14] = [0., 0., 8. * deg]
    pose[18] = [0., -25. * deg, 0.]  # elbows bent forward
    pose[19] = [0., 35. * deg, 0.]
    return pose


def pose_model(model: Dict[str, np.ndarray], pose: np.ndarray,
               betas: Optional[np.ndarray] = None) -> np.ndarray:
    """Vertices ``(6890, 3)`` (m) of an SMPL-format model in ``pose (24, 3)`` via smplx."""
    import smplx
    from smplx.utils import Struct

    keys = ('v_template', 'shapedirs', 'posedirs', 'J_regressor', 'weights', 'kintree_table',
            'f')
    body = smplx.SMPL('', data_struct=Struct(**{k: model[k] for k in keys}),
                      dtype=torch.float64)
    num_betas = body.num_betas
    b = np.zeros((1, num_betas)) if betas is None else np.asarray(betas)[None, :num_betas]
    with torch.no_grad():
        out = body(betas=torch.as_tensor(b), global_orient=torch.as_tensor(pose[None, 0]),
                   body_pose=torch.as_tensor(pose[None, 1:].reshape(1, -1)))
    return out.vertices[0].numpy()


def rasterize(vertices: np.ndarray, faces: np.ndarray, view: str = 'front',
              pixel_size: float = 0.004, colour: np.ndarray = BASE_COLOUR,
              bounds: Optional[Tuple[float, float, float, float]] = None
              ) -> Tuple[np.ndarray, Tuple[float, float, float, float]]:
    """Shaded, near-orthographic image of a mesh, drawn by the project's z-buffer renderer.

    The view is a pinhole camera ``VIEW_DISTANCE`` metres away with a focal length that
    makes one pixel ``pixel_size`` metres at that distance: over a body's depth the scale
    changes by about 0.1 %, an orthographic view for a figure.

    Args:
        vertices (np.ndarray): ``(V, 3)`` metres, model axes.
        faces (np.ndarray): ``(F, 3)`` outward-oriented triangles.
        view (str): A key of :data:`VIEWS`.
        pixel_size (float): Metres per pixel.
        colour (np.ndarray): RGB in [0, 1] of a fully lit surface.
        bounds (tuple, optional): ``(left, right, bottom, top)`` in view metres; default: the
            mesh's extent plus a margin.

    Returns:
        tuple: RGBA image ``(H, W, 4)`` float in [0, 1] (transparent background) and the
        bounds it covers, for ``imshow(extent=...)``.
    """
    right, up, towards = (np.asarray(v, dtype=np.float64) for v in VIEWS[view])
    view_xyz = np.asarray(vertices, dtype=np.float64) @ np.stack([right, up, towards], axis=1)
    if bounds is None:
        margin = 0.03
        bounds = (view_xyz[:, 0].min() - margin, view_xyz[:, 0].max() + margin,
                  view_xyz[:, 1].min() - margin, view_xyz[:, 1].max() + margin)
    left, right_b, bottom, top = bounds
    width = int(np.ceil((right_b - left) / pixel_size))
    height = int(np.ceil((top - bottom) / pixel_size))
    # The renderer's camera frame is x right, y down, z forward (away from the viewer): a
    # proper rotation of the view axes, so outward faces stay outward.
    camera = np.stack([view_xyz[:, 0], -view_xyz[:, 1], VIEW_DISTANCE - view_xyz[:, 2]], axis=1)
    focal = VIEW_DISTANCE / pixel_size
    # The renderer's pixel (u, v) has its centre at (u, v); the figure's extent starts at the
    # edge of pixel 0, half a pixel before its centre.
    principal = (-left / pixel_size - 0.5, top / pixel_size - 0.5)
    light = LIGHT_DIR * np.array([1.0, -1.0, -1.0])
    bgr = np.asarray(colour, dtype=np.float64)[::-1] * 255.0
    rendered, mask = render_mesh(
        np.zeros((height, width, 3), np.uint8), camera, np.asarray(faces), focal, principal,
        color=bgr, light_direction=light, ambient=AMBIENT, diffuse=1.0 - AMBIENT,
        cull_backfaces=True)
    image = np.zeros((height, width, 4))
    image[..., :3] = rendered[..., ::-1] / 255.0
    image[..., 3] = mask
    return image, bounds


def render_rest_and_pose(model: Dict[str, np.ndarray], out_path: str, title: str = '',
                         dpi: int = 100, pixel_size: float = 0.004) -> str:
    """Write a 4-panel PNG: rest pose front/side and walking pose front/side.

    All panels share one vertical scale (metres), so the poses compare directly.
    """
    faces = np.asarray(model['f'], dtype=np.int64)
    rest = np.asarray(model['v_template'], dtype=np.float64)
    posed = pose_model(model, walking_pose())
    panels = [(rest, 'front', 'rest pose, front'), (rest, 'side', 'rest pose, side'),
              (posed, 'front', 'walking, front'), (posed, 'side', 'walking, side')]
    bottom = min(rest[:, 1].min(), posed[:, 1].min()) - 0.03
    top = max(rest[:, 1].max(), posed[:, 1].max()) + 0.03
    images = []
    for verts, view, label in panels:
        right = np.asarray(VIEWS[view][0])
        horiz = verts @ right
        bounds = (horiz.min() - 0.05, horiz.max() + 0.05, bottom, top)
        images.append((rasterize(verts, faces, view, pixel_size, bounds=bounds), label))
    widths = [b[1] - b[0] for (_, b), _ in images]
    inches_per_metre = 2.4
    fig, axes = plt.subplots(
        1, len(images), figsize=(inches_per_metre * sum(widths) + 0.8,
                                 inches_per_metre * (top - bottom) + 0.8),
        gridspec_kw=dict(width_ratios=widths))
    for ax, ((image, bounds), label) in zip(axes, images):
        ax.imshow(image, extent=bounds, interpolation='bilinear')
        ax.set_title(label, fontsize=10)
        ax.axis('off')
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0., 0., 1., 0.95 if title else 1.))
    out_dir = osp.dirname(out_path)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
    fig.savefig(out_path, dpi=dpi)
    plt.close(fig)
    return out_path


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', help='SMPL-format .pkl/.npz file or directory; default: '
                        'the licence-free stand-in built on the fly')
    parser.add_argument('--gender', default='neutral', choices=('neutral', 'male', 'female'))
    parser.add_argument('--seed', type=int, default=0, help='stand-in seed (without --model)')
    parser.add_argument('--out', default=DEFAULT_OUT, help=f'PNG to write ({DEFAULT_OUT})')
    parser.add_argument('--dpi', type=int, default=100)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.model:
        from mroi_plugin.body_models.model_io import load_smpl_model_data
        model, path = load_smpl_model_data(args.model, args.gender)
        title = f'{osp.basename(path)}'
    else:
        from mroi_plugin.synthetic.standin import make_standin_smpl
        model = make_standin_smpl(seed=args.seed, gender=args.gender)
        title = (f'licence-free stand-in body model ({args.gender}, seed {args.seed}; '
                 'SMPL format, not SMPL)')
    print(f'wrote {render_rest_and_pose(model, args.out, title, args.dpi)}')


if __name__ == '__main__':
    main()
