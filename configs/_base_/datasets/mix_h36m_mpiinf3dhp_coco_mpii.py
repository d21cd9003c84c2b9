# The paper's training mix (docs/method.md#training-protocol): H36M 50 %, COCO + MPII 30 %,
# MPI-INF-3DHP 20 %, sampled by ratio whatever the datasets' sizes; evaluation on the 3DPW test set.
# Files are MMHuman3D's preprocessed HumanData (data/preprocessed_datasets/) and
# images under data/datasets/<name>/, as MMHuman3D lays them out.
dataset_type = 'HumanDataDataset'
data_root = 'data/'
ann_dir = 'preprocessed_datasets/'
crop_size = (256, 192)
num_rois = 1
keypoint_convention = 'smpl_24'
smpl_dir = 'data/body_models/smpl'

# The crop box: GetBBoxCenterScale pads the person box (1.2, SPIN's and CLIFF's), then
# MultiRoICrop fixes the aspect from its crop_size.
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlipHMR', prob=0.5, keypoint_convention=keypoint_convention),
    dict(type='RandomScaleRotation'),
    dict(type='RandomColorScale'),
    dict(type='MultiRoICrop', num_rois=num_rois, crop_size=crop_size),
    dict(type='PackHMRInputs'),
]
test_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='MultiRoICrop', num_rois=num_rois, crop_size=crop_size),
    dict(type='PackHMRInputs'),
]


def _dataset(name, ann_file, img_dir, pipeline, test_mode=False):
    return dict(
        type=dataset_type,
        dataset_name=name,
        data_root=data_root,
        ann_file=ann_dir + ann_file,
        data_prefix=dict(img='datasets/' + img_dir),
        keypoint_convention=keypoint_convention,
        on_bad_sample='raise' if test_mode else 'skip',
        test_mode=test_mode,
        # The root joint J0(betas), so flips and rotations move smpl_transl about it.
        body_model_dir=None if test_mode else smpl_dir,
        pipeline=pipeline)


# COCO and MPII share 30 % in proportion to their sizes (28,344 and 14,810
# people in the EFT/SPIN files): 0.197 and 0.103.
train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='MixedRatioSampler', ratios=[0.5, 0.197, 0.103, 0.2], shuffle=True),
    # SeededConcatDataset: ConcatDataset that keeps MixedRatioSampler's (seed, epoch)
    # tags, so augmentation is a function of the sample and a resumed run is bit-identical.
    dataset=dict(
        type='SeededConcatDataset',
        datasets=[
            _dataset('h36m', 'h36m_train.npz', 'h36m', train_pipeline),
            _dataset('coco', 'coco_2014_train.npz', 'coco', train_pipeline),
            _dataset('mpii', 'mpii_train.npz', 'mpii', train_pipeline),
            _dataset('mpi_inf_3dhp', 'mpi_inf_3dhp_train.npz', 'mpi_inf_3dhp', train_pipeline),
        ]))
val_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=_dataset('pw3d', 'pw3d_test.npz', 'pw3d', test_pipeline, test_mode=True))
test_dataloader = val_dataloader

# 3DPW protocol: gendered SMPL ground truth, 14 LSP joints from the H36M regressor.
val_evaluator = dict(
    type='HMRMetric',
    body_model_dir=smpl_dir,
    joint_regressor='data/body_models/J_regressor_h36m.npy')
test_evaluator = val_evaluator
