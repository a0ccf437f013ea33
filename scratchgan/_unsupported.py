"""PyTorch names that scratchgan deliberately leaves out, and the error that says so.

A module lists them in a table and installs ``module_getattr``; ``nn.MaxPool2d`` then raises
``NotImplementedError`` naming it (and what to use instead), rather than a bare ``AttributeError``.  The
error is also an ``AttributeError``, so ``hasattr(nn, "MaxPool2d")`` stays False, as for any missing name.
"""


# why a layer (and its functional form) outside GAN code is left out
NOT_A_GAN_LAYER = "the engine covers the layers of DCGAN/WGAN/SN-GAN/cGAN code (see README, Porting PyTorch GAN code)"


class UnsupportedError(NotImplementedError, AttributeError):
    pass


def module_getattr(module: str, table: dict):
    """A module-level ``__getattr__`` for ``module`` (its ``__name__``) that names the entries of ``table``."""
    short = module.replace("scratchgan.", "", 1) + "." if module != "scratchgan" else "scratchgan."

    def __getattr__(name):
        if name in table:
            raise UnsupportedError(f"{short}{name} is not implemented in scratchgan: {table[name]}")
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
