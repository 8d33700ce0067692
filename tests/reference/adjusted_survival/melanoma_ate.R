# Covariate-adjusted survival on Melanoma (riskRegression::ate): g-formula with its
# influence-function SE, and AIPTW-AIPCW with known.nuisance = TRUE / FALSE.
# Writes tests/reference/adjusted_survival/melanoma_ate.json and the data as melanoma.csv.
# Run from the repository root:  Rscript tests/reference/adjusted_survival/melanoma_ate.R
suppressPackageStartupMessages({
  library(survival)
  library(riskRegression)
  library(jsonlite)
})
data(Melanoma, package = "riskRegression")
M <- data.frame(time = Melanoma$time, status = Melanoma$status,
                dead = as.numeric(Melanoma$status > 0),
                ulcer = as.numeric(Melanoma$ulcer == "present"),
                male = as.numeric(Melanoma$sex == "Male"),
                age = Melanoma$age, logthick = Melanoma$logthick)
write.csv(M, "tests/reference/adjusted_survival/melanoma.csv", row.names = FALSE)
M$ulcerF <- factor(M$ulcer)
times <- c(365.25, 730.5, 1095.75, 1826.25, 2922)

out_ate <- function(a) {
  mr <- as.data.frame(a$meanRisk)
  dr <- as.data.frame(a$diffRisk)
  list(risk_time = mr$time, risk_arm = as.character(mr$treatment), risk = mr$estimate,
       risk_se = mr$se, diff_time = dr$time, diff = dr$estimate, diff_se = dr$se)
}

res <- list(
  r_version = R.version.string,
  packages = list(survival = as.character(packageVersion("survival")),
                  riskRegression = as.character(packageVersion("riskRegression"))),
  n = nrow(M), times = times,
  spec = paste("Melanoma (riskRegression), n = 205; event: death of any cause (status > 0);",
               "exposure: ulcer present; covariates age + male + logthick.",
               "Outcome: coxph(Surv(time, dead) ~ ulcerF + age + male + logthick, ties = 'efron'|'breslow');",
               "PS: glm(ulcerF ~ age + male + logthick, binomial);",
               "censoring: coxph(Surv(time, dead == 0) ~ strata(ulcerF)) (KM per arm).",
               "riskRegression se: sqrt(sum(iid^2)) (n in the denominator); risk = 1 - survival.")
)
for (ties in c("efron", "breslow")) {
  fit <- coxph(Surv(time, dead) ~ ulcerF + age + male + logthick, data = M, ties = ties,
               x = TRUE, y = TRUE)
  g <- ate(fit, data = M, treatment = "ulcerF", times = times, verbose = FALSE)
  res[[paste0("gformula_", ties)]] <- c(out_ate(g), list(coef = unname(coef(fit))))
}
# the same with tied times broken (time + row * 1e-4): riskRegression's influence function of
# the baseline hazard is the exact derivative only without tied deaths
J <- M
J$time <- J$time + seq_len(nrow(J)) * 1e-4
for (ties in c("efron", "breslow")) {
  fit <- coxph(Surv(time, dead) ~ ulcerF + age + male + logthick, data = J, ties = ties,
               x = TRUE, y = TRUE)
  g <- ate(fit, data = J, treatment = "ulcerF", times = times, verbose = FALSE)
  res[[paste0("gformula_untied_", ties)]] <- c(out_ate(g), list(coef = unname(coef(fit))))
}
fit <- coxph(Surv(time, dead) ~ ulcerF + age + male + logthick, data = M, x = TRUE, y = TRUE)
ps <- glm(ulcerF ~ age + male + logthick, data = M, family = binomial)
cens <- coxph(Surv(time, dead == 0) ~ strata(ulcerF), data = M, x = TRUE, y = TRUE)
for (kn in c(TRUE, FALSE)) {
  a <- ate(fit, treatment = ps, censor = cens, data = M, times = times,
           estimator = "AIPTW,AIPCW", known.nuisance = kn, verbose = FALSE)
  res[[paste0("aipw_known_", tolower(as.character(kn)))]] <- out_ate(a)
}
for (kn in c(TRUE, FALSE)) {
  a <- ate(fit, treatment = ps, censor = cens, data = M, times = times,
           estimator = "IPTW,IPCW", known.nuisance = kn, verbose = FALSE)
  res[[paste0("iptw_ipcw_known_", tolower(as.character(kn)))]] <- out_ate(a)
}
write_json(res, "tests/reference/adjusted_survival/melanoma_ate.json", digits = NA,
           auto_unbox = TRUE, pretty = TRUE)
