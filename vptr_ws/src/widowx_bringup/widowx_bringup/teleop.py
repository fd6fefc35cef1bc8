"""Keyboard teleoperation without ROS: keys -> raw Bridge actions, and a non-blocking key
reader for a terminal.

Movement keys add one step (translation_step m or rotation_step rad) to the delta of the
next 5 Hz control step; several presses within a step add up, clipped to the action
bounds. The gripper is a toggle (space). Episode keys produce events for the node.

    w/s: +x/-x (away from / towards the base)     a/d: +y/-y (left / right)
    r/f: +z/-z (up / down)                         u/o: +roll/-roll
    i/k: +pitch/-pitch                             j/l: +yaw/-yaw
    space: toggle gripper   n: new episode   y: end episode (success)
    x: end episode (failure)   h: go home (pauses)   q / Ctrl-C: quit
"""
from __future__ import annotations

import os
import select
from typing import Any

import numpy as np
from vptr_training.robot.conventions import ACTION_HIGH, ACTION_LOW

# key -> (action dimension, sign)
MOVE_KEYS: dict[str, tuple[int, int]] = {
    'w': (0, +1), 's': (0, -1), 'a': (1, +1), 'd': (1, -1), 'r': (2, +1), 'f': (2, -1),
    'u': (3, +1), 'o': (3, -1), 'i': (4, +1), 'k': (4, -1), 'j': (5, +1), 'l': (5, -1),
}
EVENT_KEYS: dict[str, str] = {
    ' ': 'toggle_gripper', 'n': 'start', 'y': 'end_success', 'x': 'end_failure',
    'h': 'home', 'q': 'quit', '\x03': 'quit',
}
HELP = __doc__.split('\n\n', 2)[2] if __doc__ else ''


class TeleopState:
    """Accumulates key presses into the next action."""

    def __init__(self, translation_step: float = 0.02, rotation_step: float = 0.1) -> None:
        self.translation_step = float(translation_step)
        self.rotation_step = float(rotation_step)
        self.gripper_open = True
        self._pending = np.zeros(6)

    def press(self, key: str) -> str | None:
        """Handle one key; returns an event name for episode/mode keys, else None."""
        key = key.lower() if key.isalpha() else key
        if key in MOVE_KEYS:
            dim, sign = MOVE_KEYS[key]
            step = self.translation_step if dim < 3 else self.rotation_step
            self._pending[dim] = np.clip(self._pending[dim] + sign * step,
                                         ACTION_LOW[dim], ACTION_HIGH[dim])
            return None
        event = EVENT_KEYS.get(key)
        if event == 'toggle_gripper':
            self.gripper_open = not self.gripper_open
        return event

    def take_action(self) -> np.ndarray:
        """The raw 7-D action for this control step; clears the pending movement."""
        action = np.zeros(7, dtype=np.float32)
        action[:6] = self._pending
        action[6] = 1.0 if self.gripper_open else 0.0
        self._pending[:] = 0.0
        return action

    def clear(self) -> None:
        self._pending[:] = 0.0


class KeyReader:
    """Reads whatever keys are waiting on a file descriptor, never blocking.

    On a terminal it switches to cbreak mode (keys arrive without Enter, no echo) and
    `close()` restores the terminal; on a pipe it just reads bytes.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._saved: Any = None
        if os.isatty(fd):
            import termios
            import tty
            self._saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)

    def read_keys(self) -> str:
        keys = []
        while select.select([self.fd], [], [], 0.0)[0]:
            chunk = os.read(self.fd, 64)
            if not chunk:       # end of file: nothing more will come
                break
            keys.append(chunk.decode('utf-8', errors='ignore'))
        return ''.join(keys)

    def close(self) -> None:
        if self._saved is not None:
            import termios
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None
