# Multi-RoI-R50 evaluated on SPIN/CLIFF's 3DPW test file (docs/evaluation_data.md): the
# file's crop is RoI 0, the model's test pipeline adds the other RoIs around it.
#   python tools/test.py configs/eval/mroi_r50_spin_3dpw.py CHECKPOINT
_base_ = ['../mroi/mroi_r50.py', '../_base_/datasets/spin_npz_3dpw_test.py']
test_dataloader = dict(dataset={{_base_.spin_3dpw_test}})
test_evaluator = {{_base_.spin_3dpw_evaluator}}
