import os

# Headless MuJoCo rendering (Mesa EGL) for every test that touches the simulator.
os.environ.setdefault('MUJOCO_GL', 'egl')
os.environ.setdefault('PYOPENGL_PLATFORM', 'egl')
