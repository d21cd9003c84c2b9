"""Helpers for the multi-process (gloo) tests."""
import socket

__all__ = ['free_port']


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now.

    A fixed or pid-derived port collides with another test's rendezvous still
    in TIME_WAIT, or with another job on a shared machine.
    """
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]
