# The paper's schedule for HRNet-W48 (docs/method.md#training-protocol): Adam, lr 5e-5,
# 15 epochs.
_base_ = './adam_lr1e-4_25e.py'
optim_wrapper = dict(optimizer=dict(lr=5e-5))
train_cfg = dict(max_epochs=15)
