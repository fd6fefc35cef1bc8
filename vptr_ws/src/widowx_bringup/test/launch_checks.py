"""Checks shared by the launch-file tests of both packages and tests/ (one module, no copies).

Launch files are imported against fake_ros (the fake launch API must be installed), then:
every argument has a description, finite-valued arguments have choices, includes of this
repository's launch files pass only declared arguments and every required one, nodes name
console scripts that exist and parameters their node declares.
"""
from __future__ import annotations

import ast
from pathlib import Path
import re
import sys
from typing import Any

import fake_ros

PACKAGE_NAMES = ('vptr_policy', 'widowx_bringup', 'vptr_training')


def find_packages(test_dir: Path) -> dict[str, Path]:
    """The source folders of this repository's packages, found from this test folder: its
    package is the parent, the others are beside it in the workspace (wherever the
    workspace is; colcon test runs the tests in the package's source folder)."""
    own = test_dir.resolve().parent
    found = {}
    for name in PACKAGE_NAMES:
        candidates = [own / '..' / name, own.parent.parent / name]
        candidates += sorted(own.parent.glob(f'*/{name}'))
        for candidate in [own] + candidates:
            candidate = candidate.resolve()
            if candidate.name == name and (candidate / 'package.xml').is_file():
                found[name] = candidate
                break
        else:
            raise FileNotFoundError(f'package {name} not found beside {own}')
    return found


PACKAGES = find_packages(Path(__file__).parent)
# Arguments with a finite set of values anywhere in this repository: each must list them.
FINITE_ARGUMENTS = {
    'robot_model', 'action_mode', 'condition', 'storage', 'pixel_format', 'robot', 'source',
    'use_sim', 'use_rviz', 'use_camera', 'autostart', 'image_is_compressed',
    'publish_expert',
}
BOOLEAN = ['true', 'false']
# Arguments of interbotix_xsarm_control/launch/xsarm_control.launch.py (humble branch).
XSARM_CONTROL_ARGUMENTS = {
    'robot_model', 'robot_name', 'use_rviz', 'motor_configs', 'mode_configs', 'load_configs',
    'xs_driver_logging_level', 'use_sim', 'use_sim_time', 'base_link_frame', 'show_ar_tag',
    'use_world_frame', 'external_urdf_loc', 'hardware_type', 'robot_description',
}
# Python module of each console script (from the packages' setup.py).
EXECUTABLE_MODULES = {
    ('vptr_policy', 'policy_node'): 'vptr_policy.policy_node',
    ('widowx_bringup', 'sim_robot_node'): 'widowx_bringup.sim_robot_node',
    ('widowx_bringup', 'keyboard_teleop'): 'widowx_bringup.keyboard_teleop',
    ('widowx_bringup', 'scripted_collector'): 'widowx_bringup.scripted_collector',
}


def load(path: Path) -> Any:
    module = fake_ros.load_launch_file(path, 'launch_' + re.sub(r'\W', '_', path.stem))
    return module.generate_launch_description()


def declared(description: Any) -> dict[str, Any]:
    return {e.name: e for e in fake_ros.walk(description.entities)
            if isinstance(e, fake_ros.DeclareLaunchArgument)}


def defaults(description: Any) -> dict[str, str]:
    """Launch configurations as they are with every argument at its default."""
    values: dict[str, str] = {}
    for name, argument in declared(description).items():
        if argument.default_value is None:
            values[name] = f'<{name}>'
        else:
            values[name] = fake_ros.evaluate(argument.default_value, values,
                                             package_shares())
    return values


def argument_problems(description: Any) -> list[str]:
    problems = []
    for name, argument in declared(description).items():
        if not (argument.description or '').strip():
            problems.append(f'argument {name!r} has no description')
        if name in FINITE_ARGUMENTS and not argument.choices:
            problems.append(f'argument {name!r} takes finitely many values but lists no choices')
        if isinstance(argument.default_value, str) and argument.default_value in BOOLEAN \
                and sorted(argument.choices or []) != sorted(BOOLEAN):
            problems.append(f'boolean argument {name!r} must have choices true/false')
    return problems


def package_shares() -> dict[str, str]:
    return {name: str(path) for name, path in PACKAGES.items()}


def include_problems(description: Any) -> list[str]:
    """Includes must pass declared arguments only, and all required ones."""
    problems = []
    configurations = defaults(description)
    for include in fake_ros.walk(description.entities):
        if not isinstance(include, fake_ros.IncludeLaunchDescription):
            continue
        location = fake_ros.evaluate(include.launch_description_source.location,
                                     configurations, package_shares())
        passed = {fake_ros.evaluate(k, configurations) for k, _ in include.launch_arguments}
        if location.endswith('interbotix_xsarm_control/launch/xsarm_control.launch.py'):
            unknown = passed - XSARM_CONTROL_ARGUMENTS
            if unknown:
                problems.append(f'xsarm_control.launch.py has no arguments {sorted(unknown)}')
            if 'robot_model' not in passed:
                problems.append('xsarm_control.launch.py needs robot_model')
            continue
        path = Path(location)
        if not path.is_file() or not any(path.resolve().is_relative_to(p)
                                         for p in PACKAGES.values()):
            problems.append(f'included launch file {location} is not in this repository')
            continue
        included = declared(load(path))
        unknown = passed - set(included)
        if unknown:
            problems.append(f'{path.name} does not declare {sorted(unknown)}')
        missing = {n for n, a in included.items() if a.default_value is None} - passed
        if missing:
            problems.append(f'{path.name} requires {sorted(missing)}')
    return problems


def node_problems(description: Any) -> list[str]:
    """Nodes of this repository: the executable exists, parameters are declared by it."""
    problems = []
    for node in fake_ros.walk(description.entities):
        if not isinstance(node, fake_ros.RosNode) or node.package not in PACKAGES:
            continue
        setup_text = (PACKAGES[node.package] / 'setup.py').read_text()
        if f"'{node.executable} = " not in setup_text:
            problems.append(f'{node.package} has no console script {node.executable!r}')
            continue
        module = fake_ros.import_fresh(EXECUTABLE_MODULES[(node.package, node.executable)])
        for entry in node.parameters:
            if isinstance(entry, dict):
                unknown = set(entry) - set(module.PARAMETERS)
                if unknown:
                    problems.append(f'{node.executable} declares no parameters '
                                    f'{sorted(unknown)}')
    return problems


# ------------------------------------------------------------------ package.xml coverage

# Python import name -> rosdep / package.xml key for third-party modules.
PYTHON_TO_ROSDEP = {'numpy': 'python3-numpy', 'yaml': 'python3-yaml', 'cv2': 'python3-opencv',
                    'torch': 'python3-torch'}


def imported_modules(paths: list[Path]) -> set[str]:
    """Top-level names of every import (module level and inside functions)."""
    names = set()
    for path in paths:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split('.')[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split('.')[0])
    return names


def package_dependencies(package_dir: Path) -> set[str]:
    import xml.etree.ElementTree as ElementTree
    root = ElementTree.parse(package_dir / 'package.xml').getroot()
    tags = ('depend', 'exec_depend', 'build_export_depend')
    return {element.text.strip() for tag in tags for element in root.iter(tag)}


def missing_dependencies(package: str) -> set[str]:
    package_dir = PACKAGES[package]
    sources = sorted((package_dir / package).rglob('*.py'))
    sources += sorted((package_dir / 'launch').glob('*.py'))
    needed = set()
    for name in imported_modules(sources):
        if name in sys.stdlib_module_names or name == package or name == '__future__':
            continue
        needed.add(PYTHON_TO_ROSDEP.get(name, name))
    return needed - package_dependencies(package_dir)


# ------------------------------------------------------------------ launching (fake runtime)

def _xsarm_control_stub() -> Any:
    """interbotix_xsarm_control's xsarm_control.launch.py reduced to its arguments."""
    arguments = [fake_ros.DeclareLaunchArgument(name, default_value='',
                                                description='xsarm_control argument')
                 for name in sorted(XSARM_CONTROL_ARGUMENTS - {'robot_model'})]
    return fake_ros.LaunchDescription(
        [fake_ros.DeclareLaunchArgument('robot_model', description='arm model')] + arguments)


def _load_location(location: str) -> Any:
    if location.endswith('interbotix_xsarm_control/launch/xsarm_control.launch.py'):
        return _xsarm_control_stub()
    return load(Path(location))


def run_launch(path: Path, **arguments: str) -> Any:
    """`ros2 launch PATH name:=value ...` in the fake launch runtime (fake_ros.LaunchRun)."""
    run = fake_ros.LaunchRun(_load_location, package_shares())
    return run.run(load(path), arguments)


def parameter_type_problems(run: Any) -> list[str]:
    """Parameters a launched node of this repository would reject: a value whose type
    differs from the type of the node's declared default (rclpy's static typing)."""
    problems = []
    for node in run.nodes:
        if node.package not in PACKAGES:
            continue
        module = fake_ros.import_fresh(EXECUTABLE_MODULES[(node.package, node.executable)])
        for name, value in node.parameters.items():
            if name not in module.PARAMETERS:
                problems.append(f'{node.name}: {name} is not declared')
                continue
            expected = fake_ros._parameter_type(module.PARAMETERS[name][0])
            actual = fake_ros._parameter_type(value)
            if actual != expected:
                problems.append(f'{node.name}: {name}={value!r} is {actual.name}, '
                                f'declared {expected.name}')
    return problems


def free_text_arguments(description: Any) -> list[str]:
    """Launch arguments that take free text: no choices, a default that is neither a
    number, a boolean nor a file."""
    names = []
    for name, argument in declared(description).items():
        if argument.choices:
            continue
        default = argument.default_value
        if isinstance(default, str):
            try:
                float(default)
                continue
            except ValueError:
                pass
        if isinstance(default, fake_ros.PathJoinSubstitution) or name.endswith('_file') \
                or name in ('bag_dir', 'terminal_prefix', 'mode_configs'):
            continue
        names.append(name)
    return names
