"""Loading untrusted pickles (Bridge `obs_dict.pkl`, `policy_out.pkl`, `out.npy`) safely.

A pickle can call any importable callable while it loads. The Unpickler below resolves
only the handful of globals that numpy arrays, dtypes and scalars need (in the spellings
of numpy 1.x `numpy.core...` and numpy 2.x `numpy._core...`, and the protocol-2 forms)
plus builtin containers; anything else is refused with a DataError naming the file and
the global it tried to build.
"""
from __future__ import annotations

import importlib
import io
import os
import pickle
from typing import Any, BinaryIO

from vptr_training.errors import DataError

# (module, name) pairs a numpy pickle may reference. The numpy.core spellings come from
# pickles written by numpy 1.x; numpy 2.x writes numpy._core.
_NUMPY_ALLOWED = {
    ('numpy', 'ndarray'), ('numpy', 'dtype'),
    ('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar'),
    ('numpy.core.numeric', '_frombuffer'), ('numpy._core.numeric', '_frombuffer'),
}
_BUILTINS_ALLOWED = {
    ('builtins', 'set'), ('builtins', 'frozenset'), ('builtins', 'list'),
    ('builtins', 'dict'), ('builtins', 'tuple'), ('builtins', 'bytearray'),
    ('builtins', 'bytes'), ('builtins', 'complex'), ('builtins', 'slice'),
    ('builtins', 'range'),
    # protocol 2 pickles spell bytes as _codecs.encode(str, 'latin1')
    ('_codecs', 'encode'),
    ('collections', 'OrderedDict'),
}


def _numpy_dtype_class(module: str, name: str) -> bool:
    # numpy 2 may reference its dtype classes (numpy.dtypes.Float32DType, ...).
    return module == 'numpy.dtypes' and name.endswith('DType')


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler admitting only numpy arrays/dtypes/scalars and builtin containers."""

    def __init__(self, file: BinaryIO, source: str) -> None:
        # latin1: numpy's advice for array pickles written by Python 2
        super().__init__(file, encoding='latin1')
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        # protocol < 3 pickles spell builtins the Python 2 way (mapped by super())
        checked = 'builtins' if module == '__builtin__' else module
        if (checked, name) in _BUILTINS_ALLOWED:
            return super().find_class(module, name)
        if (module, name) in _NUMPY_ALLOWED or _numpy_dtype_class(module, name):
            # numpy 2 keeps numpy.core only as a deprecated alias: resolve to numpy._core
            if module.startswith('numpy.core.'):
                modern = 'numpy._core.' + module[len('numpy.core.'):]
                try:
                    return getattr(importlib.import_module(modern), name)
                except (ImportError, AttributeError):
                    pass
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f'pickle tries to build {module}.{name}; refusing')


def loads_pickle(data: bytes, source: str = '<bytes>') -> Any:
    """Restricted-unpickle bytes; DataError(source, problem) on refusal or corruption."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), source).load()
    except pickle.UnpicklingError as exc:
        msg = str(exc)
        if msg.startswith('pickle tries to build'):
            raise DataError(source, msg) from None
        raise DataError(source, f'corrupt pickle: {msg}') from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            MemoryError, UnicodeDecodeError) as exc:
        raise DataError(source, f'corrupt or truncated pickle ({type(exc).__name__}: '
                        f'{exc})') from None


def load_pickle(path: str | os.PathLike) -> Any:
    """Restricted-unpickle a file (see module docstring)."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as exc:
        raise DataError(path, f'cannot read: {exc.strerror or exc}') from None
    return loads_pickle(data, str(path))
