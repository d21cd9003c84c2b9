# CLIFF (ECCV'22) with a ResNet-50 backbone: one RoI per person, no fusion neck.
# Loss weights follow SPIN/CLIFF (2D 5, 3D 5, vertices 1, pose 1, betas 0.001). The
# released code multiplies the total by 60; with Adam a global factor changes
# nothing but the effective epsilon, so it is left out.

# Body model files: real SMPL (licensed, see docs/usage.md) or the stand-in written by
# tools/make_standin_smpl.py. Evaluation uses the H36M joint regressor.
body_model_dir = 'data/body_models/smpl'
# smpl_mean_params.npz initialises the regressor (SPIN/CLIFF); None = defaults.
mean_params = None

model = dict(
    type='CLIFF',
    data_preprocessor=dict(type='HMRDataPreprocessor'),
    backbone=dict(type='ResNet', depth=50),
    feature_pooling=dict(type='GlobalAveragePooling'),
    head=dict(type='CliffHead', in_channels=2048, mean_params=mean_params),
    body_model=dict(
        type='SMPL',
        model_path=body_model_dir,
        gender='neutral',
        # Must equal the datasets' keypoint_convention.
        keypoint_convention='smpl_24'),
    loss_keypoints2d=dict(type='KeypointMSELoss', loss_weight=5.0),
    loss_keypoints3d=dict(type='Keypoint3DLoss', loss_weight=5.0),
    loss_vertices=dict(type='VertexL1Loss', loss_weight=1.0),
    loss_smpl_pose=dict(type='SMPLPoseLoss', loss_weight=1.0),
    loss_smpl_betas=dict(type='SMPLBetasLoss', loss_weight=0.001),
    test_cfg=dict(camera='roi0'),
)
