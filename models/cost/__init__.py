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

from .accelerator import AcceleratorConfig, accelerator_design
from .hardware_presets import get_hardware, list_hardware
from .hardware_spec import HardwareSpec
from .kv_commit import kv_commit_cost
from .model_presets import get_model, list_models
from .model_spec import ModelSpec
from .pass_evaluator import pass_costs, pass_costs_configs
from .reference_evaluator import PassCost, reference_pass_cost

pass_cost = reference_pass_cost

__all__ = [
    "AcceleratorConfig",
    "accelerator_design",
    "HardwareSpec",
    "ModelSpec",
    "PassCost",
    "get_hardware",
    "get_model",
    "kv_commit_cost",
    "list_hardware",
    "list_models",
    "pass_cost",
    "pass_costs",
    "pass_costs_configs",
]
