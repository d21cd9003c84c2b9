# Ablation: relative positional encoding with L = 4 frequencies (paper: L = 32).
_base_ = '../mroi_r50.py'
model = dict(neck=dict(num_freqs=4))
