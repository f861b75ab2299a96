"""Cost models: latency, energy, FLOPs and bytes of LLM forward passes on GPUs and on the
parameterised speculative-decoding accelerator (docs/cost-model.md).

>>> from specaccel.models.cost import get_model, get_hardware, pass_cost
>>> c = pass_cost(get_model("llama-2-7b"), get_hardware("a100-80gb"), tokens=1, context=1024)

`pass_cost` evaluates one pass with a per-operator breakdown (pure Python);
`pass_costs` evaluates arrays of passes through the Numba-compiled evaluator and
`pass_costs_configs` arrays of passes over many (model, device) pairs; `kv_commit_cost`
is the commit of the accepted path after verification.  See docs/cost-model.md.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "AcceleratorConfig": "accelerator", "accelerator_design": "accelerator",
    "get_hardware": "hardware_presets", "list_hardware": "hardware_presets",
    "HardwareSpec": "hardware_spec", "kv_commit_cost": "kv_commit",
    "get_model": "model_presets", "list_models": "model_presets", "ModelSpec": "model_spec",
    "pass_costs": "pass_evaluator", "pass_costs_configs": "pass_evaluator",
    "PassCost": "reference_evaluator", "reference_pass_cost": "reference_evaluator",
}
"""Where each public name lives; a module loads on first use, so that pricing one pass
in pure Python (``specaccel cost``) does not compile the Numba evaluator."""

__all__ = sorted([*_WHERE, "pass_cost"])


def __getattr__(name: str) -> Any:
    if name == "pass_cost":
        name_in_module = "reference_pass_cost"
        module = "reference_evaluator"
    elif name in _WHERE:
        name_in_module, module = name, _WHERE[name]
    else:
        raise AttributeError(f"module 'specaccel.models.cost' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"specaccel.models.cost.{module}"), name_in_module)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
