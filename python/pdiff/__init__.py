"""pdiff — Neural Network Diffusion (p-diff) from Python, over libpdiff.

    import numpy as np, pdiff
    V = np.stack([...])                      # K checkpoints x D values, float32
    model = pdiff.train(V, ae_steps=2500, ddpm_steps=2000, seed=1)
    print(model.diagnostics["recon_ratio"])  # < 1: the checkpoints are resolved
    new = model.sample(100, seed=42)         # 100 x D, new parameter vectors
    model.save("model"); model = pdiff.load("model")

With PyTorch (see docs/pytorch-tutorial.md):

    names = ["bn3.weight", "bn3.bias"]
    V = pdiff.state_dicts_to_matrix([net.state_dict() for net in nets], names)
    model = pdiff.train(V)
    sd = pdiff.vector_to_state_dict(model.sample(1)[0], net.state_dict(), names)
    net.load_state_dict(sd, strict=True)

The library is found through the environment variable PDIFF_LIBRARY (the
path of libpdiff.so), else next to this package in its install prefix, else
on the system's library path. Keyword arguments of train() are the model's
config keys (pdiff.h, pd_model_config_set): normalize, preset, fold, kernel,
enc, dec, den_channels, in_noise, latent_noise, additive_noise, norm,
groups, fc, vae, kl_weight, T, beta_start, beta_end, ae_steps, ddpm_steps,
lr, weight_decay, ema_decay, ckpt_every, log_every, seed; and recipe="paper".
"""
import ctypes
import ctypes.util
import glob
import json
import os
import sys

import numpy as np

from .safetensors import (read_safetensors, state_dict_to_vector, state_dicts_to_matrix,
                          tensor_sizes, vector_to_state_dict, write_safetensors)

__all__ = ["train", "load", "Model", "PdiffError", "set_threads", "read_safetensors",
           "write_safetensors", "state_dict_to_vector", "state_dicts_to_matrix",
           "vector_to_state_dict", "tensor_sizes", "library_path"]


class PdiffError(RuntimeError):
    """A libpdiff call failed; the message is the library's one-line error."""


def _candidates():
    env = os.environ.get("PDIFF_LIBRARY")
    if env:
        return [env]
    # installed as PREFIX/lib/python3/dist-packages/pdiff (CMake's install):
    # the library is in PREFIX/lib or PREFIX/lib/<multiarch>
    here = os.path.dirname(os.path.abspath(__file__))
    lib = os.path.normpath(os.path.join(here, "..", "..", ".."))
    out = [os.path.join(lib, "libpdiff.so.0")]
    out += sorted(glob.glob(os.path.join(lib, "*", "libpdiff.so.0")))
    found = ctypes.util.find_library("pdiff")
    if found:
        out.append(found)
    return out


def _load_library():
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError("pdiff: libpdiff.so not found; set PDIFF_LIBRARY to its path "
                      "(tried: %s)" % ", ".join(tried))


_lib, library_path = _load_library()

_size_t = ctypes.c_size_t
_float_p = ctypes.POINTER(ctypes.c_float)
_PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_long,
                                ctypes.c_long, ctypes.c_char_p)


class _Progress(ctypes.Structure):
    _fields_ = [("fn", _PROGRESS_FN), ("ctx", ctypes.c_void_p)]


class _Sampler(ctypes.Structure):
    _fields_ = [("ddim", ctypes.c_int), ("steps", _size_t), ("eta", ctypes.c_float),
                ("raw_denoiser", ctypes.c_int), ("precision", ctypes.c_int)]


class _Diag(ctypes.Structure):
    _fields_ = [(n, ctypes.c_double) for n in
                ("recon_rmse", "spread_rms", "recon_ratio", "nn_identity", "nn_identity_iso",
                 "nn_resolvable", "dev_corr")] + [("K", _size_t), ("D", _size_t)]


def _sig(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_vp = ctypes.c_void_p
_last_error = _sig("pd_last_error", ctypes.c_char_p)
_set_threads = _sig("pd_set_threads", ctypes.c_int, ctypes.c_int)
_cfg_new = _sig("pd_model_config_new", _vp, _size_t)
_cfg_free = _sig("pd_model_config_free", None, _vp)
_cfg_set = _sig("pd_model_config_set", ctypes.c_int, _vp, ctypes.c_char_p, ctypes.c_char_p)
_cfg_recipe = _sig("pd_model_config_recipe", ctypes.c_int, _vp, ctypes.c_char_p)
_cfg_tensors = _sig("pd_model_config_set_tensors", None, _vp, ctypes.POINTER(_size_t), _size_t)
_cfg_state_dir = _sig("pd_model_config_set_state_dir", None, _vp, ctypes.c_char_p)
_cfg_json = _sig("pd_model_config_json", ctypes.POINTER(ctypes.c_char), _vp, _size_t)
_train = _sig("pd_model_train", ctypes.c_int, _vp, _float_p, _size_t, _size_t,
              ctypes.POINTER(_Progress), ctypes.POINTER(_vp))
_sample = _sig("pd_model_sample_with", ctypes.c_int, _vp, ctypes.POINTER(_Sampler), _size_t,
               ctypes.c_uint64, ctypes.POINTER(_Progress), _float_p)
_encode = _sig("pd_model_encode", ctypes.c_int, _vp, _float_p, _size_t, _float_p)
_decode = _sig("pd_model_decode", ctypes.c_int, _vp, _float_p, _size_t, _float_p)
_reconstruct = _sig("pd_model_reconstruct", ctypes.c_int, _vp, _float_p)
_dim = _sig("pd_model_dim", _size_t, _vp)
_latent_dim = _sig("pd_model_latent_dim", _size_t, _vp)
_train_count = _sig("pd_model_train_count", _size_t, _vp)
_get_config = _sig("pd_model_get_config", _vp, _vp)
_diagnostics = _sig("pd_model_diagnostics", ctypes.c_int, _vp, ctypes.POINTER(_Diag))
_save = _sig("pd_model_save", ctypes.c_int, _vp, ctypes.c_char_p)
_load = _sig("pd_model_load", ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(_vp))
_free_model = _sig("pd_model_free", None, _vp)
_libc = ctypes.CDLL(None)
_libc.free.argtypes = [_vp]


def _check(status):
    if status != 0:
        raise PdiffError((_last_error() or b"unknown error").decode("utf-8", "replace"))


def _matrix(x, cols=None, what="V"):
    a = np.ascontiguousarray(x, dtype=np.float32)
    if a.ndim == 1 and cols is not None and a.size == cols:
        a = a.reshape(1, cols)
    if a.ndim != 2:
        raise ValueError("%s must be a 2-D array (rows x values), not %d-D" % (what, a.ndim))
    if cols is not None and a.shape[1] != cols:
        raise ValueError("%s has %d columns; the model needs %d" % (what, a.shape[1], cols))
    return a


def _ptr(a):
    return a.ctypes.data_as(_float_p)


def _progress(progress):
    """None/False: silent; True: a line per report to stderr; a callable:
    called as progress(phase, done, total, info)."""
    if not progress:
        return None, None
    if progress is True:
        def report(phase, done, total, info):
            sys.stderr.write("%s: %d/%d %s\n" % (phase, done, total, info or ""))
    else:
        report = progress

    def trampoline(ctx, phase, done, total, info):
        report(phase.decode(), done, total, info.decode() if info else None)

    fn = _PROGRESS_FN(trampoline)
    return _Progress(fn, None), fn  # keep fn alive for the call


def set_threads(n=0):
    """OpenMP and BLAS threads for every later call (0: PDIFF_THREADS or all
    cores); returns the count in force."""
    return _set_threads(int(n))


def _config(D, options):
    cfg = _cfg_new(D)
    if not cfg:
        raise MemoryError("pdiff: out of memory")
    try:
        recipe = options.pop("recipe", None)
        if recipe is not None:
            _check(_cfg_recipe(cfg, str(recipe).encode()))
        # a preset sets sizes and input noise: first, so the other keys win
        items = sorted(options.items(), key=lambda kv: kv[0] != "preset")
        for key, value in items:
            if isinstance(value, bool):
                value = "1" if value else "0"
            elif isinstance(value, (list, tuple)):
                value = ",".join(str(int(v)) for v in value)
            _check(_cfg_set(cfg, key.encode(), str(value).encode()))
    except Exception:
        _cfg_free(cfg)
        raise
    return cfg


def _config_dict(cfg, D):
    text = _cfg_json(cfg, D)
    try:
        return json.loads(ctypes.string_at(text).decode())
    finally:
        _libc.free(ctypes.cast(text, _vp))


class Model:
    """A trained p-diff model (train() or load()). Sampling the same model
    with the same seed gives the same bits."""

    def __init__(self, handle):
        self._h = handle

    def __del__(self):
        if getattr(self, "_h", None):
            _free_model(self._h)
            self._h = None

    @property
    def dim(self):
        """D, the length of a parameter vector."""
        return _dim(self._h)

    @property
    def latent_dim(self):
        return _latent_dim(self._h)

    @property
    def train_count(self):
        """K, the number of training vectors (0 when their latents were not kept)."""
        return _train_count(self._h)

    @property
    def config(self):
        """The model's config, as in its config.json."""
        return _config_dict(_get_config(self._h), self.dim)

    @property
    def diagnostics(self):
        """How well the autoencoder encodes the training vectors (a dict:
        recon_rmse, spread_rms, recon_ratio, nn_identity, nn_identity_iso,
        nn_resolvable, dev_corr, K, D), or None."""
        d = _Diag()
        if _diagnostics(self._h, ctypes.byref(d)) != 0:
            return None
        return {name: getattr(d, name) for name, _ in _Diag._fields_}

    def sample(self, n, seed=0, sampler="ddpm", steps=50, eta=0.0, ema=True, progress=None,
               precision="fp32"):
        """n new parameter vectors (n x D float32). sampler "ddpm" uses all T
        steps; "ddim" uses `steps` steps with noise eta. ema=False samples
        with the raw denoiser instead of its EMA. precision "bf16" runs the
        convolutions in bf16 mixed precision (fp32 where the CPU lacks it)."""
        if sampler not in ("ddpm", "ddim"):
            raise ValueError("sampler must be 'ddpm' or 'ddim', not %r" % (sampler,))
        if precision not in ("fp32", "bf16"):
            raise ValueError("precision must be 'fp32' or 'bf16', not %r" % (precision,))
        n = int(n)
        if n < 0:
            raise ValueError("n must be >= 0")
        out = np.empty((n, self.dim), dtype=np.float32)
        s = _Sampler(sampler == "ddim", int(steps), float(eta), 0 if ema else 1,
                     1 if precision == "bf16" else 0)
        p, keep = _progress(progress)
        _check(_sample(self._h, ctypes.byref(s), n, int(seed) & (2**64 - 1),
                       ctypes.byref(p) if p else None, _ptr(out)))
        del keep
        return out

    def encode(self, V):
        """Noise-free latents (K x latent_dim) of parameter vectors V (K x D)."""
        a = _matrix(V, self.dim)
        out = np.empty((a.shape[0], self.latent_dim), dtype=np.float32)
        _check(_encode(self._h, _ptr(a), a.shape[0], _ptr(out)))
        return out

    def decode(self, Z):
        """Parameter vectors (K x D) of latents Z (K x latent_dim)."""
        a = _matrix(Z, self.latent_dim, "Z")
        out = np.empty((a.shape[0], self.dim), dtype=np.float32)
        _check(_decode(self._h, _ptr(a), a.shape[0], _ptr(out)))
        return out

    def reconstruct(self):
        """The training vectors as the autoencoder alone gives them back."""
        out = np.empty((self.train_count, self.dim), dtype=np.float32)
        _check(_reconstruct(self._h, _ptr(out)))
        return out

    def save(self, directory):
        """A model directory (config.json, *.safetensors, ...), written
        atomically file by file; `pdiff generate --model DIR` reads it too."""
        _check(_save(self._h, os.fsencode(directory)))

    @classmethod
    def load(cls, directory):
        h = _vp()
        _check(_load(os.fsencode(directory), ctypes.byref(h)))
        return cls(h)


def train(V, progress=None, tensor_sizes=None, state_dir=None, **config):
    """Trains a p-diff model on V (K x D: K parameter vectors). Keyword
    arguments are config keys (see the module's help); tensor_sizes gives
    the tensor boundaries for normalize="tensor"; state_dir keeps resumable
    training state there (an interrupted train() with the same arguments
    continues). progress: None, True (lines to stderr) or a callable
    progress(phase, done, total, info)."""
    a = _matrix(V)
    K, D = a.shape
    cfg = _config(D, dict(config))
    try:
        if tensor_sizes is not None:
            sizes = (_size_t * len(tensor_sizes))(*[int(s) for s in tensor_sizes])
            _cfg_tensors(cfg, sizes, len(tensor_sizes))
        if state_dir is not None:
            sdir = os.fsencode(state_dir)
            _cfg_state_dir(cfg, sdir)
        p, keep = _progress(progress)
        h = _vp()
        _check(_train(cfg, _ptr(a), K, D, ctypes.byref(p) if p else None, ctypes.byref(h)))
        del keep
    finally:
        _cfg_free(cfg)
    return Model(h)


def load(directory):
    """A model saved by Model.save, `pdiff train` or `pdiff run`."""
    return Model.load(directory)
