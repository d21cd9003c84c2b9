"""Let every geometry function take torch tensors or numpy arrays.

The formulas in :mod:`mroi_plugin.geometry` are written once, in torch. The
:func:`array_function` decorator converts the array arguments a function names, runs it, and
gives back the kind of array the caller passed:

* any torch tensor among the arguments -> torch mode: the other array arguments (numpy arrays,
  lists, Python numbers) become tensors on the first tensor's device, with the floating dtype
  of the tensor arguments (promoted if they differ; ``torch.get_default_dtype()`` if none is
  floating). Results stay tensors, so autograd flows through.
* otherwise, any numpy array -> numpy mode: arrays are converted to torch with their own
  floating dtype (promoted if they differ; float64 if none is floating, so integer pixel
  coordinates compute in float64),
  and the results come back as numpy arrays of that dtype.
* only Python numbers / lists -> computed in float64; 0-d results come back as ``float``,
  others as float64 numpy arrays.
"""
import functools
import inspect
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

__all__ = ['ArrayLike', 'array_function', 'cat_broadcast', 'check_last_dim']

# What the public geometry functions take and give back: a tensor in, a tensor out; an ndarray
# in, an ndarray out (Python numbers and lists are accepted as inputs too).
ArrayLike = Union[Tensor, np.ndarray, float]

_TORCH = 'torch'
_NUMPY = 'numpy'
_SCALAR = 'scalar'


@functools.cache
def _numpy_to_torch_dtype(dtype: np.dtype) -> torch.dtype:
    """Torch dtype that ``torch.from_numpy`` would give an array of ``dtype``."""
    return torch.from_numpy(np.empty(0, dtype=dtype)).dtype


def _common_float_dtype(dtypes: Iterable[torch.dtype],
                        fallback: torch.dtype) -> torch.dtype:
    """Promote the floating dtypes among ``dtypes``; ``fallback`` if none is floating."""
    result: Optional[torch.dtype] = None
    for dtype in dtypes:
        if not dtype.is_floating_point:
            continue
        result = dtype if result is None else torch.promote_types(result, dtype)
    return fallback if result is None else result


def _to_tensor(value: Any, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Convert a tensor / numpy array / number / nested list to ``dtype`` on ``device``."""
    if isinstance(value, Tensor):
        return value.to(device=device, dtype=dtype)
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError(f'Cannot convert a value of type {type(value).__name__} to an array.')
    if array.dtype.kind not in 'biuf':
        raise TypeError(f'Expected a numeric array, got dtype {array.dtype}.')
    if device.type == 'cpu' and array.flags.writeable and _numpy_to_torch_dtype(
            array.dtype) == dtype:
        # Sharing memory is safe (the formulas never write to their inputs) and avoids the
        # copy that dominates the cost of small data-pipeline calls.
        return torch.from_numpy(array)
    # torch.tensor copies: it keeps 0-d arrays 0-d and accepts read-only arrays.
    return torch.tensor(array, dtype=dtype, device=device)


def _to_numpy(value: Any, as_scalar: bool) -> Any:
    """Convert tensors (possibly nested in tuples/lists/dicts) back to numpy."""
    if isinstance(value, Tensor):
        array = value.detach().cpu().numpy()
        if as_scalar and array.ndim == 0:
            return float(array)
        return array
    if isinstance(value, tuple):
        return tuple(_to_numpy(v, as_scalar) for v in value)
    if isinstance(value, list):
        return [_to_numpy(v, as_scalar) for v in value]
    if isinstance(value, dict):
        return {k: _to_numpy(v, as_scalar) for k, v in value.items()}
    return value


def array_function(*array_args: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a torch-written function so it also takes and returns numpy arrays.

    The decorated function annotates its array parameters and results as the tensors its body
    works on; its callers may pass any :data:`ArrayLike` and get back the kind they passed,
    which a static signature cannot say, so to a type checker the decorated function takes
    and returns ``Any``.

    Args:
        *array_args (str): Names of the parameters that hold arrays. ``None`` values are left
            alone; every other value (tensor, numpy array, number, list) is converted as
            described in the module docstring. Other parameters pass through untouched.

    Returns:
        Callable: The decorator.
    """

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(func)
        unknown = [name for name in array_args if name not in signature.parameters]
        if unknown:
            raise TypeError(f'{func.__qualname__} has no parameters named {unknown}.')

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            values: Dict[str, Any] = {
                name: bound.arguments[name]
                for name in array_args if bound.arguments[name] is not None
            }
            tensors: List[Tensor] = [v for v in values.values() if isinstance(v, Tensor)]
            if tensors:
                kind = _TORCH
                device = tensors[0].device
                dtype = _common_float_dtype((t.dtype for t in tensors),
                                            torch.get_default_dtype())
            else:
                arrays = [v for v in values.values() if isinstance(v, (np.ndarray, np.generic))]
                kind = _NUMPY if arrays else _SCALAR
                device = torch.device('cpu')
                dtype = _common_float_dtype(
                    (_numpy_to_torch_dtype(np.asarray(a).dtype) for a in arrays), torch.float64)
            for name, value in values.items():
                try:
                    bound.arguments[name] = _to_tensor(value, dtype, device)
                except TypeError as err:
                    raise TypeError(f'{func.__name__}(): argument `{name}`: {err}') from err
            result = func(*bound.args, **bound.kwargs)
            if kind == _TORCH:
                return result
            return _to_numpy(result, as_scalar=kind == _SCALAR)

        return wrapper

    return decorator


def check_last_dim(x: Tensor, sizes: Sequence[int], name: str, func: str) -> None:
    """Raise a ValueError unless ``x.shape[-len(sizes):] == sizes``.

    Args:
        x (Tensor): The array to check.
        sizes (Sequence[int]): Expected trailing sizes, e.g. ``(3,)`` or ``(2, 3)``.
        name (str): Argument name, for the message.
        func (str): Function name, for the message.
    """
    expected = tuple(sizes)
    if x.dim() < len(expected) or tuple(x.shape[x.dim() - len(expected):]) != expected:
        trailing = ', '.join(str(s) for s in expected)
        raise ValueError(f'{func}(): `{name}` must have shape (..., {trailing}), got '
                         f'{tuple(x.shape)}.')


def cat_broadcast(parts: Sequence[Tensor]) -> Tensor:
    """Concatenate along the last dimension after broadcasting the leading dimensions.

    Args:
        parts (Sequence[Tensor]): Tensors ``(.., k_i)`` whose leading shapes broadcast.

    Returns:
        Tensor: ``(.., sum k_i)``.
    """
    batch_shape = torch.broadcast_shapes(*(p.shape[:-1] for p in parts))
    return torch.cat([p.expand(*batch_shape, p.shape[-1]) for p in parts], dim=-1)
