"""A plain PyTorch SS2D (VMamba's SS2Dv2, forward type v05_noz, channels-first), written here to compare the
package against: the same parameter names as VMamba's module, so ``ss2d.SS2D.from_state_dict(m.state_dict())``
loads it as it is. The selective scan inside ``forward_core`` is pluggable: mamba's CUDA kernel on a GPU host
(``mamba_scan``, from its built ``selective_scan_cuda`` module), or ``torch_scan``, a sequential recurrence in
PyTorch written from mamba's definition (any device and dtype; slow, for checking).

Used by ``gpu_ss2d_vs_torch.py`` (GPU host) and by ``tests/test_torch_ss2d.py`` (CPU, in the suite).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

LN_EPS = 1e-5


def torch_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """Mamba's selective scan as a plain recurrence: u, delta, z (b, d, l); A (d, n); B, C (b, g, n, l); D and
    delta_bias (d). In the inputs' dtype."""
    b, d, l = u.shape
    dt = delta if delta_bias is None else delta + delta_bias[None, :, None]
    if delta_softplus:
        dt = F.softplus(dt)                       # threshold 20, as mamba's kernel
    g = B.shape[1]
    Bc = B.repeat_interleave(d // g, dim=1)       # channel c reads group c // (d / g)
    Cc = C.repeat_interleave(d // g, dim=1)
    h = u.new_zeros(b, d, A.shape[1])
    ys = []
    for t in range(l):
        h = torch.exp(dt[:, :, t, None] * A) * h + (dt[:, :, t] * u[:, :, t])[:, :, None] * Bc[:, :, :, t]
        ys.append((h * Cc[:, :, :, t]).sum(-1))
    y = torch.stack(ys, dim=-1)
    if D is not None:
        y = y + D[None, :, None] * u
    if z is not None:
        y = y * F.silu(z)
    return y


def mamba_scan(selective_scan_cuda):
    """The scan of mamba's built CUDA extension (``selective_scan_cuda.fwd``), in the signature of ``torch_scan``;
    mamba's kernel takes CUDA tensors only, so tensors elsewhere (a CPU dry run) go to ``torch_scan``."""
    def scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
        if not u.is_cuda:
            return torch_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
        return selective_scan_cuda.fwd(u.contiguous(), delta.contiguous(), A.contiguous(), B.contiguous(),
                                       C.contiguous(), D, z, delta_bias, delta_softplus)[0]
    return scan


def cross_scan(x):
    """(b, c, h, w) to (b, 4, c, h*w): row-major, column-major, and both reversed."""
    r0 = x.flatten(2)
    r1 = x.transpose(2, 3).flatten(2)
    return torch.stack([r0, r1, r0.flip(-1), r1.flip(-1)], dim=1)


def cross_merge(ys, h, w):
    """(b, 4, c, h*w) to (b, c, h, w): the four routes mapped back and added."""
    b, _, c, l = ys.shape
    row = ys[:, 0] + ys[:, 2].flip(-1)
    col = ys[:, 1] + ys[:, 3].flip(-1)
    col = col.reshape(b, c, w, h).transpose(2, 3).reshape(b, c, l)
    return (row + col).reshape(b, c, h, w)


class Linear2d(nn.Linear):
    """A linear map over the channels of (b, c, h, w), weight (out, in) as VMamba's Linear2d."""

    def forward(self, x):
        return F.conv2d(x, self.weight[:, :, None, None], self.bias)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of (b, c, h, w)."""

    def forward(self, x):
        return F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias,
                            self.eps).permute(0, 3, 1, 2)


class TorchSS2D(nn.Module):
    def __init__(self, d_model, d_state=1, ssm_ratio=2.0, dt_rank=None, d_conv=3, conv_bias=True, scan=torch_scan):
        super().__init__()
        di = int(ssm_ratio * d_model)
        r = dt_rank or math.ceil(d_model / 16)
        self.scan = scan
        self.in_proj = Linear2d(d_model, di, bias=False)
        self.conv2d = nn.Conv2d(di, di, d_conv, padding=(d_conv - 1) // 2, groups=di, bias=conv_bias)
        self.x_proj_weight = nn.Parameter(torch.empty(4, r + 2 * d_state, di))
        self.dt_projs_weight = nn.Parameter(torch.empty(4, di, r))
        self.dt_projs_bias = nn.Parameter(torch.empty(4, di))
        self.A_logs = nn.Parameter(torch.empty(4 * di, d_state))
        self.Ds = nn.Parameter(torch.empty(4 * di))
        self.out_norm = LayerNorm2d(di, eps=LN_EPS)
        self.out_proj = Linear2d(di, d_model, bias=False)

    @torch.no_grad()
    def randomize(self, generator):
        """VMamba's initialisation (dt from [1e-3, 1e-1] through the inverse softplus, A_logs = log(1..N)), with
        LayerNorm and D perturbed so that no parameter is trivially one or zero."""
        g = generator
        dev = self.A_logs.device

        def uniform(t, lo, hi):
            t.copy_(torch.rand(t.shape, generator=g, device=dev) * (hi - lo) + lo)

        def normal(t, std, mean=0.0):
            t.copy_(torch.randn(t.shape, generator=g, device=dev) * std + mean)

        dm, di = self.in_proj.in_features, self.in_proj.out_features
        r, n = self.dt_projs_weight.shape[2], self.A_logs.shape[1]
        k = self.conv2d.kernel_size[0]
        normal(self.in_proj.weight, 1 / math.sqrt(dm))
        uniform(self.conv2d.weight, -1 / k, 1 / k)
        if self.conv2d.bias is not None:
            uniform(self.conv2d.bias, -1 / k, 1 / k)
        uniform(self.x_proj_weight, -di ** -0.5, di ** -0.5)
        uniform(self.dt_projs_weight, -r ** -0.5, r ** -0.5)
        dt = torch.exp(torch.rand(4, di, generator=g, device=dev) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
        dt = dt.clamp(min=1e-4)
        self.dt_projs_bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.A_logs.copy_(torch.log(torch.arange(1, n + 1, dtype=torch.float32, device=dev)).repeat(4 * di, 1))
        self.A_logs.add_(torch.randn(self.A_logs.shape, generator=g, device=dev) * 0.1)
        normal(self.Ds, 0.1, 1.0)
        normal(self.out_norm.weight, 0.1, 1.0)
        normal(self.out_norm.bias, 0.1)
        normal(self.out_proj.weight, 1 / math.sqrt(di))
        return self

    def forward_core(self, x):
        """x (b, di, h, w), after the depthwise convolution and SiLU: the four scans, merged."""
        b, di, h, w = x.shape
        n, r = self.A_logs.shape[1], self.dt_projs_weight.shape[2]
        xs = cross_scan(x)                                               # (b, 4, di, L)
        x_dbl = torch.einsum("bkdl,kcd->bkcl", xs, self.x_proj_weight)   # (b, 4, r + 2n, L)
        dts, Bs, Cs = torch.split(x_dbl, [r, n, n], dim=2)
        dts = torch.einsum("bkrl,kdr->bkdl", dts, self.dt_projs_weight)
        L = h * w
        ys = self.scan(xs.reshape(b, 4 * di, L).contiguous(), dts.reshape(b, 4 * di, L).contiguous(),
                       -torch.exp(self.A_logs), Bs.contiguous(), Cs.contiguous(), self.Ds, None,
                       self.dt_projs_bias.reshape(-1), True)
        return cross_merge(ys.reshape(b, 4, di, L), h, w)

    def forward(self, x):
        y = self.forward_core(F.silu(self.conv2d(self.in_proj(x))))
        return self.out_proj(self.out_norm(y))
