"""The plain versions: convolution, transposed convolution, batch norm and Adam as a textbook writes them.

The fast kernels (``conv.py``, ``norm.py``, ``optim/adam.py``) are written for speed: channels-last
buffers, batch chunks, reused workspaces, one-pass gradients, in-place updates.  The functions here
compute the same results the slow, obvious way, so that a reader can see the math and the tests can
check the fast versions against them (``tests/test_reference.py``: values and gradients agree in
float64 on every backend).

The three forward functions are compositions of Tensor ops (indexing, ``matmul``, ``cat``, sums), so
autograd differentiates them: their backward passes come for free, and are slow but surely right.
What the fast ops write by hand, ``backward`` derives here from the forward alone.
"""
from __future__ import annotations

import math

from . import backend as B
from .creation import arange, zeros
from .ops import cat, index_add_zeros, matmul, permute, reshape
from .optim.adam import Adam as _FastAdam
from .tensor import Tensor, no_grad

__all__ = ["conv2d", "conv_transpose2d", "batch_norm", "Adam"]


# ---- convolution as im2col + one matrix product -------------------------------------------------------
def _pad(x: Tensor, p: int) -> Tensor:
    """Zeros around the last two axes of an NCHW tensor, p rows/columns on each side."""
    if p == 0:
        return x
    n, c, h, w = x.shape
    rows = zeros(n, c, p, w, dtype=x.dtype, device=x.device)
    x = cat([rows, x, rows], dim=2)
    cols = zeros(n, c, h + 2 * p, p, dtype=x.dtype, device=x.device)
    return cat([cols, x, cols], dim=3)


def _window_index(out_size: int, k: int, stride: int, device) -> Tensor:
    """idx[p, i] = p·stride + i: the input row (or column) that kernel offset i sees at output p."""
    return reshape(arange(out_size, device=device), (out_size, 1)) * stride + arange(k, device=device)


def _patches_index(h_out, w_out, kh, kw, stride, device):
    """The index that picks every patch of an NCHW image at once: x[:, :, I, J] has shape
    (N, C, Ho, kh, Wo, kw) with x[n, c, p·s + i, q·s + j] at [n, c, p, i, q, j]."""
    rows = _window_index(h_out, kh, stride, device)
    cols = _window_index(w_out, kw, stride, device)
    return (slice(None), slice(None), reshape(rows, (h_out, kh, 1, 1)).array, reshape(cols, (1, 1, w_out, kw)).array)


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1, padding: int = 0) -> Tensor:
    """y[n, o, p, q] = b[o] + Σ_{c,i,j} W[o, c, i, j] · x_pad[n, c, p·s + i, q·s + j]

    im2col: gather every kh×kw patch of the padded input into one row of a matrix
    cols[(n, p, q), (c, i, j)]; then the convolution is one matrix product with W as a
    (O, C·kh·kw) matrix:  Y = cols @ Wᵀ.  x (N, C, H, W), weight (O, C, kh, kw), bias (O,);
    int stride and padding.  The fast version is ``scratchgan.conv.conv2d``.
    """
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    h_out, w_out = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    patches = _pad(x, padding)[_patches_index(h_out, w_out, kh, kw, stride, x.device)]  # (N, C, Ho, kh, Wo, kw)
    cols = reshape(permute(patches, (0, 2, 4, 1, 3, 5)), (n * h_out * w_out, c * kh * kw))
    y = matmul(cols, reshape(weight, (o, c * kh * kw)).mT)  # (N·Ho·Wo, O)
    if bias is not None:
        y = y + bias
    return permute(reshape(y, (n, h_out, w_out, o)), (0, 3, 1, 2))


def conv_transpose2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1,
                     padding: int = 0) -> Tensor:
    """The adjoint of conv2d in its input: every input pixel scatters a weighted kernel into the output,

        y[n, o, a·s + i − p, b·s + j − p] += Σ_c x[n, c, a, b] · W[c, o, i, j]

    One matrix product makes all the kernel copies, cols[(n, a, b), (o, i, j)] = X @ W, and col2im adds
    them into place with the *same* index that conv2d gathers with (scatter is gather's adjoint); the
    padding is then cropped off.  x (N, C_in, H, W), weight (C_in, C_out, kh, kw), bias (C_out,).
    Output size (H − 1)·s − 2p + kh.  The fast version is ``scratchgan.conv.conv_transpose2d``.
    """
    n, c_in, h, w = x.shape
    _, c_out, kh, kw = weight.shape
    rows = reshape(permute(x, (0, 2, 3, 1)), (n * h * w, c_in))
    cols = matmul(rows, reshape(weight, (c_in, c_out * kh * kw)))  # (N·H·W, C_out·kh·kw)
    patches = permute(reshape(cols, (n, h, w, c_out, kh, kw)), (0, 3, 1, 4, 2, 5))  # (N, C_out, H, kh, W, kw)
    full = ((h - 1) * stride + kh, (w - 1) * stride + kw)  # the output before cropping the padding
    key = _patches_index(h, w, kh, kw, stride, x.device)
    y = index_add_zeros(patches, key, (n, c_out) + full, advanced=True)
    y = y[:, :, padding:full[0] - padding, padding:full[1] - padding]
    if bias is not None:
        y = y + reshape(bias, (1, c_out, 1, 1))
    return y


# ---- batch normalisation, the formula -------------------------------------------------------------------
def _buffer_array(v):
    return v.array if isinstance(v, Tensor) else v


def batch_norm(x: Tensor, running_mean, running_var, weight: Tensor | None, bias: Tensor | None,
               training: bool, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """``F.batch_norm`` on (N, C, *) input, written as the formula:

        training:   μ = mean of x per channel,  σ² = mean of (x − μ)² (biased),
                    y = γ·(x − μ)/√(σ² + eps) + β;
                    running_mean ← (1 − momentum)·running_mean + momentum·μ,
                    running_var  ← (1 − momentum)·running_var  + momentum·σ²·M/(M − 1)  (unbiased; M values)
        evaluation: y = γ·(x − running_mean)/√(running_var + eps) + β

    The running statistics (Tensors, arrays or None) are updated in place, outside the graph.
    The fast version is ``scratchgan.norm.batch_norm``.
    """
    if momentum is None:  # as in F.batch_norm: the cumulative average needs nn.BatchNorm's num_batches_tracked
        raise TypeError("batch_norm: momentum must be a float, got None; the cumulative moving average "
                        "(momentum=None) is nn.BatchNorm's, which passes 1/num_batches_tracked")
    c = x.shape[1]
    axes = (0,) + tuple(range(2, x.ndim))  # every axis but the channels
    per_channel = (1, c) + (1,) * (x.ndim - 2)  # the shape that broadcasts a (C,) vector over x
    if training:
        mean = x.mean(dim=axes, keepdim=True)
        var = ((x - mean) ** 2).mean(dim=axes, keepdim=True)
        m = math.prod(x.shape) // c
        with no_grad():
            for buffer, stat in ((running_mean, mean), (running_var, var * (m / (m - 1)))):
                if buffer is not None:
                    a = _buffer_array(buffer)
                    a[...] = ((1 - momentum) * Tensor(a) + momentum * reshape(stat, (c,))).array
    else:
        mean = Tensor(_buffer_array(running_mean)).reshape(per_channel)
        var = Tensor(_buffer_array(running_var)).reshape(per_channel)
    y = (x - mean) / (var + eps) ** 0.5
    if weight is not None:
        y = y * reshape(weight, per_channel)
    if bias is not None:
        y = y + reshape(bias, per_channel)
    return y


# ---- Adam, the paper's four lines ----------------------------------------------------------------------
class Adam(_FastAdam):
    """Adam (Kingma & Ba, 2015, Algorithm 1) line by line, with PyTorch's results: for each parameter θ
    with gradient g, at step t = 1, 2, ...

        m ← β₁·m + (1 − β₁)·g            the moving mean of the gradient
        v ← β₂·v + (1 − β₂)·g²           the moving mean of its square
        m̂ = m/(1 − β₁ᵗ),  v̂ = v/(1 − β₂ᵗ)   bias corrections: m and v start at 0
        θ ← θ − lr·m̂/(√v̂ + eps)

    PyTorch's options, each one line before or inside these: ``maximize`` ascends (g ← −g);
    ``weight_decay`` λ adds λθ to g (L2), or with ``decoupled_weight_decay`` (AdamW) shrinks θ by
    (1 − lr·λ) first; ``amsgrad`` uses the largest v seen so far in v̂.

    Only ``step`` differs from ``scratchgan.optim.Adam`` (the fast version, which rearranges these
    lines into in-place passes over memory): constructor, state and state_dict are inherited.
    """

    def step(self, closure=None):
        loss = self._closure(closure)
        for group, p in self._params():
            if p.grad is None:
                continue
            lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            xp = B.get_array_module(p.array)
            g = -p.grad.array if group["maximize"] else p.grad.array
            if group["decoupled_weight_decay"]:
                p.array *= 1 - lr * wd
            else:
                g = g + wd * p.array
            st = self.state[p]
            if not st:
                st.update(step=0, exp_avg=xp.zeros_like(p.array), exp_avg_sq=xp.zeros_like(p.array))
                if group["amsgrad"]:
                    st["max_exp_avg_sq"] = xp.zeros_like(p.array)
            st["step"] += 1
            t = st["step"]
            m = st["exp_avg"] = b1 * st["exp_avg"] + (1 - b1) * g
            v = st["exp_avg_sq"] = b2 * st["exp_avg_sq"] + (1 - b2) * g * g
            if group["amsgrad"]:
                v = st["max_exp_avg_sq"] = xp.maximum(st["max_exp_avg_sq"], v)
            m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
            p.array -= lr * m_hat / (xp.sqrt(v_hat) + eps)
        return loss
