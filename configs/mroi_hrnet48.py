# The README's short name for the paper's main model (configs/mroi/mroi_hrnet48.py).
_base_ = './mroi/mroi_hrnet48.py'
