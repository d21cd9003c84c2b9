# Multi-RoI HMR, HRNet-W48 (the paper's main model): mroi_r50 with the HRNet
# backbone and the authors' 4-branch aggregation (D = 720), lr 5e-5, 15 epochs.
_base_ = ['./mroi_r50.py', '../_base_/models/hrnet_w48.py']
feat_channels = 720
model = dict(
    backbone=dict(_delete_=True, **_base_.hrnet_w48_backbone),
    feature_pooling=dict(_delete_=True, type='HRNetAggregation',
                         in_channels=_base_.hrnet_w48_channels),
    neck=dict(in_channels=feat_channels),
    head=dict(in_channels=feat_channels),
    loss_contrastive=dict(in_channels=feat_channels))
optim_wrapper = dict(optimizer=dict(lr=5e-5))
train_cfg = dict(max_epochs=15)
