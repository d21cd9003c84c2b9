# Ablation "paper's depth term": L_cam compares b*s in px/m (weight 1e-4) instead of log(b s).
_base_ = '../mroi_r50.py'
model = dict(loss_camera_consistency=dict(depth_term='bs', axis_weights=(0.1, 0.1, 1e-4)))
