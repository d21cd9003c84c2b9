# Quickstart: Multi-RoI HMR on CPU with licence-free data, in minutes.
#   python tools/train.py configs/quickstart/mroi_synthetic.py
# On first run it writes the stand-in body model and renders a small synthetic
# dataset (prepare_data below), then trains a small backbone on 96x72 crops of
# 5 RoIs and evaluates MPJPE / PA-MPJPE / PVE on the synthetic test split.
# Numbers on the stand-in body model are NOT SMPL results.
_base_ = ['../_base_/default_runtime.py']

body_model_dir = 'data/body_models/standin'
data_root = 'data/synthetic/'
prepare_data = dict(
    standin_body_model=dict(out_dir=body_model_dir, seed=0),
    synthetic_dataset=dict(
        out_dir=data_root, num_train=1600, num_val=0, num_test=200, image_size=(320, 240),
        seed=0))

num_rois = 5
crop_size = (96, 72)
keypoint_convention = 'smpl_24'
feat_channels = 128

model = dict(
    type='MultiRoIHMR',
    data_preprocessor=dict(type='HMRDataPreprocessor'),
    backbone=dict(type='TinyConvNet', widths=(16, 32, 64, feat_channels)),
    feature_pooling=dict(type='GlobalAveragePooling'),
    # L = 8 frequencies: the higher ones alias in float32 (DESIGN.md §5.2).
    neck=dict(type='RoIAwareFusion', in_channels=feat_channels, pos_encoding='relative',
              num_freqs=8),
    # Start the regressors at the training set's mean body (written by
    # prepare_data), as SPIN/CLIFF start at smpl_mean_params.npz.
    # Log-parameterised crop scale: from scratch, a linear s crossed 0 for some RoIs within
    # tens of iterations, where 2 f / (b s) and the camera-consistency and reprojection
    # gradients explode (grad norms of 1e3-1e4 against ~5 with log s).
    head=dict(type='MultiRoIHead', in_channels=feat_channels, hidden_channels=512,
              mean_params=data_root + 'mean_params.npz',
              camera_decoder=dict(type='LocalCamera', scale_param='log')),
    body_model=dict(type='SMPL', model_path=body_model_dir, keypoint_convention=keypoint_convention),
    loss_keypoints2d=dict(type='KeypointMSELoss', loss_weight=5.0),
    loss_keypoints3d=dict(type='Keypoint3DLoss', loss_weight=5.0),
    loss_vertices=dict(type='VertexL1Loss', loss_weight=1.0),
    # 5, not SPIN's 1: every synthetic sample has exact SMPL parameters, and a
    # stronger pose term keeps the articulation from bending to fit joints
    # while the orientation is still wrong (PA-MPJPE 180 -> 152 mm here).
    loss_smpl_pose=dict(type='SMPLPoseLoss', loss_weight=5.0),
    # 0.1, not SPIN's 0.001: from scratch, the 3D losses first shrink the body
    # (the stand-in's beta 0 is a pure scale) and distort its proportions, which
    # SPIN's tiny betas weight does not resist within a few minutes of training.
    loss_smpl_betas=dict(type='SMPLBetasLoss', loss_weight=0.1),
    loss_camera_consistency=dict(type='CameraConsistencyLoss', loss_weight=0.1),
    loss_contrastive=dict(type='MultiRoIContrastiveLoss', in_channels=feat_channels,
                          loss_weight=1.0),
    test_cfg=dict(camera='roi0'))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='RandomFlipHMR', prob=0.5, keypoint_convention=keypoint_convention),
    dict(type='RandomScaleRotation'),
    dict(type='RandomColorScale'),
    dict(type='MultiRoICrop', num_rois=num_rois, crop_size=crop_size),
    dict(type='PackHMRInputs'),
]
test_pipeline = [
    dict(type='LoadImage'),
    dict(type='MultiRoICrop', num_rois=num_rois, crop_size=crop_size),
    dict(type='PackHMRInputs'),
]
dataset = dict(
    type='HumanDataDataset',
    data_root=data_root,
    keypoint_convention=keypoint_convention,
    crop_aspect=crop_size[1] / crop_size[0])
# One torch thread + one loader worker: the two processes fill 2 CPU cores
# without oversubscription (TorchThreadsHook below).
train_dataloader = dict(
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(dataset, ann_file='train.npz', dataset_name='synthetic_train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, ann_file='test.npz', dataset_name='synthetic_test', test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
metric = dict(
    body_model_dir=body_model_dir, joint_regressor=body_model_dir + '/J_regressor_h36m.npy')
# The model's errors (hmr/*) next to the constant "mean pose of the training
# set" prediction (mean_pose/*), which a trained model must clearly beat.
val_evaluator = [
    dict(type='HMRMetric', **metric),
    dict(type='MeanPoseBaselineMetric', ann_file=data_root + 'train.npz', **metric),
]
test_evaluator = val_evaluator

max_epochs = 5
# 3e-4: at 1e-3 the camera-consistency term (whose x/y part shrinks as |s|
# grows) drove the untrained crop scales negative within 40 iterations.
# Gradient clipping keeps rare camera-consistency spikes (a crop scale near 0
# makes 2 d / (b s) explode) from wrecking Adam's moment estimates.
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=3e-4), clip_grad=dict(max_norm=5.0))
param_scheduler = [dict(type='MultiStepLR', milestones=[4], gamma=0.3, by_epoch=True)]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=max_epochs))
custom_hooks = [dict(type='TorchThreadsHook', num_threads=1)]
