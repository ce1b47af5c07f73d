"""HotSpot's detailed package model: heat-sink convection resistance from the fan and fin geometry.

With ``-package_model_used 1`` HotSpot does not take ``r_convec`` from the configuration; it derives
it from a package description (``-package_config_file``): a fin-channel or pin-fin heat sink cooled
either by a fan (forced convection, lateral or impinging air flow) or by still air (natural
convection plus radiation). This module reads that description and computes the same lumped
resistance, from the textbook correlations HotSpot 7.0 cites in ``package.c`` (Teertstra et al.
SEMI-THERM 1999 for laminar plate-fin flow; Cengel, *Heat and Mass Transfer* 2007 for turbulent and
natural convection; Ribando et al. UVa MAE314 notes 2007 for pin fins; El-Sheikh et al. IEEE TAP 2000
for impinging jets; Zhang et al. DAC 2007 for the fan motor). The air properties and correlation
constants below are HotSpot 7.0's values (``package.h``), kept so that results match it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

from ailfm.errors import ConfigError, FormatError

# Air at roughly 45-60 C, HotSpot 7.0 package.h.
AIR_DENSITY_KG_PER_M3 = 1.059
AIR_CONDUCTIVITY_W_PER_MK = 0.028
AIR_DYNAMIC_VISCOSITY_PA_S = 2.0e-5
AIR_KINEMATIC_VISCOSITY_M2_PER_S = 1.9e-5
AIR_PRANDTL = 0.73
# Reynolds number at which plate-fin channel flow is taken as turbulent (package.h REY_THRESHOLD).
LAMINAR_REYNOLDS_LIMIT = 3500.0
# Natural convection and radiation (package.h): volume expansion coefficient of air (1/K), gravity
# (m/s^2), Stefan-Boltzmann constant (W/m^2K^4), emissivity of a typical sink surface.
AIR_EXPANSION_PER_K = 3.0e-3
GRAVITY_M_PER_S2 = 9.8
STEFAN_BOLTZMANN_W_PER_M2K4 = 5.67e-8
SINK_EMISSIVITY = 0.95
# HotSpot rounds pi to 3.1416 in its package correlations (package.h PI); we use the same value so
# the fan flow and pin areas agree with HotSpot's to the last digit.
HOTSPOT_PI = 3.1416
# Fan motor model (Zhang et al. DAC 2007 via package.h): torque ~ omega^alpha, drag ~ r^beta for laminar
# flow; rpm -> rad/s factor as HotSpot rounds it.
FAN_ALPHA = 1.0
FAN_BETA = 4.0
RPM_TO_RAD_PER_S = 0.105
# HotSpot's first guess of the sink-over-ambient rise for natural convection (avoids a zero Rayleigh
# number), and the r_convec change (K/W) at which its steady-state iteration stops (package.h).
NATURAL_CONVECTION_START_RISE_K = 0.01
NATURAL_CONVECTION_TOLERANCE_K_PER_W = 0.01
# Average sink temperature above which HotSpot declares thermal runaway (package.h MAX_SINK_TEMP).
MAX_SINK_TEMPERATURE_K = 1000.0


@dataclass(frozen=True)
class PackageConfig:
    """A heat sink and its fan, as in a HotSpot ``package.config`` (defaults: HotSpot 7.0 ``package.c``).

    Attributes
    ----------
    natural_convec : int
        0 forced convection (a fan), 1 natural convection (still air, plus radiation).
    flow_type : int
        0 lateral air flow from the sink's side, 1 impinging flow from its top.
    sink_type : int
        0 fin-channel sink, 1 pin-fin sink.
    fin_height, fin_width, channel_width : float
        Fin-channel geometry (m).
    pin_height, pin_diam, pin_dist : float
        Pin-fin geometry (m).
    fan_radius, motor_radius : float
        Fan geometry (m).
    rpm : int
        Fan speed (revolutions per minute).
    """

    natural_convec: int = 0
    flow_type: int = 0
    sink_type: int = 0
    fin_height: float = 0.03
    fin_width: float = 0.001
    channel_width: float = 0.002
    pin_height: float = 0.02
    pin_diam: float = 0.002
    pin_dist: float = 0.005
    fan_radius: float = 0.03
    motor_radius: float = 0.01
    rpm: int = 1000

    def __post_init__(self):
        for name in ("natural_convec", "flow_type", "sink_type"):
            if getattr(self, name) not in (0, 1):
                raise ConfigError(name, f"must be 0 or 1, got {getattr(self, name)!r}")
        for f in fields(self)[3:]:
            if not getattr(self, f.name) > 0:
                value = getattr(self, f.name)
                raise ConfigError(f.name, f"heat sink/fan dimensions and fan speed must be > 0, got {value}")


_INT_FIELDS = {"natural_convec", "flow_type", "sink_type", "rpm"}


def read_package_config(path: str | Path) -> PackageConfig:
    """Read a HotSpot package description: ``-name value`` lines, ``#`` comments, unknown names rejected."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise FormatError(path, None, f"cannot read package configuration: {exc.strerror}") from exc
    known = {f.name for f in fields(PackageConfig)}
    values: dict[str, int | float] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = re.split(r"\s+", line)
        if len(parts) != 2 or not parts[0].startswith("-"):
            raise FormatError(path, lineno, f"expected '-name value', got {line!r}")
        name, text_value = parts[0][1:], parts[1]
        if name not in known:
            raise FormatError(path, lineno, f"unknown package parameter {name!r}; known: {', '.join(sorted(known))}")
        if name in values:
            raise FormatError(path, lineno, f"package parameter {name!r} given twice")
        try:
            values[name] = int(text_value) if name in _INT_FIELDS else float(text_value)
        except ValueError:
            kind = "an integer" if name in _INT_FIELDS else "a number"
            raise FormatError(path, lineno, f"{name} must be {kind}, got {text_value!r}") from None
    try:
        return replace(PackageConfig(), **values)
    except ConfigError as exc:
        raise ConfigError(exc.field, exc.reason, path=path) from None


def _fin_and_pin_surfaces(package: PackageConfig, s_sink_m: float) -> tuple[float, float, float, float]:
    """Number of fins, fin-sink surface (m^2), number of pins, pin-sink surface (m^2) on a square sink base."""
    n_fin = math.ceil((s_sink_m - package.fin_width) / (package.fin_width + package.channel_width) - 0.5)
    fin_surface = s_sink_m * (s_sink_m + 2.0 * n_fin * package.fin_height)
    pins_per_side = (s_sink_m - package.pin_diam) / (package.pin_diam + package.pin_dist)
    n_pin = math.ceil(pins_per_side * pins_per_side - 0.5)
    pin_surface = s_sink_m * s_sink_m + HOTSPOT_PI * package.pin_diam * package.pin_height * n_pin
    return n_fin, fin_surface, n_pin, pin_surface


def forced_convection_resistance_K_per_W(package: PackageConfig, s_sink_m: float, k_sink_W_per_mK: float) -> float:
    """Sink-to-air resistance with a fan: air speed from the fan's motor balance, then a Nusselt correlation."""
    n_fin, fin_surface, n_pin, pin_surface = _fin_and_pin_surfaces(package, s_sink_m)
    blade_span_m = math.sqrt(package.fan_radius**2 - package.motor_radius**2)
    mean_radius_m = package.motor_radius + blade_span_m
    blade_area_m2 = HOTSPOT_PI * blade_span_m**2
    omega_rad_per_s = package.rpm * RPM_TO_RAD_PER_S
    # The drag on the blades balances the motor torque: volumetric flow (m^3/s) of the fan.
    flow_m3_per_s = blade_area_m2 * math.sqrt(
        0.25 * HOTSPOT_PI * mean_radius_m ** (FAN_BETA - 1) * omega_rad_per_s**FAN_ALPHA / blade_area_m2
    )
    if package.flow_type == 0:  # lateral flow through the channels
        hydraulic_diameter_m = 2.0 * package.channel_width * s_sink_m / (package.channel_width + s_sink_m)
        if package.sink_type == 0:
            speed_m_per_s = flow_m3_per_s / ((n_fin - 1) * package.channel_width * package.fin_height)
        else:
            speed_m_per_s = flow_m3_per_s / ((math.sqrt(n_pin) - 1) * package.pin_dist * package.pin_height)
    else:  # impinging flow onto the sink's top
        hydraulic_diameter_m = 2.0 * s_sink_m / math.sqrt(HOTSPOT_PI)
        speed_m_per_s = flow_m3_per_s / (s_sink_m * s_sink_m - n_pin * HOTSPOT_PI * (package.pin_diam * 0.5) ** 2)
    reynolds = AIR_DENSITY_KG_PER_M3 * speed_m_per_s * hydraulic_diameter_m / AIR_DYNAMIC_VISCOSITY_PA_S

    if package.flow_type == 1:
        surface_m2 = fin_surface if package.sink_type == 0 else pin_surface
        nusselt = (
            1.92 * reynolds**0.716 * AIR_PRANDTL**0.4 * (surface_m2 / (s_sink_m * s_sink_m)) ** -0.698
        )
        h_W_per_m2K = nusselt * AIR_CONDUCTIVITY_W_PER_MK / hydraulic_diameter_m
        return 1.0 / (h_W_per_m2K * surface_m2)
    if package.sink_type == 1:  # pin fins in cross flow
        rows = math.sqrt(n_pin) - 1
        c1 = 0.6
        c2 = 0.8 + 0.8333 * math.sqrt(rows) / (1 + 0.03 * rows**2) ** 0.25
        nusselt = 0.4 + 0.9 * (1.25 * c2 * c1 * math.sqrt(reynolds) + 0.001 * reynolds) * AIR_PRANDTL**0.33
        h_W_per_m2K = nusselt * AIR_CONDUCTIVITY_W_PER_MK / package.pin_diam
        return 1.0 / (h_W_per_m2K * pin_surface)
    if reynolds <= LAMINAR_REYNOLDS_LIMIT:  # developing laminar flow between plates
        channel_reynolds = (
            AIR_DENSITY_KG_PER_M3 * speed_m_per_s * package.channel_width**2 / (AIR_DYNAMIC_VISCOSITY_PA_S * s_sink_m)
        )
        fully_developed = (channel_reynolds * AIR_PRANDTL * 0.5) ** -3
        developing = (
            0.664 * math.sqrt(channel_reynolds) * AIR_PRANDTL**0.33 * math.sqrt(1 + 3.65 / math.sqrt(channel_reynolds))
        ) ** -3
        nusselt = (fully_developed + developing) ** -0.33
        h_W_per_m2K = nusselt * AIR_CONDUCTIVITY_W_PER_MK / package.channel_width
    else:  # turbulent: Petukhov friction factor, Colburn-type Nusselt
        friction = 1.0 / (0.79 * math.log(reynolds) - 1.64) ** 2
        nusselt = 0.125 * friction * reynolds * AIR_PRANDTL**0.33
        h_W_per_m2K = nusselt * AIR_CONDUCTIVITY_W_PER_MK / hydraulic_diameter_m
    fin_parameter = math.sqrt(2 * h_W_per_m2K / (k_sink_W_per_mK * package.fin_width))
    fin_efficiency = math.tanh(fin_parameter * s_sink_m) / (fin_parameter * s_sink_m)
    return 1.0 / (h_W_per_m2K * (package.channel_width + 2 * fin_efficiency * s_sink_m) * n_fin * s_sink_m)


def natural_convection_resistance_K_per_W(
    package: PackageConfig, s_sink_m: float, ambient_K: float, sink_K: float
) -> float:
    """Sink-to-air resistance in still air at a given mean sink temperature: convection parallel to radiation.

    The correlation is for vertical plate fins (Cengel 2007); HotSpot applies it to pin fins too.
    """
    _, fin_surface, _, pin_surface = _fin_and_pin_surfaces(package, s_sink_m)
    if package.sink_type == 0:
        surface_m2, gap_m = fin_surface, package.channel_width
    else:
        surface_m2, gap_m = pin_surface, package.pin_dist
    rise_K = sink_K - ambient_K
    rayleigh = (
        GRAVITY_M_PER_S2 * AIR_EXPANSION_PER_K * rise_K * gap_m**3 * AIR_PRANDTL / AIR_KINEMATIC_VISCOSITY_M2_PER_S**2
    )
    scaled = rayleigh * gap_m / s_sink_m
    nusselt = (576 / scaled**2 + 2.873 / math.sqrt(scaled)) ** -0.5
    h_W_per_m2K = nusselt * AIR_CONDUCTIVITY_W_PER_MK / gap_m
    r_convection = 1.0 / (h_W_per_m2K * surface_m2)
    r_radiation = rise_K / (SINK_EMISSIVITY * STEFAN_BOLTZMANN_W_PER_M2K4 * (sink_K**4 - ambient_K**4) * surface_m2)
    return r_convection * r_radiation / (r_convection + r_radiation)


def convection_resistance_K_per_W(
    package: PackageConfig, *, s_sink_m: float, k_sink_W_per_mK: float, ambient_K: float, sink_K: float | None = None
) -> float:
    """``r_convec`` as HotSpot's package model sets it; natural convection starts at ambient + 0.01 K by default."""
    if not package.natural_convec:
        return forced_convection_resistance_K_per_W(package, s_sink_m, k_sink_W_per_mK)
    if sink_K is None:
        sink_K = ambient_K + NATURAL_CONVECTION_START_RISE_K
    return natural_convection_resistance_K_per_W(package, s_sink_m, ambient_K, sink_K)
