# mroi_feature at a higher context resolution, 128x96 (docs/feature_rois.md has the curve).
_base_ = '../mroi_synthetic.py'
ablation = dict(row=7.6, label='Multi-RoI, feature-level RoIs (128x96 context)')
context_size = (128, 96)
