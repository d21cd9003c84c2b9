# Ablation "w/o L_cam": no camera-consistency loss.
_base_ = '../mroi_r50.py'
model = dict(loss_camera_consistency=None)
