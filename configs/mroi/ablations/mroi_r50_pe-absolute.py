# Ablation: positional encoding of bbox_info in RoI-aware fusion = 'absolute'
# (the paper's best is 'relative').
_base_ = '../mroi_r50.py'
model = dict(neck=dict(pos_encoding='absolute'))
