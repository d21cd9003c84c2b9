# The paper's schedule for ResNet-50 (docs/method.md#training-protocol): Adam, lr 1e-4,
# no weight decay, 25 epochs, no lr decay.
# FiniteGradOptimWrapper: OptimWrapper that skips (and counts) a step whose
# gradient norm is inf/NaN instead of storing inf Adam moments.
optim_wrapper = dict(
    type='FiniteGradOptimWrapper', optimizer=dict(type='Adam', lr=1e-4, weight_decay=0.))
param_scheduler = []
train_cfg = dict(by_epoch=True, max_epochs=25, val_interval=1)
val_cfg = dict()
test_cfg = dict()
