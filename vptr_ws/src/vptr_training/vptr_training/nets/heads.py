"""Value, Q and policy heads that sit on an encoder's latent.

- `ICVFHead`: the multilinear intent-conditioned value of ICVF (Ghosh et al. 2023).
- `TwinQHead`: PTR's critic head, two Q functions evaluated as one batched ensemble.
- `TanhGaussianPolicy`: the SAC/CQL actor head, plus the tanh-Gaussian sampling and
  log-density helpers shared by CQL and BC.
"""

import math
from typing import Optional, Sequence

import torch
from torch import nn

from vptr_training.nets.mlp import MLP

LOG_STD_MIN = -5.0
LOG_STD_MAX = 2.0


class ICVFHead(nn.Module):
    """V(s, g, z) = < A(t(z) * phi(s)) + a, B(t(z) * psi(g)) + b >.

    phi, psi, T are MLPs with the last layer activated (ICVF code, `MultilinearVF`); the
    intent goes through psi and then T: t(z) = T(psi(z)).
    """

    def __init__(self, latent_dim: int, hidden_dims: Sequence[int] = (256, 256)) -> None:
        super().__init__()
        self.phi = MLP(latent_dim, hidden_dims, activate_final=True)
        self.psi = MLP(latent_dim, hidden_dims, activate_final=True)
        width = hidden_dims[-1]
        self.intent_transform = MLP(width, hidden_dims, activate_final=True)
        self.matrix_a = nn.Linear(width, width)
        self.matrix_b = nn.Linear(width, width)

    def forward(self, latent_s: torch.Tensor, latent_g: torch.Tensor,
                latent_z: torch.Tensor) -> torch.Tensor:
        phi_s = self.phi(latent_s)
        psi_g = self.psi(latent_g)
        t_z = self.intent_transform(self.psi(latent_z))
        left = self.matrix_a(t_z * phi_s)
        right = self.matrix_b(t_z * psi_g)
        return (left * right).sum(-1)


class EnsembleLinear(nn.Module):
    """k independent dense layers applied in one batched matmul: (k, N, in) -> (k, N, out)."""

    def __init__(self, num_members: int, input_dim: int, output_dim: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(input_dim)   # torch.nn.Linear's default initialisation
        self.weight = nn.Parameter(
            torch.empty(num_members, input_dim, output_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(num_members, 1, output_dim).uniform_(-bound, bound))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, inputs, self.weight)


class TwinQHead(nn.Module):
    """PTR critic head: per member, 3 x 256 ReLU layers.

    Layer 0 sees [task one-hot, action, latent]; every later hidden layer sees
    [hidden, action, latent] again (PTR re-feeds the action and image latent so the action
    signal is not washed out by the 256-d latent). The output layer (on the last hidden
    layer) is orthogonally initialised with gain 1e-2, so initial Q values are near 0.
    """

    def __init__(self, latent_dim: int, action_dim: int, num_tasks: int,
                 hidden_dims: Sequence[int] = (256, 256, 256), num_members: int = 2) -> None:
        super().__init__()
        self.num_members = num_members
        side_dim = action_dim + latent_dim
        layers = []
        previous = num_tasks + side_dim
        for width in hidden_dims:
            layers.append(EnsembleLinear(num_members, previous, width))
            previous = width + side_dim
        self.hidden = nn.ModuleList(layers)
        self.output = EnsembleLinear(num_members, hidden_dims[-1], 1)
        with torch.no_grad():
            for member in range(num_members):
                weight = torch.empty(1, hidden_dims[-1])
                nn.init.orthogonal_(weight, gain=1e-2)
                self.output.weight[member].copy_(weight.t())
            self.output.bias.zero_()

    # Rows (state-action pairs) per pass: larger batches are evaluated in chunks of states,
    # so each layer's (k, rows, width) activations stay cache-sized (~4 MiB). On CPU the
    # element-wise passes are memory-bound; measured 1.15-1.2x on a batch-256 x 21-action
    # forward + backward. The result is the same (weight gradients sum over the chunks).
    max_rows = 2048

    def forward(self, latent: torch.Tensor, actions: torch.Tensor,
                task_onehot: torch.Tensor) -> torch.Tensor:
        """latent (B, D), actions (B, N, A), task_onehot (B, T) -> Q (k, B, N)."""
        batch, num_actions, _ = actions.shape
        chunks = -(-batch * num_actions // self.max_rows)
        if chunks <= 1:
            return self._forward(latent, actions, task_onehot)
        size = -(-batch // chunks)
        return torch.cat([self._forward(*parts) for parts in zip(
            latent.split(size), actions.split(size), task_onehot.split(size))], 1)

    def _forward(self, latent: torch.Tensor, actions: torch.Tensor,
                 task_onehot: torch.Tensor) -> torch.Tensor:
        """One chunk of `forward`.

        Computed per layer as [x, a, z] @ W = x @ W_x + a @ W_a + z @ W_z, where the latent z
        (and, in layer 0, the task) is the same for the N actions of a state: its product is
        taken once per state (B rows) and broadcast over the N actions instead of being
        repeated N times. Same function and parameters as concatenating the inputs; only
        the floating-point summation order differs.
        """
        batch, num_actions, action_dim = actions.shape
        members = self.num_members
        flat_actions = actions.reshape(1, batch * num_actions, action_dim).expand(members, -1, -1)
        latent = latent.unsqueeze(0).expand(members, -1, -1)                   # (k, B, D)
        hidden = task_onehot.unsqueeze(0).expand(members, -1, -1)              # layer 0: task
        for index, layer in enumerate(self.hidden):
            weight = layer.weight
            skip = hidden.shape[-1]                 # rows of W for the task / hidden input
            per_state = torch.baddbmm(layer.bias, latent, weight[:, skip + action_dim:])
            if index == 0:
                per_state = torch.baddbmm(per_state, hidden, weight[:, :skip])
            # (k, B N, out). With autograd, out of place measured faster than baddbmm_
            # chains or a broadcast add; without (target network), in place: 1.5x.
            pre = per_state.repeat_interleave(num_actions, 1)
            if torch.is_grad_enabled():
                pre = torch.baddbmm(pre, flat_actions, weight[:, skip:skip + action_dim])
                if index > 0:
                    pre = torch.baddbmm(pre, hidden, weight[:, :skip])
                hidden = torch.relu(pre)
            else:
                pre.baddbmm_(flat_actions, weight[:, skip:skip + action_dim])
                if index > 0:
                    pre.baddbmm_(hidden, weight[:, :skip])
                hidden = pre.relu_()
        q_values = self.output(hidden).squeeze(-1)
        return q_values.reshape(members, batch, num_actions)


class TanhGaussianPolicy(nn.Module):
    """MLP -> (mean, log_std) of a Gaussian squashed by tanh; log_std clipped to [-5, 2]."""

    def __init__(self, input_dim: int, action_dim: int,
                 hidden_dims: Sequence[int] = (256, 256, 256)) -> None:
        super().__init__()
        self.trunk = MLP(input_dim, hidden_dims, activate_final=True)
        self.mean = nn.Linear(hidden_dims[-1], action_dim)
        self.log_std = nn.Linear(hidden_dims[-1], action_dim)

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.trunk(inputs)
        return self.mean(hidden), self.log_std(hidden).clamp(LOG_STD_MIN, LOG_STD_MAX)


def _tanh_log_det(pre_tanh: torch.Tensor) -> torch.Tensor:
    # log(1 - tanh(u)^2) = 2 * (log 2 - u - softplus(-2u)), stable for large |u| (SAC).
    return 2.0 * (math.log(2.0) - pre_tanh - nn.functional.softplus(-2.0 * pre_tanh))


def _gaussian_log_prob(mean: torch.Tensor, log_std: torch.Tensor,
                       value: torch.Tensor) -> torch.Tensor:
    z = (value - mean) * torch.exp(-log_std)
    return (-0.5 * z.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


def sample_tanh_gaussian(mean: torch.Tensor, log_std: torch.Tensor,
                         num_samples: Optional[int] = None,
                         generator: Optional[torch.Generator] = None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Reparameterised samples a = tanh(mean + std * eps) and their log-densities.

    mean, log_std (B, A). Returns actions (B, A) and log_probs (B,), or with `num_samples=N`
    actions (B, N, A) and log_probs (B, N). Gradients flow to mean and log_std (rsample).
    """
    if num_samples is not None:
        mean = mean.unsqueeze(1).expand(-1, num_samples, -1)
        log_std = log_std.unsqueeze(1).expand(-1, num_samples, -1)
    noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    pre_tanh = mean + torch.exp(log_std) * noise
    log_probs = _gaussian_log_prob(mean, log_std, pre_tanh) - _tanh_log_det(pre_tanh).sum(-1)
    return torch.tanh(pre_tanh), log_probs


def tanh_gaussian_log_prob(mean: torch.Tensor, log_std: torch.Tensor, actions: torch.Tensor,
                           clip: float = 0.999) -> torch.Tensor:
    """log pi(a) of given actions in [-1, 1] (clipped to +-clip so atanh stays finite)."""
    actions = actions.clamp(-clip, clip)
    pre_tanh = torch.atanh(actions)
    return _gaussian_log_prob(mean, log_std, pre_tanh) - _tanh_log_det(pre_tanh).sum(-1)
