"""A small, strict fake of the ROS 2 Python surface this repository uses.

ROS 2 cannot be installed where the tests run, so the nodes and launch files are exercised
against this fake instead: `rclpy` (Node, parameters, publishers, subscriptions, timers,
services, clients, clock, logger, QoS, callback groups, executors), the message and service
types the nodes use (with rclpy's type checks: float fields reject ints, numeric arrays are
stored as array.array, byte fields need bytes), and the launch API (`launch`,
`launch_ros`, substitutions, conditions) with a small launch runtime (`LaunchRun`).

Where it models a behaviour, it follows the real libraries (humble branches of rclpy,
launch, launch_ros), so that code which breaks on a real install breaks here too:
- logging: a call site keeps the severity (and filters) of its first call; another one
  raises ValueError('Logger severity cannot be changed between calls.') as rclpy does;
- executors: spin() runs callbacks until the context is shut down and lets a callback's
  exception out (rclpy re-raises it); with rclpy's signal handlers installed, Ctrl-C
  (the end of `world.spin_budget`) shuts the context down before KeyboardInterrupt;
- QoS: a message only reaches subscriptions whose QoS is compatible with the
  publisher's (reliability, durability); transient-local publishers keep their last
  `depth` messages for late-joining transient-local subscriptions; KEEP_LAST depth bounds
  what a subscription takes per delivery;
- parameters: static typing from the default (InvalidParameterTypeException with
  rclpy's message), read_only, set-parameters callbacks, and `world.param_set`, which is
  `ros2 param set` (YAML-typed value, set_parameters_atomically);
- launch: IncludeLaunchDescription does not scope launch configurations (only
  GroupAction(scoped=True) does), DeclareLaunchArgument applies its default only when the
  name is unset, parameter dictionaries are typed by launch_ros's YAML rules unless a
  ParameterValue gives the type, parameter files apply to the nodes whose full name
  matches their keys;
- attribute names are rclpy's (`qos_profile`, `topic` as given and `topic_name`
  resolved, `srv_name`); test helpers are marked as such.

One module, used by the widowx_bringup and vptr_policy tests and by the repo-level tests:
    sys.path.insert(0, <repo>/vptr_ws/src/widowx_bringup/test); import fake_ros
    world = fake_ros.install(monkeypatch)      # modules go into sys.modules, undone after
    node_module = fake_ros.import_fresh('vptr_policy.policy_node')

`FakeWorld` plays the middleware: publishing queues a message, and
`world.spin_for(seconds)` advances the shared clock, fires due timers and scheduled
actions in time order and delivers queued messages to the matching subscriptions.
"""
from __future__ import annotations

import array
import enum
import importlib
import os
import sys
import types
from typing import Any, Callable

# ----------------------------------------------------------------------------- messages


class _Seq:
    """Field type marker for sequences: numeric ones are stored as array.array like rclpy."""

    def __init__(self, element: Any, typecode: str | None = None) -> None:
        self.element = element
        self.typecode = typecode


class Message:
    """Base of the fake message types: declared fields, defaults, rclpy-like type checks."""

    _fields: dict[str, Any] = {}

    def __init__(self, **kwargs: Any) -> None:
        for name, kind in self._fields.items():
            object.__setattr__(self, name, _default(kind))
        for name, value in kwargs.items():
            if name not in self._fields:
                raise AssertionError(f'Invalid arguments passed to constructor: {name}')
            setattr(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._fields:
            raise AttributeError(f'{type(self).__name__} has no field {name!r}')
        object.__setattr__(self, name, _check(type(self).__name__, name,
                                              self._fields[name], value))

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and all(
            getattr(self, n) == getattr(other, n) for n in self._fields)

    def __repr__(self) -> str:
        body = ', '.join(f'{n}={getattr(self, n)!r}' for n in self._fields)
        return f'{type(self).__name__}({body})'


def _default(kind: Any) -> Any:
    if isinstance(kind, _Seq):
        return array.array(kind.typecode) if kind.typecode else []
    if kind is float:
        return 0.0
    if kind is int:
        return 0
    if kind is bool:
        return False
    if kind is str:
        return ''
    if kind is bytes:
        return b'\x00'
    return kind()


def _check(owner: str, name: str, kind: Any, value: Any) -> Any:
    where = f"The '{name}' field of {owner}"
    if isinstance(kind, _Seq):
        if isinstance(value, (str, bytes)) and kind.typecode != 'B':
            raise AssertionError(f'{where} must be a sequence')
        if kind.typecode:
            if kind.typecode == 'B':
                if isinstance(value, (bytes, bytearray, memoryview)):
                    return array.array('B', bytes(value))
                values = list(value)
                if not all(isinstance(v, int) and 0 <= v < 256 for v in values):
                    raise AssertionError(f'{where} must be bytes or ints in [0, 255]')
                return array.array('B', values)
            values = list(value)
            if kind.element is float and not all(isinstance(v, float) for v in values):
                raise AssertionError(f'{where} must be a sequence of float')
            return array.array(kind.typecode, values)
        values = list(value)
        if not all(isinstance(v, kind.element) for v in values):
            raise AssertionError(f'{where} must be a sequence of {kind.element.__name__}')
        return values
    if kind is float:
        if not isinstance(value, float):   # rclpy: ints and np.float32 are rejected
            raise AssertionError(f"{where} must be of type 'float'")
        return value
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise AssertionError(f"{where} must be of type 'int'")
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise AssertionError(f"{where} must be of type 'bool'")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise AssertionError(f"{where} must be of type 'str'")
        return value
    if kind is bytes:
        if not (isinstance(value, bytes) and len(value) == 1):
            raise AssertionError(f"{where} must be of type 'bytes' of length 1")
        return value
    if not isinstance(value, kind):
        raise AssertionError(f'{where} must be a {kind.__name__}')
    return value


def _msg(name: str, fields: dict[str, Any], **constants: Any) -> type:
    cls = type(name, (Message,), {'_fields': fields, **constants})
    return cls


Time = _msg('Time', {'sec': int, 'nanosec': int})
Duration = _msg('Duration', {'sec': int, 'nanosec': int})
Header = _msg('Header', {'stamp': Time, 'frame_id': str})
String = _msg('String', {'data': str})
Bool = _msg('Bool', {'data': bool})
Float64 = _msg('Float64', {'data': float})
MultiArrayDimension = _msg('MultiArrayDimension', {'label': str, 'size': int, 'stride': int})
MultiArrayLayout = _msg('MultiArrayLayout', {'dim': _Seq(MultiArrayDimension),
                                             'data_offset': int})
Float32MultiArray = _msg('Float32MultiArray', {'layout': MultiArrayLayout,
                                               'data': _Seq(float, 'f')})
Image = _msg('Image', {'header': Header, 'height': int, 'width': int, 'encoding': str,
                       'is_bigendian': int, 'step': int, 'data': _Seq(int, 'B')})
CompressedImage = _msg('CompressedImage', {'header': Header, 'format': str,
                                           'data': _Seq(int, 'B')})
JointState = _msg('JointState', {'header': Header, 'name': _Seq(str),
                                 'position': _Seq(float, 'd'), 'velocity': _Seq(float, 'd'),
                                 'effort': _Seq(float, 'd')})
JointGroupCommand = _msg('JointGroupCommand', {'name': str, 'cmd': _Seq(float, 'f')})
JointSingleCommand = _msg('JointSingleCommand', {'name': str, 'cmd': float})
KeyValue = _msg('KeyValue', {'key': str, 'value': str})
DiagnosticStatus = _msg('DiagnosticStatus', {'level': bytes, 'name': str, 'message': str,
                                             'hardware_id': str, 'values': _Seq(KeyValue)},
                        OK=b'\x00', WARN=b'\x01', ERROR=b'\x02', STALE=b'\x03')
DiagnosticArray = _msg('DiagnosticArray', {'header': Header,
                                           'status': _Seq(DiagnosticStatus)})
FloatingPointRange = _msg('FloatingPointRange', {'from_value': float, 'to_value': float,
                                                 'step': float})
IntegerRange = _msg('IntegerRange', {'from_value': int, 'to_value': int, 'step': int})
ParameterDescriptor = _msg('ParameterDescriptor', {
    'name': str, 'type': int, 'description': str, 'additional_constraints': str,
    'read_only': bool, 'dynamic_typing': bool,
    'floating_point_range': _Seq(FloatingPointRange), 'integer_range': _Seq(IntegerRange)})


def _srv(name: str, request: dict[str, Any], response: dict[str, Any]) -> type:
    return type(name, (), {'Request': _msg(name + '_Request', request),
                           'Response': _msg(name + '_Response', response)})


Trigger = _srv('Trigger', {}, {'success': bool, 'message': str})
SetBool = _srv('SetBool', {'data': bool}, {'success': bool, 'message': str})

# ----------------------------------------------------------------------------- rclpy


class ReliabilityPolicy(enum.IntEnum):
    SYSTEM_DEFAULT = 0
    RELIABLE = 1
    BEST_EFFORT = 2


class HistoryPolicy(enum.IntEnum):
    SYSTEM_DEFAULT = 0
    KEEP_LAST = 1
    KEEP_ALL = 2


class DurabilityPolicy(enum.IntEnum):
    SYSTEM_DEFAULT = 0
    TRANSIENT_LOCAL = 1
    VOLATILE = 2


class QoSCompatibility(enum.IntEnum):
    OK = 0
    WARNING = 1
    ERROR = 2


class QoSProfile:
    """rclpy.qos.QoSProfile; unset policies take rmw_qos_profile_default's values."""

    def __init__(self, *, history: HistoryPolicy = HistoryPolicy.KEEP_LAST,
                 depth: int | None = None,
                 reliability: ReliabilityPolicy = ReliabilityPolicy.RELIABLE,
                 durability: DurabilityPolicy = DurabilityPolicy.VOLATILE) -> None:
        if history == HistoryPolicy.KEEP_LAST and depth is None:
            raise ValueError('A QoSProfile with KEEP_LAST history needs a depth')
        self.history, self.depth = history, depth
        self.reliability, self.durability = reliability, durability

    def __repr__(self) -> str:
        return (f'QoSProfile(history={self.history.name}, depth={self.depth}, '
                f'reliability={self.reliability.name}, durability={self.durability.name})')


qos_profile_sensor_data = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
qos_profile_system_default = QoSProfile(depth=10)
qos_profile_services_default = QoSProfile(depth=10)
qos_profile_parameters = QoSProfile(depth=1000)


def qos_check_compatible(publisher_qos: QoSProfile,
                         subscription_qos: QoSProfile) -> tuple[QoSCompatibility, str]:
    """rclpy.qos.qos_check_compatible for the policies the fake models (rmw's rules for
    reliability and durability): a best-effort publisher cannot serve a reliable
    subscription, a volatile publisher cannot serve a transient-local one."""
    if (publisher_qos.reliability == ReliabilityPolicy.BEST_EFFORT
            and subscription_qos.reliability == ReliabilityPolicy.RELIABLE):
        return QoSCompatibility.ERROR, ('ERROR: Best effort publisher and reliable '
                                        'subscription;')
    if (publisher_qos.durability == DurabilityPolicy.VOLATILE
            and subscription_qos.durability == DurabilityPolicy.TRANSIENT_LOCAL):
        return QoSCompatibility.ERROR, ('ERROR: Volatile publisher and transient local '
                                        'subscription;')
    if ReliabilityPolicy.SYSTEM_DEFAULT in (publisher_qos.reliability,
                                            subscription_qos.reliability) or \
            DurabilityPolicy.SYSTEM_DEFAULT in (publisher_qos.durability,
                                                subscription_qos.durability):
        return QoSCompatibility.WARNING, 'WARNING: a policy is SYSTEM_DEFAULT;'
    return QoSCompatibility.OK, ''


def _as_qos(qos: Any) -> QoSProfile:
    if isinstance(qos, QoSProfile):
        return qos
    if isinstance(qos, int) and not isinstance(qos, bool):
        if qos < 0:
            raise ValueError('history depth must be greater than or equal to zero')
        return QoSProfile(depth=qos)
    raise TypeError('Expected QoSProfile or int, but received {!r}'.format(type(qos)))


class CallbackGroup:
    pass


class MutuallyExclusiveCallbackGroup(CallbackGroup):
    pass


class ReentrantCallbackGroup(CallbackGroup):
    pass


class ParameterType(enum.IntEnum):
    NOT_SET = 0
    BOOL = 1
    INTEGER = 2
    DOUBLE = 3
    STRING = 4
    BYTE_ARRAY = 5
    BOOL_ARRAY = 6
    INTEGER_ARRAY = 7
    DOUBLE_ARRAY = 8
    STRING_ARRAY = 9

    @classmethod
    def from_parameter_value(cls, value: Any) -> 'ParameterType':
        return _parameter_type(value)


def _parameter_type(value: Any) -> ParameterType:
    if value is None:
        return ParameterType.NOT_SET
    if isinstance(value, bool):
        return ParameterType.BOOL
    if isinstance(value, int):
        return ParameterType.INTEGER
    if isinstance(value, float):
        return ParameterType.DOUBLE
    if isinstance(value, str):
        return ParameterType.STRING
    if isinstance(value, (list, tuple)):
        if not value:
            raise TypeError('an empty list default needs an explicit parameter type')
        for kind, array_type in ((bool, ParameterType.BOOL_ARRAY),
                                 (int, ParameterType.INTEGER_ARRAY),
                                 (float, ParameterType.DOUBLE_ARRAY),
                                 (str, ParameterType.STRING_ARRAY)):
            if all(isinstance(v, kind) and (kind is bool or not isinstance(v, bool))
                   for v in value):
                return array_type
    raise TypeError(f'The given value is not one of the allowed types {value!r}')


class ParameterException(Exception):
    pass


class InvalidParameterTypeException(ParameterException):
    """rclpy.exceptions.InvalidParameterTypeException, with rclpy's message."""

    def __init__(self, desired_parameter: 'Parameter', expected_type: str) -> None:
        super().__init__(
            f"Trying to set parameter '{desired_parameter.name}' to "
            f"'{desired_parameter.value}' of type "
            f"'{_parameter_type(desired_parameter.value).name}', "
            f"expecting type '{expected_type}'")


class InvalidParameterValueException(ParameterException):
    def __init__(self, parameter: str, value: Any, reason: str) -> None:
        super().__init__(f'Invalid parameter value ({value}) for parameter. Reason: {reason}')


class ParameterNotDeclaredException(ParameterException):
    pass


class ParameterAlreadyDeclaredException(ParameterException):
    pass


class Parameter:
    Type = ParameterType

    def __init__(self, name: str, type_: ParameterType | None = None,
                 value: Any = None) -> None:
        self.name = name
        self.type_ = type_ if type_ is not None else _parameter_type(value)
        self.value = value

    @property
    def _name(self) -> str:
        return self.name

    @property
    def _value(self) -> Any:
        return self.value


class FakeTime:
    def __init__(self, nanoseconds: int = 0) -> None:
        self.nanoseconds = int(nanoseconds)

    def to_msg(self) -> Any:
        return Time(sec=self.nanoseconds // 1_000_000_000,
                    nanosec=self.nanoseconds % 1_000_000_000)

    def seconds_nanoseconds(self) -> tuple[int, int]:
        return self.nanoseconds // 1_000_000_000, self.nanoseconds % 1_000_000_000


class FakeClock:
    def __init__(self, world: 'FakeWorld') -> None:
        self._world = world

    def now(self) -> FakeTime:
        return FakeTime(self._world.time_ns)


class LoggingSeverity(enum.IntEnum):
    UNSET = 0
    DEBUG = 10
    INFO = 20
    WARN = 30
    ERROR = 40
    FATAL = 50


_LEVEL_NAMES = {LoggingSeverity.DEBUG: 'debug', LoggingSeverity.INFO: 'info',
                LoggingSeverity.WARN: 'warn', LoggingSeverity.ERROR: 'error',
                LoggingSeverity.FATAL: 'fatal'}
# rclpy's logging filters and their parameters (None = required), in rclpy's order.
_LOG_FILTERS = {'throttle': {'throttle_duration_sec': None, 'throttle_time_source_type': None},
                'skip_first': {'skip_first': None}, 'once': {'once': None}}


def _caller_id() -> tuple[str, str, int, int]:
    """rclpy's CallerId: the first frame outside the logger (function, file, line, and the
    bytecode offset that tells two calls on one line apart)."""
    frame = sys._getframe(1)
    here = os.path.realpath(__file__)
    while frame is not None and os.path.realpath(frame.f_code.co_filename) == here:
        frame = frame.f_back
    return (frame.f_code.co_name, os.path.abspath(frame.f_code.co_filename), frame.f_lineno,
            frame.f_lasti)


class FakeLogger:
    """rclpy's RcutilsLogger: each call site (CallerId) keeps the severity, logger name and
    filters of its first call, and raises ValueError when a later call changes them."""

    def __init__(self, name: str, world: 'FakeWorld | None' = None) -> None:
        self.name = name
        self.contexts: dict[tuple, dict[str, Any]] = {}
        self.records: list[tuple[str, str]] = []
        self.level = LoggingSeverity.INFO
        self._world = world

    def set_level(self, level: LoggingSeverity) -> None:
        self.level = LoggingSeverity(level)

    def is_enabled_for(self, severity: LoggingSeverity) -> bool:
        return LoggingSeverity(severity) >= self.level

    def log(self, message: str, severity: LoggingSeverity, **kwargs: Any) -> bool:
        if not self.is_enabled_for(severity):
            return False
        severity = LoggingSeverity(severity)
        name = kwargs.pop('name', self.name)
        known = {p for params in _LOG_FILTERS.values() for p in params}
        unknown = set(kwargs) - known
        if unknown:
            raise TypeError(f'parameter "{sorted(unknown)[0]}" is not one of the recognized '
                            f'logging options "{sorted(known)}"')
        detected = [f for f, params in _LOG_FILTERS.items()
                    if any(kwargs.get(p) for p in params)]
        caller = _caller_id()
        context = self.contexts.get(caller)
        if context is None:
            context = {'name': name, 'severity': severity, 'filters': detected,
                       'params': dict(kwargs), 'last_logged_ns': None, 'count': 0}
            self.contexts[caller] = context
        else:
            if severity != context['severity']:
                raise ValueError('Logger severity cannot be changed between calls.')
            if name != context['name']:
                raise ValueError('Logger name cannot be changed between calls.')
            if detected != context['filters']:
                raise ValueError('Requested logging filters cannot be changed between calls.')
            if dict(kwargs) != context['params']:
                raise ValueError('Logging filter parameters cannot be changed between calls.')
        context['count'] += 1
        if 'throttle' in detected:
            # rclpy measures the throttle on the system clock; the fake's clock is the
            # simulated one, which is what "time passing" means in these tests.
            now = self._world.time_ns if self._world is not None else 0
            period_ns = float(kwargs['throttle_duration_sec']) * 1e9
            last = context['last_logged_ns']
            if last is not None and now < last + period_ns:
                return False
            context['last_logged_ns'] = now
        if 'skip_first' in detected and context['count'] == 1:
            return False
        if 'once' in detected and context.get('logged_once'):
            return False
        context['logged_once'] = True
        self.records.append((_LEVEL_NAMES[severity], str(message)))
        return True

    def debug(self, message: str, **kwargs: Any) -> bool:
        return self.log(message, LoggingSeverity.DEBUG, **kwargs)

    def info(self, message: str, **kwargs: Any) -> bool:
        return self.log(message, LoggingSeverity.INFO, **kwargs)

    def warning(self, message: str, **kwargs: Any) -> bool:
        return self.log(message, LoggingSeverity.WARN, **kwargs)

    def warn(self, message: str, **kwargs: Any) -> bool:
        return self.warning(message, **kwargs)

    def error(self, message: str, **kwargs: Any) -> bool:
        return self.log(message, LoggingSeverity.ERROR, **kwargs)

    def fatal(self, message: str, **kwargs: Any) -> bool:
        return self.log(message, LoggingSeverity.FATAL, **kwargs)

    # test helper (not rclpy API)
    def messages(self, level: str | None = None) -> list[str]:
        return [m for lvl, m in self.records if level is None or lvl == level]


class RCLError(RuntimeError):
    pass


class FakePublisher:
    """rclpy.publisher.Publisher: `topic` as given, `topic_name` resolved, `qos_profile`."""

    def __init__(self, node: 'Node', msg_type: type, topic: str, qos_profile: QoSProfile,
                 callback_group: CallbackGroup | None) -> None:
        self.node, self.msg_type, self.topic = node, msg_type, topic
        self.qos_profile, self.callback_group = qos_profile, callback_group
        self.topic_name = node.resolve(topic)
        self.messages: list[Any] = []        # test helper: everything published

    def publish(self, msg: Any) -> None:
        if not self.node.world.initialized:
            raise RCLError("Failed to publish: publisher's context is invalid")
        if not isinstance(msg, self.msg_type):
            raise TypeError(f'Expected {self.msg_type.__name__}, got {type(msg).__name__}')
        self.messages.append(msg)
        self.node.world.send(self.topic_name, msg, self.qos_profile, publisher=self)

    def retained(self) -> list[Any]:
        """What a transient-local publisher still holds for late-joining subscriptions."""
        if self.qos_profile.durability != DurabilityPolicy.TRANSIENT_LOCAL:
            return []
        depth = self.qos_profile.depth
        if self.qos_profile.history == HistoryPolicy.KEEP_ALL or depth is None:
            return list(self.messages)
        return list(self.messages[-depth:]) if depth else []

    def get_subscription_count(self) -> int:
        return sum(1 for s in self.node.world.subscriptions()
                   if s.topic_name == self.topic_name
                   and qos_check_compatible(self.qos_profile, s.qos_profile)[0]
                   != QoSCompatibility.ERROR)

    def destroy(self) -> None:
        pass


class FakeSubscription:
    """rclpy.subscription.Subscription: `topic`, `topic_name`, `qos_profile`, `raw`."""

    def __init__(self, node: 'Node', msg_type: type, topic: str, callback: Callable,
                 qos_profile: QoSProfile, callback_group: CallbackGroup | None,
                 raw: bool = False) -> None:
        self.node, self.msg_type, self.topic, self.callback = node, msg_type, topic, callback
        self.qos_profile, self.callback_group, self.raw = qos_profile, callback_group, raw
        self.topic_name = node.resolve(topic)

    def deliver(self, msg: Any) -> None:
        if not isinstance(msg, self.msg_type):
            raise TypeError(f'{self.topic_name}: expected {self.msg_type.__name__}, '
                            f'got {type(msg).__name__}')
        self.callback(msg)


class FakeTimer:
    def __init__(self, node: 'Node', period: float, callback: Callable,
                 callback_group: CallbackGroup | None) -> None:
        if period <= 0:
            raise ValueError('timer period must be positive')
        self.node, self.callback, self.callback_group = node, callback, callback_group
        self.timer_period_ns = int(round(period * 1e9))
        self.next_ns = node.world.time_ns + self.timer_period_ns
        self.cancelled = False
        self.fire_count = 0

    def fire(self) -> None:
        self.fire_count += 1
        self.callback()

    def cancel(self) -> None:
        self.cancelled = True

    def is_canceled(self) -> bool:
        return self.cancelled

    def reset(self) -> None:
        self.cancelled = False


class FakeService:
    """rclpy.service.Service: `srv_name` as given; `call()` is a test helper standing in
    for a client's request."""

    def __init__(self, node: 'Node', srv_type: type, srv_name: str, callback: Callable,
                 qos_profile: QoSProfile, callback_group: CallbackGroup | None) -> None:
        self.node, self.srv_type, self.srv_name = node, srv_type, srv_name
        self.callback = callback
        self.qos_profile, self.callback_group = qos_profile, callback_group
        self.resolved_name = node.resolve(srv_name)     # fake-only: for look-ups

    def call(self, request: Any = None) -> Any:
        request = request if request is not None else self.srv_type.Request()
        response = self.callback(request, self.srv_type.Response())
        if not isinstance(response, self.srv_type.Response):
            raise TypeError(f'service {self.resolved_name} returned {response!r}')
        return response


class Future:
    def __init__(self) -> None:
        self._result: Any = None
        self._done = False
        self._callbacks: list[Callable] = []

    def done(self) -> bool:
        return self._done

    def result(self) -> Any:
        return self._result

    def set_result(self, result: Any) -> None:
        self._result, self._done = result, True
        for callback in self._callbacks:
            callback(self)

    def add_done_callback(self, callback: Callable) -> None:
        if self._done:
            callback(self)
        else:
            self._callbacks.append(callback)


class FakeClient:
    def __init__(self, node: 'Node', srv_type: type, srv_name: str, qos_profile: QoSProfile,
                 callback_group: CallbackGroup | None) -> None:
        self.node, self.srv_type, self.srv_name = node, srv_type, srv_name
        self.qos_profile, self.callback_group = qos_profile, callback_group
        self.resolved_name = node.resolve(srv_name)
        self.requests: list[Any] = []
        self.pending: list[tuple[Any, Future]] = []

    def service_is_ready(self) -> bool:
        return self.node.world.find_service(self.resolved_name) is not None

    def wait_for_service(self, timeout_sec: float | None = None) -> bool:
        return self.service_is_ready()

    def call_async(self, request: Any) -> Future:
        if not isinstance(request, self.srv_type.Request):
            raise TypeError(f'{self.srv_name}: bad request type {type(request).__name__}')
        self.requests.append(request)
        future = Future()
        # Answered on the next spin, as a real executor would, never inside the call.
        self.pending.append((request, future))
        self.node.world.pending_calls.append(self)
        return future

    def answer_pending(self) -> None:
        service = self.node.world.find_service(self.resolved_name)
        pending, self.pending = self.pending, []
        for request, future in pending:
            if service is None:
                self.pending.append((request, future))
            else:
                future.set_result(service.call(request))


SetParametersResult = _msg('SetParametersResult', {'successful': bool, 'reason': str})


def _join(*parts: str) -> str:
    return '/' + '/'.join(p.strip('/') for p in parts if p.strip('/'))


class Node:
    """The subset of rclpy.node.Node used here, with rclpy's signatures and semantics."""

    def __init__(self, node_name: str, *, context: Any = None, cli_args: Any = None,
                 namespace: str | None = None, use_global_arguments: bool = True,
                 enable_rosout: bool = True, start_parameter_services: bool = True,
                 parameter_overrides: list[Parameter] | None = None,
                 allow_undeclared_parameters: bool = False,
                 automatically_declare_parameters_from_overrides: bool = False) -> None:
        world = _WORLD
        if world is None or not world.initialized:
            raise RuntimeError('rclpy.init() has not been called')
        self.world = world
        self._name = node_name
        self._namespace = namespace or '/'
        self._overrides = dict(world.parameter_overrides.get(node_name, {}))
        for p in parameter_overrides or []:
            self._overrides[p.name] = p.value
        self._parameters: dict[str, Parameter] = {}
        self._descriptors: dict[str, Any] = {}
        self._parameters_callbacks: list[Callable] = []
        self._allow_undeclared = allow_undeclared_parameters
        self.parameter_descriptors = self._descriptors    # test helper alias
        self.publishers: list[FakePublisher] = []
        self.subscriptions: list[FakeSubscription] = []
        self.timers: list[FakeTimer] = []
        self.services: list[FakeService] = []
        self.clients: list[FakeClient] = []
        self._logger = FakeLogger(node_name, world)
        self._clock = FakeClock(world)
        self.destroyed = False
        world.nodes.append(self)

    # names
    def get_name(self) -> str:
        return self._name

    def get_namespace(self) -> str:
        return self._namespace

    def get_fully_qualified_name(self) -> str:
        return _join(self._namespace, self._name)

    def resolve(self, name: str) -> str:
        if name.startswith('/'):
            return _join(name)
        if name.startswith('~'):
            return _join(self._namespace, self._name, name[1:])
        return _join(self._namespace, name)

    # parameters (rclpy.node.Node's rules: static typing from the default, read_only,
    # set-parameters callbacks run on declaration and on every set)
    def declare_parameter(self, name: str, value: Any = None, descriptor: Any = None,
                          ignore_override: bool = False) -> Parameter:
        return self.declare_parameters('', [(name, value, descriptor or
                                             ParameterDescriptor())], ignore_override)[0]

    def declare_parameters(self, namespace: str, parameters: list[tuple],
                           ignore_override: bool = False) -> list[Parameter]:
        out = []
        for item in parameters:
            name = f'{namespace}.{item[0]}' if namespace else item[0]
            value = item[1] if len(item) > 1 else None
            descriptor = item[2] if len(item) > 2 and item[2] is not None \
                else ParameterDescriptor()
            if name in self._parameters:
                raise ParameterAlreadyDeclaredException([name])
            if isinstance(value, ParameterType):
                descriptor.type = int(value)
                value = None
            elif not descriptor.dynamic_typing and value is not None:
                descriptor.type = int(_parameter_type(value))
            if not ignore_override and name in self._overrides:
                value = self._overrides[name]
            parameter = Parameter(name, value=value)
            descriptor.name = name
            result = self._apply(parameter, descriptor, check_read_only=False)
            if not result.successful:
                if result.reason.startswith('Wrong parameter type'):
                    raise InvalidParameterTypeException(
                        parameter, ParameterType(descriptor.type).name)
                raise InvalidParameterValueException(name, value, result.reason)
            self._parameters[name] = parameter
            self._descriptors[name] = descriptor
            out.append(parameter)
        return out

    def _apply(self, parameter: Parameter, descriptor: Any,
               check_read_only: bool = True) -> Any:
        if check_read_only and descriptor.read_only:
            return SetParametersResult(
                successful=False,
                reason=f'Trying to set a read-only parameter: {parameter.name}.')
        if descriptor.dynamic_typing:
            descriptor.type = int(parameter.type_)
        elif (parameter.type_ != ParameterType.NOT_SET
              and int(parameter.type_) != descriptor.type):
            return SetParametersResult(
                successful=False,
                reason=(f"Wrong parameter type, expected '{ParameterType(descriptor.type)}'"
                        f" got '{parameter.type_}'"))
        for callback in self._parameters_callbacks:
            result = callback([parameter])
            if not result.successful:
                return result
        return SetParametersResult(successful=True)

    def add_on_set_parameters_callback(self, callback: Callable) -> None:
        self._parameters_callbacks.insert(0, callback)

    def remove_on_set_parameters_callback(self, callback: Callable) -> None:
        self._parameters_callbacks.remove(callback)

    def set_parameters(self, parameter_list: list[Parameter]) -> list[Any]:
        results = []
        for parameter in parameter_list:
            if parameter.name not in self._parameters and not self._allow_undeclared:
                raise ParameterNotDeclaredException([parameter.name])
            results.append(self.set_parameters_atomically([parameter]))
        return results

    def set_parameters_atomically(self, parameter_list: list[Parameter]) -> Any:
        for parameter in parameter_list:
            if parameter.name not in self._parameters:
                raise ParameterNotDeclaredException([parameter.name])
            result = self._apply(parameter, self._descriptors[parameter.name])
            if not result.successful:
                return result
        for parameter in parameter_list:
            self._parameters[parameter.name] = parameter
        return SetParametersResult(successful=True)

    def has_parameter(self, name: str) -> bool:
        return name in self._parameters

    def get_parameter(self, name: str) -> Parameter:
        if name not in self._parameters:
            raise ParameterNotDeclaredException(name)
        return self._parameters[name]

    def get_parameters(self, names: list[str]) -> list[Parameter]:
        return [self.get_parameter(n) for n in names]

    def describe_parameter(self, name: str) -> Any:
        if name not in self._descriptors:
            raise ParameterNotDeclaredException(name)
        return self._descriptors[name]

    # entities
    def create_publisher(self, msg_type: type, topic: str, qos_profile: Any, *,
                         callback_group: CallbackGroup | None = None,
                         event_callbacks: Any = None, qos_overriding_options: Any = None,
                         publisher_class: Any = None) -> FakePublisher:
        publisher = FakePublisher(self, msg_type, topic, _as_qos(qos_profile), callback_group)
        self.publishers.append(publisher)
        return publisher

    def create_subscription(self, msg_type: type, topic: str, callback: Callable,
                            qos_profile: Any, *,
                            callback_group: CallbackGroup | None = None,
                            event_callbacks: Any = None, qos_overriding_options: Any = None,
                            raw: bool = False) -> FakeSubscription:
        subscription = FakeSubscription(self, msg_type, topic, callback,
                                        _as_qos(qos_profile), callback_group, raw)
        self.subscriptions.append(subscription)
        self.world.late_join(subscription)
        return subscription

    def create_timer(self, timer_period_sec: float, callback: Callable,
                     callback_group: CallbackGroup | None = None,
                     clock: Any = None) -> FakeTimer:
        timer = FakeTimer(self, float(timer_period_sec), callback, callback_group)
        self.timers.append(timer)
        return timer

    def create_service(self, srv_type: type, srv_name: str, callback: Callable, *,
                       qos_profile: Any = qos_profile_services_default,
                       callback_group: CallbackGroup | None = None) -> FakeService:
        service = FakeService(self, srv_type, srv_name, callback, qos_profile, callback_group)
        self.services.append(service)
        return service

    def create_client(self, srv_type: type, srv_name: str, *,
                      qos_profile: Any = qos_profile_services_default,
                      callback_group: CallbackGroup | None = None) -> FakeClient:
        client = FakeClient(self, srv_type, srv_name, qos_profile, callback_group)
        self.clients.append(client)
        return client

    def get_logger(self) -> FakeLogger:
        return self._logger

    def get_clock(self) -> FakeClock:
        return self._clock

    def destroy_node(self) -> None:
        self.destroyed = True
        if self in self.world.nodes:
            self.world.nodes.remove(self)

    # test helpers (not rclpy API)
    def publisher(self, topic: str) -> FakePublisher:
        matches = [p for p in self.publishers if p.topic_name == topic]
        assert len(matches) == 1, f'{self._name}: {len(matches)} publishers on {topic}'
        return matches[0]

    def subscription(self, topic: str) -> FakeSubscription:
        matches = [s for s in self.subscriptions if s.topic_name == topic]
        assert len(matches) == 1, f'{self._name}: {len(matches)} subscriptions on {topic}'
        return matches[0]

    def service(self, name: str) -> FakeService:
        matches = [s for s in self.services if s.resolved_name == name]
        assert len(matches) == 1, f'{self._name}: {len(matches)} services named {name}'
        return matches[0]


class ExternalShutdownException(Exception):
    pass


class _Executor:
    """Spins the fake world like rclpy's executors: callbacks run until the context is shut
    down, and an exception raised inside a callback leaves spin() (rclpy re-raises it from
    the callback's future). A test bounds the run with `world.spin_budget` (seconds of
    simulated time); when it is used up the fake "presses Ctrl-C": with rclpy's signal
    handlers installed (the default) that shuts the context down first, as rclpy's SIGINT
    handler does, then KeyboardInterrupt is raised."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.nodes: list[Node] = []
        self.spun = False

    def add_node(self, node: Node) -> bool:
        self.nodes.append(node)
        return True

    def spin(self) -> None:
        self.spun = True
        world = _WORLD
        world.executors.append(self)
        world.spin_for(world.spin_budget)
        if not world.initialized:
            return                       # shut down from a callback: spin() ends
        if world.signal_handlers:
            _rclpy_try_shutdown()
        raise KeyboardInterrupt()

    def spin_once(self, timeout_sec: float | None = None) -> None:
        self.spun = True

    def shutdown(self, timeout_sec: float | None = None) -> bool:
        return True


class SingleThreadedExecutor(_Executor):
    pass


class MultiThreadedExecutor(_Executor):
    pass


class SignalHandlerOptions(enum.IntEnum):
    NO = 0
    SIGINT = 1
    SIGTERM = 2
    ALL = 3


class FakeWorld:
    """Clock, middleware and executor of the fake ROS graph."""

    def __init__(self) -> None:
        self.initialized = False
        self.signal_handlers = True
        self.time_ns = 1_700_000_000 * 1_000_000_000   # a wall-clock-like epoch
        self.nodes: list[Node] = []
        # (topic, message, publisher QoS, publisher or None, only this subscription or None)
        self.queue: list[tuple[str, Any, QoSProfile, Any, Any]] = []
        self.pending_calls: list[FakeClient] = []
        self.parameter_overrides: dict[str, dict[str, Any]] = {}
        self.executors: list[_Executor] = []
        self.scheduled: list[tuple[int, int, Callable[[], Any]]] = []
        self.spin_budget = 0.0
        self.incompatible_qos: list[tuple[str, str, str]] = []   # (topic, subscriber, reason)
        self.init_count = 0
        self.shutdown_count = 0

    @property
    def now(self) -> float:
        return self.time_ns * 1e-9

    def stamp(self, offset: float = 0.0) -> Any:
        return FakeTime(self.time_ns + int(round(offset * 1e9))).to_msg()

    def set_parameters(self, node_name: str, **values: Any) -> None:
        """Parameter overrides for a node created later (like --ros-args -p)."""
        self.parameter_overrides.setdefault(node_name, {}).update(values)

    def subscriptions(self) -> list[FakeSubscription]:
        return [s for n in self.nodes for s in n.subscriptions]

    def find_node(self, fully_qualified_name: str) -> Node:
        (node,) = [n for n in self.nodes if n.get_fully_qualified_name() == fully_qualified_name]
        return node

    def find_service(self, name: str) -> FakeService | None:
        for node in self.nodes:
            for service in node.services:
                if service.resolved_name == name:
                    return service
        return None

    def send(self, topic: str, msg: Any, qos_profile: QoSProfile,
             publisher: Any = None) -> None:
        self.queue.append((topic, msg, qos_profile, publisher, None))

    def late_join(self, subscription: FakeSubscription) -> None:
        """A transient-local subscription gets what transient-local publishers retained."""
        if subscription.qos_profile.durability != DurabilityPolicy.TRANSIENT_LOCAL:
            return
        for node in self.nodes:
            for publisher in node.publishers:
                if publisher.topic_name != subscription.topic_name:
                    continue
                for msg in publisher.retained():
                    self.queue.append((publisher.topic_name, msg, publisher.qos_profile,
                                       publisher, subscription))

    def deliver(self) -> int:
        """Deliver every queued message to the compatible subscriptions, each keeping at
        most its history depth of what arrived since the last delivery (KEEP_LAST), and
        answer pending service calls."""
        count = 0
        while self.queue or self.pending_calls:
            queue, self.queue = self.queue, []
            inbox: dict[int, tuple[FakeSubscription, list[Any]]] = {}
            for topic, msg, pub_qos, _, only in queue:
                for subscription in self.subscriptions():
                    if subscription.topic_name != topic or (only is not None
                                                            and only is not subscription):
                        continue
                    compatibility, reason = qos_check_compatible(pub_qos,
                                                                 subscription.qos_profile)
                    if compatibility == QoSCompatibility.ERROR:
                        event = (topic, subscription.node.get_name(), reason)
                        if event not in self.incompatible_qos:
                            self.incompatible_qos.append(event)
                        continue
                    inbox.setdefault(id(subscription), (subscription, []))[1].append(msg)
            for subscription, messages in inbox.values():
                qos = subscription.qos_profile
                if qos.history != HistoryPolicy.KEEP_ALL and qos.depth:
                    messages = messages[-qos.depth:]
                for msg in messages:
                    if subscription.node.destroyed:
                        break
                    subscription.deliver(msg)
                    count += 1
            calls, self.pending_calls = self.pending_calls, []
            for client in calls:
                client.answer_pending()
        return count

    def publish(self, topic: str, msg: Any, qos_profile: QoSProfile | None = None) -> None:
        """Inject a message from outside any node (a camera, the driver, ...)."""
        self.send(topic, msg, qos_profile or QoSProfile(depth=10))
        self.deliver()

    def schedule(self, delay: float, action: Callable[[], Any]) -> None:
        """Run `action` (e.g. a service call from another process) after `delay` s of
        simulated time, while the world spins."""
        at = self.time_ns + int(round(delay * 1e9))
        self.scheduled.append((at, len(self.scheduled), action))

    def param_set(self, node_name: str, name: str, value_text: str) -> Any:
        """`ros2 param set NODE NAME VALUE`: the value typed by YAML as ros2param does, set
        through the parameter service (set_parameters_atomically)."""
        import yaml
        node = self.find_node(_join(node_name))
        try:
            value = yaml.safe_load(value_text)
        except yaml.YAMLError:
            value = value_text
        if isinstance(value, list):
            if not value or not any(all(isinstance(v, t) for v in value)
                                    for t in (bool, int, float, str)):
                value = value_text
        elif not isinstance(value, (bool, int, float)):
            value = value_text
        try:
            return node.set_parameters_atomically([Parameter(name, value=value)])
        except ParameterNotDeclaredException as exc:
            return SetParametersResult(successful=False, reason=str(exc))

    def spin_for(self, seconds: float) -> None:
        """Advance the clock by `seconds`, firing due timers and scheduled actions in time
        order; nothing runs once the context is shut down."""
        end = self.time_ns + int(round(seconds * 1e9))
        self.deliver()
        while self.initialized:
            timers = [t for n in self.nodes for t in n.timers if not t.cancelled]
            due = [(t.next_ns, 1, i, t) for i, t in enumerate(timers) if t.next_ns <= end]
            due += [(at, 0, order, action) for at, order, action in self.scheduled
                    if at <= end]
            if not due:
                break
            at, kind, order, what = min(due, key=lambda d: d[:3])
            self.time_ns = max(self.time_ns, at)
            if kind == 0:
                self.scheduled.remove((at, order, what))
                what()
            else:
                what.next_ns += what.timer_period_ns
                what.fire()
            self.deliver()
        self.time_ns = max(self.time_ns, end)
        if self.initialized:
            self.deliver()


_WORLD: FakeWorld | None = None


def _rclpy_init(*, args: Any = None, context: Any = None, domain_id: Any = None,
                signal_handler_options: Any = None) -> None:
    if _WORLD.initialized:
        raise RuntimeError('Context.init() must only be called once')
    _WORLD.initialized = True
    _WORLD.signal_handlers = signal_handler_options != SignalHandlerOptions.NO
    _WORLD.init_count += 1


def _rclpy_shutdown(*, context: Any = None, uninstall_handlers: Any = None) -> None:
    if not _WORLD.initialized:
        raise RuntimeError('rclpy.shutdown() called twice')
    _WORLD.initialized = False
    _WORLD.shutdown_count += 1


def _rclpy_try_shutdown(*, context: Any = None, uninstall_handlers: Any = None) -> None:
    if _WORLD.initialized:
        _rclpy_shutdown()


def _rclpy_spin(node: Node, executor: Any = None) -> None:
    executor = executor or SingleThreadedExecutor()
    executor.add_node(node)
    executor.spin()


# ----------------------------------------------------------------------------- launch


class LaunchEntity:
    """Base of the fake launch actions and substitutions: keeps the constructor args."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs


class LaunchDescription(LaunchEntity):
    def __init__(self, initial_entities: list[Any] | None = None, *,
                 deprecated_reason: str | None = None) -> None:
        super().__init__()
        self.entities = list(initial_entities or [])

    def add_action(self, action: Any) -> None:
        self.entities.append(action)


class DeclareLaunchArgument(LaunchEntity):
    def __init__(self, name: str, *, default_value: Any = None, description: str | None = None,
                 choices: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        if kwargs:
            raise TypeError(f'DeclareLaunchArgument got unexpected arguments {set(kwargs)}')
        if choices is not None:
            if not choices or not all(isinstance(c, str) for c in choices):
                raise TypeError(f'{name}: choices must be a non-empty list of strings')
            if isinstance(default_value, str) and default_value not in choices:
                raise ValueError(f'{name}: default {default_value!r} not in {choices}')
        self.name = name
        self.default_value = default_value
        self.description = description
        self.choices = choices


class IncludeLaunchDescription(LaunchEntity):
    def __init__(self, launch_description_source: Any, *,
                 launch_arguments: Any = None, condition: Any = None) -> None:
        super().__init__()
        self.launch_description_source = launch_description_source
        self.launch_arguments = list(launch_arguments or [])
        self.condition = condition


class PythonLaunchDescriptionSource(LaunchEntity):
    def __init__(self, launch_file_path: Any) -> None:
        super().__init__()
        self.location = launch_file_path


class ExecuteProcess(LaunchEntity):
    def __init__(self, *, cmd: list[Any], name: Any = None, cwd: Any = None, env: Any = None,
                 additional_env: Any = None, shell: bool = False, sigterm_timeout: Any = 5,
                 sigkill_timeout: Any = 5, emulate_tty: bool = False, output: Any = 'log',
                 condition: Any = None, on_exit: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cmd, self.name, self.output, self.condition = cmd, name, output, condition
        self.shell = shell


class GroupAction(LaunchEntity):
    def __init__(self, actions: list[Any], *, scoped: bool = True, forwarding: bool = True,
                 launch_configurations: Any = None, condition: Any = None) -> None:
        super().__init__()
        self.actions, self.condition = list(actions), condition
        self.scoped, self.forwarding = scoped, forwarding
        self.launch_configurations = dict(launch_configurations or {})


class LogInfo(LaunchEntity):
    def __init__(self, *, msg: Any, condition: Any = None) -> None:
        super().__init__()
        self.msg, self.condition = msg, condition


class SetLaunchConfiguration(LaunchEntity):
    def __init__(self, name: Any, value: Any, *, condition: Any = None) -> None:
        super().__init__()
        self.name, self.value, self.condition = name, value, condition


class RosNode(LaunchEntity):
    def __init__(self, *, executable: Any, package: Any = None, name: Any = None,
                 namespace: Any = None, exec_name: Any = None, parameters: Any = None,
                 remappings: Any = None, ros_arguments: Any = None, arguments: Any = None,
                 output: Any = 'log', condition: Any = None, emulate_tty: bool = False,
                 respawn: Any = False, respawn_delay: Any = None, prefix: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if kwargs:
            raise TypeError(f'Node got unexpected arguments {set(kwargs)}')
        self.executable, self.package, self.name = executable, package, name
        self.namespace, self.parameters = namespace, list(parameters or [])
        self.remappings, self.arguments = list(remappings or []), list(arguments or [])
        self.output, self.condition, self.prefix = output, condition, prefix


class LaunchConfiguration(LaunchEntity):
    def __init__(self, variable_name: Any, *, default: Any = None) -> None:
        super().__init__()
        self.variable_name, self.default = variable_name, default


class PathJoinSubstitution(LaunchEntity):
    def __init__(self, substitutions: list[Any]) -> None:
        super().__init__()
        self.substitutions = list(substitutions)


class TextSubstitution(LaunchEntity):
    def __init__(self, *, text: str) -> None:
        super().__init__()
        self.text = text


class PythonExpression(LaunchEntity):
    def __init__(self, expression: list[Any]) -> None:
        super().__init__()
        self.expression = list(expression)


class EnvironmentVariable(LaunchEntity):
    def __init__(self, name: Any, *, default_value: Any = None) -> None:
        super().__init__()
        self.name, self.default_value = name, default_value


class FindPackageShare(LaunchEntity):
    def __init__(self, package: Any) -> None:
        super().__init__()
        self.package = package


class IfCondition(LaunchEntity):
    def __init__(self, predicate_expression: Any) -> None:
        super().__init__()
        self.predicate = predicate_expression


class UnlessCondition(IfCondition):
    pass


class LaunchConfigurationEquals(LaunchEntity):
    def __init__(self, launch_configuration_name: str, expected_value: Any) -> None:
        super().__init__()
        self.name, self.expected_value = launch_configuration_name, expected_value


class LaunchConfigurationNotEquals(LaunchConfigurationEquals):
    pass


class ParameterFile(LaunchEntity):
    def __init__(self, param_file: Any, *, allow_substs: bool = False) -> None:
        super().__init__()
        self.param_file, self.allow_substs = param_file, allow_substs


class ParameterValue(LaunchEntity):
    def __init__(self, value: Any, *, value_type: Any = None) -> None:
        super().__init__()
        self.value, self.value_type = value, value_type


def evaluate(value: Any, configurations: dict[str, str],
             package_shares: dict[str, str] | None = None) -> str:
    """Resolve a substitution (or list of them, or text) the way launch would."""
    shares = package_shares or {}
    if value is None:
        return ''
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return ''.join(evaluate(v, configurations, shares) for v in value)
    if isinstance(value, TextSubstitution):
        return value.text
    if isinstance(value, LaunchConfiguration):
        name = evaluate(value.variable_name, configurations, shares)
        if name in configurations:
            return configurations[name]
        if value.default is not None:
            return evaluate(value.default, configurations, shares)
        raise KeyError(f'launch configuration {name!r} is not set')
    if isinstance(value, PathJoinSubstitution):
        return os.path.join(*[evaluate(v, configurations, shares)
                              for v in value.substitutions])
    if isinstance(value, FindPackageShare):
        package = evaluate(value.package, configurations, shares)
        return shares.get(package, f'/opt/ros/share/{package}')
    if isinstance(value, PythonExpression):
        return str(eval(evaluate(value.expression, configurations, shares), {}, {}))
    if isinstance(value, EnvironmentVariable):
        return os.environ.get(evaluate(value.name, configurations, shares),
                              evaluate(value.default_value, configurations, shares))
    raise TypeError(f'cannot evaluate {value!r}')


def condition_holds(condition: Any, configurations: dict[str, str]) -> bool:
    """Whether an action with this condition would run."""
    if condition is None:
        return True
    if isinstance(condition, LaunchConfigurationNotEquals):
        return configurations.get(condition.name) != evaluate(condition.expected_value,
                                                              configurations)
    if isinstance(condition, LaunchConfigurationEquals):
        return configurations.get(condition.name) == evaluate(condition.expected_value,
                                                              configurations)
    text = evaluate(condition.predicate, configurations).strip().lower()
    if text not in ('true', 'false', '1', '0'):
        raise ValueError(f'condition must evaluate to true/false, got {text!r}')
    result = text in ('true', '1')
    return not result if isinstance(condition, UnlessCondition) else result


# ----------------------------------------------------------------------------- launch runtime


class LaunchError(RuntimeError):
    """What `ros2 launch` would fail with (a required argument, a bad choice, ...)."""


class LaunchedNode:
    """A launch_ros Node as it would start: name, namespace and the parameter overrides it
    receives (parameter files matched against its full name, then the dictionaries, in
    order, typed as launch_ros and rcl type them)."""

    def __init__(self, action: 'RosNode', name: str, namespace: str,
                 parameters: dict[str, Any], parameter_files: list[str]) -> None:
        self.action = action
        self.package, self.executable = action.package, action.executable
        self.name, self.namespace = name, namespace
        self.parameters, self.parameter_files = parameters, parameter_files

    @property
    def fully_qualified_name(self) -> str:
        return _join(self.namespace, self.name)


class LaunchRun:
    """Executes a launch description like `ros2 launch` does, up to starting processes:
    launch configurations are one global scope that IncludeLaunchDescription does not
    scope (only GroupAction(scoped=True) does), DeclareLaunchArgument applies its default
    only when the name is unset and checks choices, conditions are honoured.
    `loader(location)` returns the LaunchDescription of an included file."""

    def __init__(self, loader: Callable[[str], Any],
                 package_shares: dict[str, str] | None = None) -> None:
        self.loader = loader
        self.shares = package_shares or {}
        self.scopes: list[dict[str, str]] = [{}]
        self.nodes: list[LaunchedNode] = []
        self.processes: list[list[str]] = []
        self.included: list[tuple[str, dict[str, str]]] = []

    @property
    def configurations(self) -> dict[str, str]:
        return self.scopes[-1]

    def evaluate(self, value: Any) -> str:
        return evaluate(value, self.configurations, self.shares)

    def run(self, description: Any, arguments: dict[str, str] | None = None) -> 'LaunchRun':
        self.configurations.update(arguments or {})
        self._visit(description.entities)
        return self

    def _visit(self, entities: list[Any]) -> None:
        for entity in entities:
            condition = getattr(entity, 'condition', None)
            if condition is not None and not condition_holds(condition, self.configurations):
                continue
            if isinstance(entity, DeclareLaunchArgument):
                self._declare(entity)
            elif isinstance(entity, SetLaunchConfiguration):
                self.configurations[self.evaluate(entity.name)] = self.evaluate(entity.value)
            elif isinstance(entity, IncludeLaunchDescription):
                self._include(entity)
            elif isinstance(entity, GroupAction):
                self._group(entity)
            elif isinstance(entity, RosNode):
                self.nodes.append(self._node(entity))
            elif isinstance(entity, ExecuteProcess):
                self.processes.append([self.evaluate(part) for part in entity.cmd])
            elif isinstance(entity, LaunchDescription):
                self._visit(entity.entities)
            elif not isinstance(entity, LogInfo):
                raise TypeError(f'the fake launch cannot execute {entity!r}')

    def _declare(self, argument: 'DeclareLaunchArgument') -> None:
        if argument.name not in self.configurations:
            if argument.default_value is None:
                raise LaunchError(f'Required launch argument "{argument.name}" was not '
                                  'provided.')
            self.configurations[argument.name] = self.evaluate(argument.default_value)
        value = self.configurations[argument.name]
        if argument.choices is not None and value not in argument.choices:
            raise LaunchError(f'Argument "{argument.name}" provided value "{value}" is not '
                              f'valid. Valid options are: {argument.choices}')

    def _include(self, include: 'IncludeLaunchDescription') -> None:
        location = self.evaluate(include.launch_description_source.location)
        description = self.loader(location)
        names = [self.evaluate(name) for name, _ in include.launch_arguments]
        for entity in walk(description.entities):
            if (isinstance(entity, DeclareLaunchArgument) and entity.default_value is None
                    and entity.name not in names):
                raise LaunchError('Included launch description missing required argument '
                                  f"'{entity.name}'")
        # No scope of its own: the arguments become launch configurations of the caller's
        # scope, then the included entities run in it (launch's IncludeLaunchDescription).
        passed = {}
        for name, value in include.launch_arguments:
            passed[self.evaluate(name)] = self.evaluate(value)
        self.configurations.update(passed)
        self.included.append((location, passed))
        self._visit(description.entities)

    def _group(self, group: 'GroupAction') -> None:
        if group.scoped:
            inner = dict(self.configurations) if group.forwarding else {}
            self.scopes.append(inner)
        for name, value in (group.launch_configurations or {}).items():
            self.configurations[self.evaluate(name)] = self.evaluate(value)
        try:
            self._visit(group.actions)
        finally:
            if group.scoped:
                self.scopes.pop()

    def _node(self, action: 'RosNode') -> LaunchedNode:
        name = self.evaluate(action.name) if action.name is not None else action.executable
        namespace = self.evaluate(action.namespace) if action.namespace is not None else '/'
        fqn = _join(namespace, name)
        values: dict[str, Any] = {}
        files = []
        for entry in action.parameters:
            if isinstance(entry, dict):
                for key, value in entry.items():
                    values[self.evaluate(key)] = launch_parameter_value(
                        value, self.configurations, self.shares)
            else:
                path = self.evaluate(getattr(entry, 'param_file', entry))
                files.append(path)
                values.update(parameter_file_values(path, fqn))
        return LaunchedNode(action, name, namespace, values, files)


def _yaml_parameter(text: str) -> Any:
    """launch_ros's YAML rule for a substitution's text in a parameter dictionary."""
    import yaml
    try:
        value = yaml.safe_load(text if text else "''")
    except yaml.YAMLError as exc:
        raise LaunchError(f'Unable to parse the value {text!r} as yaml. If the parameter is '
                          'meant to be a string, try wrapping it in ParameterValue(value, '
                          'value_type=str)') from exc
    if isinstance(value, (bool, int, float, str, bytes)):
        return value
    if isinstance(value, list) and value and all(
            type(v) is type(value[0]) for v in value) and type(value[0]) in (bool, int,
                                                                             float, str):
        return value
    raise LaunchError(f'Allowed value types are bytes, bool, int, float, str and uniform '
                      f'sequences of them. Got {type(value)} from {text!r}. If the parameter '
                      'is meant to be a string, try wrapping it in ParameterValue(value, '
                      'value_type=str)')


def _coerce(text: str, value_type: Any) -> Any:
    """launch.utilities.type_utils.coerce_to_type for the scalar types."""
    import yaml
    if value_type is None:
        return _yaml_parameter(text)
    if value_type is str:
        return text
    if value_type in (int, float):
        try:
            return value_type(text)
        except ValueError as exc:
            raise LaunchError(f"Cannot convert value '{text}' to '{value_type}'") from exc
    if value_type is bool:
        value = yaml.safe_load(text) if text else text
        if isinstance(value, bool):
            return value
        raise LaunchError(f"Cannot convert value '{text}' to '{value_type}'")
    raise LaunchError(f'data_type is invalid: {value_type}')


def launch_parameter_value(value: Any, configurations: dict[str, str],
                           package_shares: dict[str, str] | None = None) -> Any:
    """The value a node receives for one entry of a launch_ros parameter dictionary:
    plain Python values as they are (a str stays a str), substitutions typed by YAML rules,
    ParameterValue(value_type=T) coerced to T."""
    if isinstance(value, ParameterValue):
        text = evaluate(value.value, configurations, package_shares) \
            if not isinstance(value.value, (bool, int, float)) else value.value
        if not isinstance(text, str):
            return text
        return _coerce(text, value.value_type)
    if isinstance(value, (bool, int, float, bytes)):
        return value
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(v, (bool, int, float, str)) for v in value):
        return list(value)
    return _yaml_parameter(evaluate(value, configurations, package_shares))


def _flatten(values: dict[str, Any], prefix: str = '') -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        name = f'{prefix}.{key}' if prefix else str(key)
        if isinstance(value, dict):
            out.update(_flatten(value, name))
        else:
            out[name] = value
    return out


def parameter_file_values(path: str, fully_qualified_name: str) -> dict[str, Any]:
    """The parameters a node takes from a parameter file: every top-level key that matches
    the node's full name (rclpy: a leading '/' added, '/*' one name, '/**' any names)."""
    import re
    import yaml
    with open(path) as stream:
        content = yaml.safe_load(stream) or {}
    values: dict[str, Any] = {}
    for key, section in content.items():
        node_name = key if key.startswith('/') else '/' + key
        pattern = node_name.replace('/*', r'(/\w+)')
        if re.fullmatch(pattern, fully_qualified_name):
            values.update(_flatten((section or {}).get('ros__parameters', {})))
    return values


# ----------------------------------------------------------------------------- install


def _module(name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    module.__fake_ros__ = True
    return module


def build_modules(world: FakeWorld) -> dict[str, types.ModuleType]:
    """All fake modules by import name."""
    m: dict[str, types.ModuleType] = {}
    m['rclpy'] = _module('rclpy', init=_rclpy_init, shutdown=_rclpy_shutdown,
                         try_shutdown=_rclpy_try_shutdown, spin=_rclpy_spin,
                         ok=lambda context=None: world.initialized)
    m['rclpy.node'] = _module('rclpy.node', Node=Node)
    m['rclpy.qos'] = _module('rclpy.qos', QoSProfile=QoSProfile,
                             ReliabilityPolicy=ReliabilityPolicy, HistoryPolicy=HistoryPolicy,
                             DurabilityPolicy=DurabilityPolicy,
                             QoSCompatibility=QoSCompatibility,
                             qos_check_compatible=qos_check_compatible,
                             qos_profile_sensor_data=qos_profile_sensor_data,
                             qos_profile_system_default=qos_profile_system_default,
                             qos_profile_services_default=qos_profile_services_default,
                             qos_profile_parameters=qos_profile_parameters)
    m['rclpy.callback_groups'] = _module(
        'rclpy.callback_groups', CallbackGroup=CallbackGroup,
        MutuallyExclusiveCallbackGroup=MutuallyExclusiveCallbackGroup,
        ReentrantCallbackGroup=ReentrantCallbackGroup)
    m['rclpy.executors'] = _module('rclpy.executors',
                                   SingleThreadedExecutor=SingleThreadedExecutor,
                                   MultiThreadedExecutor=MultiThreadedExecutor,
                                   ExternalShutdownException=ExternalShutdownException)
    m['rclpy.parameter'] = _module('rclpy.parameter', Parameter=Parameter)
    m['rclpy.exceptions'] = _module(
        'rclpy.exceptions', ParameterException=ParameterException,
        InvalidParameterTypeException=InvalidParameterTypeException,
        InvalidParameterValueException=InvalidParameterValueException,
        ParameterNotDeclaredException=ParameterNotDeclaredException,
        ParameterAlreadyDeclaredException=ParameterAlreadyDeclaredException)
    m['rclpy.signals'] = _module('rclpy.signals', SignalHandlerOptions=SignalHandlerOptions)
    m['rclpy.logging'] = _module('rclpy.logging', LoggingSeverity=LoggingSeverity)
    m['rclpy.task'] = _module('rclpy.task', Future=Future)
    m['rclpy.time'] = _module('rclpy.time', Time=FakeTime)
    for name, attrs in {
        'builtin_interfaces.msg': dict(Time=Time, Duration=Duration),
        'std_msgs.msg': dict(Header=Header, String=String, Bool=Bool, Float64=Float64,
                             Float32MultiArray=Float32MultiArray,
                             MultiArrayDimension=MultiArrayDimension,
                             MultiArrayLayout=MultiArrayLayout),
        'sensor_msgs.msg': dict(Image=Image, CompressedImage=CompressedImage,
                                JointState=JointState),
        'interbotix_xs_msgs.msg': dict(JointGroupCommand=JointGroupCommand,
                                       JointSingleCommand=JointSingleCommand),
        'diagnostic_msgs.msg': dict(DiagnosticArray=DiagnosticArray,
                                    DiagnosticStatus=DiagnosticStatus, KeyValue=KeyValue),
        'rcl_interfaces.msg': dict(ParameterDescriptor=ParameterDescriptor,
                                   FloatingPointRange=FloatingPointRange,
                                   IntegerRange=IntegerRange,
                                   SetParametersResult=SetParametersResult),
        'std_srvs.srv': dict(Trigger=Trigger, SetBool=SetBool),
    }.items():
        package = name.split('.')[0]
        m.setdefault(package, _module(package))
        m[name] = _module(name, **attrs)
        setattr(m[package], name.split('.')[1], m[name])
    m['launch'] = _module('launch', LaunchDescription=LaunchDescription)
    m['launch.actions'] = _module(
        'launch.actions', DeclareLaunchArgument=DeclareLaunchArgument,
        IncludeLaunchDescription=IncludeLaunchDescription, ExecuteProcess=ExecuteProcess,
        GroupAction=GroupAction, LogInfo=LogInfo,
        SetLaunchConfiguration=SetLaunchConfiguration)
    m['launch.substitutions'] = _module(
        'launch.substitutions', LaunchConfiguration=LaunchConfiguration,
        PathJoinSubstitution=PathJoinSubstitution, TextSubstitution=TextSubstitution,
        PythonExpression=PythonExpression, EnvironmentVariable=EnvironmentVariable)
    m['launch.conditions'] = _module(
        'launch.conditions', IfCondition=IfCondition, UnlessCondition=UnlessCondition,
        LaunchConfigurationEquals=LaunchConfigurationEquals,
        LaunchConfigurationNotEquals=LaunchConfigurationNotEquals)
    m['launch.launch_description_sources'] = _module(
        'launch.launch_description_sources',
        PythonLaunchDescriptionSource=PythonLaunchDescriptionSource)
    m['launch_ros'] = _module('launch_ros')
    m['launch_ros.actions'] = _module('launch_ros.actions', Node=RosNode)
    m['launch_ros.substitutions'] = _module('launch_ros.substitutions',
                                            FindPackageShare=FindPackageShare)
    m['launch_ros.parameter_descriptions'] = _module(
        'launch_ros.parameter_descriptions', ParameterFile=ParameterFile,
        ParameterValue=ParameterValue)
    for name in list(m):
        if '.' in name:
            parent, child = name.rsplit('.', 1)
            setattr(m[parent], child, m[name])
    return m


# Modules of this repository that import ROS at module level: dropped from sys.modules on
# install so each test imports them against a fresh fake.
ROS_USING_MODULES = ('vptr_policy.policy_node', 'widowx_bringup.arm_io',
                     'widowx_bringup.ros_main', 'widowx_bringup.sim_robot_node',
                     'widowx_bringup.keyboard_teleop', 'widowx_bringup.scripted_collector',
                     'widowx_bringup.arm_setup', 'widowx_bringup.recording')


def install(monkeypatch: Any) -> FakeWorld:
    """Put the fake ROS modules into sys.modules (undone by monkeypatch at teardown)."""
    world = FakeWorld()
    monkeypatch.setattr(sys.modules[__name__], '_WORLD', world)
    for name, module in build_modules(world).items():
        monkeypatch.setitem(sys.modules, name, module)
    for name in ROS_USING_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    return world


def import_fresh(name: str) -> types.ModuleType:
    """Import a module against the currently installed fakes."""
    sys.modules.pop(name, None)
    return importlib.import_module(name)


def load_launch_file(path: str | os.PathLike, name: str = 'launch_under_test') -> Any:
    """Import a launch file (the fakes must be installed) and return its module."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def walk(entities: list[Any]) -> list[Any]:
    """Flatten a launch description's entities (into GroupActions)."""
    out = []
    for entity in entities:
        out.append(entity)
        if isinstance(entity, GroupAction):
            out.extend(walk(entity.actions))
    return out
