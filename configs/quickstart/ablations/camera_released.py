# The released code's camera decoder: every RoI starts at one mean camera, no RoI layout input.
_base_ = '../mroi_synthetic.py'
ablation = dict(row=5, label='released camera decoder (one start, no layout)')
model = dict(head=dict(camera_decoder=dict(init_mode='shared', layout_input=False)))
