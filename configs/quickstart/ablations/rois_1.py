# Multi-RoI HMR with 1 RoI: no pair for L_cam or L_con, so this isolates the split head from CLIFF's.
_base_ = '../mroi_synthetic.py'
ablation = dict(row=8, label='Multi-RoI, 1 RoI')
num_rois = 1
model = dict(loss_camera_consistency=None, loss_contrastive=None)
