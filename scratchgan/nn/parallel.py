"""``torch.nn.parallel``: ``DataParallel`` and ``data_parallel`` on one device.

GAN scripts wrap their nets in these for several GPUs.  Here there is one device, so both call the module
directly (what PyTorch does when ``device_ids`` names one device); several device ids raise
NotImplementedError.  ``DataParallel`` keeps PyTorch's state_dict keys (``module.`` + the wrapped keys).
"""
from .module import Module


def _one_device(device_ids, who: str):
    ids = None if device_ids is None else list(device_ids)
    if ids is not None and len(ids) > 1:
        raise NotImplementedError(f"{who}: several devices ({ids}) are not supported; scratchgan runs on one "
                                  "device: call the module directly")


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """``module(*inputs, **module_kwargs)`` on the one device (``inputs``: a tensor or a tuple of them)."""
    _one_device(device_ids, "data_parallel")
    if not isinstance(inputs, tuple):
        inputs = (inputs,)
    return module(*inputs, **(module_kwargs or {}))


class DataParallel(Module):
    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        _one_device(device_ids, "DataParallel")
        self.module = module
        self.device_ids = list(device_ids) if device_ids is not None else []
        self.output_device, self.dim = output_device, dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


__all__ = ["DataParallel", "data_parallel"]
