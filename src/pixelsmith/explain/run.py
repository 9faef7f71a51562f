"""Run the requested explanations of one subject and lay them out on a :class:`Page`.

:func:`explain` is what ``pixelsmith explain`` calls, and the one-call Python API: every
section is built from the functions of the other modules of this package, which can also be
used on their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from pixelsmith.errors import PixelsmithError
from pixelsmith.explain.page import (
    Page,
    bar_chart,
    feature_grid,
    heatmap,
    image_panel,
    mark_box,
    overlay,
)
from pixelsmith.explain.subject import KINDS, Subject

ALL_KINDS = ("activations", "attribution", "lrp", "gradcam", "codec", "vae")


def parse_kinds(text: str | None, subject: Subject) -> list[str]:
    """--kind 'a,b' -> a checked list (default: what fits the model, see subject.KINDS)."""
    if not text:
        return list(KINDS[subject.kind])
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    for kind in kinds:
        if kind not in ALL_KINDS:
            raise PixelsmithError(f"unknown --kind '{kind}' (choose from {', '.join(ALL_KINDS)})")
        if kind not in KINDS[subject.kind] and not (kind == "attribution"
                                                    and subject.kind == "discriminator"):
            raise PixelsmithError(f"--kind {kind} does not fit model '{subject.name}', a "
                                  f"{subject.kind} model (it can: "
                                  f"{', '.join(KINDS[subject.kind])})")
    return kinds


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _section_input(page: Page, subject: Subject, target) -> None:
    section = page.section("Input and output", "; ".join(
        f"{k}: {v}" for k, v in subject.extra.items()))
    size = tuple(subject.x.shape[-2:])
    panel = image_panel(subject.x)
    if target is not None and target.box is not None and subject.kind == "restoration":
        out = subject.output()
        scale = out.shape[-1] / size[1]
        x0, y0, x1, y1 = target.box
        panel = mark_box(panel, (x0 / scale, y0 / scale, x1 / scale, y1 / scale), size)
        page.add(section, "input.png", panel, "input (green: the explained output box)")
        page.add(section, "output.png", mark_box(image_panel(out), target.box,
                                                 tuple(out.shape[-2:])), "model output")
        return
    if subject.mask is not None:  # show the hole the model fills
        shown = subject.x * (1 - subject.mask) + 0.5 * subject.mask
        page.add(section, "input.png", image_panel(shown), "input (gray: missing pixels)")
    else:
        page.add(section, "input.png", panel, "input as the model sees it")
    if subject.kind == "restoration":
        page.add(section, "output.png", image_panel(subject.output()), "model output")


def _section_activations(page: Page, subject: Subject) -> None:
    from pixelsmith.explain.activations import activations

    found = activations(subject)
    section = page.section(
        "Activations", "The 8 most active feature maps of each stage (by energy, the mean square;"
        " each map scaled to its own range). Sparsity: the share of values within 1% of the "
        "stage's largest |activation| of zero.")
    rows = []
    for i, stage in enumerate(found):
        page.add(section, f"activations-{i:02d}.png", feature_grid(stage.maps.numpy()),
                 f"{stage.name}: channels {', '.join(map(str, stage.top_channels))}")
        rows.append([stage.name, "x".join(map(str, stage.shape)), _fmt(stage.mean),
                     _fmt(stage.mean_abs), f"{stage.sparsity:.1%}"])
    section.table = (["stage", "C x H x W", "mean", "mean |a|", "sparsity"], rows)


def _section_attribution(page: Page, subject: Subject, target, steps: int) -> None:
    from pixelsmith.explain import attribution as at
    from pixelsmith.explain.sanity import (
        edge_map,
        radial_normalized,
        randomized,
        rank_correlation,
    )
    from pixelsmith.explain.subject import rebind

    base = image_panel(subject.x)
    section = page.section(
        "Attribution", f"What each input pixel contributed to the {target.describe()} (red adds "
        "to it, blue takes away). Integrated gradients start from a black image; their sum "
        "should equal f(image) - f(black). The table compares the map with that of the same "
        "network re-initialised at random (Adebayo et al. 2018): a signed rank correlation "
        "near 0 says the weights decide the map; for local networks the |map| correlation "
        "stays high, since |attribution| falls off with distance in any of them.")
    grad = at.gradient(subject, target)
    gxi = grad * subject.x
    page.add(section, "attribution-gradxinput.png", heatmap(at.pixel_map(gxi), signed=True),
             "gradient x input")
    rows = []
    try:
        ig = at.integrated_gradients(subject, target, steps=steps)
    except PixelsmithError as exc:
        section.text += f" Integrated gradients skipped: {exc}."
        ig = None
    if ig is not None:
        page.add(section, "attribution-ig.png", heatmap(at.pixel_map(ig.attribution), True),
                 f"integrated gradients ({ig.steps} steps)")
        page.add(section, "attribution-ig-overlay.png",
                 overlay(base, heatmap(np.abs(at.pixel_map(ig.attribution)), False)),
                 "|integrated gradients| over the image")
        rows += [["f(image) - f(black)", _fmt(ig.delta)], ["sum of IG", _fmt(ig.total)],
                 ["IG completeness error", f"{ig.completeness_error:.2%}"]]
    if subject.kind == "restoration" and target.box is not None:
        zoom = _zoom_box(subject, target)
        ig_map = at.pixel_map(ig.attribution if ig is not None else gxi)
        x0, y0, x1, y1 = zoom
        page.add(section, "attribution-zoom.png", heatmap(ig_map[y0:y1, x0:x1], True),
                 f"{'integrated gradients' if ig is not None else 'gradient x input'}, "
                 f"zoomed to x {x0}-{x1 - 1}, y {y0}-{y1 - 1} of the input")
    trained = at.pixel_map(gxi)
    random_subject = rebind(subject, randomized(subject.model, seed=0))
    random_map = at.pixel_map(at.gradient_x_input(random_subject, target))
    rows.append(["rank corr., trained vs random weights (gradient x input): signed",
                 f"{rank_correlation(trained, random_map, absolute=False):.2f}"])
    rows.append(["same, of |gradient x input|",
                 f"{rank_correlation(trained, random_map):.2f}"])
    if subject.kind == "restoration" and target.box is not None:
        scale = subject.output().shape[-1] / subject.x.shape[-1]
        centre = ((target.box[0] + target.box[2] - 1) / 2 / scale,
                  (target.box[1] + target.box[3] - 1) / 2 / scale)
        rows.append(["same, |.| with the fall-off with distance taken out",
                     f"{rank_correlation(radial_normalized(trained, centre), radial_normalized(random_map, centre)):.2f}"])  # noqa: E501
    rows.append(["rank corr. with a Sobel edge map of the image",
                 f"{rank_correlation(trained, edge_map(subject.x), support=False):.2f}"])
    if subject.kind == "restoration":
        box = target.box
        one = box is not None and (box[2] - box[0], box[3] - box[1]) == (1, 1)
        field = at.effective_receptive_field(subject, box[:2] if one else None,
                                             grad if one else None)
        where = f"({box[0]}, {box[1]})" if one else "at the centre"
        page.add(section, "receptive-field.png", heatmap(field.grad, signed=False),
                 f"effective receptive field of the output pixel {where}: 50% of |gradient| "
                 f"within r = {field.r50} px, 90% within r = {field.r90} px")
        rows += [["receptive field r50 / r90 (px)", f"{field.r50} / {field.r90}"]]
    if subject.mask is not None and target.region is not None:
        sources = at.inpaint_sources(ig.attribution if ig is not None else gxi, subject.mask)
        page.add(section, "inpaint-sources.png", overlay(base, heatmap(sources.sources, False)),
                 "known pixels the filled region draws on")
        rows += [["mean distance of sources from the hole (px)", _fmt(sources.mean_distance)],
                 ["90% of sources within (px)", _fmt(sources.p90_distance)]]
    section.table = (["measure", "value"], rows)


def _zoom_box(subject: Subject, target, side: int = 48) -> tuple[int, int, int, int]:
    """An input window of about ``side`` pixels around the explained output box."""
    height, width = subject.x.shape[-2:]
    scale = subject.output().shape[-1] / width
    cx = int((target.box[0] + target.box[2]) / 2 / scale)
    cy = int((target.box[1] + target.box[3]) / 2 / scale)
    half = max(side, int((target.box[2] - target.box[0]) / scale) + 16) // 2
    x0, y0 = min(max(cx - half, 0), max(width - 2 * half, 0)), min(max(cy - half, 0),
                                                                    max(height - 2 * half, 0))
    return x0, y0, min(x0 + 2 * half, width), min(y0 + 2 * half, height)


def _section_lrp(page: Page, subject: Subject, target) -> None:
    from pixelsmith.explain.lrp import lrp, relevance_map

    section = page.section(
        "Layer-wise relevance propagation", f"Relevance of the {target.describe()} "
        "propagated back layer by layer (epsilon rule with the bias shared among inputs, and "
        "the z+ rule). Conservation: the input's relevance (image + conditioning channel) "
        "against the output's; layer: the largest leak of one layer, both relative to the "
        "output.")
    rows = []
    for rule in ("epsilon", "zplus"):
        result = lrp(subject, target, rule=rule)
        relevance = relevance_map(result)
        page.add(section, f"lrp-{rule}.png", heatmap(relevance, signed=True), f"LRP {rule}")
        if subject.kind == "restoration" and target.box is not None:
            x0, y0, x1, y1 = _zoom_box(subject, target)
            page.add(section, f"lrp-{rule}-zoom.png",
                     heatmap(relevance[y0:y1, x0:x1], signed=True),
                     f"LRP {rule}, zoomed to x {x0}-{x1 - 1}, y {y0}-{y1 - 1}")
        rows.append([rule, _fmt(result.output), _fmt(float(result.relevance.sum())),
                     _fmt(result.conditioning), f"{result.conservation_error:.2%}",
                     f"{result.worst_layer_error:.2%}"])
    section.table = (["rule", "output", "on the image", "on conditioning", "conservation error",
                      "worst layer"], rows)


def _section_gradcam(page: Page, subject: Subject, label: int | None) -> None:
    from pixelsmith.explain.gradcam import grad_cam

    try:
        cam = grad_cam(subject, label)
    except PixelsmithError as exc:
        if "captum" not in str(exc):
            raise
        page.section("Grad-CAM", f"Skipped: {exc}.")
        return
    section = page.section("Grad-CAM", f"Where the last convolutional stage ({cam.layer}) "
                           f"sees evidence for {cam.what} (score {cam.score:.3g}).")
    heat = heatmap(cam.heat.numpy(), signed=False, percentile=100)
    page.add(section, "gradcam.png", heat, f"Grad-CAM of {cam.what}")
    page.add(section, "gradcam-overlay.png", overlay(image_panel(subject.x), heat),
             "over the image")


def _section_codec(page: Page, subject: Subject) -> None:
    from pixelsmith.explain.codec_bits import bit_map

    bits = bit_map(subject)
    height, width = bits.size
    shown = bits.bpp[:height, :width]
    section = page.section(
        "Codec bit allocation", f"Bits per pixel spent by a real .pxs encode ({bits.file_bytes}"
        f" bytes, {8 * bits.file_bytes / (height * width):.3f} bpp), from each coded symbol's "
        "information content, mapped back onto the 16 x 16 block its latent covers. "
        "Brighter = more bits.")
    page.add(section, "codec-bits.png", heatmap(shown, signed=False), "bits per pixel")
    page.add(section, "codec-bits-overlay.png", overlay(image_panel(subject.x),
                                                        heatmap(shown, signed=False)),
             "over the image")
    if bits.scales is not None:
        log_scales = np.kron(np.log(bits.scales), np.ones((16, 16)))[:height, :width]
        page.add(section, "codec-scales.png",
                 heatmap(log_scales - log_scales.min(), signed=False, percentile=100),
                 "hyperprior's predicted scales of y (log, mean over channels): where it "
                 "expects surprises")
    rows = [["sum of the map (bits)", _fmt(bits.map_bits)],
            ["payload: the coded streams (bits)", str(bits.payload_bits)],
            ["header, stream lengths and CRC (bits)", str(8 * bits.header_bytes)],
            ["file (bits)", str(8 * bits.file_bytes)]]
    if bits.z_bits is not None:
        rows.insert(1, ["of which hyperprior z (bits)", _fmt(float(bits.z_bits.sum()))])
    if bits.anchors is not None:  # checkerboard codec: the two passes over y
        rows.insert(1, ["of which y anchors / non-anchors (bits)",
                        f"{_fmt(float(bits.y_bits[bits.anchors].sum()))} / "
                        f"{_fmt(float(bits.y_bits[~bits.anchors].sum()))}"])
    section.table = (["measure", "value"], rows)


def _section_vae(page: Page, subject: Subject, data: str | Path | torch.Tensor | None,
                 limit: int) -> None:
    from pixelsmith.explain.vae_units import ACTIVE_THRESHOLD, dataset_images, vae_units
    from pixelsmith.synthesis import traverse

    if isinstance(data, torch.Tensor):  # images already in memory (Python API)
        images, where = data, f"{len(data)} given images"
    elif data:
        images = dataset_images(data, limit)
        where = f"{len(images)} images of {data}"
    else:
        images, where = subject.x, "this one image (give --data FOLDER for active units over " \
            "a data set)"
    units = vae_units(subject.model, images)
    active = units.variance > ACTIVE_THRESHOLD
    order = units.order
    section = page.section(
        "VAE latent dimensions", f"KL(q(z_k|x) || N(0,1)) per dimension, sorted, averaged "
        f"over {where}; red: active units (variance of the posterior mean > "
        f"{ACTIVE_THRESHOLD}). {len(units.active)} of {len(units.kl)} dimensions are active.")
    page.add(section, "vae-kl.png", bar_chart(units.kl[order], active[order]),
             "KL per dimension (nats), largest first")
    top = [int(d) for d in order[:6]]
    grid = traverse(subject.model, top, base=subject.x, note=lambda _m: None)
    page.add(section, "vae-traversal.png", image_panel(grid),
             f"traversals of the 6 dimensions with most KL ({', '.join(map(str, top))}), "
             "-3 to +3 from this image's code")
    section.table = (["dimension", "KL (nats)", "variance of mean"],
                     [[str(d), _fmt(float(units.kl[d])), _fmt(float(units.variance[d]))]
                      for d in order[:10]])


def explain(subject: Subject, out: str | Path, kinds: list[str] | None = None, *,
            at: tuple[int, int] | None = None, box: tuple[int, int, int, int] | None = None,
            label: int | None = None, steps: int = 16,
            data: str | Path | torch.Tensor | None = None,
            limit: int = 512, output: str = "full") -> Path:
    """Write the explanations ``kinds`` (default: all that fit) of ``subject`` to the folder
    ``out`` (PNG panels + index.html); returns the page's path. ``output``: for restoration
    models, explain the learned "correction" (output minus the weight-free skip path) or the
    "full" output."""
    return build_page(subject, kinds, at=at, box=box, label=label, steps=steps, data=data,
                      limit=limit, output=output).write(out)


def build_page(subject: Subject, kinds: list[str] | None = None, *,
               at: tuple[int, int] | None = None, box: tuple[int, int, int, int] | None = None,
               label: int | None = None, steps: int = 16,
               data: str | Path | torch.Tensor | None = None, limit: int = 512,
               progress: Callable[[int, int], None] | None = None,
               output: str = "full") -> Page:
    """The :class:`Page` of :func:`explain`, not yet written (the web app shows its panels);
    ``progress(done, total)`` is called after each kind."""
    from pixelsmith.explain.attribution import default_target

    kinds = list(kinds or KINDS[subject.kind])
    started = time.perf_counter()
    needs_target = {"attribution", "lrp"} & set(kinds)
    target = (default_target(subject, at=at, box=box, label=label, output=output)
              if needs_target else None)
    page = Page(f"pixelsmith explain: {subject.name}",
                f"Model {subject.name} ({subject.kind}); explanations: {', '.join(kinds)}.")
    _section_input(page, subject, target)
    torch.manual_seed(0)
    if progress is not None:
        progress(0, len(kinds))
    for done, kind in enumerate(kinds, 1):
        if kind == "activations":
            _section_activations(page, subject)
        elif kind == "attribution":
            _section_attribution(page, subject, target, steps)
        elif kind == "lrp":
            _section_lrp(page, subject, target)
        elif kind == "gradcam":
            _section_gradcam(page, subject, label)
        elif kind == "codec":
            _section_codec(page, subject)
        elif kind == "vae":
            _section_vae(page, subject, data, limit)
        if progress is not None:
            progress(done, len(kinds))
    page.intro += f" Computed in {time.perf_counter() - started:.1f} s."
    return page
