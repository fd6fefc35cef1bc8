# The lab machine's image: ROS 2 Humble + Interbotix X-Series arm stack + usb_cam + rosbag2
# (mcap) + this workspace (vptr_training, vptr_policy, widowx_bringup) with CPU PyTorch.
# Build from the repository root:  docker build -f docker/robot.Dockerfile -t vptr/robot .
FROM ros:humble-ros-base

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MUJOCO_GL=egl \
    PYOPENGL_PLATFORM=egl

# ROS packages come from the ROS apt repository, whose versions move with each sync; they
# are pinned by the ros:humble-ros-base snapshot rather than per package.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        git \
        python3-pip \
        python3-colcon-common-extensions \
        ros-humble-usb-cam \
        ros-humble-rosbag2-storage-mcap \
        ros-humble-diagnostic-msgs \
        libegl1 \
        libgles2 \
        libgl1-mesa-dri \
        xterm \
    && rm -rf /var/lib/apt/lists/*

# Interbotix packages built from source the way xsarm_amd64_install.sh does for humble:
# the three repositories at their humble branch, the driver submodules, the COLCON_IGNORE
# markers the installer removes (without that colcon does not see interbotix_xs_sdk or
# interbotix_xs_msgs), rosdep, colcon.
# Only what the arm driver and its Python API need is built (no MoveIt, Gazebo, perception).
ARG INTERBOTIX_BRANCH=humble
WORKDIR /opt/interbotix_ws/src
RUN git clone --depth 1 -b "${INTERBOTIX_BRANCH}" \
        https://github.com/Interbotix/interbotix_ros_core.git \
    && git clone --depth 1 -b "${INTERBOTIX_BRANCH}" \
        https://github.com/Interbotix/interbotix_ros_manipulators.git \
    && git clone --depth 1 -b "${INTERBOTIX_BRANCH}" \
        https://github.com/Interbotix/interbotix_ros_toolboxes.git \
    && git -C interbotix_ros_core submodule update --init --depth 1 \
        interbotix_ros_xseries/dynamixel_workbench_toolbox \
        interbotix_ros_xseries/interbotix_xs_driver \
    && rm -f interbotix_ros_core/interbotix_ros_xseries/COLCON_IGNORE \
        interbotix_ros_toolboxes/interbotix_common_toolbox/interbotix_moveit_interface/COLCON_IGNORE \
        interbotix_ros_toolboxes/interbotix_common_toolbox/interbotix_moveit_interface_msgs/COLCON_IGNORE \
        interbotix_ros_toolboxes/interbotix_rpi_toolbox/COLCON_IGNORE \
    && python3 -m pip install modern_robotics==1.1.1 transforms3d==0.4.2

WORKDIR /opt/interbotix_ws
ARG INTERBOTIX_PACKAGES="interbotix_xsarm_control interbotix_xs_modules interbotix_xs_msgs"
# hadolint ignore=DL3008
RUN . /opt/ros/humble/setup.sh \
    && apt-get update \
    && rosdep update --rosdistro humble \
    && colcon list --packages-up-to ${INTERBOTIX_PACKAGES} --paths-only \
        | xargs rosdep install --ignore-src -r -y --from-paths \
    && colcon build --packages-up-to ${INTERBOTIX_PACKAGES} \
    && rm -rf build log /var/lib/apt/lists/*

# Python dependencies of vptr_training: CPU torch from the PyTorch index, then the rest
# (Python 3.10 pins: see docker/requirements-robot.txt).
COPY docker/requirements-robot.txt /tmp/
RUN python3 -m pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
    && python3 -m pip install -r /tmp/requirements-robot.txt

# This workspace. The import check at the end fails the build (not the robot) if a pip
# package pulled in NumPy 2: Humble's message packages are compiled against NumPy 1.x.
WORKDIR /opt/vptr_ws
COPY vptr_ws/src src
RUN . /opt/ros/humble/setup.sh \
    && . /opt/interbotix_ws/install/setup.sh \
    && colcon build --packages-select vptr_training vptr_policy widowx_bringup \
    && rm -rf build log \
    && . /opt/vptr_ws/install/setup.sh \
    && python3 -c "import numpy, sensor_msgs.msg, interbotix_xs_msgs.msg, interbotix_xs_modules, vptr_policy.policy_node, vptr_training.sim; print('numpy', numpy.__version__)"

# The whole-system launch files (they only include the packages' launch files).
COPY launch /opt/vptr/launch
COPY docker/entrypoint.sh /opt/vptr/entrypoint.sh

WORKDIR /opt/vptr
ENTRYPOINT ["/opt/vptr/entrypoint.sh"]
CMD ["bash"]
