"""The bit map of every stream payload of a unit, exported as JSON and as a C header.

A host that talks to a unit (over AXI-Stream, a UART, a bus) packs and unpacks the unit's
flat payload words.  The map is read from the very ``data.Layout`` the gateware uses, so it
cannot drift: each field has an ``offset`` (from bit 0, the least significant) and a
``width``; an array field has ``count`` elements every ``stride`` bits.

* :func:`payload_maps` -- ``{stream: {"bits": total, "fields": [...]}}`` of a component;
* :func:`layout_json` -- that map for several units as JSON text;
* :func:`layout_c_header` -- the same as ``#define``\\ s plus two inline helpers that read
  and write a field in an array of little-endian 32-bit words.
"""

from __future__ import annotations

import json
import re
from typing import Any

from amaranth.hdl import Shape
from amaranth.lib import data, stream, wiring

__all__ = ["layout_c_header", "layout_fields", "layout_json", "payload_maps"]


def layout_fields(layout: Any, prefix: str = "", base: int = 0) -> list[dict[str, Any]]:
    """Fields of `layout` (nested structs flattened with ``.``), arrays kept as arrays of
    plain elements (``count``, ``stride``) or flattened when their elements are structs."""
    out: list[dict[str, Any]] = []
    if isinstance(layout, data.StructLayout):
        for name, field in layout:
            out += layout_fields(field.shape, f"{prefix}{name}", base + field.offset)
        return out
    if isinstance(layout, data.ArrayLayout):
        elem = layout.elem_shape
        stride = Shape.cast(elem).width
        if isinstance(elem, data.Layout):
            for k in range(layout.length):
                out += layout_fields(elem, f"{prefix}[{k}].", base + k * stride)
            return out
        return [{"name": prefix, "offset": base, "width": stride, "count": layout.length,
                 "stride": stride, "signed": Shape.cast(elem).signed}]
    shape = Shape.cast(layout)
    return [{"name": prefix, "offset": base, "width": shape.width, "count": 1,
             "stride": shape.width, "signed": shape.signed}]


def _struct_fields(layout) -> list[dict[str, Any]]:
    if isinstance(layout, data.StructLayout):
        out = []
        for name, field in layout:
            if isinstance(field.shape, data.StructLayout):
                out += [dict(f, name=f"{name}.{f['name']}", offset=f["offset"] + field.offset)
                        for f in _struct_fields(field.shape)]
            else:
                out += layout_fields(field.shape, name, field.offset)
        return out
    return layout_fields(layout, "value")


def payload_maps(component: wiring.Component) -> dict[str, dict[str, Any]]:
    """Per stream member of `component`: its direction, payload bits and fields."""
    maps = {}
    for name, member in component.signature.members.items():
        if not member.is_signature or not isinstance(member.signature, stream.Signature):
            continue
        shape = member.signature.members["payload"].shape
        maps[name] = {"direction": "in" if member.flow == wiring.In else "out",
                      "bits": Shape.cast(shape).width, "fields": _struct_fields(shape)}
    return maps


def layout_json(units: dict[str, wiring.Component], *, parameters: dict | None = None) -> str:
    """JSON text: ``{"units": {unit: {stream: map}}, "parameters": {...}}``."""
    doc = {"units": {name: payload_maps(c) for name, c in units.items()},
           "parameters": parameters or {}}
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def _ident(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()


def layout_c_header(units: dict[str, wiring.Component], *, guard: str = "SPECACCEL_LAYOUT_H",
                    parameters: dict | None = None) -> str:
    """A C header with ``<UNIT>_<STREAM>_<FIELD>_{OFFSET,WIDTH,COUNT,STRIDE}`` and
    ``<UNIT>_<STREAM>_BITS`` / ``_WORDS`` for every unit, plus ``specaccel_get`` /
    ``specaccel_set`` over little-endian ``uint32_t`` words."""
    lines = [f"#ifndef {guard}", f"#define {guard}", "",
             "/* Bit map of the specaccel units' stream payloads (generated; bit 0 is the",
             " * least significant bit of word 0).  Array fields: element k sits at",
             " * OFFSET + k * STRIDE. */", "", "#include <stdint.h>", ""]
    for key, value in sorted((parameters or {}).items()):
        lines.append(f"#define SPECACCEL_{_ident(key)} {int(value)}")
    lines.append("")
    for unit, comp in units.items():
        for stream_name, m in payload_maps(comp).items():
            pre = f"{_ident(unit)}_{_ident(stream_name)}"
            lines.append(f"/* {unit}.{stream_name} ({m['direction']}) */")
            lines.append(f"#define {pre}_BITS {m['bits']}")
            lines.append(f"#define {pre}_WORDS {(m['bits'] + 31) // 32}")
            for f in m["fields"]:
                fp = f"{pre}_{_ident(f['name'])}"
                lines.append(f"#define {fp}_OFFSET {f['offset']}")
                lines.append(f"#define {fp}_WIDTH {f['width']}")
                if f["count"] > 1:
                    lines.append(f"#define {fp}_COUNT {f['count']}")
                    lines.append(f"#define {fp}_STRIDE {f['stride']}")
            lines.append("")
    lines += [
        "/* Read `width` (<= 32) bits at bit `offset` of a payload. */",
        "static inline uint32_t specaccel_get(const uint32_t *w, unsigned offset,"
        " unsigned width) {",
        "    uint64_t v = w[offset / 32];",
        "    if (offset % 32 + width > 32) v |= (uint64_t)w[offset / 32 + 1] << 32;",
        "    v >>= offset % 32;",
        "    return (uint32_t)(width == 32 ? v : v & ((1u << width) - 1u));",
        "}", "",
        "/* Write `width` (<= 32) bits of `value` at bit `offset` of a payload. */",
        "static inline void specaccel_set(uint32_t *w, unsigned offset, unsigned width,"
        " uint32_t value) {",
        "    for (unsigned i = 0; i < width; i++) {",
        "        unsigned b = offset + i;",
        "        uint32_t m = 1u << (b % 32);",
        "        if ((value >> i) & 1u) w[b / 32] |= m; else w[b / 32] &= ~m;",
        "    }",
        "}", "", f"#endif /* {guard} */", ""]
    return "\n".join(lines)
