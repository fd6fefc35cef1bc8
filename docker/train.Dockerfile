# GPU training image: CUDA PyTorch + vptr_training (no ROS).
# Build from the repository root:  docker build -f docker/train.Dockerfile -t vptr/train .
ARG BASE_IMAGE=pytorch/pytorch:2.13.0-cuda12.8-cudnn9-runtime
FROM ${BASE_IMAGE}

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MUJOCO_GL=egl \
    PYOPENGL_PLATFORM=egl \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics

# EGL for headless MuJoCo rendering in `vptr eval-sim` / `vptr demo`.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libegl1 libgles2 libgl1-mesa-dri \
    && rm -rf /var/lib/apt/lists/*

# The base image's CUDA torch 2.13.0 satisfies requirements.txt's torch==2.13.0, so pip
# keeps it and installs only the rest.
WORKDIR /opt/vptr
COPY requirements.txt /opt/vptr/requirements.txt
RUN python -m pip install -r requirements.txt

COPY vptr_ws/src/vptr_training /opt/vptr/vptr_training
RUN python -m pip install --no-deps /opt/vptr/vptr_training \
    && python -c "import vptr_training, torch; print('torch', torch.__version__)"

WORKDIR /work
ENTRYPOINT ["vptr"]
CMD ["--help"]
