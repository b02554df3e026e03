"""The accelerate launch configs the docs name load as accelerate reads them, with the layout their names say."""

import pytest

from conftest import REPO


@pytest.mark.parametrize("name, machines, kind", [("single_gpu", 1, "NO"), ("ddp", 1, "MULTI_GPU"),
                                                  ("zero3", 1, "DEEPSPEED"), ("multinode_zero3", 2, "DEEPSPEED")])
def test_each_config_loads_with_its_layout(name, machines, kind):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(REPO / "configs" / "accelerate" / f"{name}.yaml"))
    assert config.num_machines == machines and config.distributed_type.name == kind
    if machines > 1:  # every node needs the head node's address and a rank
        assert config.main_process_ip and config.main_process_port and config.num_processes % machines == 0
