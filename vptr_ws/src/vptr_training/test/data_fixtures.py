"""Builders of small inputs in the exact real formats, shared by the test_data_* files.

Bridge raw trajectories (pickles of numpy arrays written by `pickle`, JPEGs by cv2),
`out.npy` (np.save of a list of trajectory dicts), RLDS TFRecords in both key layouts,
and videos (cv2.VideoWriter) / frame folders with a manifest.csv.
"""
from __future__ import annotations

import csv
from pathlib import Path
import pickle

import cv2
import numpy as np

from vptr_training.data.tfrecord import make_example, write_records

H, W = 48, 64          # small camera frames (real Bridge: 480x640)


def frame(t: int, seed: int = 0) -> np.ndarray:
    """A distinctive RGB frame for step t (a gradient plus a moving block)."""
    rng = np.random.default_rng(seed * 1000 + t)
    img = np.zeros((H, W, 3), np.uint8)
    img[..., 0] = np.linspace(0, 255, W, dtype=np.uint8)[None, :]
    img[..., 1] = (t * 37 + seed * 11) % 256
    img[..., 2] = rng.integers(0, 256)
    x = (t * 7) % (W - 10)
    img[10:30, x:x + 10] = 255
    return img


def jpeg_bytes(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode('.jpg', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes()


def decoded_jpeg(path_or_bytes) -> np.ndarray:
    """What a converter sees after decoding (JPEG is lossy)."""
    data = Path(path_or_bytes).read_bytes() if not isinstance(path_or_bytes, bytes) \
        else path_or_bytes
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class RosMessageStandIn:
    """Stands for the ROS 1 message classes pickled in agent_data.pkl."""

    def __reduce__(self):
        return (print, ('agent_data.pkl must never be unpickled',))


def make_raw_traj(traj: Path, steps: int, seed: int = 0, lang: str | None = 'pick up corn',
                  confidence: bool = False, cameras: int = 1, scripted: bool = False
                  ) -> dict:
    """A Bridge raw trajectory folder with `steps` actions and steps+1 observations."""
    rng = np.random.default_rng(seed)
    traj.mkdir(parents=True)
    n = steps + 1
    for k in range(cameras):
        (traj / f'images{k}').mkdir()
        for t in range(n):
            (traj / f'images{k}' / f'im_{t}.jpg').write_bytes(jpeg_bytes(frame(t, seed + k)))
    states = rng.normal(size=(n, 7)) * 0.1
    states[:, 6] = rng.uniform(0, 1, n)
    actions = rng.normal(size=(steps, 7)) * 0.01
    obs = {'full_state': states, 'state': states[:, :6], 'qpos': rng.normal(size=(n, 6)),
           'qvel': rng.normal(size=(n, 6)), 'eef_transform': np.tile(np.eye(4), (n, 1, 1)),
           'desired_state': states.copy(), 'time_stamp': 1.6e9 + np.arange(n) * 0.2,
           'high_bound': np.ones(5), 'low_bound': -np.ones(5), 'env_done': np.zeros(n)}
    with open(traj / 'obs_dict.pkl', 'wb') as f:
        pickle.dump(obs, f)
    if scripted:
        policy = [a for a in actions]
    else:
        policy = [{'actions': a, 'new_robot_transform': np.eye(4),
                   'delta_robot_transform': np.eye(4), 'policy_type': 'VRTeleopPolicy'}
                  for a in actions]
    with open(traj / 'policy_out.pkl', 'wb') as f:
        pickle.dump(policy, f)
    with open(traj / 'agent_data.pkl', 'wb') as f:
        pickle.dump({'robot_state': RosMessageStandIn()}, f)
    if lang is not None:
        text = lang + '\n' + ('confidence: 1\n' if confidence else '')
        (traj / 'lang.txt').write_text(text)
    return {'states': states, 'actions': actions, 'dir': traj}


def make_raw_tree(root: Path) -> dict:
    """Two dated collections of one task (one before 2021-07-23), an older layout without
    the <NN> level, and a flat data/traj0."""
    made = {}
    group = root / 'toykitchen1' / 'put_corn_in_pot' / '00'
    made['new0'] = make_raw_traj(group / '2021-08-02_10-00-00' / 'raw' / 'traj_group0' /
                                 'traj0', 4, seed=1, confidence=True)
    made['new1'] = make_raw_traj(group / '2021-08-02_10-00-00' / 'raw' / 'traj_group0' /
                                 'traj1', 3, seed=2, lang='put the corn in the pot')
    made['old0'] = make_raw_traj(group / '2021-06-10_09-00-00' / 'raw' / 'traj_group0' /
                                 'traj0', 5, seed=3, lang=None)
    made['nolevel'] = make_raw_traj(root / 'sweep_beans' / '2022-01-05_12-00-00' / 'raw' /
                                    'traj_group1' / 'traj3', 3, seed=4, scripted=True)
    return made


def make_out_npy(path: Path, lengths: list[int], seed: int = 0,
                 language: str = 'stack the blocks') -> list[dict]:
    """np.save of a list of trajectory dicts (the Bridge numpy conversion)."""
    rng = np.random.default_rng(seed)
    trajs = []
    for k, steps in enumerate(lengths):
        images = [frame(t, seed + k) for t in range(steps + 1)]
        states = rng.normal(size=(steps + 1, 7)).astype(np.float32)
        obs = [{'images0': images[t], 'state': states[t]} for t in range(steps)]
        next_obs = [{'images0': images[t + 1], 'state': states[t + 1]} for t in range(steps)]
        trajs.append({'observations': obs, 'next_observations': next_obs,
                      'actions': rng.normal(size=(steps, 7)).astype(np.float32),
                      'terminals': np.eye(steps)[-1].astype(bool),
                      'language': [language] * steps, 'rewards': np.zeros(steps)})
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.array(trajs, dtype=object), allow_pickle=True)
    return trajs


def rlds_bridge_dataset_example(steps: int, seed: int, language: str = 'open the drawer',
                                is_last: bool = True, file_path: str = '') -> tuple:
    """One episode in the rail-berkeley bridge_dataset 1.0.0 layout."""
    rng = np.random.default_rng(seed)
    frames = [frame(t, seed) for t in range(steps)]
    states = rng.normal(size=(steps, 7)).astype(np.float32)
    actions = rng.normal(size=(steps, 7)).astype(np.float32)
    last = np.zeros(steps, np.int64)
    last[-1] = int(is_last)
    feats = {
        'steps/observation/image_0': [jpeg_bytes(f) for f in frames],
        # a missing camera: zero-filled JPEGs, and a has_image flag that lies
        'steps/observation/image_1': [jpeg_bytes(np.zeros((H, W, 3), np.uint8))] * steps,
        'steps/observation/state': states,
        'steps/action': actions,
        'steps/language_instruction': [language.encode()] * steps,
        'steps/language_embedding': np.zeros(steps * 4, np.float32),
        'steps/is_first': np.eye(steps, dtype=np.int64)[0],
        'steps/is_last': last, 'steps/is_terminal': last,
        'steps/reward': last.astype(np.float32), 'steps/discount': np.ones(steps, np.float32),
        'episode_metadata/file_path': [file_path.encode()],
        'episode_metadata/has_image_0': np.array([0]),
        'episode_metadata/has_language': np.array([1]),
    }
    return make_example(feats), frames, states, actions


def rlds_oxe_example(steps: int, seed: int, language: str = 'put the spoon on the towel'
                     ) -> tuple:
    """One episode in the Open X-Embodiment bridge 0.1.0 layout (dict-valued action)."""
    rng = np.random.default_rng(seed)
    frames = [frame(t, seed) for t in range(steps)]
    states = rng.normal(size=(steps, 7)).astype(np.float32)
    world = rng.normal(size=(steps, 3)).astype(np.float32)
    rot = rng.normal(size=(steps, 3)).astype(np.float32)
    grip = rng.integers(0, 2, steps)
    last = np.zeros(steps, np.int64)
    last[-1] = 1
    feats = {
        'steps/observation/image': [jpeg_bytes(f) for f in frames],
        'steps/observation/state': states,
        'steps/observation/natural_language_instruction': [language.encode()] * steps,
        'steps/observation/natural_language_embedding': np.zeros(steps * 4, np.float32),
        'steps/action/world_vector': world, 'steps/action/rotation_delta': rot,
        'steps/action/open_gripper': grip,
        'steps/action/terminate_episode': last.astype(np.float32),
        'steps/is_first': np.eye(steps, dtype=np.int64)[0], 'steps/is_last': last,
        'steps/is_terminal': last, 'steps/reward': last.astype(np.float32),
    }
    actions = np.concatenate([world, rot, grip[:, None].astype(np.float32)], axis=1)
    return make_example(feats), frames, states, actions


def write_tfrecord(path: Path, examples: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_records(path, examples)


# ---------------------------------------------------------------------------- video

def video_frame(i: int, h: int = 72, w: int = 96) -> np.ndarray:
    """BGR frame whose brightness encodes its index (survives lossy codecs)."""
    img = np.full((h, w, 3), (i * 2) % 256, np.uint8)
    return img


def write_video(path: Path, n: int, fps: float, fourcc: str = 'mp4v') -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (96, 72))
    assert writer.isOpened(), f'cannot write {path}'
    for i in range(n):
        writer.write(video_frame(i))
    writer.release()


def write_frame_folders(root: Path, clips: dict[str, tuple[int, str]]) -> None:
    """Frame folders `<clip>/%06d.jpg` plus root/manifest.csv (directory,num_frames,text)."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, (n, text) in clips.items():
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(n):
            cv2.imwrite(str(folder / f'{i:06d}.jpg'), video_frame(i))
        rows.append({'directory': name, 'num_frames': n, 'text': text})
    with open(root / 'manifest.csv', 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=['directory', 'num_frames', 'text'])
        writer.writeheader()
        writer.writerows(rows)
