"""vptr eval-sim: Wilson intervals, spec checks, and the success / progress counts."""
import numpy as np
import pytest

from vptr_training import evaluation, sim
from vptr_training.errors import VptrError
from vptr_training.sim import make_expert

TASK = 'put_cube_in_bowl'


def test_wilson_interval_reference_values():
    # Reference values of the Wilson score interval (z = 1.96).
    low, high = evaluation.wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    low, high = evaluation.wilson_interval(0, 8)
    assert low == 0.0 and high == pytest.approx(0.3244, abs=1e-4)
    assert evaluation.wilson_interval(12, 12)[1] == 1.0


class _Spec:
    spec = {'task_names': [TASK], 'image_size': 16, 'control_hz': 5.0,
            'action_names': ['dx', 'dy', 'dz', 'droll', 'dpitch', 'dyaw', 'gripper']}
    has_critic = False


class IdlePolicy(_Spec):
    def act(self, image, state, task):
        return np.array([0, 0, 0, 0, 0, 0, 1.0], np.float32)


class ExpertPolicy(_Spec):
    """The scripted expert in the policy's place (it reads the simulator, not pixels)."""

    expert = None

    def act(self, image, state, task):
        return self.expert(None)


@pytest.fixture
def expert_policy(monkeypatch):
    policy = ExpertPolicy()

    class ExpertEnv(sim.WidowXSimEnv):
        def reset(self, *args, **kwargs):
            out = super().reset(*args, **kwargs)
            policy.expert = make_expert(self, seed=0)
            return out

    monkeypatch.setattr(sim, 'WidowXSimEnv', ExpertEnv)
    return policy


def test_expert_reaches_lifts_and_succeeds(expert_policy):
    [result] = evaluation.evaluate_policy(expert_policy, TASK, 2, conditions=['seen'],
                                          progress=False)
    assert result.successes == result.reached == result.lifted == 2
    assert result.ci_low > 0.0


def test_idle_policy_makes_no_progress():
    [result] = evaluation.evaluate_policy(IdlePolicy(), TASK, 2, conditions=['seen'],
                                          progress=False)
    assert (result.successes, result.reached, result.lifted) == (0, 0, 0)
    assert result.mean_steps == 40          # ran to the time limit


def test_checkpoint_that_does_not_fit_the_simulator():
    with pytest.raises(VptrError, match='not one the checkpoint was trained on'):
        evaluation.check_policy_matches_env(IdlePolicy(), 'open_drawer')
    policy = IdlePolicy()
    policy.spec = dict(policy.spec, task_names=['fold_laundry'])
    with pytest.raises(VptrError, match='does not exist in the simulator'):
        evaluation.check_policy_matches_env(policy, 'fold_laundry')
    policy.spec = dict(IdlePolicy.spec, action_names=['dx', 'dy', 'dz'])
    with pytest.raises(VptrError, match='3-D actions'):
        evaluation.check_policy_matches_env(policy, TASK)


def test_progress_false_prints_nothing(capsys):
    evaluation.evaluate_policy(IdlePolicy(), TASK, 2, conditions=['seen'], progress=False)
    assert capsys.readouterr().out == ''


def test_rollout_videos_and_value_plots_are_written(tmp_path):
    import cv2

    class CriticPolicy(IdlePolicy):
        has_critic = True

        def value(self, image, state, task):
            return float(state[2])          # any number that changes along the episode

    [result] = evaluation.evaluate_policy(CriticPolicy(), TASK, 2, out_dir=tmp_path,
                                          conditions=['seen'], progress=False)
    assert len(result.videos) == 1 and len(result.value_plots) == 1
    video = cv2.VideoCapture(str(tmp_path / result.videos[0]))
    frames = 0
    while video.read()[0]:
        frames += 1
    assert frames >= 40                     # one frame per control step of the episode
    plot = tmp_path / result.value_plots[0]
    assert plot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_target_task_comes_from_the_checkpoint_not_the_working_directory(tmp_path):
    """A config's data paths may be relative to where training ran (`make demo` writes
    demo_out/...): the target task is read from the checkpoint's stats.json instead."""
    import json
    from vptr_training.training.checkpoint import MODEL_FILE
    checkpoint = tmp_path / 'run' / 'checkpoints' / 'step_00000010'
    checkpoint.mkdir(parents=True)
    (checkpoint / MODEL_FILE).write_bytes(b'')
    (checkpoint / 'config.yaml').write_text('data:\n  target: demo_out/data/stores/target\n')
    (checkpoint / 'stats.json').write_text(json.dumps(
        {'prior': {'tasks': ['open_drawer', 'close_drawer']},
         'target': {'tasks': ['put_corn_in_bowl']}}))
    assert evaluation._target_task_of(checkpoint) == 'put_corn_in_bowl'
    (checkpoint / 'stats.json').write_text(json.dumps({'prior': {'tasks': ['open_drawer']}}))
    assert evaluation._target_task_of(checkpoint) == ''   # no target store: --task needed


def test_the_first_successful_rollout_is_filmed_if_episode_0_fails(tmp_path, monkeypatch):
    """A report shows a typical rollout (episode 0) and, if that one failed, the first
    episode that succeeded."""

    class SucceedsFromTheSecondEpisode(ExpertPolicy):
        episodes = 0

        def act(self, image, state, task):
            return IdlePolicy().act(image, state, task) if self.episodes == 1 else \
                self.expert(None)

    policy = SucceedsFromTheSecondEpisode()
    original_reset = sim.WidowXSimEnv.reset

    class CountingEnv(sim.WidowXSimEnv):
        def reset(self, *args, **kwargs):
            out = original_reset(self, *args, **kwargs)
            policy.episodes += 1
            policy.expert = make_expert(self, seed=0)
            return out

    monkeypatch.setattr(sim, 'WidowXSimEnv', CountingEnv)
    [result] = evaluation.evaluate_policy(policy, TASK, 3, out_dir=tmp_path,
                                          conditions=['seen'], progress=False, label='p')
    assert result.successes == 2
    assert result.videos == ['p_seen_ep00.mp4', 'p_seen_ep01_success.mp4']
    assert all((tmp_path / v).stat().st_size > 0 for v in result.videos)
