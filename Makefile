# The four commands a user needs: setup, demo, test, bench. All run inside .venv.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
WS := vptr_ws
COLCON := $(VENV)/bin/colcon
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

.PHONY: setup demo test test-fast lint colcon bench clean ros-check

# Idempotent: re-running only installs what changed in requirements*.txt.
$(VENV)/.stamp: requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e $(WS)/src/vptr_training -e $(WS)/src/vptr_policy \
		-e $(WS)/src/widowx_bringup
	touch $@

setup: $(VENV)/.stamp

demo: setup
	$(VENV)/bin/vptr demo $(DEMO_ARGS)

lint: setup
	$(VENV)/bin/flake8 vptr_ws/src launch bench tests tools

# colcon builds the three ament_python packages and runs their pytest suites against the
# installed copies; the repo-level tests (launch files, Docker, the pipeline smoke test)
# run last.
colcon: setup
	cd $(WS) && ../$(COLCON) build --symlink-install --event-handlers console_cohesion-
	cd $(WS) && ../$(COLCON) test --executor sequential --return-code-on-test-failure \
		--event-handlers console_direct+ \
		--pytest-args -p no:cacheprovider -n 2 --timeout 600 --timeout-method thread

test: lint colcon
	$(PY) -m pytest -p no:cacheprovider -n 2 --timeout 1200 --timeout-method thread tests

# The inner loop: lint, then every package's tests and the repo-level tests straight from
# the sources (no colcon build), without the tests marked slow. `make test` runs them all.
test-fast: lint
	$(PY) -m pytest -p no:cacheprovider -n 2 --timeout 600 --timeout-method thread \
		-m "not slow" vptr_ws/src/widowx_bringup/test vptr_ws/src/vptr_policy/test tests \
		vptr_ws/src/vptr_training/test

bench: setup
	$(PY) bench/run_all.py

# Not part of `test` or CI: builds a minimal ROS 2 Humble from source once (in
# ROS2_CACHE, default /root/ros2_humble) and runs the nodes and launch files under it with
# launch_testing. See docs/ros_check.md.
ros-check: setup
	tools/ros_check/run.sh

clean:
	rm -rf $(WS)/build $(WS)/install $(WS)/log
