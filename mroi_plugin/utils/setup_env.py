"""Registration helpers, as in mmdet/mmpose ``utils.setup_env``."""
import datetime
import warnings

from mmengine import DefaultScope

__all__ = ['register_all_modules']


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every mroi module so its components are in the registries.

    Args:
        init_default_scope (bool): Also make ``'mroi'`` the current default
            scope, so ``type='CliffHead'`` resolves without a prefix.
            Defaults to True.
    """
    import mroi_plugin.body_models  # noqa: F401,F403
    import mroi_plugin.datasets  # noqa: F401,F403
    import mroi_plugin.engine  # noqa: F401,F403
    import mroi_plugin.evaluation  # noqa: F401,F403
    import mroi_plugin.models  # noqa: F401,F403
    import mroi_plugin.visualization  # noqa: F401,F403

    if not init_default_scope:
        return
    never_created = (DefaultScope.get_current_instance() is None
                     or not DefaultScope.check_instance_created('mroi'))
    if never_created:
        DefaultScope.get_instance('mroi', scope_name='mroi')
        return
    current_scope = DefaultScope.get_current_instance()
    if current_scope.scope_name != 'mroi':
        warnings.warn('The current default scope '
                      f'"{current_scope.scope_name}" is not "mroi", '
                      '`register_all_modules` will force the current '
                      'default scope to be "mroi".', stacklevel=2)
        # A new instance name avoids clashing with the existing one.
        new_instance_name = f'mroi-{datetime.datetime.now()}'
        DefaultScope.get_instance(new_instance_name, scope_name='mroi')
