#!/usr/bin/env python3
"""pdiff_model_torch.py — an independent PyTorch implementation of the
p-diff models, written from docs/method.md §3–4 (not from the C code), used to
produce golden fixtures (make_model_fixtures.py) and as the PyTorch side of
the benchmark (bench_model_torch.py).

Modules and their state_dict names match src/model/ae.h and denoiser.h one
to one (BatchNorm's num_batches_tracked aside):
  AE:       enc.{i}.conv1/conv2, dec.{i}.conv1 (ConvTranspose1d)/conv2,
            enc.3.conv2_logvar (VAE), enc.{i}.norm{1,2} (BatchNorm1d
            running stats); FC ablation: fc1/fc2 instead of conv1/conv2.
  Denoiser: {enc1..4,dec1..4}.conv{1,2}, time_encode (nn.Embedding).
"""
import math

import torch
from torch import nn
import torch.nn.functional as F

SLOPE = 0.01  # LeakyReLU
EPS = 1e-5    # normalisation


def fold_geometry(D, f, k):
    """real (padded length) and the encoder's per-layer output lengths."""
    real = (D // f ** 4 + 1) * f ** 4
    lens = [real]
    for _ in range(4):
        l1 = lens[-1] + 2 - k + 1          # conv k, stride 1, pad 1
        lens.append((l1 - k) // f + 1)     # conv k, stride f, pad 0
    return real, lens


class Norm(nn.Module):
    """instance / batch / group / none, all without affine. In FC mode the
    features of a sample are normalised as one row (instance/group) or each
    feature over the batch (batch), matching ae.h."""

    def __init__(self, kind, features, groups, fc):
        super().__init__()
        self.kind, self.fc = kind, fc
        self.groups = math.gcd(groups or 2, 1 if fc else features)
        if kind == "batch":
            self.bn = nn.BatchNorm1d(features, eps=EPS, momentum=0.1, affine=False)

    def forward(self, x):
        if self.kind == "none":
            return x
        if self.kind == "batch":
            return self.bn(x)
        shape = x.shape
        if self.fc:
            x = x.reshape(shape[0], 1, -1)
        c = x.shape[1]
        g = c if self.kind == "instance" else self.groups
        return F.group_norm(x, g, eps=EPS).reshape(shape)

    # the state_dict name of the running stats is norm{1,2}.running_*: the
    # BatchNorm module's buffers are hoisted by _hoist below


def _hoist(module):
    """Rename 'x.norm1.bn.running_mean' → 'x.norm1.running_mean' in a state
    dict (so names equal the C side's)."""
    out = {}
    for k, v in module.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        out[k.replace(".bn.", ".")] = v
    return out


def state_dict_flat(module):
    return _hoist(module)


def load_flat(module, flat):
    sd = module.state_dict()
    for k in sd:
        if k.endswith("num_batches_tracked"):
            continue
        src = k.replace(".bn.", ".")
        sd[k] = torch.as_tensor(flat[src]).reshape(sd[k].shape)
    module.load_state_dict(sd)


class EncLayer(nn.Module):
    def __init__(self, i, cin, cmid, cout, k, f, w_in, w_out, cfg):
        super().__init__()
        self.i, self.fc, self.vae = i, cfg["fc"], cfg["vae"]
        norm, groups = cfg["norm"], cfg["groups"]
        if self.fc:
            self.fc1 = nn.Linear(w_in, w_in)
            self.fc2 = nn.Linear(w_in, w_out)
            if self.vae and i == 3:
                self.fc2_logvar = nn.Linear(w_in, w_out)
            self.norm1 = Norm(norm, w_in, groups, True)
            self.norm2 = Norm(norm, w_in, groups, True)
        else:
            self.conv1 = nn.Conv1d(cin, cmid, k, stride=1, padding=1)
            self.conv2 = nn.Conv1d(cmid, cout, k, stride=f, padding=0)
            if self.vae and i == 3:
                self.conv2_logvar = nn.Conv1d(cmid, cout, k, stride=f, padding=0)
            self.norm1 = Norm(norm, cin, groups, False)
            self.norm2 = Norm(norm, cmid, groups, False)

    def forward(self, x):
        if self.i > 0:
            x = F.leaky_relu(x, SLOPE)
        x = (self.fc1 if self.fc else self.conv1)(self.norm1(x))
        h = self.norm2(F.leaky_relu(x, SLOPE))
        out = (self.fc2 if self.fc else self.conv2)(h)
        if self.i == 3:
            mu = torch.tanh(out)
            if self.vae:
                lv = (self.fc2_logvar if self.fc else self.conv2_logvar)(h)
                return mu, lv
            return mu, None
        return out


class DecLayer(nn.Module):
    def __init__(self, i, cin, cout, k, f, w_in, w_out, cfg):
        super().__init__()
        self.fc = cfg["fc"]
        norm, groups = cfg["norm"], cfg["groups"]
        if self.fc:
            self.fc1 = nn.Linear(w_in, w_out)
            self.fc2 = nn.Linear(w_out, w_out)
            self.norm1 = Norm(norm, w_in, groups, True)
            self.norm2 = Norm(norm, w_out, groups, True)
        else:
            self.conv1 = nn.ConvTranspose1d(cin, cin, k, stride=f, padding=0)
            self.conv2 = nn.Conv1d(cin, cout, k, stride=1,
                                   padding=f if i == 3 else f - 1)
            self.norm1 = Norm(norm, cin, groups, False)
            self.norm2 = Norm(norm, cin, groups, False)

    def forward(self, x):
        x = (self.fc1 if self.fc else self.conv1)(self.norm1(F.leaky_relu(x, SLOPE)))
        return (self.fc2 if self.fc else self.conv2)(self.norm2(F.leaky_relu(x, SLOPE)))


def ae_config(D, fold, k, enc, dec, norm="instance", groups=0, fc=False, vae=False,
              in_noise=0.001, lat_noise=0.1, additive=False, kl_weight=1e-3):
    return dict(D=D, fold=fold, k=k, enc=list(enc), dec=list(dec), norm=norm,
                groups=groups, fc=fc, vae=vae, in_noise=in_noise,
                lat_noise=lat_noise, additive=additive, kl_weight=kl_weight)


PRESETS = {
    "small": dict(fold=3, k=3, enc=[2, 2, 2, 2], dec=[2, 64, 64, 8]),
    "medium": dict(fold=5, k=5, enc=[4, 4, 4, 4], dec=[4, 256, 256, 8]),
}


class AE(nn.Module):
    """docs/method.md §3 autoencoder. encode(x (B, D)) → (B, c3, l); decode → (B, D)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        D, f, k = cfg["D"], cfg["fold"], cfg["k"]
        c, d = cfg["enc"], cfg["dec"]
        self.real, lens = fold_geometry(D, f, k)
        self.latent_c, self.latent_l = c[3], lens[4]
        ech = [c[0], c[0], c[1], c[2], c[3]]
        dch = [d[0], d[1], d[2], d[3], 1]
        w = [self.real, self.real // f, self.real // f ** 2, self.real // f ** 3,
             self.latent_c * self.latent_l]
        self.enc = nn.ModuleList(
            [EncLayer(i, 1 if i == 0 else ech[i], ech[i], ech[i + 1], k, f, w[i], w[i + 1], cfg)
             for i in range(4)])
        self.dec = nn.ModuleList(
            [DecLayer(i, dch[i], dch[i + 1], k, f, w[4 - i], w[3 - i], cfg) for i in range(4)])

    def encode_full(self, x, in_noise=None):
        """returns (mu, logvar or None); in_noise: ε of x's shape or None"""
        a = self.cfg["in_noise"]
        if in_noise is not None:
            x = x + a * in_noise if self.cfg["additive"] else x * (1 - a) + a * in_noise
        B = x.shape[0]
        h = F.pad(x.reshape(B, 1, -1), (0, self.real - self.cfg["D"]))
        if self.cfg["fc"]:
            h = h.reshape(B, -1)
        for i in range(3):
            h = self.enc[i](h)
        mu, lv = self.enc[3](h)
        shape = (B, self.latent_c, self.latent_l)
        return mu.reshape(shape), (lv.reshape(shape) if lv is not None else None)

    def encode(self, x):
        return self.encode_full(x)[0]

    def decode(self, z):
        B = z.shape[0]
        h = z.reshape(B, -1) if self.cfg["fc"] else z.reshape(B, self.latent_c, self.latent_l)
        for layer in self.dec:
            h = layer(h)
        return h.reshape(B, -1)[:, : self.cfg["D"]]

    def loss(self, x, gen=None):
        """docs/method.md §3 training loss with fresh noise from generator `gen`."""
        cfg = self.cfg
        e_in = torch.randn(x.shape, generator=gen) if cfg["in_noise"] else None
        mu, lv = self.encode_full(x, e_in)
        if cfg["vae"]:
            z = mu + torch.exp(0.5 * lv) * torch.randn(mu.shape, generator=gen)
        else:
            b = cfg["lat_noise"]
            z = mu
            if b:
                e = torch.randn(mu.shape, generator=gen)
                z = z + b * e if cfg["additive"] else z * (1 - b) + b * e
            z = torch.clamp(z, -1, 1)
        loss = F.mse_loss(self.decode(z), x)
        if cfg["vae"]:
            kl = torch.mean(-0.5 * (1 + lv - mu ** 2 - lv.exp()))
            loss = loss + cfg["kl_weight"] * kl
        return loss


class ChunkLinear(nn.Module):
    """a linear map of its own per chunk: x (B, T, in) → (B, T, out);
    weight (T, out, in), bias (T, out)"""

    def __init__(self, T, cin, cout):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(T, cout, cin))
        self.bias = nn.Parameter(torch.empty(T, cout))

    def forward(self, x):
        return torch.einsum("bti,toi->bto", x, self.weight) + self.bias


class _Mix(nn.Module):
    def __init__(self, a, b, c):
        super().__init__()
        self.fc1 = nn.Linear(a, b)
        self.fc2 = nn.Linear(b, c)


class ChunkAE(nn.Module):
    """docs/method.md §3b whole-network autoencoder (src/model/ae_chunk.h),
    state_dict names as the C side's. encode(x (B, D)) → (B, 1, L)."""

    def __init__(self, D, chunk, code, hidden, latent):
        super().__init__()
        self.D, self.w, self.T = D, chunk, -(-D // chunk)
        self.latent_c, self.latent_l = 1, latent
        self.chunk_enc = ChunkLinear(self.T, chunk, code)
        self.enc = _Mix(self.T * code, hidden, latent)
        self.dec = _Mix(latent, hidden, self.T * code)
        self.chunk_dec = ChunkLinear(self.T, code, chunk)

    def encode(self, x):
        B = x.shape[0]
        h = F.pad(x, (0, self.T * self.w - self.D)).reshape(B, self.T, self.w)
        h = F.leaky_relu(self.chunk_enc(h), SLOPE).reshape(B, -1)
        h = self.enc.fc2(F.leaky_relu(self.enc.fc1(h), SLOPE))
        return torch.tanh(h).reshape(B, 1, -1)

    def decode(self, z):
        B = z.shape[0]
        h = F.leaky_relu(self.dec.fc1(z.reshape(B, -1)), SLOPE)
        h = F.leaky_relu(self.dec.fc2(h), SLOPE).reshape(B, self.T, -1)
        return self.chunk_dec(h).reshape(B, -1)[:, : self.D]


class Block(nn.Module):
    def __init__(self, cin, cmid, cout, first):
        super().__init__()
        self.first = first
        self.conv1 = nn.Conv1d(cin, cmid, 3, stride=1, padding=1)
        self.conv2 = nn.Conv1d(cmid, cout, 3, stride=1, padding=1)

    def forward(self, x):
        if not self.first:
            x = F.leaky_relu(x, SLOPE)
        x = self.conv1(F.instance_norm(x, eps=EPS))
        return self.conv2(F.instance_norm(F.leaky_relu(x, SLOPE), eps=EPS))


class Denoiser(nn.Module):
    """docs/method.md §4 ε-prediction network; forward(x (B, 1, L) or (B, L), t (B))."""

    def __init__(self, L, T, ch=(64, 128, 256, 512)):
        super().__init__()
        c0, c1, c2, c3 = ch
        self.enc1 = Block(1, c0, c0, True)
        self.enc2 = Block(c0, c1, c1, False)
        self.enc3 = Block(c1, c2, c2, False)
        self.enc4 = Block(c2, c3, c3, False)
        self.dec1 = Block(c3, c2, c2, False)
        self.dec2 = Block(c2, c1, c1, False)
        self.dec3 = Block(c1, c0, c0, False)
        self.dec4 = Block(c0, c0, 1, False)
        self.time_encode = nn.Embedding(T, L)
        self.L = L

    def forward(self, x, t):
        B = x.shape[0]
        x = x.reshape(B, 1, self.L)
        e = self.time_encode(t).reshape(B, 1, self.L)  # each sample its own t
        e1 = self.enc1(x + e)
        e2 = self.enc2(e1 + e)
        e3 = self.enc3(e2 + e)
        e4 = self.enc4(e3 + e)
        d1 = self.dec1(e4 + e) + e3
        d2 = self.dec2(d1 + e) + e2
        d3 = self.dec3(d2 + e) + e1
        return self.dec4(d3 + e)


class Schedule:
    """docs/method.md §4 linear β schedule and the fixedlarge DDPM posterior, float64."""

    def __init__(self, T=1000, b0=1e-4, b1=2e-2):
        self.T = T
        self.betas = torch.linspace(b0, b1, T, dtype=torch.float64)
        alphas = 1 - self.betas
        self.acp = torch.cumprod(alphas, 0)
        self.acp_prev = torch.cat([torch.ones(1, dtype=torch.float64), self.acp[:-1]])
        self.post_var = self.betas * (1 - self.acp_prev) / (1 - self.acp)
        self.log_var = torch.log(torch.cat([self.post_var[1:2], self.betas[1:]]))
        self.coef1 = self.betas * self.acp_prev.sqrt() / (1 - self.acp)
        self.coef2 = (1 - self.acp_prev) * alphas.sqrt() / (1 - self.acp)


def ddpm_loss(model, sched, x0, gen=None):
    B = x0.shape[0]
    t = torch.randint(0, sched.T, (B,), generator=gen)
    eps = torch.randn(x0.shape, generator=gen)
    a = sched.acp[t].sqrt().float().view(B, *([1] * (x0.dim() - 1)))
    s = (1 - sched.acp[t]).sqrt().float().view(B, *([1] * (x0.dim() - 1)))
    return F.mse_loss(model(a * x0 + s * eps, t).reshape(x0.shape), eps)


@torch.no_grad()
def ddpm_sample(model, sched, N, L, gen=None):
    x = torch.randn(N, 1, L, generator=gen)
    for t in reversed(range(sched.T)):
        tt = torch.full((N,), t, dtype=torch.int64)
        eps = model(x, tt)
        x0 = (x / sched.acp[t].sqrt().item() - math.sqrt(1 / sched.acp[t].item() - 1) * eps)
        x0 = x0.clamp(-1, 1)
        mean = sched.coef1[t].item() * x0 + sched.coef2[t].item() * x
        if t > 0:
            mean = mean + math.exp(0.5 * sched.log_var[t].item()) * torch.randn(
                x.shape, generator=gen)
        x = mean.clamp(-1, 1)
    return x.reshape(N, L)


@torch.no_grad()
def ddim_sample(model, sched, N, L, steps, gen=None):
    x = torch.randn(N, 1, L, generator=gen)
    seq = [i * sched.T // steps for i in range(steps)]
    for i in reversed(range(steps)):
        t = seq[i]
        a = sched.acp[t].item()
        ap = sched.acp[seq[i - 1]].item() if i > 0 else 1.0
        eps = model(x, torch.full((N,), t, dtype=torch.int64))
        x0 = ((x - math.sqrt(1 - a) * eps) / math.sqrt(a)).clamp(-1, 1)
        x = (math.sqrt(ap) * x0 + math.sqrt(1 - ap) * eps).clamp(-1, 1)
    return x.reshape(N, L)
