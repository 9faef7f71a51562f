"""``pixelsmith explain``: the click command (only click is imported until it runs)."""

from __future__ import annotations

import click

from pixelsmith.errors import PixelsmithError


@click.command()
@click.argument("image", type=click.Path())
@click.option("--method", required=True, metavar="NAME|FOLDER",
              help="A shipped model (e.g. denoise-color, features-cifar10, codec-q3, vae-mnist) "
                   "or a model folder written by `pixelsmith export-model`.")
@click.option("-o", "--output", required=True, type=click.Path(),
              help="Folder for index.html and its PNG panels.")
@click.option("--kind", "kinds", metavar="K1,K2",
              help="Comma-separated: activations, attribution, lrp, gradcam, codec, vae "
                   "(default: all that fit the model).")
@click.option("--at", "at", metavar="X,Y", help="Explain this output pixel (default: the centre; "
              "for inpainting: the filled region).")
@click.option("--box", metavar="X0,Y0,X1,Y1",
              help="Explain the sum of this output box (X1, Y1 excluded).")
@click.option("--target", "explained", default="full", show_default=True,
              metavar="correction|full", help="Restoration models: explain the network's "
              "learned correction (the output minus the path no weight computes: the input, "
              "its bicubic upscale or its pull-push fill) or the full output.")
@click.option("--class", "label", metavar="K", help="Classifiers: explain class K "
              "(default: the predicted class).")
@click.option("--sigma", metavar="SIGMA", help="Noise level (0-255) for denoising models "
              "(default: estimated from the image).")
@click.option("--quality", metavar="Q", help="JPEG quality for de-JPEG models (default: read "
              "from a JPEG file's tables).")
@click.option("--mask", type=click.Path(), help="Inpainting models: the mask (white = missing).")
@click.option("--steps", default="16", show_default=True, metavar="N",
              help="Integrated-gradients steps to start with; doubled (up to 256) until the "
                   "attributions sum to f(image) - f(black) within 1%.")
@click.option("--data", type=click.Path(), help="VAEs: a folder of images for the per-dimension "
              "KL and active units.")
@click.option("--limit", default="512", show_default=True, metavar="N",
              help="At most N images of --data.")
@click.option("--max-pixels", default="4000000", show_default=True, metavar="N",
              help="Refuse larger images (gradients of a whole image take memory).")
def explain(image, method, output, kinds, at, box, explained, label, sigma, quality, mask, steps,
            data, limit, max_pixels) -> None:
    """Show what a model looks at: activations, attributions (gradient x input, integrated
    gradients, LRP), Grad-CAM, a codec's bit allocation, a VAE's active latent dimensions.

    \b
    Examples:
      pixelsmith explain noisy.png --method denoise-color --at 120,80 -o out/
      pixelsmith explain face.png --method inpaint --mask m.png --kind attribution -o out/
      pixelsmith explain cat.png --method features-cifar10 --kind gradcam,lrp -o out/
      pixelsmith explain photo.png --method codec-q3 --kind codec -o out/
      pixelsmith explain digit.png --method vae-mnist --data mnist-pngs/ -o out/
    """
    from pathlib import Path

    from pixelsmith.cli.synthesis import parse_int
    from pixelsmith.explain.attribution import OUTPUTS, parse_box, parse_point
    from pixelsmith.explain.run import explain as run_explain
    from pixelsmith.explain.run import parse_kinds
    from pixelsmith.explain.subject import load_subject
    from pixelsmith.io import check_output_folder

    if explained not in OUTPUTS:
        raise PixelsmithError(f"--target must be one of {', '.join(OUTPUTS)}, not '{explained}'")
    if at and box:
        raise PixelsmithError("give --at or --box, not both")
    point = parse_point(at) if at else None
    area = parse_box(box) if box else None
    sigma_value = None
    if sigma is not None:
        from pixelsmith.cli.synthesis import parse_float

        sigma_value = parse_float("--sigma", sigma)
        if sigma_value > 255:
            raise PixelsmithError(f"--sigma must be in 0-255, not {sigma}")
    quality_value = parse_int("--quality", quality, 1) if quality is not None else None
    if quality_value is not None and quality_value > 100:
        raise PixelsmithError(f"--quality must be in 1-100, not {quality}")
    label_value = parse_int("--class", label, 0) if label is not None else None
    if data is not None and not Path(data).is_dir():
        raise PixelsmithError(f"{data}: no such folder")
    check_output_folder(output)  # a bad -o fails now, not after the attributions
    subject = load_subject(method, image, sigma=sigma_value, quality=quality_value, mask=mask,
                           max_pixels=parse_int("--max-pixels", max_pixels, 1))
    page = run_explain(subject, output, parse_kinds(kinds, subject), at=point, box=area,
                       label=label_value, steps=parse_int("--steps", steps, 2), data=data,
                       limit=parse_int("--limit", limit, 1), output=explained)
    click.echo(str(page))
