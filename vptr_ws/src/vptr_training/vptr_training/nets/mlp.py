"""A plain multi-layer perceptron, the building block of every head."""

from typing import Sequence

import torch
from torch import nn


class MLP(nn.Module):
    """Dense layers with ReLU between them.

    `activate_final=True` also applies the activation after the last layer: the ICVF phi/psi/T
    networks use it (their outputs feed a multilinear product, as in the ICVF code).
    """

    def __init__(self, input_dim: int, hidden_dims: Sequence[int],
                 activate_final: bool = False) -> None:
        super().__init__()
        if not hidden_dims:
            raise ValueError('MLP needs at least one layer')
        layers: list[nn.Module] = []
        previous = input_dim
        for index, width in enumerate(hidden_dims):
            layers.append(nn.Linear(previous, width))
            if index < len(hidden_dims) - 1 or activate_final:
                layers.append(nn.ReLU())
            previous = width
        self.net = nn.Sequential(*layers)
        self.output_dim = previous

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.net(inputs)
