# Ablation: 4 RoIs per person (the first 4 rows of the RoI table, docs/method.md#roi-sizes-and-offsets).
# The tools give every crop step this num_rois (mroi_plugin.utils.config_rois.apply_num_rois).
_base_ = '../mroi_r50.py'
num_rois = 4
