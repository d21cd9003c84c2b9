# The 3DPW test set as SPIN and CLIFF ship it: dataset_extras/3dpw_test.npz (SPIN's
# datasets/preprocess/pw3d.py) with the 3DPW images, evaluated with the crops the file
# defines (centre, height 200 * scale) and the 3DPW protocol: gendered SMPL ground truth,
# 14 LSP joints from the H36M regressor (docs/evaluation_data.md).
# Use it in a model config (keeps the model's test pipeline, crop size and RoIs):
#   _base_ = ['../cliff/cliff_r50.py', '../_base_/datasets/spin_npz_3dpw_test.py']
#   test_dataloader = dict(dataset={{_base_.spin_3dpw_test}})
#   test_evaluator = {{_base_.spin_3dpw_evaluator}}
spin_3dpw_test = dict(
    type='SPINNpzDataset',
    data_root='data/',
    ann_file='dataset_extras/3dpw_test.npz',
    # imgname is relative to the 3DPW root (imageFiles/<sequence>/image_XXXXX.jpg).
    data_prefix=dict(img='datasets/pw3d/'),
    dataset_name='pw3d_spin',
    keypoint_convention='smpl_24',
    bbox_scale_factor=1.0,
    on_bad_sample='raise',
    test_mode=True)
spin_3dpw_evaluator = dict(
    type='HMRMetric',
    gt_source='smpl',
    body_model_dir='data/body_models/smpl',
    joint_regressor='data/body_models/J_regressor_h36m.npy')
