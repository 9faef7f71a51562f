"""Make the example pictures of docs/EXPLAIN.md (one per kind of explanation) in docs/images/.

    python scripts/make_explain_images.py                 # writes docs/images/explain-*.png
    python scripts/make_explain_images.py --output /tmp/x

Every picture is a row of panels from `pixelsmith explain` pages, on the bundled sample
landscape.png or on images the shipped generative models make (no data-set image is shown;
the VAE's KL bars are averaged over the CIFAR-10 test folder when it is present).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from PIL import Image as PILImage

from pixelsmith.explain.run import explain
from pixelsmith.explain.subject import load_subject, make_subject
from pixelsmith.io import read_image
from pixelsmith.settings import dataset_path
from pixelsmith.zoo import load_model

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "pixelsmith" / "samples" / "landscape.png"


def row(folder: Path, names: list[str], height: int = 256, gap: int = 8) -> PILImage.Image:
    """The panels ``names`` of a page folder side by side, scaled to one height."""
    panels = []
    for name in names:
        img = PILImage.open(folder / name).convert("RGB")
        width = max(1, round(img.width * height / img.height))
        panels.append(img.resize((width, height), PILImage.NEAREST))
    out = PILImage.new("RGB", (sum(p.width for p in panels) + gap * (len(panels) - 1), height),
                       "white")
    left = 0
    for panel in panels:
        out.paste(panel, (left, 0))
        left += panel.width + gap
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    x = read_image(SAMPLE)
    noisy = (x + 25 / 255 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0)))
    pictures: dict[str, tuple[Path, list[str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        denoise = load_subject("denoise-color", noisy.clamp(0, 1), sigma=25.0)
        explain(denoise, tmp / "denoise", ["activations", "attribution", "lrp"], at=(120, 80))
        pictures["activations"] = (tmp / "denoise", ["input.png", "activations-02.png"])
        pictures["attribution"] = (tmp / "denoise", [
            "input.png", "attribution-zoom.png", "receptive-field.png"])
        pictures["lrp"] = (tmp / "denoise", ["attribution-zoom.png", "lrp-epsilon-zoom.png",
                                             "lrp-zplus-zoom.png"])

        mask = torch.zeros(1, 1, 256, 256)
        mask[..., 104:144, 96:160] = 1.0
        inpaint = load_subject("inpaint", x, mask=mask)
        explain(inpaint, tmp / "inpaint", ["attribution"])
        pictures["inpaint"] = (tmp / "inpaint", ["input.png", "output.png",
                                                     "inpaint-sources.png"])

        face = load_model("gan-faces").sample(1, seed=3)
        cam = make_subject(load_model("features-faces"), face)
        explain(cam, tmp / "gradcam", ["gradcam"])
        pictures["gradcam"] = (tmp / "gradcam", ["input.png", "gradcam-overlay.png"])

        codec = load_subject("codec-q3", x)
        explain(codec, tmp / "codec", ["codec"])
        pictures["codec"] = (tmp / "codec", ["input.png", "codec-bits-overlay.png",
                                                 "codec-scales.png"])

        vae = load_model("vae-cifar10")
        data = dataset_path("cifar10/test")
        explain(make_subject(vae, vae.sample(1, seed=1)), tmp / "vae", ["vae"],
                data=data if data.is_dir() else None, limit=1000)
        pictures["vae"] = (tmp / "vae", ["vae-kl.png", "vae-traversal.png"])

        for kind, (folder, names) in pictures.items():
            target = args.output / f"explain-{kind}.png"
            row(folder, names).save(target, optimize=True)
            print(target)


if __name__ == "__main__":
    main()
