"""destroy_distributed: the tools shut the process group down before exiting."""
import torch.distributed as torch_dist

from mroi_plugin.utils import destroy_distributed
from tests.dist_utils import free_port


def test_destroys_an_initialised_group_and_is_a_no_op_without_one():
    destroy_distributed()  # nothing initialised: no error
    torch_dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{free_port()}',
                                  rank=0, world_size=1)
    try:
        assert torch_dist.is_initialized()
        destroy_distributed()
        assert not torch_dist.is_initialized()
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()
    destroy_distributed()
