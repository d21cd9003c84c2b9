# Paper §4 (ResNet-50): Adam, lr 1e-4, no weight decay, 25 epochs, no lr decay.
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4, weight_decay=0.))
param_scheduler = []
train_cfg = dict(by_epoch=True, max_epochs=25, val_interval=1)
val_cfg = dict()
test_cfg = dict()
