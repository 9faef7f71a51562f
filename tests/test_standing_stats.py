"""Standing statistics: a GAN generator's BatchNorm statistics recomputed for its own weights."""

from __future__ import annotations

import copy

import torch

from pixelsmith.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from pixelsmith.train.families.synthesis import GANFamily
from pixelsmith.train.standing_stats import has_batchnorm, recompute_batchnorm


def generator() -> DCGANGenerator:
    torch.manual_seed(0)
    return DCGANGenerator(latent_dim=6, channels=1, image_size=16, base=4)


def test_has_batchnorm():
    assert has_batchnorm(generator())
    assert not has_batchnorm(DCGANDiscriminator(1, 16, base=4))


def test_statistics_are_those_of_the_generators_own_activations():
    gen = generator().eval()
    recompute_batchnorm(gen, seed=3, batches=1, batch_size=64)
    assert not gen.training  # the mode is kept
    rng = torch.Generator().manual_seed(3)
    z = torch.randn(64, 6, generator=rng)
    first = gen.body[0](z.view(64, 6, 1, 1))  # what the first BatchNorm normalises
    bn = gen.body[1]
    torch.testing.assert_close(bn.running_mean, first.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(bn.running_var, first.var(dim=(0, 2, 3), unbiased=True))


def test_averaged_statistics_are_replaced_and_the_weights_kept():
    gen = generator()
    for module in gen.modules():  # statistics that belong to other weights, as an EMA's do
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.fill_(5.0)
            module.running_var.fill_(9.0)
    weights = {k: v.clone() for k, v in gen.named_parameters()}
    once = recompute_batchnorm(copy.deepcopy(gen))
    twice = recompute_batchnorm(copy.deepcopy(gen))
    assert all(torch.equal(weights[k], v) for k, v in once.named_parameters())
    for (name, a), (_, b) in zip(once.named_buffers(), twice.named_buffers(), strict=True):
        assert torch.equal(a, b), name  # seeded: the same statistics every time
    assert once.body[1].running_mean.abs().max() < 5.0 and once.body[1].running_var.max() < 9.0
    samples = once.eval().sample(8, seed=0)
    assert samples.std() > 0.01  # the stale statistics saturated every pixel


def test_for_sampling_leaves_the_given_generator_alone():
    gen = generator().eval()
    before = {k: v.clone() for k, v in gen.state_dict().items()}
    fixed = GANFamily.for_sampling(gen)
    assert fixed is not gen
    assert all(torch.equal(before[k], v) for k, v in gen.state_dict().items())
    assert not torch.equal(fixed.body[1].running_mean, gen.body[1].running_mean)
    disc = DCGANDiscriminator(1, 16, base=4)
    assert GANFamily.for_sampling(disc) is disc  # nothing to recompute
