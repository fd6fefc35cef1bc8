"""V-PTR: value-function pre-training on video for robotic offline RL (ROS-free core)."""

__version__ = '0.1.0'
