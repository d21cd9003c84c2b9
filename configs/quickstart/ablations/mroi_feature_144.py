# mroi_feature at a higher context resolution, 144x112 (docs/feature_rois.md has the curve).
_base_ = '../mroi_synthetic.py'
ablation = dict(row=7.7, label='Multi-RoI, feature-level RoIs (144x112 context)')
context_size = (144, 112)
