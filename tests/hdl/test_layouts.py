"""The fast packer gives the very bits of the Amaranth layouts' own ``const``."""

import numpy as np
import pytest
from amaranth.lib import data

from specaccel.hdl.layouts import (
    kv_compact_request_layout,
    kv_compact_response_layout,
    pack,
    tree_mask_request_layout,
    tree_mask_response_layout,
    verify_request_layout,
    verify_response_layout,
)

LAYOUTS = [
    verify_request_layout(nodes=5, token_width=18, prob_width=9, stochastic=True,
                          uniform_in_request=True),
    verify_request_layout(nodes=16, token_width=3, prob_width=8, stochastic=False,
                          uniform_in_request=False),
    verify_response_layout(nodes=7, token_width=11),
    tree_mask_request_layout(nodes=6, position_width=13),
    tree_mask_response_layout(nodes=6, position_width=13),
    kv_compact_request_layout(nodes=9, slot_width=20),
    kv_compact_response_layout(nodes=9, slot_width=20),
]


def _random_value(rng, layout):
    if isinstance(layout, data.StructLayout):
        return {name: _random_value(rng, f.shape) for name, f in layout}
    if isinstance(layout, data.ArrayLayout):
        return [_random_value(rng, layout.elem_shape) for _ in range(layout.length)]
    width = layout.width if hasattr(layout, "width") else int(layout)
    return int(rng.integers(0, 1 << width)) if width < 63 else int(rng.integers(0, 1 << 62))


@pytest.mark.parametrize("layout", LAYOUTS, ids=range(len(LAYOUTS)))
def test_pack_equals_layout_const(layout):
    from amaranth.hdl import Shape

    rng = np.random.default_rng(3)
    for _ in range(100):
        value = _random_value(rng, layout)
        assert pack(layout, value) == layout.const(value).as_value().value
    # and it unpacks with the layout itself
    name, field = next(iter(layout))
    word = pack(layout, value)
    got = getattr(layout.from_bits(word), name)
    want = value[name]
    if isinstance(field.shape, data.ArrayLayout):
        assert [int(got[k]) for k in range(field.shape.length)] == want
    else:
        assert int(got) == want and Shape.cast(field.shape).width >= 1


def test_pack_rejects_values_that_do_not_fit():
    layout = verify_response_layout(nodes=4, token_width=3)
    with pytest.raises(ValueError, match="does not fit"):
        pack(layout, {"bonus_token": 8})
    with pytest.raises(ValueError, match="elements"):
        pack(layout, {"path": [0, 1, 2, 3, 0]})
