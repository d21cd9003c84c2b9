# CLIFF-R50 evaluated on SPIN/CLIFF's 3DPW test file (docs/evaluation_data.md):
#   python tools/test.py configs/eval/cliff_r50_spin_3dpw.py CHECKPOINT
_base_ = ['../cliff/cliff_r50.py', '../_base_/datasets/spin_npz_3dpw_test.py']
test_dataloader = dict(dataset={{_base_.spin_3dpw_test}})
test_evaluator = {{_base_.spin_3dpw_evaluator}}
