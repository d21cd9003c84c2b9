# Without RoI-aware fusion: every RoI keeps its own feature.
_base_ = '../mroi_synthetic.py'
ablation = dict(row=2, label='w/o RoI-aware fusion')
model = dict(neck=dict(fusion=False))
