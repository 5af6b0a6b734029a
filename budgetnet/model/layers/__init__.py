"""From-scratch layers (`backend: custom`): tensor arithmetic and autograd only.

No F.conv2d, F.batch_norm, F.layer_norm, nn.MultiheadAttention or scaled_dot_product_attention:
convolution is unfold + matmul, norms are reductions, attention is matmul + a stable softmax.
Parameter and buffer names match torch.nn, so state_dicts load both ways.
"""
from budgetnet.model.layers.activation import GELU, ReLU, SiLU, Tanh, Dropout, softmax
from budgetnet.model.layers.attention import attend
from budgetnet.model.layers.conv import Conv2d
from budgetnet.model.layers.linear import Embedding, Linear
from budgetnet.model.layers.norm import BatchNorm2d, LayerNorm
from budgetnet.model.layers.pool import AvgPool2d, MaxPool2d

__all__ = ["Conv2d", "Linear", "Embedding", "BatchNorm2d", "LayerNorm", "MaxPool2d", "AvgPool2d",
           "ReLU", "GELU", "SiLU", "Tanh", "Dropout", "softmax", "attend"]
