# Multi-RoI HMR with 3 RoIs.
_base_ = '../mroi_synthetic.py'
ablation = dict(row=10, label='Multi-RoI, 3 RoIs')
num_rois = 3
