"""Hypothesis strategies: random *valid* specs (CNNs and small transformers) as mappings."""
from hypothesis import assume, strategies as st

from budgetnet.errors import SpecError
from budgetnet.spec.schema import load_spec


@st.composite
def cnn_specs(draw):
    c = draw(st.integers(1, 3))
    size = draw(st.integers(6, 16))
    layers = []
    channels = c
    for _ in range(draw(st.integers(1, 4))):
        groups = draw(st.sampled_from([g for g in (1, 2, 3) if channels % g == 0]))
        out = groups * draw(st.integers(1, 4))
        layers.append({"conv": {"out": out, "k": draw(st.integers(1, 5)), "stride": draw(st.integers(1, 2)),
                                "padding": draw(st.integers(0, 2)), "dilation": draw(st.integers(1, 2)),
                                "groups": groups, "bias": draw(st.booleans())}})
        channels = out
        layers.append(draw(st.sampled_from(["relu", "bn", "gelu", "tanh", {"dropout": 0.1}])))
        if draw(st.booleans()):
            layers.append({draw(st.sampled_from(["maxpool", "avgpool"])): {"k": draw(st.integers(1, 3))}})
    head = draw(st.sampled_from(["gap", "flatten"]))
    layers += ["gap", "flatten"] if head == "gap" else ["flatten"]
    if draw(st.booleans()):
        layers += [{"linear": draw(st.integers(1, 12))}, "relu"]
    classes = draw(st.integers(2, 10))
    layers.append({"linear": {"out": classes, "bias": draw(st.booleans())}})
    raw = {"name": "random_cnn", "input": [c, size, size], "classes": classes, "layers": layers}
    try:
        load_spec(raw)
    except SpecError:
        assume(False)
    return raw


@st.composite
def vit_specs(draw):
    patch = draw(st.sampled_from([2, 4]))
    heads = draw(st.integers(1, 3))
    dim = heads * draw(st.integers(1, 4))
    layers = [{"patch_embed": {"size": patch, "dim": dim, "bias": draw(st.booleans())}}]
    if draw(st.booleans()):
        layers.append("cls_token")
    layers.append("pos_embed")
    layers.append({"repeat": {"times": draw(st.integers(1, 2)),
                              "layers": [{"encoder": {"heads": heads, "mlp_ratio": draw(st.sampled_from([1.0, 2.0])),
                                                      "causal": draw(st.booleans())}}]}})
    layers += ["ln", {"token_pool": draw(st.sampled_from(["mean", "cls"]))}, {"linear": 10}]
    return {"name": "random_vit", "input": [1, 8, 8], "layers": layers}


any_specs = st.one_of(cnn_specs(), vit_specs())
