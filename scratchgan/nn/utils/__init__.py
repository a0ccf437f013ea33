"""``torch.nn.utils``: spectral and weight normalisation, gradient clipping, parameters <-> one vector."""
from . import parametrizations, parametrize
from .clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .spectral_norm import remove_spectral_norm, spectral_norm
from .weight_norm import remove_weight_norm, weight_norm

__all__ = ["parametrizations", "parametrize", "spectral_norm", "remove_spectral_norm", "weight_norm",
           "remove_weight_norm", "clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_", "parameters_to_vector",
           "vector_to_parameters"]
