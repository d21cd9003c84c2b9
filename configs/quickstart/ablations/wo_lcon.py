# Without the contrastive loss.
_base_ = '../mroi_synthetic.py'
ablation = dict(row=4, label='w/o contrastive loss')
model = dict(loss_contrastive=None)
