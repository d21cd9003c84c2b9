"""Scope alias of :mod:`mroi_plugin`.

mmengine resolves ``default_scope='mroi'`` by importing ``mroi.registry``
(``Registry.switch_scope_and_registry``) and falls back to
``mroi.utils.register_all_modules``. This two-module package points both at
``mroi_plugin`` so a config needs no ``custom_imports`` to find mroi's components.
"""
