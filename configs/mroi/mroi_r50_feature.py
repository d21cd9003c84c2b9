# Multi-RoI HMR, ResNet-50, feature-level RoIs: one backbone pass per person over a context
# crop covering its 5 RoIs (MultiRoIContextCrop), each RoI's features sampled from the shared
# map (RoIFeatureSampler); geometry, heads and losses as mroi_r50.py (docs/feature_rois.md).
_base_ = './mroi_r50.py'
context_size = (256, 192)  # (h, w), multiples of ResNet-50's stride 32: CLIFF's crop cost

model = dict(roi_sampler=dict(type='RoIFeatureSampler', sampling_ratio=1))
train_pipeline = [
    dict(t, type='MultiRoIContextCrop', context_size=context_size)
    if t.type == 'MultiRoICrop' else t for t in _base_.train_pipeline
]
test_pipeline = [
    dict(t, type='MultiRoIContextCrop', context_size=context_size)
    if t.type == 'MultiRoICrop' else t for t in _base_.test_pipeline
]
train_dataloader = dict(dataset=dict(datasets=[
    dict(d, pipeline=train_pipeline) for d in _base_.train_dataloader.dataset.datasets
]))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
