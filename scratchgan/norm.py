"""Batch normalisation and the per-channel ops it is built from.

Every tensor here is (N, C, *) with channels on axis 1.  Three small differentiable
ops cover all per-channel arithmetic, and their backward passes are written with
each other, so the family is closed under differentiation (double backprop works):

    channel_sum(x)             s[c] = Σ_{n,h,w} x[n,c,h,w]      ↔  its adjoint: broadcast
    channel_dot(a, b)          s[c] = Σ_{n,h,w} a·b              ↔  d/da = channel_affine(b, g)
    channel_affine(x, s, t)    y = x·s[c] + t[c]                 ↔  dx = channel_affine(g, s),
                                                                     ds = channel_dot(g, x), dt = channel_sum(g)

Memory layout.  The convolutions (conv.py) hand out NCHW-shaped views of NHWC
("channels-last") buffers, because that is the layout their GEMMs produce.  NumPy's
elementwise ops keep a layout (they allocate in the operands' memory order), so the
activations stay channels-last through BatchNorm and ReLU.  Reductions look at the
memory order: channels-last data is reduced as a contiguous (rows, C) matrix.
"""
from __future__ import annotations

import math

from . import backend as B
from .ops import broadcast_to, mean, reshape
from .tensor import Tensor, apply_op, is_grad_enabled
from .kernels import WORKSPACE, lane_map

__all__ = ["batch_norm", "channel_sum", "channel_dot", "channel_affine", "standardize", "layer_norm", "instance_norm",
           "group_norm"]


# ---- raw-array helpers ----------------------------------------------------------------------
def _rows_by_channel(a):
    """A (rows, C) 2-D view of a (N, C, *) array whose memory is channels-last, else None."""
    if a.ndim == 2:
        return a if a.strides[1] == a.itemsize else None
    t = a.transpose((0,) + tuple(range(2, a.ndim)) + (1,))
    if t.flags.c_contiguous:
        return t.reshape(-1, a.shape[1])
    return None


def _channel_shape(x_ndim: int, c: int) -> tuple:
    """(1, C, 1, 1): the shape that broadcasts a per-channel vector over (N, C, H, W)."""
    return (1, c) + (1,) * (x_ndim - 2)


def _reduced_axes(ndim: int) -> tuple:
    return (0,) + tuple(range(2, ndim))


def _channel_sum_array(a):
    m = _rows_by_channel(a)
    if m is not None:
        return m.sum(axis=0)
    return a.sum(axis=_reduced_axes(a.ndim))


def _channel_dot_array(a, b):
    """Σ over all axes but 1 of a·b, without materialising a·b where the layouts allow."""
    xp = B.get_array_module(a, b)
    ma, mb = _rows_by_channel(a), _rows_by_channel(b)
    if ma is not None and mb is not None:
        return xp.einsum("mc,mc->c", ma, mb)
    if a.ndim >= 3 and a.flags.c_contiguous and b.flags.c_contiguous:
        n, c = a.shape[:2]
        return xp.einsum("ncl,ncl->c", a.reshape(n, c, -1), b.reshape(n, c, -1))
    return (a * b).sum(axis=_reduced_axes(a.ndim))


def _count_per_channel(shape) -> int:
    return math.prod(shape) // shape[1]


# ---- the per-channel ops ----------------------------------------------------------------------
def channel_sum(x: Tensor) -> Tensor:
    """s[c] = Σ x[:, c, ...]: the sum over every axis but the channel axis 1."""
    shape = x.shape

    def backward(g, out):  # d s[c] / d x[n,c,h,w] = 1: broadcast g back over the summed axes
        return (broadcast_to(reshape(g, _channel_shape(len(shape), shape[1])), shape),)

    return apply_op(_channel_sum_array(x.array), (x,), backward, "channel_sum", saved=())


def channel_dot(a: Tensor, b: Tensor) -> Tensor:
    """s[c] = Σ a[:, c, ...]·b[:, c, ...] (a per-channel inner product)."""
    if a.shape != b.shape:
        raise ValueError(f"channel_dot: shapes {a.shape} and {b.shape} differ")

    def backward(g, out):  # d s = Σ (da·b + a·db)
        ga = channel_affine(b, g) if a.requires_grad else None
        gb = channel_affine(a, g) if b.requires_grad else None
        return ga, gb

    return apply_op(_channel_dot_array(a.array, b.array), (a, b), backward, "channel_dot",
                    saved=(b if a.requires_grad else None, a if b.requires_grad else None))


def channel_affine(x: Tensor, scale: Tensor | None = None, shift: Tensor | None = None,
                   x2: Tensor | None = None, scale2: Tensor | None = None) -> Tensor:
    """y = x·scale[c] + shift[c] (+ x2·scale2[c]) with per-channel (C,) vectors (scale/shift may be None).

    The optional second term is for BatchNorm's input gradient, dx = k·g + t + u·(x − μ) (k, t, u
    per channel): one op, one output array.  Written as the sum of two channel_affine ops instead,
    the DCGAN-28 training step measured 5% slower in CPU time (median ms/step 506, 499 → 526, 537 in alternating runs of
    ``bench_step.py dcgan --steps 5 --rounds 2 --threads 1 --cpu-time``) and its peak memory went
    88 → 100 MB: two more x-sized temporaries and one more pass over them.
    """
    if x.ndim < 2:
        raise ValueError(f"channel_affine: expected a (N, C, *) tensor, got shape {x.shape}")
    if (x2 is None) != (scale2 is None) or (x2 is not None and x2.shape != x.shape):
        raise ValueError("channel_affine: x2 and scale2 go together, and x2 must have x's shape")
    c = x.shape[1]
    for name, v in (("scale", scale), ("shift", shift), ("scale2", scale2)):
        if v is not None and v.shape != (c,):
            raise ValueError(f"channel_affine: {name} must have shape ({c},) for input {x.shape}, got {v.shape}")
    xp = B.get_array_module(x.array)
    cs = _channel_shape(x.ndim, c)
    s1, s2, t = (None if v is None else v.array.reshape(cs) for v in (scale, scale2, shift))

    def part(out, x_, x2_):
        if s1 is not None:
            xp.multiply(x_, s1, out=out)
        else:
            out[...] = x_
        if x2_ is not None:
            out += xp.multiply(x2_, s2, out=_scratch_like(xp, out, "channel_affine"))
        if t is not None:
            out += t

    # empty_like keeps x's memory layout (channels-last stays so)
    data = lane_map(part, xp.empty_like(x.array, dtype=xp.result_type(x.array, *(v for v in (s1, t) if v is not None))),
                    x.array, None if x2 is None else x2.array)
    terms = [(x, scale)] + ([(x2, scale2)] if x2 is not None else [])

    def backward(g, out):  # dy = s·dx + x·ds + s2·dx2 + x2·ds2 + dt
        grads = []
        for xi, si in terms:
            grads.append((channel_affine(g, si) if si is not None else g) if xi.requires_grad else None)
            if si is not None:
                grads.append(channel_dot(g, xi) if si.requires_grad else None)
        if shift is not None:
            grads.append(channel_sum(g) if shift.requires_grad else None)
        return tuple(grads)

    parents, saved = [], []
    for xi, si in terms:
        parents += [xi] + ([si] if si is not None else [])
        if si is not None:  # dx reads s, ds reads x
            saved += [si if xi.requires_grad else None, xi if si.requires_grad else None]
    if shift is not None:
        parents.append(shift)
    return apply_op(data, tuple(parents), backward, "channel_affine", saved=tuple(saved))


# ---- batch normalisation ------------------------------------------------------------------------
def _as_tensor(v):
    return v if (v is None or isinstance(v, Tensor)) else Tensor(v)


def _data(v):
    return v.array if isinstance(v, Tensor) else v


def batch_norm(x: Tensor, running_mean=None, running_var=None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """PyTorch's ``F.batch_norm`` on (N, C, *) input.

    Training:  y = γ·x̂ + β,  x̂ = (x − μ)/σ,  μ, σ² the batch mean and *biased* variance per
    channel, σ = √(σ² + eps).  The running estimates move towards the batch statistics in place,
    outside the graph:  r ← (1 − momentum)·r + momentum·stat, with the *unbiased* variance
    σ²·M/(M − 1) (M values per channel).
    Evaluation: the running statistics replace μ and σ², so y is an affine map of x.

    ``running_mean``/``running_var`` are Tensors (buffers) or arrays, or None (no tracking).
    The plain version (the formula as Tensor ops, autograd for the backward) is
    ``scratchgan.reference.batch_norm``; the tests check that both agree, values and gradients.
    """
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, *), got {x.shape}")
    _check_momentum("batch_norm", momentum)
    c = x.shape[1]
    for name, v in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if v is not None and tuple(_data(v).shape) != (c,):
            raise ValueError(f"batch_norm: {name} must have shape ({c},) for input {x.shape}, "
                             f"got {tuple(_data(v).shape)}")
    weight, bias = _as_tensor(weight), _as_tensor(bias)
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation mode (training=False) needs running_mean and running_var")
        return _batch_norm_eval(x, _data(running_mean), _data(running_var), weight, bias, eps)
    m = _count_per_channel(x.shape)
    if m == 0:  # an empty batch, as PyTorch: an empty output, zero gradients, running estimates unchanged
        return channel_affine(x, weight, bias)
    if m == 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input size {x.shape}")
    return _batch_norm_train(x, running_mean, running_var, weight, bias, momentum, eps, m)


def _check_momentum(who: str, momentum):
    """``F.batch_norm`` takes a float momentum, as PyTorch's does (it raises a TypeError for None):
    the cumulative average that ``nn.BatchNorm2d(momentum=None)`` means needs the module's
    ``num_batches_tracked``, so the module turns it into the float 1/num_batches_tracked first."""
    if momentum is None:
        raise TypeError(f"{who}: momentum must be a float, got None; the cumulative moving average "
                        "(momentum=None) is nn.BatchNorm's, which passes 1/num_batches_tracked")


def _batch_norm_eval(x, rm, rv, weight, bias, eps):
    """y = x·s + t with s = γ/√(r_var + eps), t = β − r_mean·s: one channel_affine, differentiable
    in x, γ and β through it."""
    xp = B.get_array_module(x.array)
    inv = Tensor((1.0 / xp.sqrt(rv.astype(x.dtype) + eps)).astype(x.dtype))
    scale = inv if weight is None else weight * inv
    shift = Tensor(-rm.astype(x.dtype)) * scale
    if bias is not None:
        shift = shift + bias
    return channel_affine(x, scale, shift)


def _normalize_parts(x: Tensor, eps: float, m: int):
    """x − μ and 1/σ as Tensor ops of x: the recomputation that makes double backprop exact."""
    mean = channel_sum(x) * (1.0 / m)
    xc = channel_affine(x, None, -mean)
    var = channel_dot(xc, xc) * (1.0 / m)
    return xc, (var + eps) ** -0.5


def _scratch_like(xp, a, name: str):
    """A reusable scratch array with a's shape, dtype and memory layout (channels-last or C order)."""
    if a.ndim == 4 and not a.flags.c_contiguous and _rows_by_channel(a) is not None:
        n, c, h, w = a.shape
        return WORKSPACE.get(xp, name, (n, h, w, c), a.dtype).transpose(0, 3, 1, 2)
    return WORKSPACE.get(xp, name, a.shape, a.dtype)


def _batch_norm_train(x, running_mean, running_var, weight, bias, momentum, eps, m):
    xp = B.get_array_module(x.array)
    c = x.shape[1]
    cs = _channel_shape(x.ndim, c)
    # forward on raw arrays, in the output array itself: y = x − μ, σ² = Σy²/M, y = y·(γ/σ) + β
    mean = _channel_sum_array(x.array) * (1.0 / m)

    def centered(out):  # x − μ into out, in batch slices over the lanes
        return lane_map(lambda o, x_: xp.subtract(x_, mean.reshape(cs), out=o), out, x.array)

    y = centered(xp.empty_like(x.array))
    var = _channel_dot_array(y, y) * (1.0 / m)
    inv = (1.0 / xp.sqrt(var + eps)).astype(x.dtype, copy=False)
    k = (inv if weight is None else inv * weight.array).reshape(cs)
    b = None if bias is None else bias.array.reshape(cs)

    def scale_shift(out, y_):
        out *= k
        if b is not None:
            out += b

    lane_map(scale_shift, y, y)
    if running_mean is not None:
        rm = _data(running_mean)
        rm *= 1.0 - momentum
        rm += (momentum * mean).astype(rm.dtype, copy=False)
    if running_var is not None:
        rv = _data(running_var)
        rv *= 1.0 - momentum
        rv += (momentum * m / (m - 1) * var).astype(rv.dtype, copy=False)

    def backward(g, out):
        # With x̂ = (x − μ)/σ and the per-channel sums Σg, Σg·x̂ over the M values:
        #   dβ = Σg,   dγ = Σg·x̂,   dx = (γ/σ)·(g − Σg/M − x̂·Σ(g·x̂)/M)
        # written as one channel_affine op.  Under create_graph, x − μ and 1/σ are rebuilt from x
        # with Tensor ops, so the second derivative sees their dependence on x as well.
        if is_grad_enabled():
            xc_t, inv_t = _normalize_parts(x, eps, m)
        else:  # x − μ again, into scratch memory (cheaper than keeping an x-sized array alive)
            xc_t = Tensor(centered(_scratch_like(xp, x.array, "bn_xc")))
            inv_t = Tensor(inv)
        sg = channel_sum(g)
        sgxhat = channel_dot(g, xc_t) * inv_t
        k = inv_t if weight is None else inv_t * weight
        gx = None
        if x.requires_grad:  # = k·g − k·Σg/M − (k/σ)·(x − μ)·Σ(g·x̂)/M, one pass
            gx = channel_affine(g, k, k * sg * (-1.0 / m), xc_t, k * inv_t * sgxhat * (-1.0 / m))
        gw = sgxhat if weight is not None and weight.requires_grad else None
        gb = sg if bias is not None and bias.requires_grad else None
        return tuple([gx] + ([gw] if weight is not None else []) + ([gb] if bias is not None else []))

    parents = (x,) + tuple(p for p in (weight, bias) if p is not None)
    # the backward rebuilds x − μ from x and scales by γ; μ and 1/σ are kept as arrays
    return apply_op(y, parents, backward, "batch_norm", saved=(x, weight))


# ---- standardisation over chosen axes: LayerNorm, InstanceNorm, GroupNorm -----------------------
def standardize(x: Tensor, dims, eps: float = 1e-5) -> Tensor:
    """x̂ = (x − μ)/√(σ² + eps), μ and the *biased* σ² taken over ``dims`` (kept as size-1 axes).

    The one op behind layer_norm, instance_norm and group_norm (they differ only in the axes and
    in where the affine parameters broadcast).  With M values per group:

        dx = (1/σ)·(g − mean(g) − x̂·mean(g·x̂))

    Under create_graph, x − μ and 1/σ are rebuilt from x with Tensor ops, so the second derivative
    (WGAN-GP through a LayerNorm critic) sees their dependence on x.
    """
    dims = tuple(d % x.ndim for d in dims)
    xp = B.get_array_module(x.array)
    mu = x.array.mean(axis=dims, keepdims=True)
    xc = x.array - mu
    inv = 1.0 / xp.sqrt((xc * xc).mean(axis=dims, keepdims=True) + eps)
    inv = inv.astype(x.dtype, copy=False)
    data = xc * inv

    def backward(g, out):  # dx = (1/σ)(g − mean g − x̂·mean(g x̂))
        if is_grad_enabled():
            xc_t = x - mean(x, dim=dims, keepdim=True)
            inv_t = (mean(xc_t * xc_t, dim=dims, keepdim=True) + eps) ** -0.5
            xhat = xc_t * inv_t
        else:
            # x̂ again from x and the (small) per-group μ and 1/σ, not from the output: an in-place activation
            # after the norm (InstanceNorm2d then LeakyReLU(inplace=True), as CycleGAN) may have overwritten it
            inv_t, xhat = Tensor(inv), Tensor((x.array - mu) * inv)
        return (inv_t * (g - mean(g, dim=dims, keepdim=True) - xhat * mean(g * xhat, dim=dims, keepdim=True)),)

    return apply_op(data, (x,), backward, "standardize", saved=(x,))


def _affine(y: Tensor, weight, bias, shape) -> Tensor:
    """y·weight + bias with the parameters reshaped to ``shape`` (broadcast over y)."""
    if weight is not None:
        y = y * reshape(weight, shape)
    if bias is not None:
        y = y + reshape(bias, shape)
    return y


def layer_norm(x: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """PyTorch's ``F.layer_norm``: standardise over the last len(normalized_shape) dims, then
    y = x̂·weight + bias, weight and bias of shape ``normalized_shape`` (elementwise)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or x.ndim < k or x.shape[x.ndim - k:] != shape:
        raise ValueError(f"layer_norm: given normalized_shape={list(shape)}, expected input with shape "
                         f"(*, {', '.join(map(str, shape))}), but got input of size {x.shape}")
    for name, v in (("weight", weight), ("bias", bias)):
        if v is not None and v.shape != shape:
            raise ValueError(f"layer_norm: {name} must have shape {shape} (normalized_shape), got {v.shape}")
    y = standardize(x, tuple(range(x.ndim - k, x.ndim)), eps)
    return _affine(y, weight, bias, shape)


def _check_per_channel(who, x, named):
    c = x.shape[1]
    for name, v in named:
        if v is not None and tuple(_data(v).shape) != (c,):
            raise ValueError(f"{who}: {name} must have shape ({c},) for input of shape {x.shape}, "
                             f"got {tuple(_data(v).shape)}")


def instance_norm(x: Tensor, running_mean=None, running_var=None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True, momentum: float = 0.1,
                  eps: float = 1e-5) -> Tensor:
    """PyTorch's ``F.instance_norm`` on (N, C, *): each (n, c) slice is standardised over its own
    spatial values (Ulyanov et al., 2016), then y = x̂·weight[c] + bias[c].

    With running statistics and ``use_input_stats``, they move (in place, outside the graph) towards
    the batch average of the per-instance mean and *unbiased* variance:
        r ← (1 − momentum)·r + momentum·mean_n(stat[n, c]).
    ``use_input_stats=False`` normalises with the running statistics instead (an affine map)."""
    if x.ndim < 3:
        raise ValueError(f"instance_norm: expected input of shape (N, C, *) with at least one spatial dim, "
                         f"got {x.shape}")
    _check_per_channel("instance_norm", x, (("running_mean", running_mean), ("running_var", running_var),
                                             ("weight", weight), ("bias", bias)))
    weight, bias = _as_tensor(weight), _as_tensor(bias)
    cs = _channel_shape(x.ndim, x.shape[1])
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and running_var")
        return _batch_norm_eval(x, _data(running_mean), _data(running_var), weight, bias, eps)
    spatial = tuple(range(2, x.ndim))
    m = math.prod(x.shape[2:])
    if m <= 1:
        raise ValueError(f"instance_norm: expected more than 1 spatial element when training, got input size {x.shape}")
    for r, stat in ((running_mean, "mean"), (running_var, "var")):
        if r is not None:  # stat[n, c] over the spatial values; the variance unbiased (ddof=1)
            per_instance = x.array.mean(axis=spatial) if stat == "mean" else x.array.var(axis=spatial, ddof=1)
            a = _data(r)
            a *= 1.0 - momentum
            a += (momentum * per_instance.mean(axis=0)).astype(a.dtype, copy=False)
    return _affine(standardize(x, spatial, eps), weight, bias, cs)


def group_norm(x: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """PyTorch's ``F.group_norm`` on (N, C, *): the C channels split into ``num_groups`` groups of
    C/G, each (n, group) standardised over its channels and spatial values (Wu & He, 2018), then
    y = x̂·weight[c] + bias[c].  G = 1 is a LayerNorm over (C, *); G = C is InstanceNorm."""
    if x.ndim < 2:
        raise ValueError(f"group_norm: expected input of shape (N, C, *), got {x.shape}")
    c = x.shape[1]
    if num_groups < 1 or c % num_groups:
        raise ValueError(f"group_norm: expected number of channels in input ({c}, shape {x.shape}) to be "
                         f"divisible by num_groups ({num_groups})")
    _check_per_channel("group_norm", x, (("weight", weight), ("bias", bias)))
    grouped = reshape(x, (x.shape[0], num_groups, -1))
    y = reshape(standardize(grouped, (2,), eps), x.shape)
    return _affine(y, weight, bias, _channel_shape(x.ndim, c))
