# CLIFF-R50 evaluated on SPIN/CLIFF's Human3.6M protocol 2 file (docs/evaluation_data.md):
#   python tools/test.py configs/eval/cliff_r50_spin_h36m_p2.py CHECKPOINT
# Protocol 1: --cfg-options test_dataloader.dataset.ann_file=dataset_extras/h36m_valid_protocol1.npz
#     test_dataloader.dataset.dataset_name=h36m_p1_spin
_base_ = ['../cliff/cliff_r50.py', '../_base_/datasets/spin_npz_h36m_test.py']
test_dataloader = dict(dataset={{_base_.spin_h36m_test}})
test_evaluator = {{_base_.spin_h36m_evaluator}}
