"""Stroke and bleeding risk in atrial fibrillation: CHA2DS2-VASc and HAS-BLED.

CHA2DS2-VASc - Lip GYH, Nieuwlaat R, Pisters R, Lane DA, Crijns HJGM. Refining clinical risk
stratification for predicting stroke and thromboembolism in atrial fibrillation using a novel risk
factor-based approach: the Euro Heart Survey on atrial fibrillation. Chest 2010;137(2):263-272.
Points: congestive heart failure/LV dysfunction 1, hypertension 1, age >=75 2, diabetes 1, prior
stroke/TIA/thromboembolism 2, vascular disease (prior MI, peripheral artery disease, aortic plaque) 1,
age 65-74 1, sex category female 1; maximum 9. Adjusted stroke rate (%/year) by score, as tabulated
with the score in the 2010 ESC atrial fibrillation guideline: 0, 1.3, 2.2, 3.2, 4.0, 6.7, 9.8, 9.6,
6.7, 15.2 for scores 0 to 9.

HAS-BLED - Pisters R, Lane DA, Nieuwlaat R, de Vos CB, Crijns HJGM, Lip GYH. A novel user-friendly
score (HAS-BLED) to assess 1-year risk of major bleeding in patients with atrial fibrillation: the Euro
Heart Survey. Chest 2010;138(5):1093-1100. Points: hypertension (uncontrolled, systolic >160 mmHg) 1,
abnormal renal function (dialysis, transplant or creatinine >=200 umol/L) 1, abnormal liver function
(cirrhosis, or bilirubin >2x ULN with AST/ALT/ALP >3x ULN) 1, stroke 1, bleeding history or
predisposition 1, labile INR 1, elderly (age >65) 1, drugs (antiplatelets or NSAIDs) 1, alcohol
(>=8 drinks a week) 1; maximum 9. Bleeds per 100 patient-years in the derivation cohort: 1.13, 1.02,
1.88, 3.74, 8.70 for scores 0 to 4 and 12.50 for 5; higher scores had too few patients to report.
A score >=3 marks high bleeding risk (correct the modifiable factors; it is not a reason by itself to
withhold anticoagulation).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CHA2DS2_VASC_SOURCE = "lip-2010"
HAS_BLED_SOURCE = "pisters-2010"
CHA2DS2_VASC_ANNUAL_STROKE_PERCENT: tuple[float, ...] = (0.0, 1.3, 2.2, 3.2, 4.0, 6.7, 9.8, 9.6, 6.7, 15.2)
HAS_BLED_BLEEDS_PER_100_PATIENT_YEARS: tuple[float, ...] = (1.13, 1.02, 1.88, 3.74, 8.70, 12.50)
HAS_BLED_HIGH_RISK = 3


class ScoreItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    label: str
    points: int
    present: bool


class ScoreResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    score: str
    total: int
    maximum: int
    items: tuple[ScoreItem, ...] = Field(description="Every item with whether it scored, so the total can be audited.")
    annual_risk: float | None = Field(description="Published event rate for this total (see the module docstring).")
    annual_risk_unit: str
    interpretation: str
    source: str


class Cha2ds2VascInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    congestive_heart_failure: bool = False
    hypertension: bool = False
    age_years: int = Field(ge=0, le=130)
    diabetes: bool = False
    stroke_tia_thromboembolism: bool = False
    vascular_disease: bool = False
    sex: Literal["female", "male"]


class HasBledInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    uncontrolled_hypertension: bool = False
    abnormal_renal_function: bool = False
    abnormal_liver_function: bool = False
    stroke: bool = False
    bleeding_history: bool = False
    labile_inr: bool = False
    age_years: int = Field(ge=0, le=130)
    antiplatelet_or_nsaid: bool = False
    alcohol_excess: bool = False


def cha2ds2_vasc(p: Cha2ds2VascInput) -> ScoreResult:
    items = (
        ScoreItem(code="C", label="Congestive heart failure / LV dysfunction", points=1,
                  present=p.congestive_heart_failure),
        ScoreItem(code="H", label="Hypertension", points=1, present=p.hypertension),
        ScoreItem(code="A2", label="Age >= 75 years", points=2, present=p.age_years >= 75),
        ScoreItem(code="D", label="Diabetes mellitus", points=1, present=p.diabetes),
        ScoreItem(code="S2", label="Prior stroke, TIA or thromboembolism", points=2,
                  present=p.stroke_tia_thromboembolism),
        ScoreItem(code="V", label="Vascular disease (prior MI, PAD, aortic plaque)", points=1,
                  present=p.vascular_disease),
        ScoreItem(code="A", label="Age 65-74 years", points=1, present=65 <= p.age_years <= 74),
        ScoreItem(code="Sc", label="Sex category (female)", points=1, present=p.sex == "female"),
    )
    total = sum(i.points for i in items if i.present)
    non_sex = total - (1 if p.sex == "female" else 0)
    if non_sex == 0:
        text = "Low risk: no risk factor other than sex; anticoagulation not indicated."
    elif non_sex == 1:
        text = "One non-sex risk factor: consider oral anticoagulation, weighing the bleeding risk."
    else:
        text = "Two or more non-sex risk factors: oral anticoagulation recommended unless contraindicated."
    return ScoreResult(score="CHA2DS2-VASc", total=total, maximum=9, items=items,
                       annual_risk=CHA2DS2_VASC_ANNUAL_STROKE_PERCENT[total], annual_risk_unit="% stroke per year",
                       interpretation=text, source=CHA2DS2_VASC_SOURCE)


def has_bled(p: HasBledInput) -> ScoreResult:
    items = (
        ScoreItem(code="H", label="Uncontrolled hypertension (systolic > 160 mmHg)", points=1,
                  present=p.uncontrolled_hypertension),
        ScoreItem(code="A-renal", label="Abnormal renal function", points=1, present=p.abnormal_renal_function),
        ScoreItem(code="A-liver", label="Abnormal liver function", points=1, present=p.abnormal_liver_function),
        ScoreItem(code="S", label="Stroke", points=1, present=p.stroke),
        ScoreItem(code="B", label="Bleeding history or predisposition", points=1, present=p.bleeding_history),
        ScoreItem(code="L", label="Labile INR", points=1, present=p.labile_inr),
        ScoreItem(code="E", label="Elderly (age > 65 years)", points=1, present=p.age_years > 65),
        ScoreItem(code="D-drugs", label="Antiplatelet or NSAID use", points=1, present=p.antiplatelet_or_nsaid),
        ScoreItem(code="D-alcohol", label="Alcohol (>= 8 drinks a week)", points=1, present=p.alcohol_excess),
    )
    total = sum(i.points for i in items if i.present)
    rates = HAS_BLED_BLEEDS_PER_100_PATIENT_YEARS
    if total >= HAS_BLED_HIGH_RISK:
        text = "High bleeding risk (>= 3): review and correct modifiable factors; follow up more closely."
    else:
        text = "Low to moderate bleeding risk (< 3)."
    return ScoreResult(score="HAS-BLED", total=total, maximum=9, items=items,
                       annual_risk=rates[total] if total < len(rates) else None,
                       annual_risk_unit="major bleeds per 100 patient-years", interpretation=text,
                       source=HAS_BLED_SOURCE)
