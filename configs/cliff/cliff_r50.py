# CLIFF, ResNet-50, 256x192 crops, trained on the paper's mix, evaluated on 3DPW.
_base_ = [
    '../_base_/models/cliff_r50.py',
    '../_base_/datasets/mix_h36m_mpiinf3dhp_coco_mpii.py',
    '../_base_/schedules/adam_lr1e-4_25e.py',
    '../_base_/default_runtime.py',
]
# ResNet-50 initialised from an mmpose COCO pose checkpoint, as the authors do
# (logs/pretrained_resnet/pose_resnet.pth); see tools/convert_checkpoint.py.
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='data/pretrained/res50_coco_256x192.pth')))
