"""Class-balancing weightings (Fairstein et al., §4 and §5.3): Uniform, PosProb, InvProp."""

from al_bert.weighting.base import Uniform, Weighting
from al_bert.weighting.invprop import InvProp, invprop_weights
from al_bert.weighting.posprob import PosProb

__all__ = ["InvProp", "PosProb", "Uniform", "Weighting", "invprop_weights"]
