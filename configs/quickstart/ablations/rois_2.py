# Multi-RoI HMR with 2 RoIs.
_base_ = '../mroi_synthetic.py'
ablation = dict(row=9, label='Multi-RoI, 2 RoIs')
num_rois = 2
