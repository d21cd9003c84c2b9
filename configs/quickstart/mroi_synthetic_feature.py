# Quickstart with feature-level RoIs: one TinyConvNet pass per person over a context crop
# covering its 5 RoIs, each RoI's 6x5 map sampled from it (docs/feature_rois.md).
#   python tools/train.py configs/quickstart/mroi_synthetic_feature.py
_base_ = './mroi_synthetic.py'
context_size = (96, 80)  # (h, w), multiples of TinyConvNet's stride 16

model = dict(roi_sampler=dict(type='RoIFeatureSampler', sampling_ratio=1))
train_pipeline = [
    dict(t, type='MultiRoIContextCrop', context_size=context_size)
    if t.type == 'MultiRoICrop' else t for t in _base_.train_pipeline
]
test_pipeline = [
    dict(t, type='MultiRoIContextCrop', context_size=context_size)
    if t.type == 'MultiRoICrop' else t for t in _base_.test_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
