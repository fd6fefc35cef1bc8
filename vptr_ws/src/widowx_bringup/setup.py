from glob import glob

from setuptools import find_packages, setup

package_name = 'widowx_bringup'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/config', glob('config/*.yaml')),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
    ],
    install_requires=['setuptools', 'numpy', 'pyyaml'],
    zip_safe=True,
    maintainer='V-PTR maintainers',
    maintainer_email='vptr@example.org',
    description='WidowX 250 bringup (real and simulated), the arm interface the nodes share, '
                'teleop, scripted collection and demo recording.',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'sim_robot_node = widowx_bringup.sim_robot_node:main',
            'keyboard_teleop = widowx_bringup.keyboard_teleop:main',
            'scripted_collector = widowx_bringup.scripted_collector:main',
            'arm_setup = widowx_bringup.arm_setup:main',
        ],
    },
)
