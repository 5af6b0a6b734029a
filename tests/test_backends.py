"""The from-scratch backend computes the same function as torch: outputs and gradients."""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings, strategies as st

import budgetnet
from budgetnet.model import layers
from budgetnet.model.compile import example_input
from budgetnet.spec.schema import zoo_names

# Documented tolerances. The backends sum in different orders (im2col matmul vs oneDNN), so
# fp32 outputs of deep models differ by rounding: rtol 1e-4 / atol 1e-5. Gradients are compared
# in float64 (rtol 1e-7 / atol 1e-9): in fp32, a max-pool window whose two largest values differ
# by less than the rounding error can pick a different winner on each backend, and the gradient
# of max is discontinuous there (seen on deep_cnn_003: 1% apart in fp32, 1e-15 apart in fp64).
TOL = {torch.float32: dict(rtol=1e-4, atol=1e-5), torch.float64: dict(rtol=1e-7, atol=1e-9)}


def _pair(name, dtype=torch.float32):
    ref = budgetnet.build(name, backend="torch", seed=0).to(dtype)
    ours = budgetnet.build(name, backend="custom", seed=1).to(dtype)
    ours.load_state_dict(ref.state_dict())  # same names and shapes: loads as is
    ref.load_state_dict(ours.state_dict())  # and back
    return ref, ours


def _run(model, x, y, train: bool, seed: int):
    model.train(train)
    torch.manual_seed(seed)  # same dropout masks on both backends
    out = model(x)
    model.zero_grad()
    F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1)).backward()  # text: every position
    return out.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("name", zoo_names())
def test_zoo_backends_agree(name, train, dtype):
    ref, ours = _pair(name, dtype)
    torch.manual_seed(0)
    spec = ref.spec
    x, y = example_input(spec, 4, dtype), torch.randint(0, spec.classes, (4, *spec.input[:1]) if spec.is_text else (4,))
    out_ref, grads_ref = _run(ref, x, y, train, seed=7)
    out_ours, grads_ours = _run(ours, x, y, train, seed=7)
    torch.testing.assert_close(out_ours, out_ref, **TOL[dtype])
    for n, buf in ref.named_buffers():  # running statistics move the same way
        torch.testing.assert_close(dict(ours.named_buffers())[n], buf, **TOL[dtype])
    if dtype == torch.float64:
        for n in grads_ref:
            torch.testing.assert_close(grads_ours[n], grads_ref[n], **TOL[dtype], msg=n)


def test_same_seed_gives_same_weights_on_both_backends():
    a = budgetnet.build("vit_003", backend="torch", seed=3).state_dict()
    b = budgetnet.build("vit_003", backend="custom", seed=3).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("init", ["torch", "kaiming"])
def test_init_scheme_applies_to_both_backends(init):
    raw = {"name": "t", "init": init, "layers": [{"conv": {"out": 64, "k": 3}}, "gap", "flatten", {"linear": 10}]}
    w = budgetnet.build(raw, backend="custom", seed=0)[0].weight
    expected_std = (2 / 9) ** 0.5 if init == "kaiming" else (1 / 27) ** 0.5  # N(0, 2/fan_in) vs U(+-1/sqrt(fan_in))
    assert abs(w.std().item() - expected_std) / expected_std < 0.1


@settings(max_examples=80, deadline=None)
@given(k=st.integers(1, 5), stride=st.integers(1, 3), padding=st.integers(0, 2), dilation=st.integers(1, 3),
       groups=st.sampled_from([1, 2, 3]), cin_mult=st.integers(1, 2), out_mult=st.integers(1, 3),
       h=st.integers(5, 13), w=st.integers(5, 13), bias=st.booleans())
def test_conv_geometry(k, stride, padding, dilation, groups, cin_mult, out_mult, h, w, bias):
    cin, cout = groups * cin_mult, groups * out_mult
    span = dilation * (k - 1) + 1
    assume(h + 2 * padding >= span and w + 2 * padding >= span)
    ours = layers.Conv2d(cin, cout, k, stride, padding, dilation, groups, bias)
    ref = torch.nn.Conv2d(cin, cout, k, stride, padding, dilation, groups, bias)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, cin, h, w, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    out, out_ref = ours(x), ref(x2)
    torch.testing.assert_close(out, out_ref, rtol=1e-5, atol=1e-6)
    out.square().sum().backward()
    out_ref.square().sum().backward()
    torch.testing.assert_close(x.grad, x2.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad, rtol=1e-4, atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(k=st.integers(1, 4), stride=st.integers(1, 3), padding=st.integers(0, 2), h=st.integers(4, 11))
def test_pool_geometry(k, stride, padding, h):
    assume(2 * padding <= k and h + 2 * padding >= k)
    x = torch.randn(2, 3, h, h)
    torch.testing.assert_close(layers.MaxPool2d(k, stride, padding)(x), torch.nn.MaxPool2d(k, stride, padding)(x))
    torch.testing.assert_close(layers.AvgPool2d(k, stride, padding)(x), torch.nn.AvgPool2d(k, stride, padding)(x))


@pytest.mark.parametrize("causal", [False, True])
def test_attention_equals_torch(causal):
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, 8) for _ in range(3))
    torch.testing.assert_close(layers.attend(q, k, v, causal),
                               F.scaled_dot_product_attention(q, k, v, is_causal=causal), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("block", [1 << 22, 40])  # one block; 40 scores = blocks of 1 pair x 5 query rows
def test_attention_gradients_equal_torch(causal, block, monkeypatch):
    from budgetnet.model.layers import attention
    monkeypatch.setattr(attention, "BLOCK_ELEMENTS", block)
    torch.manual_seed(1)
    ours = [torch.randn(2, 3, 7, 8, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    ref = [t.detach().clone().requires_grad_() for t in ours]
    grad = torch.randn(2, 3, 7, 8, dtype=torch.float64)
    out = layers.attend(*ours, causal)
    out.backward(grad)
    F.scaled_dot_product_attention(*ref, is_causal=causal).backward(grad)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(*ref, is_causal=causal))
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a.grad, b.grad)
    assert torch.autograd.gradcheck(lambda *t: layers.attend(*t, causal), tuple(t.detach().requires_grad_() for t in ours))


def test_attention_keeps_no_token_by_token_tensor_for_backward():
    """Seed 000's pixel transformer: 784 tokens. What autograd keeps grows with T, not T^2."""
    saved = []

    def pack(t):
        saved.append(t.numel())
        return t

    q, k, v = (torch.randn(2, 4, 784, 8, requires_grad=True) for _ in range(3))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        layers.attend(q, k, v)
    assert max(saved) <= 2 * 4 * 784 * 8 < 784 * 784  # q, k, v, out, log-sum-exp: no T x T


def test_causal_attention_ignores_the_future():
    q, k, v = (torch.randn(1, 1, 5, 4) for _ in range(3))
    v2 = v.clone()
    v2[..., 3:, :] += 100.0  # change only the last two positions
    a, b = layers.attend(q, k, v, True), layers.attend(q, k, v2, True)
    torch.testing.assert_close(a[..., :3, :], b[..., :3, :])


def test_batchnorm_running_stats_and_eval():
    ours, ref = layers.BatchNorm2d(4, momentum=0.3), torch.nn.BatchNorm2d(4, momentum=0.3)
    for _ in range(3):
        x = torch.randn(8, 4, 5, 5) * 3 + 1
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours.running_mean, ref.running_mean)
    torch.testing.assert_close(ours.running_var, ref.running_var)
    assert ours.num_batches_tracked.item() == 3
    ours.eval(), ref.eval()
    x = torch.randn(2, 4, 5, 5)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-6)


def test_dropout_respects_mode():
    d = layers.Dropout(0.5)
    x = torch.ones(1000)
    assert torch.equal(d.eval()(x), x)
    y = d.train()(x)
    assert set(y.unique().tolist()) <= {0.0, 2.0} and 300 < (y == 0).sum() < 700


def test_backend_uses_no_ready_made_layer_functions():
    import inspect
    import budgetnet.model.layers as pkg
    import pkgutil
    import importlib
    banned = ("F.conv2d", "conv2d(", "batch_norm", "layer_norm(", "MultiheadAttention", "scaled_dot_product",
              "F.linear", "max_pool2d", "avg_pool2d", "F.relu", "F.gelu", "F.dropout", "F.softmax", "torch.softmax")
    for info in pkgutil.iter_modules(pkg.__path__):
        src = inspect.getsource(importlib.import_module(f"budgetnet.model.layers.{info.name}"))
        code = "\n".join(line.split("#")[0] for line in src.splitlines())
        for word in banned:
            assert word not in code, f"budgetnet/layers/{info.name}.py uses {word}"


@pytest.mark.parametrize("shape,k,stride,padding", [((4, 16, 24, 24), 2, 2, 0), ((3, 5, 7, 9), 3, 2, 1), ((2, 3, 6, 6), 2, 1, 0)])
@pytest.mark.parametrize("ties", [False, True])
def test_fast_maxpool_equals_torch_with_gradients(shape, k, stride, padding, ties):
    from budgetnet.model.fastpool import MaxPool2d

    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    if ties:  # windows of equal values, as after ReLU: the gradient must go to the first maximum
        x = x.round().clamp(min=0)
    ref, fast = torch.nn.MaxPool2d(k, stride, padding), MaxPool2d(k, stride, padding)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    grad = torch.randn_like(ref(x))
    (ref(a) * grad).sum().backward()
    (fast(b) * grad).sum().backward()
    assert torch.equal(ref(x), fast(x)) and torch.equal(a.grad, b.grad)
