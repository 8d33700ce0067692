# Survival model evaluation references on survival's lung data: Harrell's C and Uno's C (with
# their infinitesimal-jackknife standard errors, survival::concordance), IPCW time-dependent AUC
# and Brier score with SEs (riskRegression::Score, cens.model = "km"), the Kaplan-Meier null
# model and IPA, and the Kaplan-Meier risk by 180 / 365 days (observed risk for calibration).
# The model: coxph(Surv(time, event) ~ age + sex + ph.ecog) on the 227 rows with ph.ecog.
# Writes tests/reference/survival_model_eval.json. Run from the repository root:
#   Rscript tests/reference/r/survival_model_eval.R
suppressPackageStartupMessages({
  library(survival)
  library(riskRegression)
  library(jsonlite)
})

lung <- read.csv("tests/reference/data/lung.csv")
d <- lung[!is.na(lung$ph.ecog), ]
d$event <- d$status - 1
fit <- coxph(Surv(time, event) ~ age + sex + ph.ecog, data = d, x = TRUE)
d$lp <- unname(predict(fit, type = "lp"))
times <- c(180, 365)
risk <- predictRisk(fit, newdata = d, times = times)
d$risk180 <- risk[, 1]
d$risk365 <- risk[, 2]

conc <- function(dd, timewt = "n", ymax = NULL) {
  args <- list(Surv(time, event) ~ lp, data = dd, reverse = TRUE, timewt = timewt)
  if (!is.null(ymax)) args$ymax <- ymax
  cc <- do.call(concordance, args)
  list(c = unname(cc$concordance), var = unname(cc$var), std = sqrt(unname(cc$var)),
       count = as.list(cc$count))
}

score_one <- function(dd, conservative) {
  sc <- Score(list(cox = as.matrix(dd[, c("risk180", "risk365")])),
              formula = Surv(time, event) ~ 1, data = dd, times = times,
              metrics = c("auc", "brier"), summary = "ipa", null.model = TRUE,
              conf.int = 0.95, cens.model = "km", conservative = conservative)
  a <- as.data.frame(sc$AUC$score)
  b <- as.data.frame(sc$Brier$score)
  list(auc = lapply(split(a, a$times), function(r) list(time = r$times, auc = r$AUC, se = r$se,
                                                        lower = r$lower, upper = r$upper)),
       brier = lapply(split(b, paste(b$model, b$times)), function(r)
         list(model = as.character(r$model), time = r$times, brier = r$Brier, se = r$se,
              lower = r$lower, upper = r$upper, ipa = r$IPA)))
}

km <- survfit(Surv(time, event) ~ 1, data = d)
ks <- summary(km, times = times)
km_risk <- list(time = ks$time, risk = 1 - ks$surv, std_err = ks$std.err)

one <- function(dd) list(
  n = nrow(dd), n_events = sum(dd$event),
  harrell = conc(dd),
  uno_365 = conc(dd, timewt = "n/G2", ymax = 365),
  uno_180 = conc(dd, timewt = "n/G2", ymax = 180),
  score = score_one(dd, conservative = FALSE),
  score_conservative = score_one(dd, conservative = TRUE)
)

ref <- list(
  id = "survival_model_eval",
  dataset = "survival::lung (tests/reference/data/lung.csv), 227 rows with ph.ecog observed",
  data = list(
    file = "tests/reference/data/lung.csv; rows with ph.ecog not missing, in file order; event = status - 1",
    model = list(formula = "coxph(Surv(time, event) ~ age + sex + ph.ecog) (Efron)",
                 coefficients = as.list(coef(fit))),
    lp = d$lp, risk180 = d$risk180, risk365 = d$risk365,
    risk_note = "riskRegression::predictRisk(fit, newdata = d, times = c(180, 365))"
  ),
  specification = list(
    harrell = "concordance(Surv(time, event) ~ lp, reverse = TRUE); std = sqrt(var) (infinitesimal jackknife)",
    uno = "concordance(Surv(time, event) ~ lp, reverse = TRUE, timewt = 'n/G2', ymax = 365 (and 180)); std = sqrt(var)",
    score = "Score(list(cox = cbind(risk180, risk365)), Surv(time, event) ~ 1, times = c(180, 365), metrics = c('auc', 'brier'), summary = 'ipa', null.model = TRUE, cens.model = 'km', conservative = FALSE (and TRUE)); Wald CIs",
    km = "survfit(Surv(time, event) ~ 1): risk = 1 - S(t), std_err = std.err of S(t) (Greenwood)"
  ),
  estimates = list(
    overall = c(one(d), list(km = km_risk)),
    by_sex = lapply(split(d, d$sex), function(dd) list(n = nrow(dd), n_events = sum(dd$event),
                                                       harrell = conc(dd),
                                                       uno_365 = conc(dd, timewt = "n/G2", ymax = 365)))
  ),
  source = paste0(R.version.string, "; survival ", packageVersion("survival"),
                  "; riskRegression ", packageVersion("riskRegression"), "; jsonlite ",
                  packageVersion("jsonlite"), "; script tests/reference/r/survival_model_eval.R"),
  tolerance = list(concordance = "abs 1e-10", concordance_std = "abs 1e-8",
                   auc = "abs 1e-8", brier = "abs 1e-8", se = "abs 1e-6", km = "abs 1e-8")
)
writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           "tests/reference/survival_model_eval.json")
