# CLIFF on the same backbone, crops and data: 1 RoI, one regressor with the full model's settings.
_base_ = '../mroi_synthetic.py'
ablation = dict(row=0, label='CLIFF (1 RoI)')
num_rois = 1
model = dict(type='CLIFF', neck=None, contrastive_pooling=None, loss_camera_consistency=None,
             loss_contrastive=None, head=dict(
                 {k: v for k, v in _base_.model.head.items() if k != 'camera_decoder'},
                 _delete_=True, type='CliffHead', scale_param=_base_.model.head.camera_decoder.scale_param))
