"""policy.launch.py against the fake launch API, and package.xml against the imports."""
from pathlib import Path

import fake_ros
import launch_checks

LAUNCH = Path(__file__).resolve().parents[1] / 'launch' / 'policy.launch.py'


def test_arguments_are_described_with_choices(ros):
    description = launch_checks.load(LAUNCH)
    assert launch_checks.argument_problems(description) == []
    arguments = launch_checks.declared(description)
    assert arguments['checkpoint_dir'].default_value is None      # required
    assert arguments['action_mode'].choices == ['actor', 'q-rerank']


def test_node_and_parameters(ros):
    description = launch_checks.load(LAUNCH)
    assert launch_checks.node_problems(description) == []
    (node,) = [e for e in description.entities if isinstance(e, fake_ros.RosNode)]
    assert (node.package, node.executable, node.name) == ('vptr_policy', 'policy_node',
                                                          'policy_node')
    configurations = launch_checks.defaults(description)
    params_file = fake_ros.evaluate(node.parameters[0], configurations,
                                    launch_checks.package_shares())
    assert Path(params_file) == LAUNCH.parents[1] / 'config' / 'policy.yaml'
    assert Path(params_file).is_file()
    # Numbers and booleans are typed, so control_hz:=5 cannot arrive as an integer.
    overrides = node.parameters[1]
    assert overrides['control_hz'].value_type is float
    assert overrides['autostart'].value_type is bool


def test_package_xml_covers_every_import():
    assert launch_checks.missing_dependencies('vptr_policy') == set()
