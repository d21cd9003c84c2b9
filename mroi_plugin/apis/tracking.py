"""A light tracker for video: person boxes of consecutive frames get stable track ids.

Each frame's boxes are matched to the live tracks greedily, first by IoU with the track's
predicted box (its last box moved by its last centre velocity), then, for what is left, by the
distance between centres relative to the track's box size (fast motion, missed frames). An
unmatched box starts a new track; a track unmatched for more than ``max_age`` frames ends.
Track ids count up from 0 and are never reused.
"""
from typing import Dict, List

import numpy as np

from .detectors.box_ops import box_iou

__all__ = ['PersonTracker']


class _Track:

    def __init__(self, track_id: int, box: np.ndarray) -> None:
        self.track_id = track_id
        self.box = box
        self.velocity = np.zeros(2)
        self.missed = 0

    def predicted(self) -> np.ndarray:
        shift = self.velocity * (self.missed + 1)
        return self.box + np.concatenate([shift, shift])

    def update(self, box: np.ndarray) -> None:
        centre_old = (self.box[:2] + self.box[2:]) / 2
        centre_new = (box[:2] + box[2:]) / 2
        self.velocity = (centre_new - centre_old) / (self.missed + 1)
        self.box = box
        self.missed = 0


class PersonTracker:
    """Greedy IoU-then-centre tracker (no appearance model, no learned parts).

    Args:
        iou_thr (float): Smallest IoU between a predicted track box and a box to match them.
        center_thr (float): Largest centre distance, in units of the track box's diagonal, to
            match what IoU left unmatched.
        max_age (int): Frames a track survives without a match.
    """

    def __init__(self, iou_thr: float = 0.3, center_thr: float = 0.5, max_age: int = 10) -> None:
        self.iou_thr = float(iou_thr)
        self.center_thr = float(center_thr)
        self.max_age = int(max_age)
        self.tracks: List[_Track] = []
        self.next_id = 0

    def reset(self) -> None:
        """Forget every track (a new video); ids start again from 0."""
        self.tracks = []
        self.next_id = 0

    def update(self, boxes: np.ndarray) -> np.ndarray:
        """Assign track ids to the boxes of the next frame.

        Args:
            boxes (np.ndarray): ``(M, 4|5)`` ``x1, y1, x2, y2(, score)`` pixels.

        Returns:
            np.ndarray: ``(M,)`` int64 track ids, distinct within the frame.
        """
        boxes = np.asarray(boxes, dtype=np.float64)
        boxes = boxes[:, :4] if boxes.size else np.zeros((0, 4))
        ids = np.full(len(boxes), -1, dtype=np.int64)
        matched: Dict[int, int] = {}  # track index -> box index
        if self.tracks and len(boxes):
            predicted = np.stack([track.predicted() for track in self.tracks])
            iou = box_iou(predicted, boxes)
            for flat in np.argsort(-iou, axis=None, kind='stable'):
                t, b = np.unravel_index(flat, iou.shape)
                if iou[t, b] < self.iou_thr:
                    break
                if t not in matched and b not in matched.values():
                    matched[int(t)] = int(b)
            centre_t = (predicted[:, :2] + predicted[:, 2:]) / 2
            centre_b = (boxes[:, :2] + boxes[:, 2:]) / 2
            diag = np.linalg.norm(predicted[:, 2:] - predicted[:, :2], axis=1)
            dist = np.linalg.norm(centre_t[:, None] - centre_b[None], axis=2) / np.maximum(
                diag[:, None], 1e-9)
            for flat in np.argsort(dist, axis=None, kind='stable'):
                t, b = np.unravel_index(flat, dist.shape)
                if dist[t, b] > self.center_thr:
                    break
                if t not in matched and b not in matched.values():
                    matched[int(t)] = int(b)
        for t, b in matched.items():
            self.tracks[t].update(boxes[b])
            ids[b] = self.tracks[t].track_id
        survivors = []
        for index, track in enumerate(self.tracks):
            if index not in matched:
                track.missed += 1
            if track.missed <= self.max_age:
                survivors.append(track)
        self.tracks = survivors
        for b in np.flatnonzero(ids < 0):
            self.tracks.append(_Track(self.next_id, boxes[b]))
            ids[b] = self.next_id
            self.next_id += 1
        return ids
