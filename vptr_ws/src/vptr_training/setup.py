from glob import glob

from setuptools import find_packages, setup

package_name = 'vptr_training'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    package_data={package_name: ['configs/*.yaml', 'configs/pipelines/*.yaml', 'sim/assets/*']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/configs', glob('vptr_training/configs/*.yaml')),
        ('share/' + package_name + '/configs/pipelines',
         glob('vptr_training/configs/pipelines/*.yaml')),
    ],
    python_requires='>=3.10',
    install_requires=[
        'setuptools', 'numpy', 'opencv-python-headless', 'pyyaml', 'protobuf', 'tqdm',
        'matplotlib', 'torch', 'safetensors', 'rosbags', 'mujoco', 'gymnasium', 'tensorboard',
    ],
    zip_safe=True,
    maintainer='V-PTR maintainers',
    maintainer_email='vptr@example.org',
    description='V-PTR core: data, ICVF pre-training, multi-task CQL, fine-tuning, simulation.',
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'vptr = vptr_training.cli:main',
        ],
    },
)
