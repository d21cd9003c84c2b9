from .finite_grad_optim_wrapper import FiniteGradOptimWrapper

__all__ = ['FiniteGradOptimWrapper']
