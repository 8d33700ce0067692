# Paired model comparisons on the same rows.
# 1. Correlated AUROCs (pROC): roc.test(roc_a, roc_b, method = "delong", paired = TRUE) on pROC's
#    aSAH data (tests/reference/data/asah.csv, written by classifier_eval.R), outcome Poor vs
#    Good, for the pairs of s100b, wfns and ndka; DeLong var() and cov() of the AUCs.
# 2. Survival models on survival's lung data (227 rows with ph.ecog): the Cox model
#    age + sex + ph.ecog (as survival_model_eval.R) vs age + sex. Harrell's and Uno's C of both
#    linear predictors with their joint infinitesimal-jackknife variance matrix
#    (survival::concordance(fit_a, fit_b)), and riskRegression::Score contrasts of AUC(t) and
#    Brier(t) at 180 and 365 days (cens.model = "km", conservative = FALSE).
# Writes tests/reference/compare_models.json. Run from the repository root:
#   Rscript tests/reference/r/compare_models.R
suppressPackageStartupMessages({
  library(pROC)
  library(survival)
  library(riskRegression)
  library(jsonlite)
})

# ---------------------------------------------------------------- 1. paired DeLong
asah <- read.csv("tests/reference/data/asah.csv")
asah$outcome <- factor(asah$outcome, levels = c("Good", "Poor"))
scores <- c("s100b", "wfns", "ndka")
rocs <- lapply(scores, function(s)
  roc(asah$outcome, asah[[s]], levels = c("Good", "Poor"), direction = "<", quiet = TRUE))
names(rocs) <- scores
pairs <- combn(scores, 2, simplify = FALSE)
delong <- lapply(pairs, function(p) {
  a <- rocs[[p[1]]]; b <- rocs[[p[2]]]
  tt <- roc.test(a, b, method = "delong", paired = TRUE)
  list(a = p[1], b = p[2], auc_a = as.numeric(auc(a)), auc_b = as.numeric(auc(b)),
       var_a = var(a, method = "delong"), var_b = var(b, method = "delong"),
       cov_ab = cov(a, b, method = "delong"),
       statistic = unname(tt$statistic), p_value = tt$p.value,
       conf_int = as.numeric(tt$conf.int), conf_level = attr(tt$conf.int, "conf.level"))
})
# the issue's example: pROC's default roc() (direction chosen from the data) gives the same
delong_default <- roc.test(roc(asah$outcome, asah$s100b, quiet = TRUE),
                           roc(asah$outcome, asah$wfns, quiet = TRUE))

# ---------------------------------------------------------------- 2. survival models
lung <- read.csv("tests/reference/data/lung.csv")
d <- lung[!is.na(lung$ph.ecog), ]
d$event <- d$status - 1
fit_a <- coxph(Surv(time, event) ~ age + sex + ph.ecog, data = d, x = TRUE)
fit_b <- coxph(Surv(time, event) ~ age + sex, data = d, x = TRUE)
d$lp_a <- unname(predict(fit_a, type = "lp"))
d$lp_b <- unname(predict(fit_b, type = "lp"))
times <- c(180, 365)
risk_a <- predictRisk(fit_a, newdata = d, times = times)
risk_b <- predictRisk(fit_b, newdata = d, times = times)

conc2 <- function(timewt = "n", ymax = NULL) {
  args <- list(fit_a, fit_b, timewt = timewt)
  if (!is.null(ymax)) args$ymax <- ymax
  cc <- do.call(concordance, args)
  v <- unname(cc$var)
  list(c = unname(cc$concordance), var = v,
       diff = unname(cc$concordance[1] - cc$concordance[2]),
       diff_se = sqrt(v[1, 1] + v[2, 2] - 2 * v[1, 2]))
}

sc <- Score(list(a = risk_a, b = risk_b), formula = Surv(time, event) ~ 1, data = d,
            times = times, metrics = c("auc", "brier"), null.model = FALSE, contrasts = TRUE,
            conf.int = 0.95, cens.model = "km", conservative = FALSE)
tab <- function(x) {
  x <- as.data.frame(x)
  for (j in names(x)) if (is.factor(x[[j]])) x[[j]] <- as.character(x[[j]])
  x
}

ref <- list(
  id = "compare_models",
  dataset = paste("pROC aSAH (tests/reference/data/asah.csv, 113 rows);",
                  "survival::lung (tests/reference/data/lung.csv), 227 rows with ph.ecog"),
  data = list(
    asah = "tests/reference/data/asah.csv; outcome Poor = positive (1), Good = 0",
    lung = "tests/reference/data/lung.csv; rows with ph.ecog not missing, in file order; event = status - 1",
    models = list(a = list(formula = "coxph(Surv(time, event) ~ age + sex + ph.ecog)",
                           coefficients = as.list(coef(fit_a))),
                  b = list(formula = "coxph(Surv(time, event) ~ age + sex)",
                           coefficients = as.list(coef(fit_b)))),
    lp_a = d$lp_a, lp_b = d$lp_b,
    risk_a = list(`180` = risk_a[, 1], `365` = risk_a[, 2]),
    risk_b = list(`180` = risk_b[, 1], `365` = risk_b[, 2]),
    risk_note = "riskRegression::predictRisk(fit, newdata = d, times = c(180, 365))"
  ),
  specification = list(
    delong = paste("roc(outcome, score, levels = c('Good', 'Poor'), direction = '<');",
                   "roc.test(roc_a, roc_b, method = 'delong', paired = TRUE);",
                   "var(roc, method = 'delong'); cov(roc_a, roc_b, method = 'delong')"),
    delong_default = "roc.test(roc(aSAH$outcome, aSAH$s100b), roc(aSAH$outcome, aSAH$wfns))",
    concordance = paste("concordance(fit_a, fit_b) (Harrell) and concordance(fit_a, fit_b,",
                        "timewt = 'n/G2', ymax = tau) (Uno, tau = 365 and 180);",
                        "var: the joint infinitesimal-jackknife variance matrix"),
    score = paste("Score(list(a = risk_a, b = risk_b), Surv(time, event) ~ 1, times = c(180, 365),",
                  "metrics = c('auc', 'brier'), null.model = FALSE, contrasts = TRUE,",
                  "cens.model = 'km', conservative = FALSE); contrasts are b - a")
  ),
  estimates = list(
    delong = delong,
    delong_default = list(statistic = unname(delong_default$statistic),
                          p_value = delong_default$p.value,
                          auc = unname(delong_default$estimate)),
    harrell = conc2(),
    uno_365 = conc2("n/G2", 365),
    uno_180 = conc2("n/G2", 180),
    auc = tab(sc$AUC$score), auc_contrasts = tab(sc$AUC$contrasts),
    brier = tab(sc$Brier$score), brier_contrasts = tab(sc$Brier$contrasts)
  ),
  source = paste0(R.version.string, "; pROC ", packageVersion("pROC"), "; survival ",
                  packageVersion("survival"), "; riskRegression ",
                  packageVersion("riskRegression"), "; jsonlite ", packageVersion("jsonlite"),
                  "; script tests/reference/r/compare_models.R"),
  tolerance = list(auc = "abs 1e-10", delong_var = "abs 1e-12", statistic = "abs 1e-8",
                   p_value = "abs 1e-10", concordance = "abs 1e-10", concordance_var = "abs 1e-12",
                   score = "abs 1e-8")
)
writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null",
                  dataframe = "rows"),
           "tests/reference/compare_models.json")
