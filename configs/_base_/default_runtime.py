# Runtime shared by every mroi config (mmengine Runner).
default_scope = 'mroi'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Drawn predictions (mesh, keypoints, boxes) for the vis backends; off by default.
    # tools/test.py --show-dir DIR / --show switch it on (docs/visualization.md).
    visualization=dict(type='HMRVisualizationHook', enable=False, interval=50),
    # A bar over validation / test batches, on a terminal only.
    eval_progress=dict(type='EvalProgressBarHook'),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches to gloo when CUDA is absent. timeout: seconds any collective
    # may wait for the other ranks before the run stops with an error naming the rank
    # (gloo's own default is 30 min). A healthy run's longest wait is rank 0 saving a
    # checkpoint or computing the metrics while the others wait - seconds here; 600 s (NCCL's
    # default) leaves ample room. Raise it for slow shared storage:
    # --cfg-options env_cfg.dist_cfg.timeout=1800
    dist_cfg=dict(backend='nccl', timeout=600),
)

# TensorBoard: tools/train.py / tools/test.py --tensorboard add TensorboardVisBackend here
# (docs/visualization.md); W&B: add dict(type='WandbVisBackend').
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='HMRVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
