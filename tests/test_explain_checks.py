"""pixelsmith explain: LRP's composite rule for residual branches that are their bias alone,
the model-randomisation check of restoration networks (their learned correction, signed and
|.| rank correlations, cascading randomisation) and the checkerboard codec's bit map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pixelsmith.explain import attribution as at
from pixelsmith.explain.lrp import lrp
from pixelsmith.explain.subject import load_subject, make_subject
from pixelsmith.io import read_image

pytestmark = pytest.mark.usefixtures("one_thread")

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "src" / "pixelsmith" / "samples"


@pytest.fixture(scope="module")
def landscape() -> torch.Tensor:
    return read_image(SAMPLES_DIR / "landscape.png")


# -- LRP: residual branch units that output their bias alone ----------------------------------

def _dead_branch_unet() -> torch.nn.Module:
    """A small U-Net whose first residual block's ReLU is off everywhere: its branch outputs
    the second convolution's bias alone."""
    from pixelsmith.nets.unet import ConditionedUNet

    torch.manual_seed(0)
    net = ConditionedUNet(1, (8, 16), blocks=1, conditioning=None).eval()
    with torch.no_grad():
        torch.nn.init.normal_(net.tail.weight, std=0.1)
        block = net.encoders[0][0]
        block.body[0].bias.fill_(-1e3)  # ReLU off in every window
        block.body[2].bias.normal_(std=0.5)
    return net


def test_lrp_passes_bias_only_branch_units_to_the_skip():
    subject = make_subject(_dead_branch_unet(), torch.rand(1, 1, 16, 16))
    target = at.Target(box=(4, 4, 12, 12))
    shared = lrp(subject, target)  # the composite: the bias-only units hand relevance to x
    block = "encoders.0.0.body.2"
    leak = next(layer.leak for layer in shared.layers if layer.name == block)
    assert leak < 1e-4 * abs(shared.output)
    assert shared.conservation_error < 0.02
    absorbed = lrp(subject, target, bias="absorb")  # textbook: the biases keep theirs
    assert absorbed.conservation_error > 5 * shared.conservation_error


def test_lrp_epsilon_conserves_on_inpaint_faces_gan(landscape):
    """The network whose bias-only branch units lost 6.9% of the relevance before the composite
    rule (256 x 256 sample, a 64 x 40 hole, the whole filled region as target)."""
    mask = torch.zeros(1, 1, 256, 256)
    mask[..., 104:144, 96:160] = 1.0
    subject = load_subject("inpaint-faces-gan", landscape, mask=mask)
    target = at.default_target(subject, output="full")
    result = lrp(subject, target)
    assert result.conservation_error < 0.01
    assert result.worst_layer_error < 0.01


# -- model randomisation of restoration networks ----------------------------------------------

def test_correction_target_removes_the_skip_path_and_full_stays_available(landscape):
    """The correction is output minus the weight-free path: for an untrained (zero-tail) U-Net
    it is zero and has zero gradient; the full output keeps the identity."""
    from pixelsmith.nets.unet import ConditionedUNet

    net = ConditionedUNet(1, (8, 16), blocks=1, conditioning=None).eval()  # tail starts at 0
    subject = make_subject(net, torch.rand(1, 1, 16, 16))
    correction = at.default_target(subject, at=(5, 6), output="correction")
    full = at.default_target(subject, at=(5, 6))
    assert correction.residual and not full.residual
    assert "correction" in correction.describe()
    assert float(at.gradient(subject, correction).abs().sum()) == 0.0
    grad = at.gradient(subject, full)
    assert float(grad[0, 0, 6, 5]) == pytest.approx(1.0) and float(grad.abs().sum()) == 1.0
    with pytest.raises(Exception, match="correction, full"):
        at.default_target(subject, output="other")


def test_signed_maps_of_trained_and_random_weights_do_not_agree(landscape):
    """Adebayo et al.'s check on a restoration network, both ways the paper reports: the signed
    maps of trained and re-initialised weights are unrelated; |maps| share the fall-off with
    distance that any convolutional network has (their correlation is high for that reason,
    and |map| alone correlates with closeness to the pixel)."""
    from pixelsmith.explain.sanity import randomized, rank_correlation
    from pixelsmith.explain.subject import rebind

    x = landscape[..., 64:128, 64:128]
    subject = load_subject("denoise-gray", x, sigma=25)
    target = at.default_target(subject, output="correction")
    random_subject = rebind(subject, randomized(subject.model, seed=0))
    trained = at.pixel_map(at.gradient_x_input(subject, target))
    shuffled = at.pixel_map(at.gradient_x_input(random_subject, target))
    assert abs(rank_correlation(trained, shuffled, absolute=False)) < 0.2
    yy, xx = np.mgrid[0:64, 0:64]
    closeness = -np.hypot(xx - target.box[0], yy - target.box[1])
    assert rank_correlation(np.abs(trained), closeness, absolute=False) > 0.5
    same = rank_correlation(trained, trained * 2.0, absolute=False)
    assert same == pytest.approx(1.0)  # the measure can report agreement


def test_cascading_randomisation_goes_from_the_output_layer_down(landscape):
    from pixelsmith.explain.sanity import cascading

    x = landscape[..., :32, :32]
    subject = load_subject("denoise-gray", x, sigma=25)
    before = {k: v.clone() for k, v in subject.model.state_dict().items()}
    steps = list((done, count, s.model.tail.weight.clone(), s.model.head.weight.clone())
                 for done, count, s in cascading(subject, stops=3))
    assert [d for d, _, _, _ in steps][-1] == steps[0][1]  # the last stop: every layer
    first_tail, first_head = steps[0][2], steps[0][3]
    assert not torch.equal(first_tail, before["tail.weight"])  # the output layer goes first
    assert torch.equal(first_head, before["head.weight"])  # the input layer is still trained
    assert not torch.equal(steps[-1][3], before["head.weight"])
    assert all(torch.equal(before[k], v) for k, v in subject.model.state_dict().items())


# -- the checkerboard codec's bit map ---------------------------------------------------------

def _checkerboard_folder(tmp_path: Path) -> Path:
    """A checkerboard codec built from its config with random weights, saved as a model
    folder (config.json + model.safetensors)."""
    from pixelsmith.nets import build_network
    from pixelsmith.zoo import save_model

    torch.manual_seed(0)
    args = {"channels": 3, "N": 8, "M": 12, "quality": 1, "lmbda": 0.01}
    model = build_network("codec-checkerboard", args)
    with torch.no_grad():
        for layer in model.g_a:
            if isinstance(layer, torch.nn.Conv2d):
                layer.weight.mul_(3.0)  # latents that are not all zero
    model.eval().update()
    config = {"name": "codec-cb-test", "summary": "random checkerboard codec", "family": "codec",
              "task": "codec", "network": {"name": "codec-checkerboard", "args": args},
              "channels": 3, "needs": [], "weights": "raw"}
    return save_model(tmp_path / "cb", model, config)


def test_checkerboard_bit_map_sums_to_the_coded_size(tmp_path, landscape):
    from pixelsmith.codec import decompress, read_header
    from pixelsmith.codec.format import unpack
    from pixelsmith.explain.codec_bits import bit_map

    folder = _checkerboard_folder(tmp_path)
    x = landscape[..., :80, :72]
    subject = load_subject(folder, x)
    bits = bit_map(subject)
    header = read_header(bits.data)
    assert header.kind == 4
    assert bits.bpp.shape == header.padded_size
    assert bits.y_bits.shape == bits.anchors.shape
    streams = unpack(bits.data)[1]
    gap = bits.payload_bits - bits.map_bits
    assert 0 <= gap <= 64 * len(streams)  # the range coder's last words, per stream
    assert abs(8 * bits.file_bytes - bits.map_bits) <= 8 * bits.header_bytes + 64 * 3
    anchor_bits = float(bits.y_bits[bits.anchors].sum())
    other_bits = float(bits.y_bits[~bits.anchors].sum())
    assert anchor_bits > 0 and other_bits > 0
    assert abs(8 * len(streams[1]) - anchor_bits) <= 64  # pass by pass, each its own stream
    assert abs(8 * len(streams[2]) - other_bits) <= 64
    assert bits.scales is not None and (bits.scales > 0).all()
    assert decompress(bits.data, model=folder).shape[-2:] == (80, 72)


def test_cli_explains_a_checkerboard_model_folder(tmp_path, capsys, landscape):
    from cli_runner import run as run_cli

    from pixelsmith.io import save_image

    folder = _checkerboard_folder(tmp_path)
    image = tmp_path / "image.png"
    save_image(image, landscape[..., :64, :64])
    out = tmp_path / "out"
    code, stdout, err = run_cli(capsys, "explain", "--method", str(folder), str(image),
                                "-o", str(out))
    assert code == 0, err
    text = (out / "index.html").read_text()
    assert "anchors / non-anchors" in text
    assert (out / "codec-bits.png").is_file() and (out / "codec-scales.png").is_file()


def test_cli_target_picks_the_correction_or_refuses_on_one_line(tmp_path, capsys, landscape):
    from cli_runner import run as run_cli

    from pixelsmith.io import save_image

    image = tmp_path / "image.png"
    save_image(image, landscape[..., :32, :32])
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "explain", str(image), "--method", "denoise-gray", "--sigma",
                           "25", "--kind", "lrp", "--target", "correction", "-o", str(out))
    assert code == 0, err
    assert "learned correction" in (out / "index.html").read_text()
    code, _, err = run_cli(capsys, "explain", str(image), "--method", "denoise-gray",
                           "--target", "other", "-o", str(tmp_path / "o2"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--target" in err
