# L_cam's depth term as the paper writes it, (b_i s_i - b_j s_j)^2 in px/m.
_base_ = '../mroi_synthetic.py'
ablation = dict(row=7, label="L_cam's depth as b*s in px/m (paper)")
model = dict(loss_camera_consistency=dict(depth_term='bs', axis_weights=(0.1, 0.1, 1e-4)))
