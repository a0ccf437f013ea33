"""``torch.nn.utils``: spectral normalisation, gradient clipping, parameter <-> vector."""
from .spectral_norm import remove_spectral_norm, spectral_norm

__all__ = ["spectral_norm", "remove_spectral_norm"]
