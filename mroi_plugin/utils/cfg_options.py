"""``--cfg-options key=value ...``: mmengine's ``DictAction`` with one clear error per bad item.

mmengine 0.10's ``DictAction`` splits every item on its first ``=`` without checking, so a
forgotten ``=`` (``--cfg-options train_cfg.max_epochs 2``) or an unbalanced bracket ends in a
bare ``ValueError`` / ``AssertionError`` traceback. :class:`CfgOptionsAction` parses exactly as
``DictAction`` does and turns each such item into an argparse error (exit status 2) that names
the item and the expected form.
"""
import argparse
from typing import Any, Dict, List, Optional, Sequence, Union

from mmengine.config import DictAction

__all__ = ['CfgOptionsAction', 'parse_cfg_options']

_FORM = 'key=value (e.g. train_cfg.max_epochs=2 or model.backbone.widths=[8,16,32,64])'


def _problem(items: List[str], index: int) -> Optional[str]:
    """Why ``items[index]`` is not a ``key=value`` item, or None when it is one."""
    item = items[index]
    key, sep, _ = item.partition('=')
    if sep and key.strip():
        return None
    if not sep:
        following = items[index + 1] if index + 1 < len(items) else None
        hint = ''
        if following is not None and '=' not in following:
            hint = f'; did you mean {item}={following}?'
        elif following is not None and following.startswith('='):
            hint = f'; did you mean {item}{following}? (no spaces around "=")'
        return f'item {item!r} has no "=": expected {_FORM}{hint}'
    previous = items[index - 1] if index > 0 else None
    hint = (f'; did you mean {previous}{item}? (no spaces around "=")'
            if previous is not None and '=' not in previous else '')
    return f'item {item!r} has no key before "=": expected {_FORM}{hint}'


def parse_cfg_options(items: Sequence[str]) -> Dict[str, Any]:
    """Parse ``key=value`` items as mmengine's ``DictAction`` does, checking each one first.

    Values are read by ``DictAction``'s rules: ints, floats, ``true``/``false``, ``None``,
    ``a,b,c`` and ``[a,b]`` / ``(a,b)`` (nested) lists and tuples, otherwise strings.

    Args:
        items (Sequence[str]): The command-line items, e.g. ``['train_cfg.max_epochs=2']``.

    Returns:
        dict: Dotted key -> parsed value, in order (a repeated key keeps its last value).

    Raises:
        ValueError: The first malformed item: no ``=``, an empty key, or a value with
            unbalanced brackets; the message names the item and the expected form.
    """
    items = list(items)
    options: Dict[str, Any] = {}
    for index, item in enumerate(items):
        problem = _problem(items, index)
        if problem is not None:
            raise ValueError(problem)
        key, value = item.split('=', maxsplit=1)
        brackets = (value.count('(') - value.count(')'), value.count('[') - value.count(']'))
        if brackets != (0, 0):
            raise ValueError(f'item {item!r}: unbalanced brackets in the value; expected '
                             f'{_FORM}')
        options[key.strip()] = DictAction._parse_iterable(value)
    return options


class CfgOptionsAction(DictAction):
    """Argparse action for ``--cfg-options``: ``DictAction`` plus an error per malformed item.

    Use it wherever ``action=DictAction`` was used; the result is the same dict.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> _ = parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
        >>> parser.parse_args(['--cfg-options', 'a.b=2']).cfg_options
        {'a.b': 2}
    """

    def __call__(self,
                 parser: argparse.ArgumentParser,
                 namespace: argparse.Namespace,
                 values: Union[str, Sequence[Any], None],
                 option_string: Optional[str] = None) -> None:
        options = dict(getattr(namespace, self.dest, None) or {})
        if values is not None:
            if isinstance(values, str):
                values = [values]
            try:
                options.update(parse_cfg_options(values))
            except ValueError as error:
                # argparse turns this into "PROG: error: argument --cfg-options: ..." and
                # exit status 2, with the usage line, like any other bad argument.
                raise argparse.ArgumentError(self, str(error)) from None
        setattr(namespace, self.dest, options)
