import os

# Headless MuJoCo rendering (Mesa EGL) for every test that touches the simulator.
os.environ.setdefault('MUJOCO_GL', 'egl')
os.environ.setdefault('PYOPENGL_PLATFORM', 'egl')

# `make test-fast` deselects these (`-m "not slow"`): the micro-scale run of the whole demo
# pipeline and hadolint over the Docker files. `make test` runs them.
SLOW = {'test_demo_pipeline', 'test_launch_and_docker::test_dockerfiles_are_clean_under_hadolint'}


def pytest_collection_modifyitems(config, items):
    import pytest
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if os.path.dirname(str(item.path)) != here:
            continue
        if item.path.stem in SLOW or f'{item.path.stem}::{item.originalname}' in SLOW:
            item.add_marker(pytest.mark.slow)
