# Multi-RoI HMR with 4 RoIs.
_base_ = '../mroi_synthetic.py'
ablation = dict(row=11, label='Multi-RoI, 4 RoIs')
num_rois = 4
