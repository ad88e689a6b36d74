"""The README picture: one face crop of the original and of each chosen method, side by side."""

from pathlib import Path

import numpy as np

from .frames import i420_to_rgb

CASCADES = ["/usr/share/opencv4/haarcascades", "/usr/share/opencv/haarcascades"]  # Debian opencv-data


def _cascade():
    """OpenCV's frontal-face Haar cascade if some install has it (OpenCV 5 wheels ship none;
    Debian's opencv-data does), else None."""
    import cv2

    dirs = [getattr(getattr(cv2, "data", None), "haarcascades", ""), *CASCADES]
    for d in dirs:
        p = Path(d) / "haarcascade_frontalface_default.xml"
        if d and p.is_file():
            c = cv2.CascadeClassifier(str(p))
            if not c.empty():
                return c
    return None


def face_box(y: np.ndarray, side: int) -> tuple[int, int, int]:
    """(x, y, side) of a square crop around the largest face in luma plane `y`. Without a face
    detector (or face), the square of most detail (Laplacian energy) whose centre lies in the
    middle half of the width and upper two thirds of the height, where a talking head's eyes are."""
    import cv2

    h, w = y.shape
    side = min(side, h, w)
    c = _cascade()
    faces = c.detectMultiScale(y, 1.1, 5, minSize=(64, 64)) if c is not None else []
    if len(faces):
        fx, fy, fw, fh = max(faces, key=lambda f: f[2] * f[3])
        cx, cy = fx + fw // 2, fy + fh // 2
    else:
        energy = cv2.boxFilter(np.abs(cv2.Laplacian(y.astype(np.float32), cv2.CV_32F)), -1, (side, side))
        win = energy[: 2 * h // 3, w // 4 : 3 * w // 4]
        cy, cx = np.unravel_index(np.argmax(win), win.shape)
        cx += w // 4
    x0 = int(np.clip(cx - side // 2, 0, w - side))
    y0 = int(np.clip(cy - side // 2, 0, h - side))
    return x0, y0, side


def side_by_side(path: Path, panels: list[tuple[str, tuple]], side: int = 320, box=None) -> dict:
    """Write a PNG of the same face crop of each (label, (y, u, v) planes of one frame); the
    crop is `box` (x, y, side) or found in the first panel by face_box()."""
    import cv2

    x0, y0, s = box or face_box(panels[0][1][0], side)
    tiles = []
    for label, (y, u, v) in panels:
        rgb = i420_to_rgb(y, u, v)[y0 : y0 + s, x0 : x0 + s]
        band = np.full((28, s, 3), 255, np.uint8)
        cv2.putText(band, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(np.vstack([rgb, band]))
        tiles.append(np.full((s + 28, 4, 3), 255, np.uint8))
    img = np.hstack(tiles[:-1])
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img[:, :, ::-1])
    return {"x": x0, "y": y0, "side": s}
