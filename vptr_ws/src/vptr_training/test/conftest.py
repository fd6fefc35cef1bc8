"""Session-wide settings for this package's tests.

gloo binds to the address this machine's hostname resolves to. On machines whose hostname
does not resolve, or resolves to an address that is not local (containers, CI), the
rendezvous can wait for the process group's 30-minute timeout inside C++, where pytest's
timeout cannot interrupt it. Every test process group here is on one machine, so pin gloo
to the loopback interface; spawned ranks inherit the environment.
"""
import os

os.environ.setdefault('GLOO_SOCKET_IFNAME', 'lo')

# `make test-fast` runs `pytest -m "not slow"`: the tests below (learning on toy problems,
# DDP, whole training runs and simulator rollouts) take most of the suite's time. A module
# name marks the whole module, `module::test` one test (its parametrisations included), and
# any test that raised its own timeout to 600 s or more is slow too. `make test` runs all.
SLOW = {
    'test_distributed', 'test_training_runner', 'test_learning_regression',
    'test_sim_experts', 'test_sim_generate', 'test_sim_human_video', 'test_evaluation',
    'test_sim_data_parity',
    'test_algos_icvf::test_icvf_learns_shortest_path_distances_on_a_chain',
    'test_algos_cql::test_cql_beats_behaviour_and_is_conservative_out_of_distribution',
    'test_algos_cql::test_cql_learns_the_first_action_through_the_bootstrapped_value',
    'test_algos_cql::test_ddp_two_process_gloo_keeps_ranks_identical',
    'test_algos_cql::test_wrap_ddp_keeps_a_restored_target_network',
    'test_algos_bc_vip::test_vip_embedding_distance_orders_states_by_time_to_goal',
    'test_algos_bc_vip::test_bc_clones_a_context_dependent_action',
}
SLOW_TIMEOUT_S = 600


def pytest_collection_modifyitems(config, items):
    import pytest
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if os.path.dirname(str(item.path)) != here:
            continue
        module = item.path.stem
        timeout = item.get_closest_marker('timeout')
        if module in SLOW or f'{module}::{item.originalname}' in SLOW or (
                timeout and timeout.args and timeout.args[0] >= SLOW_TIMEOUT_S):
            item.add_marker(pytest.mark.slow)
