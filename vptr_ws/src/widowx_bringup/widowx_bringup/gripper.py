"""The gripper's PWM effort, decided without ROS.

In PWM mode an effort keeps the servo pushing until another effort replaces it. Interbotix's
own gripper interface (InterbotixGripperXSInterface.gripper_state) therefore zeroes the
effort once the left finger reaches its limit in the direction it is pushed; without that the
servo pushes against its stop until it overloads and the driver turns its torque off. This
class applies the same rule to the efforts the controller asks for, and zeroes the effort on
request (stop, pause, exit). An object held between the fingers keeps them short of the
limit, so the grip holds, as with Interbotix's interface.
"""
from __future__ import annotations

import math

from vptr_training.robot.kinematics import FINGER_LIMITS

# PWM efforts of the wx250s gripper servo (Interbotix's default gripper pressure).
GRIPPER_OPEN_EFFORT = 250.0
GRIPPER_CLOSE_EFFORT = -250.0


class GripperPWM:
    """Which effort to send this tick; None means nothing new to send."""

    def __init__(self, open_effort: float, close_effort: float,
                 finger_limits: tuple[float, float] = FINGER_LIMITS) -> None:
        self.open_effort = float(open_effort)
        self.close_effort = float(close_effort)
        self.lower, self.upper = (float(v) for v in finger_limits)
        self.effort = 0.0          # what the servo was last told (0 at start-up)

    def _at_limit(self, effort: float, finger: float | None) -> bool:
        if finger is None or not math.isfinite(finger):
            return False           # unknown position: cannot tell, keep what is in effect
        return (effort > 0 and finger >= self.upper) or (effort < 0 and finger <= self.lower)

    def _set(self, effort: float) -> float | None:
        if effort == self.effort:
            return None
        self.effort = effort
        return effort

    def command(self, want_open: bool | None, finger: float | None) -> float | None:
        """`want_open`: the controller's gripper command (None: no new command this tick);
        `finger`: the latest left finger position (m), None if unknown."""
        if want_open is not None:
            wanted = self.open_effort if want_open else self.close_effort
            return self._set(0.0 if self._at_limit(wanted, finger) else wanted)
        if self._at_limit(self.effort, finger):
            return self._set(0.0)
        return None

    def stop(self) -> float | None:
        """Zero the effort (stop, pause, exit); None when it already is zero."""
        return self._set(0.0)
