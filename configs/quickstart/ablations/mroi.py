# Multi-RoI HMR, full: 5 RoIs, RoI-aware fusion, LocalCamera, L_cam and L_con.
_base_ = '../mroi_synthetic.py'
ablation = dict(row=1, label='Multi-RoI, full (5 RoIs)')
