"""The policy runtime: a checkpoint directory in, raw WidowX actions out.

    policy = load_policy('runs/demo_finetune', mode='actor')     # or 'q-rerank'
    action = policy.act(camera_rgb, state7, 'put_carrot_on_plate')  # (7,) raw, Bridge units

`act` does the whole observation pipeline itself (squash_resize to the trained image size,
the one preprocessing function shared with the converters and the sim), maps the task name
to its one-hot slot and unscales the network's [-1, 1] action to metres / radians / gripper.
No gradients, no training state: only model.safetensors, config.yaml and spec.json are read.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vptr_training.algos.base import ActingAgent
from vptr_training.errors import CheckpointError, VptrError
from vptr_training.robot.conventions import ACTION_MODES
from vptr_training.robot.image import squash_resize

MODES = ACTION_MODES      # defined in robot/conventions.py (no torch import needed there)


class Policy:
    """An agent restored from a checkpoint, acting on raw observations."""

    def __init__(self, agent: ActingAgent, spec: dict[str, Any], mode: str = 'actor',
                 device: str | torch.device = 'cpu', path: Path | None = None,
                 num_samples: int = 16) -> None:
        if mode not in MODES:
            raise VptrError(f'policy mode {mode!r} is not one of {", ".join(MODES)}')
        if mode == 'q-rerank' and spec.get('algo') != 'cql':
            raise CheckpointError(f'{path}: q-rerank needs a critic, this is a '
                                  f'{spec.get("algo")!r} checkpoint; use mode=actor')
        self.agent = agent.eval()
        self.spec = spec
        self.mode = mode
        self.device = torch.device(device)
        self.path = path
        self.num_samples = num_samples
        self.image_size = int(spec['image_size'])
        self.task_names: list[str] = list(spec['task_names'])
        self._task_index = {name: i for i, name in enumerate(self.task_names)}
        self._action_low = np.asarray(spec['action_low'], dtype=np.float32)
        self._action_high = np.asarray(spec['action_high'], dtype=np.float32)

    def task_id(self, task: str) -> int:
        if task not in self._task_index:
            raise VptrError(f'unknown task {task!r}; this policy knows: '
                            f'{", ".join(self.task_names)}')
        return self._task_index[task]

    def _inputs(self, image: np.ndarray, state: np.ndarray, task: str
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise VptrError(f'image must be an (H, W, 3) uint8 RGB array, got shape '
                            f'{image.shape} dtype {image.dtype}')
        if image.shape[:2] != (self.image_size, self.image_size):
            image = squash_resize(image, self.image_size)
        state = np.array(state, dtype=np.float32).reshape(-1)
        if state.shape != (len(self.spec['state_names']),) or not np.all(np.isfinite(state)):
            raise VptrError(f'state must be {len(self.spec["state_names"])} finite numbers '
                            f'({", ".join(self.spec["state_names"])}), got {state.tolist()}')
        task_id = torch.tensor([self.task_id(task)], dtype=torch.int64, device=self.device)
        return (torch.from_numpy(np.array(image)).unsqueeze(0).to(self.device),
                torch.from_numpy(state).unsqueeze(0).to(self.device), task_id)

    def act(self, image: np.ndarray, state: np.ndarray, task: str) -> np.ndarray:
        """(7,) float32 raw action [dx, dy, dz, droll, dpitch, dyaw, gripper] for one RGB
        image of any size, the 7-D state and a task name."""
        images, states, task_ids = self._inputs(image, state, task)
        with torch.inference_mode():
            scaled = self.agent.act(images, states, task_ids, mode=self.mode,
                                    num_samples=self.num_samples)
        scaled = scaled.float().cpu().numpy().reshape(-1)
        return self._unscale(scaled)

    def _unscale(self, scaled: np.ndarray) -> np.ndarray:
        """[-1, 1] -> raw units with the action box the checkpoint was trained with (its
        spec), not the code's current constants."""
        a = np.clip(scaled, -1.0, 1.0)
        return (self._action_low + (a + 1) * 0.5 * (self._action_high - self._action_low)
                ).astype(np.float32)

    @property
    def has_critic(self) -> bool:
        """Whether value() is available (CQL checkpoints carry a critic, BC ones do not)."""
        return self.spec.get('algo') == 'cql'

    def value(self, image: np.ndarray, state: np.ndarray, task: str) -> float:
        """min_k Q_k(s, pi(s)) of the critic for one observation (CQL checkpoints)."""
        images, states, task_ids = self._inputs(image, state, task)
        with torch.inference_mode():
            return float(self.agent.value(images, states, task_ids).reshape(-1)[0])

    def values(self, images: np.ndarray, states: np.ndarray, task: str,
               batch_size: int = 64) -> np.ndarray:
        """Values of N observations already at the model size: (N, S, S, 3), (N, 7)."""
        images = np.asarray(images)
        if images.shape[1:3] != (self.image_size, self.image_size):
            images = np.stack([squash_resize(im, self.image_size) for im in images])
        out = np.empty(len(images), dtype=np.float32)
        task_id = self.task_id(task)
        with torch.inference_mode():
            for lo in range(0, len(images), batch_size):
                hi = min(len(images), lo + batch_size)
                im = torch.from_numpy(np.array(images[lo:hi])).to(self.device)   # copy: memmaps
                st = torch.from_numpy(np.array(states[lo:hi], np.float32)).to(self.device)
                ids = torch.full((hi - lo,), task_id, dtype=torch.int64, device=self.device)
                out[lo:hi] = self.agent.value(im, st, ids).reshape(-1).float().cpu().numpy()
        return out


def load_policy(checkpoint_dir: str | os.PathLike, mode: str = 'actor',
                device: str = 'cpu', expect: dict[str, Any] | None = None,
                num_samples: int = 16) -> Policy:
    """Restore a CQL or BC agent from a checkpoint directory (or a run directory: its
    latest checkpoint). `expect` checks spec fields (e.g. {'image_size': 128})."""
    from vptr_training.algos import make_agent, ROBOT_ALGOS
    from vptr_training.training.checkpoint import (CONFIG_FILE, load_checkpoint,
                                                   state_dict_mismatch)
    from vptr_training.training.config import config_from_dict
    checkpoint = load_checkpoint(checkpoint_dir, expect=expect, load_train_state=False,
                                 map_location='cpu')
    spec = checkpoint.spec
    if spec.get('algo') not in ROBOT_ALGOS:
        raise CheckpointError(f'{checkpoint.path}: a {spec.get("algo")!r} checkpoint has no '
                              'policy (phase-1 checkpoints only carry an encoder); use a '
                              'train or finetune checkpoint')
    try:
        config = config_from_dict(checkpoint.config, str(checkpoint.path / CONFIG_FILE))
    except VptrError as exc:
        raise CheckpointError(f'{checkpoint.path}: unusable config.yaml ({exc})') from None
    agent = make_agent(config, len(spec['task_names']))   # weights: this checkpoint's
    try:
        agent.load_state_dict(checkpoint.model_state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f'{checkpoint.path}: weights do not fit the agent its config '
                              f'describes: {state_dict_mismatch(exc)}') from None
    agent.to(device)
    return Policy(agent, spec, mode=mode, device=device, path=checkpoint.path,
                  num_samples=num_samples)
