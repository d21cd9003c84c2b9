# Ablation "released camera decoder": every RoI starts at the same mean camera and the
# decoder sees only absolute bbox_info (the authors' code), instead of the mean camera
# carried to each RoI's box plus the RoI layout.
_base_ = '../mroi_r50.py'
model = dict(head=dict(camera_decoder=dict(init_mode='shared', layout_input=False)))
