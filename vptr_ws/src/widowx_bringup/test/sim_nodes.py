"""Starting the simulated robot node under the fake rclpy: shared by the bringup tests and
vptr_policy's tests of the policy driving the sim (its conftest puts this folder on the path).
"""
import fake_ros

TASK = 'put_carrot_on_plate'
SMALL_CAMERA = dict(camera_width=160, camera_height=120)


def start_sim(ros, **params):
    """A fresh SimRobotNode of TASK with `params` as its parameter overrides."""
    module = fake_ros.import_fresh('widowx_bringup.sim_robot_node')
    ros.parameter_overrides['sim_robot'] = dict(task=TASK, **params)
    import rclpy
    if not ros.initialized:
        rclpy.init()
    return module.SimRobotNode()
