# Without the camera-consistency loss.
_base_ = '../mroi_synthetic.py'
ablation = dict(row=3, label='w/o camera-consistency loss')
model = dict(loss_camera_consistency=None)
