# CLIFF, HRNet-W48 with the authors' 4-branch aggregation (D = 720).
_base_ = './cliff_r50.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='HRNet',
        arch='w48',
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='data/pretrained/hrnet_w48_coco_256x192.pth')),
    feature_pooling=dict(_delete_=True, type='HRNetAggregation', in_channels=(48, 96, 192, 384)),
    head=dict(in_channels=720))
# Paper §4 (HRNet-W48): lr 5e-5, 15 epochs.
optim_wrapper = dict(optimizer=dict(lr=5e-5))
train_cfg = dict(max_epochs=15)
