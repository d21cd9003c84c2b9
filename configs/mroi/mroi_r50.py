# Multi-RoI HMR, ResNet-50: CLIFF + 5 RoIs + RoI-aware fusion + LocalCamera +
# camera-consistency and contrastive losses.
_base_ = '../cliff/cliff_r50.py'
num_rois = 5

model = dict(
    type='MultiRoIHMR',
    # tanh-bounded attention logits, as the authors' code: unbounded, the attention
    # collapsed onto one RoI (docs/multiroi_cameras.md).
    neck=dict(type='RoIAwareFusion', in_channels=2048, pos_encoding='relative', num_freqs=32,
              logit_activation='tanh'),
    head=dict(_delete_=True, type='MultiRoIHead', in_channels=2048,
              mean_params={{_base_.mean_params}},
              # Each RoI starts at the mean camera carried to its own box and reads its
              # layout; dict(type='LocalCamera', init_mode='shared', layout_input=False)
              # is the released code's decoder.
              camera_decoder=dict(type='LocalCamera')),
    # The paper's loss weights as we read them (docs/method.md#loss-weights): lambda_cam = 0.1,
    # lambda_con = 1
    # (the released code uses 1 and 0.1: configs/mroi/mroi_r50_official-weights.py).
    # Depth compared as relative depth, log(b s): the paper's (b s)^2 term, in (px/m)^2,
    # scales with the image resolution (depth_term='bs', axis_weights=(0.1, 0.1, 1e-4)).
    loss_camera_consistency=dict(
        type='CameraConsistencyLoss', loss_weight=0.1, axis_weights=(0.1, 0.1, 1.0),
        pairs='all', depth_term='log'),
    loss_contrastive=dict(
        type='MultiRoIContrastiveLoss', in_channels=2048, temperature=0.5, loss_weight=1.0))

# Same pipelines with 5 RoIs (the paper's table, ROI_TABLE_5 in MultiRoICrop). Multi-RoI
# crops every RoI with one exact sub-pixel warp (crop_mode='warp'), not CLIFF's window crops,
# and enlarges person boxes given to inference as its datasets do.
detector_bbox_scale_factor = None
train_pipeline = [
    dict(t, num_rois=num_rois) if t.type == 'MultiRoICrop' else t for t in _base_.train_pipeline
]
test_pipeline = [
    dict(t, num_rois=num_rois, crop_mode='warp') if t.type == 'MultiRoICrop' else t
    for t in _base_.test_pipeline
]
# The authors fine-tune with 20 people x 5 RoIs per step.
train_dataloader = dict(
    batch_size=20,
    dataset=dict(datasets=[
        dict(d, pipeline=train_pipeline) for d in _base_.train_dataloader.dataset.datasets
    ]))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
