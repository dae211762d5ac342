"""Optional Bayesian fitting of BG/NBD, Pareto/NBD and Gamma-Gamma through PyMC-Marketing (``pip install
patron[bayes]``).

The estimators here subclass Patron's maximum-likelihood ones and change only how the parameters are found:
PyMC-Marketing builds the model and samples the posterior (NUTS, ``method="mcmc"``) or finds its mode
(``method="map"``). Everything downstream is Patron's: ``params_`` are posterior means (the mode for MAP),
``summary_`` has the posterior sd and a 95% equal-tailed credible interval, and every prediction with ``level`` draws
its parameters from the posterior samples instead of the asymptotic normal of the MLE. The log-likelihood and
information criteria are Patron's likelihood at ``params_``.

PyMC-Marketing is imported only when a model is fitted, so the rest of Patron never pays for it. Its model classes
and prior objects are used as documented (``pymc_marketing.clv``, ``pymc_extras.prior.Prior``); nothing here
re-implements them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from patron.errors import ModelError
from patron.models.clv._base import _Z95, _hessian, _inverse
from patron.models.clv.beta_geo import BetaGeoModel
from patron.models.clv.gamma_gamma import GammaGammaModel
from patron.models.clv.pareto_nbd import ParetoNBDModel

_METHODS = ("mcmc", "map")


def _pymc_marketing() -> tuple[Any, Any]:
    """``(pymc_marketing.clv, Prior)``, or a ModelError naming the extra to install."""
    try:
        from pymc_extras.prior import Prior
        from pymc_marketing import clv
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModelError("Bayesian CLV fitting needs PyMC-Marketing: pip install 'patron[bayes]'") from exc
    return clv, Prior


class _Bayesian:
    """Fit through PyMC-Marketing; predictions and intervals from the posterior (see the module docstring)."""

    _pymc_model: ClassVar[str] = ""
    # Patron's parameter name -> PyMC-Marketing's variable name.
    _pymc_names: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        method: str = "mcmc",
        *,
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 2,
        random_seed: int | None = 0,
        flat_priors: bool = False,
        priors: Mapping[str, Any] | None = None,
    ) -> None:
        self.method = method
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.random_seed = random_seed
        self.flat_priors = flat_priors
        self.priors = priors
        self.covariates = None

    def _model_config(self, Prior: Any) -> dict[str, Any] | None:
        config: dict[str, Any] = {}
        if self.flat_priors:
            # An improper flat prior on each positive parameter: the posterior mode is the maximum likelihood.
            config = {self._pymc_names[n]: Prior("HalfFlat") for n in self._param_names}  # type: ignore[attr-defined]
        config.update(dict(self.priors or {}))
        return config or None

    def fit(self, X: Any, y: Any = None, *, sample_weight: Any = None) -> Any:
        """Fit with PyMC-Marketing on the same summary the maximum-likelihood estimator takes."""
        if self.method not in _METHODS:
            raise ModelError(f"method must be one of {', '.join(_METHODS)}, got {self.method!r}")
        if sample_weight is not None:
            raise ModelError("Bayesian fitting takes no sample_weight: pass one row per customer")
        clv, Prior = _pymc_marketing()
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(X)
        keep = self._select_rows(X)  # type: ignore[attr-defined]
        data, Z, ids = self._extract(keep)  # type: ignore[attr-defined]  # Patron's validation and messages
        frame = pd.DataFrame({"customer_id": np.arange(len(ids)), **data})
        model = getattr(clv, self._pymc_model)(data=frame, model_config=self._model_config(Prior))
        if self.method == "map":
            model.fit(method="map", progressbar=False)
        else:
            model.fit(
                method="mcmc",
                draws=self.draws,
                tune=self.tune,
                chains=self.chains,
                random_seed=self.random_seed,
                progressbar=False,
            )
        post = model.idata.posterior
        names = list(self._param_names)  # type: ignore[attr-defined]
        samples = np.column_stack([np.asarray(post[self._pymc_names[n]]).ravel() for n in names])
        self.pymc_model_ = model
        self.posterior_ = pd.DataFrame(samples, columns=pd.Index(names, name="parameter"))
        self.n_customers_ = self.n_unique_rows_ = len(ids)
        self.covariates_: list[str] = []
        self.converged_ = bool(np.all(np.isfinite(samples)) and np.all(samples > 0))
        self.at_boundary_: list[str] = []
        self.n_starts_tried_ = 1
        mean = samples.mean(axis=0)
        self.theta_ = np.log(mean)
        scale = float(len(ids))

        def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
            return self._neg_ll(theta, data, Z, np.ones(len(ids)), scale)  # type: ignore[attr-defined]

        self.log_likelihood_ = -fun(self.theta_)[0] * scale
        if self.method == "map":
            # One point, no posterior sample: the spread comes from the curvature at the mode (the observed
            # information of the likelihood; with flat priors that is the posterior's own curvature).
            self.theta_cov_ = _inverse(_hessian(fun, self.theta_) * scale)
            sd = mean * np.sqrt(np.abs(np.diag(self.theta_cov_)))
            lo = np.exp(self.theta_ - _Z95 * np.sqrt(np.abs(np.diag(self.theta_cov_))))
            hi = np.exp(self.theta_ + _Z95 * np.sqrt(np.abs(np.diag(self.theta_cov_))))
        else:
            self.theta_cov_ = np.cov(np.log(samples), rowvar=False)
            sd = samples.std(axis=0, ddof=1)
            lo, hi = np.quantile(samples, [0.025, 0.975], axis=0)
        self.draw_cov_ = self.theta_cov_
        index = pd.Index(names, name="parameter")
        self.params_ = pd.Series(mean, index=index, name="estimate")
        self.summary_ = pd.DataFrame(
            {"estimate": mean, "sd": sd, "lower_95": lo, "upper_95": hi}, index=index
        )
        self.n_params_ = len(names)
        self.aic_ = 2 * self.n_params_ - 2 * self.log_likelihood_
        self.bic_ = np.log(scale) * self.n_params_ - 2 * self.log_likelihood_
        return self

    def parameter_draws(
        self, n_draws: int = 500, random_state: int | np.random.Generator | None = 0
    ) -> np.ndarray:
        """Log-parameter draws from the posterior sample (resampled with replacement); for a MAP fit, from the
        normal approximation at the mode."""
        self._check_fitted()  # type: ignore[attr-defined]
        if self.method == "map":
            return super().parameter_draws(n_draws, random_state)  # type: ignore[misc]
        rng = np.random.default_rng(random_state)
        logs = np.log(self.posterior_.to_numpy())
        return logs[rng.integers(0, len(logs), size=n_draws)]


class BayesianBetaGeoModel(_Bayesian, BetaGeoModel):
    """BG/NBD fitted by PyMC-Marketing's ``BetaGeoModel`` (priors on r, alpha, a, b; ``flat_priors=True`` makes
    the MAP the maximum likelihood). Same predictions as :class:`BetaGeoModel`, with posterior intervals."""

    _pymc_model = "BetaGeoModel"
    _pymc_names: ClassVar[dict[str, str]] = {"r": "r", "alpha": "alpha", "a": "a", "b": "b"}

    def _model_config(self, Prior: Any) -> dict[str, Any] | None:
        config = super()._model_config(Prior) or {}
        # PyMC-Marketing parametrises the dropout beta by its mean and concentration unless a and b are given;
        # Patron's parameters are a and b, so give them (its documented alternative; weakly informative by default).
        config.setdefault("a", Prior("HalfFlat") if self.flat_priors else Prior("HalfNormal", sigma=10))
        config.setdefault("b", Prior("HalfFlat") if self.flat_priors else Prior("HalfNormal", sigma=10))
        return config


class BayesianParetoNBDModel(_Bayesian, ParetoNBDModel):
    """Pareto/NBD fitted by PyMC-Marketing's ``ParetoNBDModel`` (priors on r, alpha, s, beta)."""

    _pymc_model = "ParetoNBDModel"
    _pymc_names: ClassVar[dict[str, str]] = {"r": "r", "alpha": "alpha", "s": "s", "beta": "beta"}


class BayesianGammaGammaModel(_Bayesian, GammaGammaModel):
    """Gamma-Gamma spend model fitted by PyMC-Marketing's ``GammaGammaModel`` (its ``v`` is Patron's ``gamma``;
    its default priors are flat)."""

    _pymc_model = "GammaGammaModel"
    _pymc_names: ClassVar[dict[str, str]] = {"p": "p", "q": "q", "gamma": "v"}

    def fit(self, X: Any, y: Any = None, *, sample_weight: Any = None) -> Any:
        self._fitting = True  # Gamma-Gamma's validation: repeat customers need a positive spend
        try:
            return super().fit(X, y, sample_weight=sample_weight)
        finally:
            del self._fitting
