"""``torch.nn.utils``: spectral normalisation, gradient clipping, parameters <-> one vector."""
from ..._unsupported import module_getattr
from . import parametrizations, parametrize
from .clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .spectral_norm import remove_spectral_norm, spectral_norm

__all__ = ["parametrizations", "parametrize", "spectral_norm", "remove_spectral_norm", "clip_grad_norm_", "clip_grad_value_", "get_total_norm",
           "clip_grads_with_norm_", "parameters_to_vector", "vector_to_parameters"]

__getattr__ = module_getattr(__name__, {
    "weight_norm": "use spectral_norm, the normalisation GAN critics use",
})
