"""Render the bundled sample images (made by the project, so free of third-party licences).

Run: python scripts/make_samples.py  -> src/pixelsmith/samples/*.png. Deterministic (fixed seeds).
Each image mixes what restoration methods find hard: sharp edges, fine periodic detail, text,
smooth gradients and 1/f natural-looking texture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "src" / "pixelsmith" / "samples"
SIZE = 256


def fractal_noise(rng: np.random.Generator, size: int, beta: float = 2.2) -> np.ndarray:
    """1/f^beta noise in [0, 1]: a cheap stand-in for natural-image texture."""
    freq = np.fft.fftfreq(size)
    radius = np.sqrt(freq[:, None] ** 2 + freq[None, :] ** 2)
    radius[0, 0] = 1.0
    spectrum = (rng.normal(size=(size, size)) + 1j * rng.normal(size=(size, size)))
    field = np.real(np.fft.ifft2(spectrum / radius ** (beta / 2)))
    return (field - field.min()) / (field.max() - field.min())


def landscape(rng: np.random.Generator) -> Image.Image:
    """Colour scene: sky gradient, sun, fractal mountains, lake with ripples, a striped house."""
    y = np.linspace(0, 1, SIZE)[:, None, None]
    sky = (1 - y) * np.array([70, 130, 210]) + y * np.array([250, 200, 150])
    img = np.broadcast_to(sky, (SIZE, SIZE, 3)).copy()
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    sun = (xx - 190) ** 2 + (yy - 60) ** 2 < 22**2
    img[sun] = [255, 230, 120]
    ridge = fractal_noise(rng, SIZE, 2.6)[40] * 70 + 95
    texture = fractal_noise(rng, SIZE, 1.8)
    for x in range(SIZE):
        top = int(ridge[x])
        shade = 0.55 + 0.45 * texture[top:170, x]
        img[top:170, x] = np.array([90, 110, 80])[None] * shade[:, None] + 30
    water = yy >= 170
    ripple = 0.5 + 0.5 * np.sin(yy * 1.3 + 3 * np.sin(xx / 9.0))
    img[water] = (np.array([40, 90, 140]) * (0.8 + 0.2 * ripple[water, None]))
    pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    draw.rectangle([30, 120, 90, 172], fill=(200, 60, 50), outline=(20, 20, 20))
    for i in range(32, 90, 4):
        draw.line([i, 124, i, 170], fill=(235, 235, 220), width=1)
    draw.polygon([(24, 122), (60, 92), (96, 122)], fill=(110, 50, 40))
    draw.text((120, 228), "pixelsmith", fill=(255, 255, 255))
    return pil


def shapes(rng: np.random.Generator) -> Image.Image:
    """Colour test chart: overlapping shapes, a zone plate, a checkerboard and text."""
    pil = Image.new("RGB", (SIZE, SIZE), (235, 232, 225))
    draw = ImageDraw.Draw(pil)
    palette = [(220, 50, 47), (38, 139, 210), (133, 153, 0), (181, 137, 0), (108, 113, 196)]
    for i in range(12):
        x0, y0 = rng.integers(0, 200, size=2)
        w, h = rng.integers(20, 70, size=2)
        color = palette[i % len(palette)]
        if i % 3 == 0:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=color)
        elif i % 3 == 1:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=color)
        else:
            draw.polygon([(x0, y0 + h), (x0 + w // 2, y0), (x0 + w, y0 + h)], fill=color)
    arr = np.asarray(pil).astype(np.float64)
    yy, xx = np.mgrid[0:96, 0:96]
    zone = 0.5 + 0.5 * np.cos(((xx - 48) ** 2 + (yy - 48) ** 2) * np.pi / 180.0)
    arr[150:246, 150:246] = zone[..., None] * 255
    checker = ((np.arange(64)[:, None] // 8 + np.arange(64)[None, :] // 8) % 2) * 255
    arr[10:74, 180:244] = checker[..., None]
    pil = Image.fromarray(arr.astype(np.uint8))
    ImageDraw.Draw(pil).text((12, 236), "Restore me 0123", fill=(10, 10, 10))
    return pil


def texture_gray(rng: np.random.Generator) -> Image.Image:
    """Gray image: smooth shading, 1/f texture, a sharp-edged disc and thin lines."""
    field = fractal_noise(rng, SIZE, 2.0)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    base = 0.35 + 0.3 * xx + 0.35 * (field - 0.5)
    disc = (xx - 0.35) ** 2 + (yy - 0.6) ** 2 < 0.18**2
    base[disc] = 0.85 - 0.25 * field[disc]
    img = Image.fromarray(np.clip(base * 255, 0, 255).astype(np.uint8), mode="L")
    draw = ImageDraw.Draw(img)
    for k in range(8):
        draw.line([(140 + 12 * k, 20), (250, 40 + 14 * k)], fill=20 + 25 * k, width=1 + k % 2)
    draw.text((150, 200), "gray 8-bit", fill=250)
    return img


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261122)
    for name, make in (("landscape", landscape), ("shapes", shapes), ("texture", texture_gray)):
        path = OUT / f"{name}.png"
        make(rng).save(path, optimize=True)
        print(path, path.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
