"""The policy node and its controller on the simulated WidowX (widowx_bringup's SimRobot and
sim robot node): the policy's path through the arm interface it shares with the bringup."""
from checkpoints import make_random_checkpoint
import fake_ros
import numpy as np
from sim_nodes import SMALL_CAMERA, start_sim, TASK
from vptr_policy.control import PolicyController
from vptr_training.policy import load_policy
from vptr_training.sim.env import WidowXSimEnv
from widowx_bringup.arm_control import ControllerConfig
from widowx_bringup.sim_robot import SimRobot


def test_policy_node_drives_the_sim_through_topics(ros):
    """The policy node cannot tell the sim from the driver: the scripted expert plugged in
    as its policy completes the task through the ROS topics alone."""
    from vptr_training.sim.experts import make_expert
    sim = start_sim(ros, **SMALL_CAMERA)
    expert = make_expert(sim.env, seed=0)

    class ExpertPolicy:
        spec = {'task_names': [TASK], 'image_size': 64, 'control_hz': 5.0}

        def act(self, image, state, task):
            assert image.shape == (120, 160, 3)
            return expert(None)

    policy_module = fake_ros.import_fresh('vptr_policy.policy_node')
    policy_module.load_policy = lambda path, mode='actor', device='cpu': ExpertPolicy()
    ros.parameter_overrides['policy_node'] = dict(checkpoint_dir='/ckpt', autostart=True)
    policy_node = policy_module.PolicyNode()
    success = sim.publisher('/vptr/sim/success')
    for _ in range(40):
        ros.spin_for(0.2)
        if success.messages and success.messages[-1].data:
            break
    assert success.messages[-1].data, 'the expert did not finish the task through ROS'
    assert len(policy_node.publisher('/wx250s/commands/joint_group').messages) >= 10


def test_checkpoint_through_the_controller_matches_env_step(tmp_path):
    """A real checkpoint (random weights of the demo config) run through the policy node's
    path (camera frame -> Policy.act -> controller -> SimRobot) and through env.step on
    the same seeds: same success, same end-effector trajectory (to IK tolerance)."""
    policy = load_policy(make_random_checkpoint(tmp_path, [TASK], seed=1))
    for seed in range(2):
        env = WidowXSimEnv(TASK, image_size=policy.image_size, seed=seed)
        obs, _ = env.reset(seed=seed)
        direct = []
        for _ in range(15):
            obs, _, _, _, info = env.step(policy.act(obs['image'], obs['state'], TASK))
            direct.append(env.ee_state()[:3])
        direct_success = info['success']
        # The node path renders the camera frame at the size the env's observation uses
        # and lets Policy.act squash it, as it does with a real camera frame.
        width, height = env.obs_width, env.obs_height
        env.close()

        env = WidowXSimEnv(TASK, image_size=policy.image_size, seed=seed, render=False)
        robot = SimRobot(env)
        robot.reset(seed=seed)
        ctrl = PolicyController(policy, env.kin, ControllerConfig(task=TASK))
        ctrl.start()
        controlled = []
        for _ in range(15):
            now = robot.sim_time
            state = robot.joint_state()
            result = ctrl.step(robot.camera(width, height), now,
                               np.array(state.positions[:6]), state.positions[7], now, now)
            assert result.arm_cmd is not None, result.reason
            robot.apply_joint_group('arm', [float(v) for v in result.arm_cmd])
            robot.apply_joint_single('gripper', 250.0 if result.gripper_cmd else -250.0)
            robot.advance(0.2)
            controlled.append(env.ee_state()[:3])
        assert robot.success() == direct_success
        direct, controlled = np.array(direct), np.array(controlled)
        assert np.linalg.norm(direct[-1] - direct[0]) > 0.01      # the arm really moved
        np.testing.assert_allclose(controlled, direct, atol=3e-3)
        env.close()
