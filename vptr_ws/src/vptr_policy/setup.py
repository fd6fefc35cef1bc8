from glob import glob

from setuptools import find_packages, setup

package_name = 'vptr_policy'

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
    description='ROS 2 policy node running a V-PTR checkpoint on the WidowX 250.',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'policy_node = vptr_policy.policy_node:main',
        ],
    },
)
