"""Buy-'til-you-die CLV models: purchase models (BG/NBD, MBG/NBD, Pareto/NBD) and the Gamma-Gamma spend model.

Every estimator follows the scikit-learn contract through :class:`~patron.models.clv._base.CLVModel`.
"""

from patron.models.clv._base import CLVModel
from patron.models.clv.beta_geo import BetaGeoModel
from patron.models.clv.gamma_gamma import GammaGammaModel
from patron.models.clv.modified_beta_geo import ModifiedBetaGeoModel
from patron.models.clv.pareto_nbd import ParetoNBDModel

__all__ = ["BetaGeoModel", "CLVModel", "GammaGammaModel", "ModifiedBetaGeoModel", "ParetoNBDModel"]
