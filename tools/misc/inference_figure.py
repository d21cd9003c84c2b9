"""Make docs/images/inference_overlay_side_view.png from synthetic data only.

Two people of the licence-free synthetic generator (stand-in body, procedural background): the
first as rendered in its image, the second posed with its own parameters and placed 0.9 m to the
right and 2.5 m further away. Both are drawn by ``mroi_plugin.apis.mesh_inferencer.draw_people``
as the inferencer draws its predictions (boxes from the projected meshes; the scores are
illustrative)::

    python tools/misc/inference_figure.py docs/images/inference_overlay_side_view.png
"""
import argparse
import os.path as osp
import tempfile

import cv2
import numpy as np

from mroi_plugin.apis.mesh_inferencer import draw_people
from mroi_plugin.geometry import perspective_projection
from mroi_plugin.synthetic.rendering import (
    SyntheticOptions,
    load_synthetic_body_models,
    render_synthetic_sample,
)
from mroi_plugin.synthetic.standin import write_standin_smpl

IMAGE_SIZE = (400, 300)  # (W, H)
SECOND_PERSON_OFFSET = np.array([0.9, 0.0, 2.5])  # metres, camera frame
SCORES = (0.93, 0.81)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out', help='output .png')
    parser.add_argument('--seed', type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as body_dir:
        write_standin_smpl(body_dir, seed=0)
        models = load_synthetic_body_models(body_dir)
        options = SyntheticOptions(image_size=IMAGE_SIZE, max_yaw=0.6, truncation_prob=0.0,
                                   depth_range=(4.0, 4.5))
        rng = np.random.default_rng(args.seed)
        first = render_synthetic_sample(rng, models, options)
        second = render_synthetic_sample(rng, models, options)
    focal = float(np.ravel(first.annotation['focal_length'])[0])
    principal = np.asarray(first.annotation['principal_point'], dtype=np.float64).reshape(2)
    meshes = [first.vertices.astype(np.float64),
              second.vertices - second.vertices.mean(axis=0) + first.vertices.mean(axis=0) +
              SECOND_PERSON_OFFSET]
    people = []
    for vertices, score in zip(meshes, SCORES):
        uv = perspective_projection(vertices, np.zeros(3), focal, principal)
        box = np.concatenate([uv.min(axis=0), uv.max(axis=0)])
        people.append(dict(vertices=vertices, focal_length=focal, principal_point=principal,
                           bbox=box, score=score))
    image = draw_people(first.image, people, models.faces)
    if not cv2.imwrite(args.out, image, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f'Cannot write {args.out}')
    print(f'{args.out}: {image.shape[1]}x{image.shape[0]}, {osp.getsize(args.out)} bytes')


if __name__ == '__main__':
    main()
