"""Generated frames for the simulated camera: a synthetic scene, encoded as JPEG with OpenCV.

The scene has texture (so focus can be measured), a clock bar that moves every frame (so
consecutive frames differ) and fixed landmarks (so a moved camera can be told apart).
Fault modes change what the lens "sees": ``frozen`` repeats one frame, ``black`` covers
the lens, ``defocused`` blurs it, ``moved`` shifts the scene as if the camera was turned;
``motion`` is the scene with someone walking across it (a figure that moves every frame).
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

FrameMode = Literal["normal", "frozen", "black", "defocused", "moved", "motion"]
Image = NDArray[np.uint8]


def scene(width: int = 640, height: int = 360, seed: int = 7) -> Image:
    """The static scene: a textured backdrop with a few landmarks (BGR)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, size=(height // 8, width // 8, 3), dtype=np.uint8)
    img = cv2.resize(base, (width, height), interpolation=cv2.INTER_NEAREST)
    for i in range(12):
        x, y = int(rng.integers(0, width - 60)), int(rng.integers(0, height - 60))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(img, (x, y), (x + 40 + i * 2, y + 30 + i), colour, -1)
    cv2.putText(img, "GATE", (20, height - 30), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (255, 255, 255), 4)
    return np.ascontiguousarray(img)


def render(base: Image, mode: FrameMode, counter: int) -> Image:
    """The frame the lens sees for ``mode``; ``counter`` moves the clock bar."""
    if mode == "black":
        return np.full_like(base, 3)
    img = base.copy()
    height, width = img.shape[:2]
    x = (counter * 17) % (width - 40)
    cv2.rectangle(img, (x, 8), (x + 40, 28), (0, 255, 255), -1)
    cv2.putText(img, str(counter), (width - 140, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2)
    if mode == "defocused":
        return np.asarray(cv2.GaussianBlur(img, (0, 0), 9), dtype=np.uint8)
    if mode == "motion":  # a figure half the picture high, a sixth of its width per frame
        fw, fh = width // 10, height // 2
        fx = (counter * width // 6) % (width - fw)
        cv2.rectangle(img, (fx, height // 3), (fx + fw, height // 3 + fh), (30, 30, 60), -1)
        return img
    if mode == "moved":
        shift = np.array([[1, 0, width // 4], [0, 1, height // 5]], dtype=np.float32)
        moved = cv2.warpAffine(img, shift, (width, height), borderMode=cv2.BORDER_WRAP)
        return np.asarray(moved, dtype=np.uint8)
    return img


def encode_jpeg(img: Image, quality: int = 80) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf.tobytes())


class FrameSource:
    """Frames on demand; ``frozen`` hands back the last frame byte for byte."""

    def __init__(self, width: int = 640, height: int = 360) -> None:
        self.base = scene(width, height)
        self.mode: FrameMode = "normal"
        self.counter = 0
        self._last = b""

    def next_jpeg(self) -> bytes:
        if self.mode == "frozen" and self._last:
            return self._last
        self.counter += 1
        self._last = encode_jpeg(render(self.base, self.mode, self.counter))
        return self._last
