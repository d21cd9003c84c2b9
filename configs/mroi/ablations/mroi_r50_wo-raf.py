# Ablation "w/o RAF": RoI features are not fused (F_i = f_i, F̄ = mean_i f_i).
_base_ = '../mroi_r50.py'
model = dict(neck=dict(fusion=False))
