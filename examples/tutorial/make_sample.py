"""Draw the tutorial's ``sample.jpg`` locally (the tutorial downloads a photo; we stay offline).

    python make_sample.py sample.jpg

A 640x480 picture with a gradient and a few coloured balls, so a crop of it
is easy to recognise and to check.
"""

from __future__ import annotations

import sys

from PIL import Image, ImageDraw


def draw(path: str) -> None:
    image = Image.new("RGB", (640, 480))
    pixels = image.load()
    for y in range(480):
        for x in range(640):
            pixels[x, y] = (x * 255 // 639, y * 255 // 479, 128)
    pen = ImageDraw.Draw(image)
    for (cx, cy, r), colour in zip(
        [(160, 160, 70), (330, 250, 90), (520, 120, 60)],
        [(230, 40, 40), (40, 200, 60), (40, 80, 230)],
        strict=True,
    ):
        pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour, outline=(255, 255, 255))
    image.save(path, "JPEG", quality=92)


if __name__ == "__main__":
    draw(sys.argv[1] if len(sys.argv) > 1 else "sample.jpg")
