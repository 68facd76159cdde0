"""The strategies atb ships, written against the public API (:mod:`domain.strategies.api`) like yours.

Every module here is scanned for :class:`~domain.strategies.api.Strategy` subclasses, the same way a user's
strategies directory is (:mod:`domain.strategies.discovery`): add a file, and it is registered.
"""
