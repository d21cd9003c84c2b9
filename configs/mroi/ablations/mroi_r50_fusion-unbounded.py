# Ablation "unbounded fusion logits": RoI-aware fusion without the tanh on its logits.
_base_ = '../mroi_r50.py'
model = dict(neck=dict(logit_activation=None))
