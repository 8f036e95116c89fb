"""Why a model predicts what it does, for one text and one target: saliency, head importance and
token attributions (``methods.py``, ``token_saliency.py``) of a text or a prompt with pictures
(``prompts.py``), attention rollout on pictures (``layer_rollout.py``), the head gates they use
(``gates.py``), and the widget's store of results per target (``saliency_cache.py``). ``attn_widget.attribution.saliency(...)`` and the
other methods are importable from here."""

from .layer_rollout import LayerRollout, patch_rollout
from .methods import (
    Objective,
    Saliency,
    Target,
    attention_rollout,
    attention_x_gradient,
    gate_loss,
    head_importance,
    rollout,
    saliency,
    token_id,
)
from .prompts import REFUSED as REFUSED_WITH_IMAGES
from .token_saliency import (
    IG_MAX_STEPS,
    IG_TOLERANCE,
    TokenAttribution,
    check_baseline,
    check_steps,
    gradient_norm,
    gradient_x_input,
    integrated_gradients,
)

__all__ = [
    "IG_MAX_STEPS",
    "IG_TOLERANCE",
    "REFUSED_WITH_IMAGES",
    "LayerRollout",
    "Objective",
    "Saliency",
    "Target",
    "TokenAttribution",
    "attention_rollout",
    "attention_x_gradient",
    "check_baseline",
    "check_steps",
    "gate_loss",
    "gradient_norm",
    "gradient_x_input",
    "head_importance",
    "integrated_gradients",
    "patch_rollout",
    "rollout",
    "saliency",
    "token_id",
]
