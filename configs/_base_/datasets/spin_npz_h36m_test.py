# Human3.6M (S9 and S11) as SPIN and CLIFF ship it: dataset_extras/h36m_valid_protocol2.npz
# (frontal camera; protocol 1, all four cameras: h36m_valid_protocol1.npz), written by
# SPIN's datasets/preprocess/h36m.py, with the H36M frames SPIN extracts. Crops from the
# file (centre, height 200 * scale); errors against the file's 3D joints S, which the
# reader returns as the 17 H36M joints so that the 14 LSP evaluation joints and the
# pelvis are SPIN's (docs/evaluation_data.md).
# Use it in a model config:
#   _base_ = ['../cliff/cliff_r50.py', '../_base_/datasets/spin_npz_h36m_test.py']
#   test_dataloader = dict(dataset={{_base_.spin_h36m_test}})
#   test_evaluator = {{_base_.spin_h36m_evaluator}}
spin_h36m_test = dict(
    type='SPINNpzDataset',
    data_root='data/',
    ann_file='dataset_extras/h36m_valid_protocol2.npz',
    # imgname is relative to the H36M root (images/S9_Directions_1.54138969_000001.jpg).
    data_prefix=dict(img='datasets/h36m/'),
    dataset_name='h36m_p2_spin',
    # The metric needs the H36M pelvis and head joints of keypoints3d.
    keypoint_convention='h36m_17',
    bbox_scale_factor=1.0,
    on_bad_sample='raise',
    test_mode=True)
spin_h36m_evaluator = dict(
    type='HMRMetric',
    gt_source='keypoints3d',
    # PVE needs SMPL ground truth, which SPIN's H36M test files do not hold.
    body_model_dir=None,
    joint_regressor='data/body_models/J_regressor_h36m.npy')
