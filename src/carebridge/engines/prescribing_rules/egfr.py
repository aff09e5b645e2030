"""Estimated GFR from serum creatinine: the race-free CKD-EPI 2021 equation.

Source: Inker LA, Eneanya ND, Coresh J, et al. New creatinine- and cystatin C-based equations to estimate
GFR without race. N Engl J Med 2021;385:1737-49 (doi:10.1056/NEJMoa2102953), as adopted by the
NKF-ASN Task Force (Delgado C et al., Am J Kidney Dis 2022;79:268-88):

    eGFR = 142 x min(Scr/k, 1)^a x max(Scr/k, 1)^-1.200 x 0.9938^age [x 1.012 if female]
    k = 0.7 (female) / 0.9 (male); a = -0.241 (female) / -0.302 (male); Scr in mg/dL; result mL/min/1.73 m2

It is validated for adults only, so it answers None under 18 years or without a sex it is defined for:
decision support then falls back to CKD codes (see renal.egfr_band) rather than guessing.
"""

from __future__ import annotations

import math

UMOL_PER_MG_DL = 88.42  # creatinine: 1 mg/dL = 88.42 umol/L


def creatinine_mg_dl(value: float, unit: str) -> float | None:
    """Serum creatinine in mg/dL from the units labs report it in (UCUM spellings); None for other units."""
    u = unit.strip().replace("µ", "u").casefold()
    if u in ("mg/dl", "mg/100ml"):
        return value
    if u in ("umol/l", "mmol/m3"):
        return value / UMOL_PER_MG_DL
    if u == "mmol/l":
        return value * 1000 / UMOL_PER_MG_DL
    return None


def ckd_epi_2021(*, creatinine_mg_dl: float, age_years: float, sex: str) -> float | None:
    """eGFR (mL/min/1.73 m2, one decimal) or None when the equation does not apply."""
    female = sex.casefold() in ("female", "f")
    male = sex.casefold() in ("male", "m")
    if not (female or male) or age_years < 18 or not math.isfinite(creatinine_mg_dl) or creatinine_mg_dl <= 0:
        return None
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    ratio = creatinine_mg_dl / kappa
    egfr: float = 142 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.200 * 0.9938 ** age_years
    if female:
        egfr *= 1.012
    return round(egfr, 1)
