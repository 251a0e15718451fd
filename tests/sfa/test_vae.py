"""The map VAEs and the texture gate: shapes, the alpha bound, texture=False."""

from __future__ import annotations

import pytest
import torch

from fgav.core.errors import FgavError
from fgav.sfa import SFA, MapVAE, kl_divergence, lbp
from fgav.sfa.vae import HIDDEN


@pytest.mark.parametrize("size", [32, 64])
def test_map_shape_and_alpha_bound(size: int) -> None:
    torch.manual_seed(0)
    vae = MapVAE(alpha=8 / 255, latent_dim=16, work_size=32)
    with torch.no_grad():  # a huge output layer drives tanh to saturation: the bound must still hold
        vae.head.weight.mul_(1000)
    out = vae.train()(torch.rand(3, 3, size, size))
    assert out.map.shape == (3, 1, size, size)
    assert out.mu.shape == out.logvar.shape == (3, 16)
    assert out.map.abs().max() <= 8 / 255 + 1e-7
    assert out.map.abs().max() > 0.9 * 8 / 255, "saturated tanh reaches the bound"


def test_five_hidden_units_with_the_papers_channels() -> None:
    vae = MapVAE(alpha=0.1, work_size=64)
    convs = [m for m in vae.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == list(HIDDEN) == [32, 64, 128, 256, 512]
    assert all(c.stride == (2, 2) for c in convs)
    ups = [m for m in vae.decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [u.in_channels for u in ups[:4]] == [512, 256, 128, 64], "the decoder mirrors the encoder"


def test_eval_is_deterministic_training_samples() -> None:
    torch.manual_seed(0)
    vae = MapVAE(alpha=0.1, latent_dim=8, work_size=32)
    x = torch.rand(4, 3, 32, 32)
    vae.eval()
    assert torch.equal(vae(x).map, vae(x).map), "attack time uses z = mu"
    a, b = vae(x, sample=True).map, vae(x, sample=True).map
    assert not torch.equal(a, b), "training draws z by reparametrization"


def test_kl_is_zero_at_the_prior_and_positive_elsewhere() -> None:
    zeros = torch.zeros(2, 5)
    assert torch.allclose(kl_divergence(zeros, zeros), torch.zeros(2))
    assert (kl_divergence(torch.ones(2, 5), zeros) > 0).all()


def test_maps_are_gated_by_texture_and_texture_false_is_one() -> None:
    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32)
    gated = SFA(work_size=32, latent_dim=8)
    plain = SFA(work_size=32, latent_dim=8, texture=False)
    plain.load_state_dict(gated.state_dict())
    assert torch.equal(plain.texture_map(x), torch.ones(2, 1, 32, 32))
    assert torch.equal(gated.texture_map(x), lbp(x))
    live_g, spoof_g = gated.maps(x)
    live_p, spoof_p = plain.maps(x)
    assert torch.allclose(live_g, live_p * lbp(x)) and torch.allclose(spoof_g, spoof_p * lbp(x))


@pytest.mark.parametrize("options", [{"work_size": 48}, {"latent_dim": 0}])
def test_bad_vae_options(options: dict[str, int]) -> None:
    with pytest.raises(FgavError):
        MapVAE(alpha=0.1, **options)
