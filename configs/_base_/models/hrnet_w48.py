# The HRNet-W48 backbone of the HRNet configs: mmpose's COCO-pretrained weights, converted
# to data/pretrained/ (see docs/usage.md#train-and-evaluate). A variable, not a model: a config
# takes it with `backbone=dict(_delete_=True, **hrnet_w48_backbone)` next to its own base.
hrnet_w48_backbone = dict(
    type='HRNet',
    arch='w48',
    init_cfg=dict(
        type='Pretrained', prefix='backbone.',
        checkpoint='data/pretrained/hrnet_w48_coco_256x192.pth'))
# The four branches' channels, what a pooling neck reads.
hrnet_w48_channels = (48, 96, 192, 384)
