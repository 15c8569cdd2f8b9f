"""A PyTorch user's round trip without leaving Python: K copies of a small
network whose last BatchNorm layer was trained on (perturbed) -> their
state_dicts -> pdiff.train -> sample -> load_state_dict(strict=True) -> the
network runs, with exactly the sampled values in that layer and every
other tensor untouched. Also: the checkpoints of `pdiff collect` read with
the numpy safetensors reader load into scripts/pdiff_torch.py's modules."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import pdiff  # noqa: E402

NAMES = ["2.weight", "2.bias"]


def net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(10, 96), torch.nn.ReLU(),
                               torch.nn.BatchNorm1d(96), torch.nn.Linear(96, 3))


def test_state_dict_round_trip():
    base = net()
    gen = torch.Generator().manual_seed(1)
    sds = []
    for k in range(10):
        sd = {n: t.clone() for n, t in base.state_dict().items()}
        for n in NAMES:
            sd[n] += 0.05 * torch.randn(sd[n].shape, generator=gen)
        sds.append(sd)
    V = pdiff.state_dicts_to_matrix(sds, NAMES)
    assert V.shape == (10, 192)
    model = pdiff.train(V, ae_steps=50, ddpm_steps=50, den_channels=(4, 4, 4, 4), T=50,
                        normalize="tensor", tensor_sizes=pdiff.tensor_sizes(sds[0], NAMES))
    new = model.sample(2, seed=5)
    target = net()
    sd = pdiff.vector_to_state_dict(new[1], base.state_dict(), NAMES)
    assert isinstance(sd["2.weight"], torch.Tensor)
    target.load_state_dict(sd, strict=True)
    got = target.state_dict()
    assert np.array_equal(got["2.bias"].numpy(), new[1][96:])
    assert torch.equal(got["0.weight"], base.state_dict()["0.weight"])
    target.eval()
    with torch.no_grad():
        out = target(torch.randn(4, 10))
    assert out.shape == (4, 3) and torch.isfinite(out).all()
