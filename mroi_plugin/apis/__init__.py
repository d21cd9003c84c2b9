from .prepare_data import prepare_data

__all__ = ['prepare_data']
