"""What the synthetic people and their surroundings look like.

Clothing, skin and hair colours per body part (with a print on the front of the torso, so a
person facing the camera differs from one facing away), random backgrounds (gradients, noise
textures, stripes, clutter, distractor shapes), lighting and the camera's blur and sensor
noise.
"""
from typing import Optional, Tuple

import cv2
import numpy as np

from .poses import JOINT_INDEX

__all__ = ['body_part_regions', 'sample_background', 'sample_person_colors', 'sample_lighting',
           'degrade_image']

NUM_DISTRACTORS = (0, 2)
BLUR_PROB = 0.3
BLUR_SIGMA = (0.3, 1.0)
NOISE_STD_MAX = 4.0
_NOISE_TILE = 97  # prime, so the period does not line up with the stripes or the JPEG blocks
AMBIENT_RANGE = (0.25, 0.5)
DIFFUSE_RANGE = (0.5, 0.8)
# Direction towards the light (camera frame x, y, z): anywhere left-right, mostly from above
# (y < 0), always from the camera's side (z < 0) so the visible side is lit.
_LIGHT_DIRECTION_RANGE = ((-1.0, 1.0), (-1.0, 0.2), (-1.0, -0.3))
# Backgrounds: value noise (grid cells of the coarsest octave, octaves, amplitude ratio between
# octaves); random shapes (size as a fraction of the short image side, distractors drawn this
# much larger, shapes in a clutter background); two-tone horizon (probability, height range as
# a fraction of H); shading over a texture; stripe period (fraction of the long side).
_NOISE_GRID_CELLS = (2, 6)
_NOISE_OCTAVES = (2, 5)
_NOISE_PERSISTENCE = 0.5
_SHAPE_SIZE = (0.05, 0.4)
_DISTRACTOR_SCALE = 1.5
_CLUTTER_SHAPES = (5, 30)
_HORIZON_PROB = 0.4
_HORIZON_RANGE = (0.3, 0.8)
_TEXTURE_SHADING_PROB = 0.5
_TEXTURE_SHADING_AMPLITUDE = 60.0
_STRIPE_PERIOD = (0.03, 0.25)
_HARD_STRIPES_PROB = 0.5

# Body parts by the joint whose skinning weight dominates a vertex.
_PART_JOINTS = {
    'pants': ('pelvis', 'left_hip', 'right_hip'),
    'shins': ('left_knee', 'right_knee'),
    'shoes': ('left_ankle', 'right_ankle', 'left_foot', 'right_foot'),
    'shirt': ('spine_1', 'spine_2', 'spine_3', 'left_collar', 'right_collar'),
    'upper_arms': ('left_shoulder', 'right_shoulder'),
    'forearms': ('left_elbow', 'right_elbow'),
    'skin': ('neck', 'head', 'left_wrist', 'right_wrist', 'left_hand', 'right_hand'),
}
# Hair: head vertices above the head joint or behind it (rest pose, metres) - gives the head a
# front and a back.
_HAIR_ABOVE = 0.06
_HAIR_BEHIND = 0.0
_BALD_PROB = 0.1
# Torso front: vertices of the shirt's trunk joints in front of their joint (rest pose, metres)
# carry a print in a contrasting lightness, so the front of the body differs from its back
# as on real clothes (zips, prints, lapels). Without such a cue a small network cannot tell
# a person facing the camera from one facing away, and its 3D losses then average the two
# into contorted articulations.
_FRONT_MARGIN = 0.0
_FRONT_JOINTS = ('spine_1', 'spine_2', 'spine_3')
_FRONT_PRINT_PROB = 0.9
# The print is the shirt colour pulled this far towards black (light shirts) or white (dark).
_FRONT_PRINT_CONTRAST = 0.65
_LONG_SLEEVE_PROB = 0.5
_SLEEVELESS_PROB = 0.15
_SHORTS_PROB = 0.25
# Per-part brightness jitter so neighbouring parts stay distinguishable.
_PART_JITTER = 0.08
# Clothing colours: (saturation range, value range) in [0, 1]; skin and hair jitter.
_SHIRT_SAT_VAL = ((0.1, 0.9), (0.2, 0.95))
_PANTS_SAT_VAL = ((0.0, 0.7), (0.1, 0.7))
_SHOES_SAT_VAL = ((0.0, 0.4), (0.05, 0.5))
_SKIN_JITTER = 0.1
_HAIR_JITTER = 0.2
# Skin tones (BGR), from light to dark.
_SKIN_TONES = ((189, 214, 245), (160, 195, 234), (125, 170, 220), (95, 140, 195),
               (70, 105, 160), (50, 75, 115))
_HAIR_COLORS = ((20, 20, 25), (30, 45, 70), (40, 70, 120), (90, 150, 200), (160, 160, 165))


def body_part_regions(lbs_weights: np.ndarray, v_template: np.ndarray,
                      joint_regressor: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The per-vertex dressing data of a body model.

    Args:
        lbs_weights (np.ndarray): ``(V, 24)`` skinning weights.
        v_template (np.ndarray): ``(V, 3)`` rest vertices, metres (body frame, y up, +z front).
        joint_regressor (np.ndarray): ``(24, V)`` rest joint regressor.

    Returns:
        tuple: ``part_labels (V,)`` index of the dominant joint, ``hair (V,)`` bool hair region
        of the head and ``front (V,)`` bool front of the torso.
    """
    labels = lbs_weights.argmax(axis=1)
    rest = v_template.astype(np.float64)
    rest_joints = joint_regressor @ rest
    head = JOINT_INDEX['head']
    above = rest[:, 1] > rest_joints[head, 1] + _HAIR_ABOVE
    behind = rest[:, 2] < rest_joints[head, 2] - _HAIR_BEHIND
    hair = (labels == head) & (above | behind)
    trunk = np.array([JOINT_INDEX[name] for name in _FRONT_JOINTS])
    ahead = rest[:, 2] > rest_joints[labels, 2] + _FRONT_MARGIN
    front = np.isin(labels, trunk) & ahead
    return labels, hair, front


def _random_color(rng: np.random.Generator, sat: Tuple[float, float] = (0.0, 1.0),
                  val: Tuple[float, float] = (0.1, 1.0)) -> np.ndarray:
    """A random BGR colour (float64, 0-255) from any hue and saturation/value ranges."""
    # OpenCV's 8-bit HSV: hue in [0, 180), saturation and value in [0, 255].
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(*sat) * 255, rng.uniform(*val) * 255]]])
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)[0, 0].astype(np.float64)


def _value_noise(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """``(H, W)`` fractal value noise in [0, 1]: random grids upsampled, octaves summed."""
    total = np.zeros((height, width), np.float32)
    cells = int(rng.integers(*_NOISE_GRID_CELLS))
    weight, weight_sum = 1.0, 0.0
    for _ in range(int(rng.integers(*_NOISE_OCTAVES))):
        grid = rng.random((cells + 1, cells + 1), dtype=np.float32)
        total += weight * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        weight_sum += weight
        weight *= _NOISE_PERSISTENCE
        cells *= 2
    total /= weight_sum
    low, high = float(total.min()), float(total.max())
    return (total - low) / max(high - low, 1e-6)


def _two_color_map(field: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Map a ``(H, W)`` field in [0, 1] between two random colours -> float32 BGR."""
    c0, c1 = _random_color(rng), _random_color(rng)
    field = field.astype(np.float32)
    # Per channel then merged: much faster than broadcasting over a trailing axis of 3.
    return cv2.merge([field * np.float32(c1[k] - c0[k]) + np.float32(c0[k]) for k in range(3)])


def _draw_random_shape(canvas: np.ndarray, rng: np.random.Generator, scale: float) -> None:
    """Draw one random filled shape (rectangle, ellipse, polygon or thick line) in place."""
    height, width = canvas.shape[:2]
    color = tuple(float(c) for c in _random_color(rng))
    center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
    size = max(2, int(scale * min(width, height) * rng.uniform(*_SHAPE_SIZE)))
    kind = int(rng.integers(4))
    if kind == 0:
        cv2.rectangle(canvas, (center[0] - size, center[1] - size // 2),
                      (center[0] + size, center[1] + size // 2), color, -1)
    elif kind == 1:
        cv2.ellipse(canvas, center, (size, max(1, int(size * rng.uniform(0.3, 1.0)))),
                    float(rng.uniform(0, 180)), 0, 360, color, -1)
    elif kind == 2:
        num = int(rng.integers(3, 7))
        angles = np.sort(rng.uniform(0, 2 * np.pi, num))
        radii = size * rng.uniform(0.4, 1.0, num)
        points = np.stack([center[0] + radii * np.cos(angles),
                           center[1] + radii * np.sin(angles)], axis=1)
        cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], color)
    else:
        end = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(canvas, center, end, color, max(1, size // 6))


def sample_background(rng: np.random.Generator, height: int, width: int,
                      clutter: bool = True) -> np.ndarray:
    """A random background: gradient, noise texture, stripes or shapes, plus distractors.

    Args:
        rng (np.random.Generator): Random generator.
        height (int): Image height, pixels.
        width (int): Image width, pixels.
        clutter (bool): False draws only smooth gradients and no distractors.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 BGR.
    """
    kind = int(rng.integers(4)) if clutter else 0
    if kind == 0:  # linear gradient, sometimes with a horizon (two-tone ground / sky)
        angle = rng.uniform(0, 2 * np.pi)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        field = np.cos(angle) * xs / width + np.sin(angle) * ys / height
        field = (field - field.min()) / max(float(np.ptp(field)), 1e-6)
        canvas = _two_color_map(field, rng)
        if rng.uniform() < _HORIZON_PROB:
            horizon = int(rng.uniform(*_HORIZON_RANGE) * height)
            canvas[horizon:] = _two_color_map(field[horizon:], rng)
    elif kind == 1:  # noise texture
        canvas = _two_color_map(_value_noise(rng, height, width), rng)
        if rng.uniform() < _TEXTURE_SHADING_PROB:
            shading = _value_noise(rng, height, width)[..., None] - 0.5
            canvas += shading * _TEXTURE_SHADING_AMPLITUDE
    elif kind == 2:  # stripes
        angle = rng.uniform(0, np.pi)
        period = rng.uniform(*_STRIPE_PERIOD) * max(height, width)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        phase = (np.cos(angle) * xs + np.sin(angle) * ys) * (2 * np.pi / period)
        field = 0.5 + 0.5 * np.sin(phase)
        if rng.uniform() < _HARD_STRIPES_PROB:
            field = (field > 0.5).astype(np.float32)
        canvas = _two_color_map(field, rng)
    else:  # clutter of random shapes over a flat or noisy base
        canvas = np.empty((height, width, 3), np.float32)
        canvas[:] = _random_color(rng)
        for _ in range(int(rng.integers(*_CLUTTER_SHAPES))):
            _draw_random_shape(canvas, rng, scale=1.0)
    num_distractors = 0
    if clutter:
        num_distractors = int(rng.integers(NUM_DISTRACTORS[0], NUM_DISTRACTORS[1] + 1))
    for _ in range(num_distractors):
        _draw_random_shape(canvas, rng, scale=_DISTRACTOR_SCALE)
    return np.clip(canvas, 0, 255).astype(np.uint8)


def sample_person_colors(rng: np.random.Generator, part_labels: np.ndarray,
                         hair: np.ndarray, front: Optional[np.ndarray] = None) -> np.ndarray:
    """Per-vertex clothing / skin colours from the body-part labels.

    Shirt (with long, short or no sleeves), trousers or shorts, shoes, skin and hair, each
    body part jittered in brightness so limbs stay distinguishable.

    Args:
        rng (np.random.Generator): Random generator.
        part_labels (np.ndarray): ``(V,)`` dominant joint per vertex (smpl_24 index).
        hair (np.ndarray): ``(V,)`` bool hair region.
        front (np.ndarray, optional): ``(V,)`` bool front of the torso; with probability
            ``_FRONT_PRINT_PROB`` it gets a print of contrasting lightness.

    Returns:
        np.ndarray: ``(V, 3)`` float64 BGR, 0-255.
    """
    skin = np.asarray(_SKIN_TONES[rng.integers(len(_SKIN_TONES))], np.float64)
    skin = skin * rng.uniform(1.0 - _SKIN_JITTER, 1.0 + _SKIN_JITTER)
    shirt = _random_color(rng, *_SHIRT_SAT_VAL)
    pants = _random_color(rng, *_PANTS_SAT_VAL)
    shoes = _random_color(rng, *_SHOES_SAT_VAL)
    sleeve = rng.uniform()
    colors = {
        'shirt': shirt,
        'upper_arms': skin if sleeve < _SLEEVELESS_PROB else shirt,
        'forearms': shirt if sleeve > 1.0 - _LONG_SLEEVE_PROB else skin,
        'pants': pants,
        'shins': skin if rng.uniform() < _SHORTS_PROB else pants,
        'shoes': shoes,
        'skin': skin,
    }
    joint_colors = np.zeros((len(JOINT_INDEX), 3))
    for part, joints in _PART_JOINTS.items():
        for joint in joints:
            joint_colors[JOINT_INDEX[joint]] = colors[part] * rng.uniform(1 - _PART_JITTER,
                                                                 1 + _PART_JITTER)
    vertex_colors = joint_colors[part_labels]
    if rng.uniform() >= _BALD_PROB:
        hair_color = np.asarray(_HAIR_COLORS[rng.integers(len(_HAIR_COLORS))], np.float64)
        vertex_colors[hair] = hair_color * rng.uniform(1.0 - _HAIR_JITTER, 1.0 + _HAIR_JITTER)
    if front is not None and rng.uniform() < _FRONT_PRINT_PROB:
        towards = 0.0 if shirt.mean() > 127.5 else 255.0
        vertex_colors[front] = shirt + _FRONT_PRINT_CONTRAST * (towards - shirt)
    return np.clip(vertex_colors, 0, 255)


def _add_sensor_noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Add Gaussian pixel noise (std up to ``NOISE_STD_MAX``) from a randomly shifted tile.

    Drawing one normal per pixel dominates the sample time at 640x480; a periodic tile of
    ``_NOISE_TILE`` pixels is indistinguishable at these amplitudes.
    """
    height, width = image.shape[:2]
    std = rng.uniform(0.0, NOISE_STD_MAX)
    tile = rng.standard_normal((_NOISE_TILE, _NOISE_TILE, 3), dtype=np.float32) * std
    reps = (height // _NOISE_TILE + 2, width // _NOISE_TILE + 2, 1)
    dy, dx = (int(v) for v in rng.integers(0, _NOISE_TILE, size=2))
    noise = np.tile(tile, reps)[dy:dy + height, dx:dx + width]
    return cv2.add(image, noise, dtype=cv2.CV_8U)


def sample_lighting(rng: np.random.Generator) -> Tuple[np.ndarray, float, float]:
    """A directional light: ``(direction towards the light (3,), ambient, diffuse)``."""
    light = np.array([rng.uniform(low, high) for low, high in _LIGHT_DIRECTION_RANGE])
    ambient = rng.uniform(*AMBIENT_RANGE)
    diffuse = rng.uniform(*DIFFUSE_RANGE)
    return light, ambient, diffuse


def degrade_image(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The camera's imperfections: sometimes a Gaussian blur, always sensor noise."""
    if rng.uniform() < BLUR_PROB:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(*BLUR_SIGMA))
    return _add_sensor_noise(image, rng)
