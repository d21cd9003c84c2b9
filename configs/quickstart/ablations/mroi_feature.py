# The full model with feature-level RoIs: one backbone pass per person over a 96x80 context
# crop holding its 5 RoIs, each RoI's map sampled from it (docs/feature_rois.md). The
# benchmark turns every MultiRoICrop into a MultiRoIContextCrop of this size (to_feature_rois).
_base_ = '../mroi_synthetic.py'
ablation = dict(row=7.5, label='Multi-RoI, feature-level RoIs (96x80 context)')
context_size = (96, 80)
