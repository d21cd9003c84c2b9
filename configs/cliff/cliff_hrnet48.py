# CLIFF, HRNet-W48, as released (hr48-PA43.0_MJE69.0_MVE81.2_3dpw.pt): the backbone's four
# branches are pooled by HRNet's ImageNet classification head (HRNetClsNeck, 2048-d), so the
# regressor is CLIFF-R50's. Multi-RoI's HRNet config (configs/mroi/mroi_hrnet48.py) keeps the
# Multi-RoI authors' 4-branch aggregation instead.
_base_ = ['./cliff_r50.py', '../_base_/models/hrnet_w48.py']
model = dict(
    backbone=dict(_delete_=True, **_base_.hrnet_w48_backbone),
    feature_pooling=dict(_delete_=True, type='HRNetClsNeck',
                         in_channels=_base_.hrnet_w48_channels),
    head=dict(in_channels=2048))
# The paper's schedule (HRNet-W48): lr 5e-5, 15 epochs (docs/method.md#training-protocol).
optim_wrapper = dict(optimizer=dict(lr=5e-5))
train_cfg = dict(max_epochs=15)
