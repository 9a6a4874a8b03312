"""zkmarket.planner: how many predictions or test examples a consumer must check, and what that
costs (paper section 6.2, Tables 3 and 4).

``sample_size`` holds the statistics (Clopper-Pearson for spot checks, Hoeffding for accuracy),
``cost`` prices a sample in exact integers, ``plot`` draws a sweep, ``cli`` is ``zkmarket plan``.
"""

from .cost import ComputePrice, CostLine, Pricing, accuracy_costs, spot_check_costs
from .sample_size import (
    accuracy_sample_size,
    clopper_pearson_upper,
    detection_probability,
    hoeffding_tail,
    spot_check_sample_size,
)

__all__ = [
    "ComputePrice", "CostLine", "Pricing", "accuracy_costs", "spot_check_costs",
    "accuracy_sample_size", "clopper_pearson_upper", "detection_probability", "hoeffding_tail",
    "spot_check_sample_size",
]
