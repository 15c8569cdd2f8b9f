"""pdiff's Python API over libpdiff.so: training on a numpy matrix,
sampling (finite, reproducible, the same bits after save and load),
encode/decode, config errors that name the key, and the safetensors and
state_dict helpers (numpy only)."""
import os

import numpy as np
import pytest

import pdiff

K, D = 8, 100
FAST = dict(ae_steps=30, ddpm_steps=30, den_channels=(4, 4, 4, 4), T=50, seed=3)


def data():
    rng = np.random.default_rng(0)
    centre = rng.uniform(-1, 1, D).astype(np.float32)
    return centre + 0.05 * rng.standard_normal((K, D)).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    return pdiff.train(data(), **FAST)


def test_train_and_sample(model):
    assert model.dim == D and model.train_count == K
    a = model.sample(6, seed=1)
    assert a.shape == (6, D) and a.dtype == np.float32
    assert np.isfinite(a).all()
    assert np.array_equal(a, model.sample(6, seed=1))
    assert not np.array_equal(a, model.sample(6, seed=2))
    d = model.diagnostics
    assert d["K"] == K and d["D"] == D and d["recon_ratio"] > 0


def test_save_load_same_bits(model, tmp_path):
    a = model.sample(4, seed=9, sampler="ddim", steps=10)
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "den_ema.safetensors").exists()
    back = pdiff.load(tmp_path / "m")
    assert np.array_equal(a, back.sample(4, seed=9, sampler="ddim", steps=10))
    assert back.config["training"]["ae_steps"] == 30
    assert back.config["D"] == D


def test_encode_decode_reconstruct(model):
    V = data()
    Z = model.encode(V)
    assert Z.shape == (K, model.latent_dim)
    R = model.reconstruct()
    np.testing.assert_allclose(model.decode(Z), R, rtol=1e-5, atol=1e-6)
    rmse = float(np.sqrt(np.mean((R.astype(np.float64) - V) ** 2)))
    assert rmse == pytest.approx(model.diagnostics["recon_rmse"], rel=1e-4)


def test_progress_callback():
    seen = []
    pdiff.train(data(), progress=lambda *a: seen.append(a), **FAST)
    phases = {p for p, *_ in seen}
    assert {"autoencoder", "ddpm", "autoencoder check"} <= phases
    assert all(done <= total for _, done, total, _ in seen)


def test_config_errors_name_the_key():
    with pytest.raises(pdiff.PdiffError, match="unknown model config key 'bogus'"):
        pdiff.train(data(), bogus=1)
    with pytest.raises(pdiff.PdiffError, match="norm: unknown value 'layer'"):
        pdiff.train(data(), norm="layer")
    with pytest.raises(pdiff.PdiffError, match="T: 1 is out of range"):
        pdiff.train(data(), T=1)
    with pytest.raises(ValueError, match="2-D"):
        pdiff.train(np.zeros(5, dtype=np.float32))
    with pytest.raises(pdiff.PdiffError, match="config.json: cannot open"):
        pdiff.load("/nonexistent/model")


def test_state_dir_resumes_to_the_same_model(tmp_path):
    a = pdiff.train(data(), **FAST).sample(3, seed=4)
    b = pdiff.train(data(), state_dir=tmp_path / "s", **FAST).sample(3, seed=4)
    c = pdiff.train(data(), state_dir=tmp_path / "s", **FAST).sample(3, seed=4)
    assert np.array_equal(a, b) and np.array_equal(a, c)


def test_safetensors_round_trip(tmp_path):
    t = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.array([7], dtype=np.int64)}
    pdiff.write_safetensors(tmp_path / "x.safetensors", t, {"format": "pt"})
    back, meta = pdiff.read_safetensors(tmp_path / "x.safetensors")
    assert list(back) == ["w", "n"] and meta == {"format": "pt"}
    assert np.array_equal(back["w"], t["w"]) and back["n"].dtype == np.int64
    raw = open(tmp_path / "x.safetensors", "rb").read()
    assert int.from_bytes(raw[:8], "little") % 8 == 0
    open(tmp_path / "cut.safetensors", "wb").write(raw[:-4])
    with pytest.raises(ValueError, match="truncated"):
        pdiff.read_safetensors(tmp_path / "cut.safetensors")


def test_state_dict_helpers():
    names = ["b.weight", "b.bias"]
    sds = [{"a": np.ones((2, 2), np.float32), "b.weight": np.full(3, k, np.float32),
            "b.bias": np.full(3, -k, np.float32)} for k in range(4)]
    V = pdiff.state_dicts_to_matrix(sds, names)
    assert V.shape == (4, 6) and V[2].tolist() == [2, 2, 2, -2, -2, -2]
    assert pdiff.tensor_sizes(sds[0], names) == [3, 3]
    sd = pdiff.vector_to_state_dict(np.arange(6), sds[0], names)
    assert sd["b.bias"].tolist() == [3, 4, 5] and sd["a"] is sds[0]["a"]
    with pytest.raises(ValueError, match="has 5 values but .* hold 6"):
        pdiff.vector_to_state_dict(np.arange(5), sds[0], names)
    with pytest.raises(KeyError, match="'c'"):
        pdiff.state_dict_to_vector(sds[0], ["c"])


def test_library_found_through_the_environment():
    assert os.path.samefile(pdiff.library_path, os.environ["PDIFF_LIBRARY"])


def test_bf16_precision():
    """precision="bf16" trains and samples (bf16 kernels where the CPU has
    them, fp32 elsewhere): finite vectors; an unknown precision is refused"""
    m = pdiff.train(data(), precision="bf16", **FAST)
    a = m.sample(4, seed=1, precision="bf16")
    assert a.shape == (4, D) and np.isfinite(a).all()
    with pytest.raises(ValueError):
        m.sample(2, precision="fp16")
    with pytest.raises(Exception, match="precision"):
        pdiff.train(data(), precision="fp8", **FAST)
