# RoI-aware fusion without the tanh on its logits.
_base_ = '../mroi_synthetic.py'
ablation = dict(row=6, label='fusion logits without tanh')
model = dict(neck=dict(logit_activation=None))
