# Ablation "w/o L_con": no contrastive loss.
_base_ = '../mroi_r50.py'
model = dict(loss_contrastive=None)
