"""A progress bar over the validation and test loops."""
from typing import Any, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mroi_plugin.registry import HOOKS
from mroi_plugin.utils.progress import progress_bar

__all__ = ['EvalProgressBarHook']


@HOOKS.register_module()
class EvalProgressBarHook(Hook):
    """Show the progress of every validation and test epoch (batches done, rate, ETA).

    mmengine's loops only log every ``LoggerHook.interval`` batches. The bar is drawn on the
    main process only, and by default only when stderr is a terminal, so log files stay
    clean (see :func:`~mroi_plugin.utils.progress.progress_bar`).

    Args:
        enabled (bool, optional): True / False force the bar on / off; None (default) shows
            it on a terminal only.
    """

    priority = 'BELOW_NORMAL'

    def __init__(self, enabled: Optional[bool] = None) -> None:
        self.enabled = enabled
        self._bar: Optional[Any] = None

    def _start(self, runner: Runner, dataloader: Any, desc: str) -> None:
        self._close()
        if not is_main_process():
            return
        try:
            total = len(dataloader)
        except TypeError:
            total = None
        self._bar = progress_bar(total=total, desc=desc, enabled=self.enabled, unit='batch')

    def _step(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def before_val_epoch(self, runner: Runner) -> None:
        self._start(runner, runner.val_dataloader, 'val')

    def after_val_iter(self, runner: Runner, batch_idx: int, data_batch: Any = None,
                       outputs: Any = None) -> None:
        self._step()

    def after_val_epoch(self, runner: Runner, metrics: Optional[dict] = None) -> None:
        self._close()

    def before_test_epoch(self, runner: Runner) -> None:
        self._start(runner, runner.test_dataloader, 'test')

    def after_test_iter(self, runner: Runner, batch_idx: int, data_batch: Any = None,
                        outputs: Any = None) -> None:
        self._step()

    def after_test_epoch(self, runner: Runner, metrics: Optional[dict] = None) -> None:
        self._close()
