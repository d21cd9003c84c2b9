# Loss weights of the released code instead of the paper's reading:
# lambda_cam = 1, lambda_con = 0.1 (docs/method.md#loss-weights).
_base_ = './mroi_r50.py'
model = dict(loss_camera_consistency=dict(loss_weight=1.0), loss_contrastive=dict(loss_weight=0.1))
