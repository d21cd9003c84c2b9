# Ablation: 4 RoIs per person (the first 4 rows of the RoI table, docs/method.md#roi-sizes-and-offsets).
_base_ = '../mroi_r50.py'
num_rois = 4
train_pipeline = [
    dict(t, num_rois=num_rois) if t.type == 'MultiRoICrop' else t for t in _base_.train_pipeline
]
test_pipeline = [
    dict(t, num_rois=num_rois) if t.type == 'MultiRoICrop' else t for t in _base_.test_pipeline
]
train_dataloader = dict(dataset=dict(datasets=[
    dict(d, pipeline=train_pipeline) for d in _base_.train_dataloader.dataset.datasets
]))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
