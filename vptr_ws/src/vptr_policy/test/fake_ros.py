"""A small, strict fake of the ROS 2 Python surface this repository uses.

ROS 2 cannot be installed where the tests run, so the nodes and launch files are exercised
against this fake instead: `rclpy` (Node, parameters, publishers, subscriptions, timers,
services, clients, clock, logger, QoS, callback groups, executors), the message and service
types the nodes use (with rclpy's type checks: float fields reject ints, numeric arrays are
stored as array.array, byte fields need bytes), and the launch API (`launch`,
`launch_ros`, substitutions, conditions) with a tiny evaluator for substitutions.

One module, used by the vptr_policy and widowx_bringup tests and by the repo-level tests:
    sys.path.insert(0, <repo>/vptr_ws/src/vptr_policy/test); import fake_ros
    world = fake_ros.install(monkeypatch)      # modules go into sys.modules, undone after
    node_module = fake_ros.import_fresh('vptr_policy.policy_node')

`FakeWorld` plays the middleware and the executor: publishing queues a message, and
`world.spin_for(seconds)` advances the shared clock, fires due timers in time order and
delivers queued messages to every subscription on the same resolved topic.
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


class ReliabilityPolicy(enum.Enum):
    SYSTEM_DEFAULT = 0
    RELIABLE = 1
    BEST_EFFORT = 2


class HistoryPolicy(enum.Enum):
    SYSTEM_DEFAULT = 0
    KEEP_LAST = 1
    KEEP_ALL = 2


class DurabilityPolicy(enum.Enum):
    SYSTEM_DEFAULT = 0
    TRANSIENT_LOCAL = 1
    VOLATILE = 2


class QoSProfile:
    def __init__(self, *, history: HistoryPolicy = HistoryPolicy.KEEP_LAST,
                 depth: int | None = None,
                 reliability: ReliabilityPolicy = ReliabilityPolicy.RELIABLE,
                 durability: DurabilityPolicy = DurabilityPolicy.VOLATILE) -> None:
        if history == HistoryPolicy.KEEP_LAST and depth is None:
            raise ValueError('A QoSProfile with KEEP_LAST history needs a depth')
        self.history, self.depth = history, depth
        self.reliability, self.durability = reliability, durability


qos_profile_sensor_data = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
qos_profile_system_default = QoSProfile(depth=10)
qos_profile_services_default = QoSProfile(depth=10)


def _as_qos(qos: Any) -> QoSProfile:
    if isinstance(qos, QoSProfile):
        return qos
    if isinstance(qos, int) and not isinstance(qos, bool):
        return QoSProfile(depth=qos)
    raise TypeError(f'qos_profile must be a QoSProfile or an int depth, got {qos!r}')


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
    raise TypeError(f'unsupported parameter value {value!r}')


class InvalidParameterTypeException(Exception):
    pass


class ParameterNotDeclaredException(Exception):
    pass


class ParameterAlreadyDeclaredException(Exception):
    pass


class Parameter:
    Type = ParameterType

    def __init__(self, name: str, type_: ParameterType | None = None,
                 value: Any = None) -> None:
        self.name = name
        self.type_ = type_ if type_ is not None else _parameter_type(value)
        self.value = value


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


class FakeLogger:
    def __init__(self, name: str) -> None:
        self.name = name
        self.records: list[tuple[str, str]] = []

    def _log(self, level: str, message: str, **kwargs: Any) -> bool:
        unknown = set(kwargs) - {'once', 'throttle_duration_sec', 'skip_first',
                                 'throttle_time_source_type'}
        if unknown:
            raise TypeError(f'unexpected logging arguments {unknown}')
        self.records.append((level, str(message)))
        return True

    def debug(self, message: str, **kwargs: Any) -> bool:
        return self._log('debug', message, **kwargs)

    def info(self, message: str, **kwargs: Any) -> bool:
        return self._log('info', message, **kwargs)

    def warning(self, message: str, **kwargs: Any) -> bool:
        return self._log('warn', message, **kwargs)

    warn = warning

    def error(self, message: str, **kwargs: Any) -> bool:
        return self._log('error', message, **kwargs)

    def fatal(self, message: str, **kwargs: Any) -> bool:
        return self._log('fatal', message, **kwargs)

    def messages(self, level: str | None = None) -> list[str]:
        return [m for lvl, m in self.records if level is None or lvl == level]


class FakePublisher:
    def __init__(self, node: 'Node', msg_type: type, topic: str, qos: QoSProfile,
                 callback_group: CallbackGroup | None) -> None:
        self.node, self.msg_type, self.topic, self.qos = node, msg_type, topic, qos
        self.callback_group = callback_group
        self.messages: list[Any] = []

    def publish(self, msg: Any) -> None:
        if not isinstance(msg, self.msg_type):
            raise TypeError(f'Expected {self.msg_type.__name__}, got {type(msg).__name__}')
        self.messages.append(msg)
        self.node.world.queue.append((self.topic, msg))

    def get_subscription_count(self) -> int:
        return sum(1 for s in self.node.world.subscriptions() if s.topic == self.topic)

    def destroy(self) -> None:
        pass


class FakeSubscription:
    def __init__(self, node: 'Node', msg_type: type, topic: str, callback: Callable,
                 qos: QoSProfile, callback_group: CallbackGroup | None) -> None:
        self.node, self.msg_type, self.topic, self.callback = node, msg_type, topic, callback
        self.qos, self.callback_group = qos, callback_group

    def deliver(self, msg: Any) -> None:
        if not isinstance(msg, self.msg_type):
            raise TypeError(f'{self.topic}: expected {self.msg_type.__name__}, '
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
    def __init__(self, node: 'Node', srv_type: type, name: str, callback: Callable,
                 callback_group: CallbackGroup | None) -> None:
        self.node, self.srv_type, self.name, self.callback = node, srv_type, name, callback
        self.callback_group = callback_group

    def call(self, request: Any = None) -> Any:
        request = request if request is not None else self.srv_type.Request()
        response = self.callback(request, self.srv_type.Response())
        if not isinstance(response, self.srv_type.Response):
            raise TypeError(f'service {self.name} returned {response!r}')
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
    def __init__(self, node: 'Node', srv_type: type, name: str,
                 callback_group: CallbackGroup | None) -> None:
        self.node, self.srv_type, self.name = node, srv_type, name
        self.srv_name = name          # rclpy.client.Client's attribute
        self.callback_group = callback_group
        self.requests: list[Any] = []
        self.pending: list[tuple[Any, Future]] = []

    def service_is_ready(self) -> bool:
        return self.node.world.find_service(self.name) is not None

    def wait_for_service(self, timeout_sec: float | None = None) -> bool:
        return self.service_is_ready()

    def call_async(self, request: Any) -> Future:
        if not isinstance(request, self.srv_type.Request):
            raise TypeError(f'{self.name}: bad request type {type(request).__name__}')
        self.requests.append(request)
        future = Future()
        # Answered on the next spin, as a real executor would, never inside the call.
        self.pending.append((request, future))
        self.node.world.pending_calls.append(self)
        return future

    def answer_pending(self) -> None:
        service = self.node.world.find_service(self.name)
        pending, self.pending = self.pending, []
        for request, future in pending:
            if service is None:
                self.pending.append((request, future))
            else:
                future.set_result(service.call(request))


def _join(*parts: str) -> str:
    return '/' + '/'.join(p.strip('/') for p in parts if p.strip('/'))


class Node:
    """The subset of rclpy.node.Node used here, with rclpy's signatures."""

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
        self.parameter_descriptors: dict[str, Any] = {}
        self.publishers: list[FakePublisher] = []
        self.subscriptions: list[FakeSubscription] = []
        self.timers: list[FakeTimer] = []
        self.services: list[FakeService] = []
        self.clients: list[FakeClient] = []
        self._logger = FakeLogger(node_name)
        self._clock = FakeClock(world)
        self.destroyed = False
        world.nodes.append(self)

    # names
    def get_name(self) -> str:
        return self._name

    def get_namespace(self) -> str:
        return self._namespace

    def resolve(self, name: str) -> str:
        if name.startswith('/'):
            return _join(name)
        if name.startswith('~'):
            return _join(self._namespace, self._name, name[1:])
        return _join(self._namespace, name)

    # parameters
    def declare_parameter(self, name: str, value: Any = None, descriptor: Any = None,
                          ignore_override: bool = False) -> Parameter:
        if name in self._parameters:
            raise ParameterAlreadyDeclaredException(name)
        declared_type = _parameter_type(value)
        if descriptor is not None and descriptor.type:
            declared_type = ParameterType(descriptor.type)
        if name in self._overrides and not ignore_override:
            value = self._overrides[name]
            if (declared_type != ParameterType.NOT_SET
                    and _parameter_type(value) != declared_type):
                raise InvalidParameterTypeException(
                    f'parameter {name!r} declared {declared_type.name}, '
                    f'override is {_parameter_type(value).name}')
        parameter = Parameter(name, declared_type, value)
        self._parameters[name] = parameter
        self.parameter_descriptors[name] = descriptor
        return parameter

    def declare_parameters(self, namespace: str, parameters: list[tuple],
                           ignore_override: bool = False) -> list[Parameter]:
        out = []
        for item in parameters:
            name = f'{namespace}.{item[0]}' if namespace else item[0]
            value = item[1] if len(item) > 1 else None
            descriptor = item[2] if len(item) > 2 else None
            out.append(self.declare_parameter(name, value, descriptor, ignore_override))
        return out

    def has_parameter(self, name: str) -> bool:
        return name in self._parameters

    def get_parameter(self, name: str) -> Parameter:
        if name not in self._parameters:
            raise ParameterNotDeclaredException(name)
        return self._parameters[name]

    def get_parameters(self, names: list[str]) -> list[Parameter]:
        return [self.get_parameter(n) for n in names]

    # entities
    def create_publisher(self, msg_type: type, topic: str, qos_profile: Any, *,
                         callback_group: CallbackGroup | None = None,
                         event_callbacks: Any = None, qos_overriding_options: Any = None,
                         publisher_class: Any = None) -> FakePublisher:
        publisher = FakePublisher(self, msg_type, self.resolve(topic), _as_qos(qos_profile),
                                  callback_group)
        self.publishers.append(publisher)
        return publisher

    def create_subscription(self, msg_type: type, topic: str, callback: Callable,
                            qos_profile: Any, *,
                            callback_group: CallbackGroup | None = None,
                            event_callbacks: Any = None, qos_overriding_options: Any = None,
                            raw: bool = False) -> FakeSubscription:
        subscription = FakeSubscription(self, msg_type, self.resolve(topic), callback,
                                        _as_qos(qos_profile), callback_group)
        self.subscriptions.append(subscription)
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
        service = FakeService(self, srv_type, self.resolve(srv_name), callback,
                              callback_group)
        self.services.append(service)
        return service

    def create_client(self, srv_type: type, srv_name: str, *,
                      qos_profile: Any = qos_profile_services_default,
                      callback_group: CallbackGroup | None = None) -> FakeClient:
        client = FakeClient(self, srv_type, self.resolve(srv_name), callback_group)
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
        matches = [p for p in self.publishers if p.topic == topic]
        assert len(matches) == 1, f'{self._name}: {len(matches)} publishers on {topic}'
        return matches[0]

    def subscription(self, topic: str) -> FakeSubscription:
        matches = [s for s in self.subscriptions if s.topic == topic]
        assert len(matches) == 1, f'{self._name}: {len(matches)} subscriptions on {topic}'
        return matches[0]

    def service(self, name: str) -> FakeService:
        matches = [s for s in self.services if s.name == name]
        assert len(matches) == 1, f'{self._name}: {len(matches)} services named {name}'
        return matches[0]


class ExternalShutdownException(Exception):
    pass


class _Executor:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.nodes: list[Node] = []
        self.spun = False

    def add_node(self, node: Node) -> bool:
        self.nodes.append(node)
        return True

    def spin(self) -> None:
        # The fake returns at once: tests drive callbacks through FakeWorld.spin_for.
        self.spun = True
        if _WORLD is not None:
            _WORLD.executors.append(self)

    def spin_once(self, timeout_sec: float | None = None) -> None:
        self.spun = True

    def shutdown(self, timeout_sec: float | None = None) -> bool:
        return True


class SingleThreadedExecutor(_Executor):
    pass


class MultiThreadedExecutor(_Executor):
    pass


class FakeWorld:
    """Clock, middleware and executor of the fake ROS graph."""

    def __init__(self) -> None:
        self.initialized = False
        self.time_ns = 1_700_000_000 * 1_000_000_000   # a wall-clock-like epoch
        self.nodes: list[Node] = []
        self.queue: list[tuple[str, Any]] = []
        self.pending_calls: list[FakeClient] = []
        self.parameter_overrides: dict[str, dict[str, Any]] = {}
        self.executors: list[_Executor] = []
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

    def find_service(self, name: str) -> FakeService | None:
        for node in self.nodes:
            for service in node.services:
                if service.name == name:
                    return service
        return None

    def deliver(self) -> int:
        """Deliver every queued message (and answer pending service calls)."""
        count = 0
        while self.queue or self.pending_calls:
            queue, self.queue = self.queue, []
            for topic, msg in queue:
                for subscription in self.subscriptions():
                    if subscription.topic == topic:
                        subscription.deliver(msg)
                        count += 1
            calls, self.pending_calls = self.pending_calls, []
            for client in calls:
                client.answer_pending()
        return count

    def publish(self, topic: str, msg: Any) -> None:
        """Inject a message from outside any node (a camera, the driver, ...)."""
        self.queue.append((topic, msg))
        self.deliver()

    def spin_for(self, seconds: float) -> None:
        """Advance the clock by `seconds`, firing due timers in time order."""
        end = self.time_ns + int(round(seconds * 1e9))
        self.deliver()
        while True:
            timers = [t for n in self.nodes for t in n.timers if not t.cancelled]
            due = [t for t in timers if t.next_ns <= end]
            if not due:
                break
            timer = min(due, key=lambda t: t.next_ns)
            self.time_ns = max(self.time_ns, timer.next_ns)
            timer.next_ns += timer.timer_period_ns
            timer.fire()
            self.deliver()
        self.time_ns = end
        self.deliver()


_WORLD: FakeWorld | None = None


def _rclpy_init(*, args: Any = None, context: Any = None, domain_id: Any = None,
                signal_handler_options: Any = None) -> None:
    _WORLD.initialized = True
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
    (executor or SingleThreadedExecutor()).add_node(node)


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
        self.actions, self.condition = actions, condition


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
                             qos_profile_sensor_data=qos_profile_sensor_data,
                             qos_profile_system_default=qos_profile_system_default,
                             qos_profile_services_default=qos_profile_services_default)
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
        'rclpy.exceptions', InvalidParameterTypeException=InvalidParameterTypeException,
        ParameterNotDeclaredException=ParameterNotDeclaredException,
        ParameterAlreadyDeclaredException=ParameterAlreadyDeclaredException)
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
                                   IntegerRange=IntegerRange),
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
ROS_USING_MODULES = ('vptr_policy.policy_node', 'vptr_policy.arm_io', 'vptr_policy.ros_main',
                     'widowx_bringup.sim_robot_node', 'widowx_bringup.keyboard_teleop',
                     'widowx_bringup.scripted_collector', 'widowx_bringup.arm_setup',
                     'widowx_bringup.recording')


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
