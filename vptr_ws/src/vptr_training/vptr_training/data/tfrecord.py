"""TFRecord files and tf.train.Example messages without TensorFlow.

TFRecord framing (tensorflow/core/lib/io/record_writer.cc), per record::

    uint64 length (little endian)
    uint32 masked_crc32c(length bytes)
    bytes  data[length]
    uint32 masked_crc32c(data)

with ``masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8`` (mod 2**32).

The Example message classes are built at import time from a hand-written descriptor of
tensorflow/core/example/{example,feature}.proto (proto3, package ``tensorflow``), in a
private descriptor pool so they never clash with TensorFlow's own if it is imported.
"""
from __future__ import annotations

import os
import struct
from typing import BinaryIO, Iterator

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError
import numpy as np

from vptr_training.errors import DataError

# ------------------------------------------------------------------------------ crc32c

try:   # C implementation when installed (pip google-crc32c), else the table below
    import google_crc32c as _google_crc32c
except ImportError:   # pragma: no cover - depends on the environment
    _google_crc32c = None


def _make_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1   # Castagnoli, reflected
        table.append(c)
    return table


_TABLE = _make_table()


def crc32c_python(data: bytes) -> int:
    """Plain table-driven CRC-32C (slow, a few MB/s; fallback only)."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def crc32c(data: bytes) -> int:
    if _google_crc32c is not None:
        return int(_google_crc32c.value(bytes(data)))
    return crc32c_python(data)


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# ------------------------------------------------------------------------ the records

def read_records(path: str | os.PathLike, verify: bool = True) -> Iterator[bytes]:
    """Yield the records of a TFRecord file; DataError on truncation or bad CRC."""
    try:
        f: BinaryIO = open(path, 'rb')
    except OSError as exc:
        raise DataError(path, f'cannot read: {exc.strerror or exc}') from None
    with f:
        index = 0
        while True:
            head = f.read(12)
            if not head:
                return
            if len(head) < 12:
                raise DataError(path, f'truncated TFRecord: record {index} header cut off')
            length_bytes, length_crc = head[:8], struct.unpack('<I', head[8:])[0]
            if verify and masked_crc32c(length_bytes) != length_crc:
                raise DataError(path, f'bad TFRecord: length CRC mismatch at record {index} '
                                '(corrupt file, or not a TFRecord)')
            (length,) = struct.unpack('<Q', length_bytes)
            data = f.read(length)
            tail = f.read(4)
            if len(data) < length or len(tail) < 4:
                raise DataError(path, f'truncated TFRecord: record {index} has '
                                f'{len(data)} of {length} bytes')
            if verify and masked_crc32c(data) != struct.unpack('<I', tail)[0]:
                raise DataError(path, f'bad TFRecord: data CRC mismatch at record {index}')
            yield data
            index += 1


def write_records(path: str | os.PathLike, records: list[bytes]) -> None:
    """Write a TFRecord file (used by tests and `vptr sim generate`)."""
    with open(path, 'wb') as f:
        for data in records:
            length = struct.pack('<Q', len(data))
            f.write(length)
            f.write(struct.pack('<I', masked_crc32c(length)))
            f.write(data)
            f.write(struct.pack('<I', masked_crc32c(data)))


# ------------------------------------------------------------- tf.train.Example classes

def _build_example_classes() -> dict[str, type]:
    fd = descriptor_pb2.FileDescriptorProto(name='vptr/tensorflow_example.proto',
                                            package='tensorflow', syntax='proto3')
    label_rep = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
    label_opt = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
    types = descriptor_pb2.FieldDescriptorProto

    def message(name: str) -> descriptor_pb2.DescriptorProto:
        msg = fd.message_type.add()
        msg.name = name
        return msg

    def add_field(msg: descriptor_pb2.DescriptorProto, name: str, number: int, ftype: int,
                  label: int, type_name: str = '', oneof: int | None = None) -> None:
        fld = msg.field.add(name=name, number=number, type=ftype, label=label)
        if type_name:
            fld.type_name = type_name
        if oneof is not None:
            fld.oneof_index = oneof

    # proto3 packs repeated scalars by default, as TensorFlow's [packed = true] does
    add_field(message('BytesList'), 'value', 1, types.TYPE_BYTES, label_rep)
    add_field(message('FloatList'), 'value', 1, types.TYPE_FLOAT, label_rep)
    add_field(message('Int64List'), 'value', 1, types.TYPE_INT64, label_rep)
    feature = message('Feature')
    feature.oneof_decl.add(name='kind')
    add_field(feature, 'bytes_list', 1, types.TYPE_MESSAGE, label_opt, '.tensorflow.BytesList', 0)
    add_field(feature, 'float_list', 2, types.TYPE_MESSAGE, label_opt, '.tensorflow.FloatList', 0)
    add_field(feature, 'int64_list', 3, types.TYPE_MESSAGE, label_opt, '.tensorflow.Int64List', 0)
    features = message('Features')
    entry = features.nested_type.add(name='FeatureEntry')
    entry.options.map_entry = True
    add_field(entry, 'key', 1, types.TYPE_STRING, label_opt)
    add_field(entry, 'value', 2, types.TYPE_MESSAGE, label_opt, '.tensorflow.Feature')
    add_field(features, 'feature', 1, types.TYPE_MESSAGE, label_rep,
              '.tensorflow.Features.FeatureEntry')
    add_field(message('Example'), 'features', 1, types.TYPE_MESSAGE, label_opt,
              '.tensorflow.Features')

    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(
        f'tensorflow.{name}')) for name in ('BytesList', 'FloatList', 'Int64List', 'Feature',
                                            'Features', 'Example')}


_CLASSES = _build_example_classes()
Example = _CLASSES['Example']
Feature = _CLASSES['Feature']


def parse_example(data: bytes, source: str) -> dict[str, np.ndarray | list[bytes]]:
    """A serialized tf.train.Example -> {key: list of bytes | float32 array | int64 array}."""
    ex = Example()
    try:
        ex.ParseFromString(data)
    except DecodeError as exc:
        raise DataError(source, f'record is not a tf.train.Example ({exc})') from None
    out: dict[str, np.ndarray | list[bytes]] = {}
    for key, feat in ex.features.feature.items():
        kind = feat.WhichOneof('kind')
        if kind == 'bytes_list':
            out[key] = list(feat.bytes_list.value)
        elif kind == 'float_list':
            out[key] = np.asarray(feat.float_list.value, dtype=np.float32)
        elif kind == 'int64_list':
            out[key] = np.asarray(feat.int64_list.value, dtype=np.int64)
        else:
            out[key] = []
    return out


def make_example(features: dict[str, list[bytes] | np.ndarray]) -> bytes:
    """{key: list of bytes | float array | int array} -> serialized tf.train.Example."""
    ex = Example()
    for key, value in features.items():
        feat = ex.features.feature[key]
        if isinstance(value, (list, tuple)) and (not value or isinstance(value[0], bytes)):
            feat.bytes_list.value.extend(value)
            continue
        arr = np.asarray(value)
        if arr.dtype.kind == 'f':
            feat.float_list.value.extend(arr.reshape(-1).astype(np.float32).tolist())
        elif arr.dtype.kind in 'iub':
            feat.int64_list.value.extend(arr.reshape(-1).astype(np.int64).tolist())
        else:
            raise TypeError(f'feature {key}: unsupported dtype {arr.dtype}')
    return ex.SerializeToString()
