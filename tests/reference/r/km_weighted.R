# Weighted Kaplan-Meier with the infinitesimal-jackknife (robust) variance, left truncation,
# weighted RMST and k-sample / stratified log-rank on survival::lung.
# Writes tests/reference/km_weighted.json. Run from the repository root:
#   Rscript tests/reference/r/km_weighted.R
# Uses only committed data (tests/reference/data/lung.csv); weights and entry times are
# deterministic functions of the row number, reproduced in the Python tests.
suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

lung <- read.csv("tests/reference/data/lung.csv")
n <- nrow(lung)
row <- seq_len(n)
lung$event <- lung$status - 1
lung$w <- 0.5 + (row %% 4) * 0.35               # non-integer weights 0.5, 0.85, 1.2, 1.55
lung$entry <- floor(lung$time * (row %% 3) / 4)  # 0, time/4 or time/2 (floored), < time
lung$id <- row

curve <- function(fit) {
  s <- summary(fit, censored = TRUE)
  out <- list(time = s$time, n_risk = s$n.risk, n_event = s$n.event, surv = s$surv,
              se = s$std.err, lower = s$lower, upper = s$upper)
  if (!is.null(s$strata)) out$strata <- as.character(s$strata)
  out
}

# 1. weighted KM, IJ variance (R's default for non-integer weights is robust=TRUE)
f_ij <- survfit(Surv(time, event) ~ 1, data = lung, weights = w, robust = TRUE,
                conf.type = "log-log")
f_ij_log <- survfit(Surv(time, event) ~ 1, data = lung, weights = w, robust = TRUE,
                    conf.type = "log")
ov <- curve(f_ij)
ov$lower_log <- summary(f_ij_log, censored = TRUE)$lower
ov$upper_log <- summary(f_ij_log, censored = TRUE)$upper

# 2. by sex, IJ
f_sex <- survfit(Surv(time, event) ~ sex, data = lung, weights = w, robust = TRUE,
                 conf.type = "log-log")

# 3. weighted KM, Greenwood on the weighted counts (robust = FALSE)
f_gw <- survfit(Surv(time, event) ~ 1, data = lung, weights = w, robust = FALSE,
                conf.type = "log-log")

# 4. left truncation: unweighted Greenwood, and weighted IJ (needs id for (start, stop] data)
f_tr <- survfit(Surv(entry, time, event) ~ 1, data = lung, conf.type = "log-log")
f_tr_ij <- survfit(Surv(entry, time, event) ~ 1, data = lung, weights = w, id = id,
                   robust = TRUE, conf.type = "log-log")

# 5. weighted RMST up to 365 with the IJ standard error: residuals(type = "rmst")
rmst_ij <- function(fit, data, tau) {
  r <- residuals(fit, times = tau, type = "rmst")  # per observation, unweighted influence
  tab <- summary(fit, rmean = tau)$table
  list(rmst = unname(if (is.matrix(tab)) tab[, "rmean"] else tab["rmean"]),
       se_printed = unname(if (is.matrix(tab)) tab[, "se(rmean)"] else tab["se(rmean)"]),
       se_ij = sqrt(sum((data$w * r)^2)))
}
f_rm <- survfit(Surv(time, event) ~ 1, data = lung, weights = w, robust = TRUE)
rm_all <- rmst_ij(f_rm, lung, 365)
lung1 <- lung[lung$sex == 1, ]   # top-level data: residuals() re-evaluates the call
lung2 <- lung[lung$sex == 2, ]
rm_sex <- list(
  "1" = rmst_ij(survfit(Surv(time, event) ~ 1, data = lung1, weights = w, robust = TRUE),
                lung1, 365),
  "2" = rmst_ij(survfit(Surv(time, event) ~ 1, data = lung2, weights = w, robust = TRUE),
                lung2, 365))

# 6. log-rank: four ECOG groups; sex stratified by ECOG (row with missing ECOG removed)
lc <- lung[!is.na(lung$ph.ecog), ]
lr_ecog <- survdiff(Surv(time, event) ~ ph.ecog, data = lc)
lr_strat <- survdiff(Surv(time, event) ~ sex + strata(ph.ecog), data = lc)
lr_out <- function(x) list(chisq = x$chisq, df = length(x$n) - 1L,
                           p = pchisq(x$chisq, length(x$n) - 1L, lower.tail = FALSE),
                           observed = unname(if (is.matrix(x$obs)) rowSums(x$obs) else x$obs),
                           expected = unname(if (is.matrix(x$exp)) rowSums(x$exp) else x$exp),
                           n = unname(as.vector(x$n)))

ref <- list(
  id = "km_weighted",
  dataset = "NCCTG lung cancer (survival::lung), tests/reference/data/lung.csv",
  data = list(
    loader = "data/lung.csv (228 rows; event = status - 1)",
    weights = "w = 0.5 + (row %% 4) * 0.35, row = 1..228 in file order",
    entry = "entry = floor(time * (row %% 3) / 4)",
    weights_values = lung$w,
    entry_values = lung$entry
  ),
  specification = list(
    overall_ij = "survfit(Surv(time, event) ~ 1, weights = w, robust = TRUE); summary(censored = TRUE): n_risk/n_event weighted, se = SE of S (IJ); lower/upper log-log, lower_log/upper_log log",
    by_sex_ij = "survfit(Surv(time, event) ~ sex, weights = w, robust = TRUE), log-log",
    overall_greenwood = "survfit(Surv(time, event) ~ 1, weights = w, robust = FALSE): Greenwood on weighted counts, log-log",
    entry_greenwood = "survfit(Surv(entry, time, event) ~ 1): unweighted, Greenwood, log-log",
    entry_ij = "survfit(Surv(entry, time, event) ~ 1, weights = w, id = row, robust = TRUE), log-log",
    rmst = "tau = 365: rmean of the weighted survfit; se_ij = sqrt(sum((w * residuals(fit, times = 365, type = 'rmst'))^2)); se_printed = summary(fit, rmean = 365)$table se(rmean)",
    logrank = "survdiff(Surv(time, event) ~ ph.ecog) and ~ sex + strata(ph.ecog), rows with ph.ecog missing removed (227 rows)"
  ),
  estimates = list(
    overall_ij = ov,
    by_sex_ij = curve(f_sex),
    overall_greenwood = curve(f_gw),
    entry_greenwood = curve(f_tr),
    entry_ij = curve(f_tr_ij),
    rmst_tau365 = list(overall = rm_all, sex1 = rm_sex[["1"]], sex2 = rm_sex[["2"]]),
    logrank_ecog = lr_out(lr_ecog),
    logrank_sex_strata_ecog = lr_out(lr_strat)
  ),
  source = paste0(R.version.string, "; survival ", packageVersion("survival"),
                  "; jsonlite ", packageVersion("jsonlite"),
                  "; script tests/reference/r/km_weighted.R"),
  tolerance = list(surv = "abs 1e-10", se = "abs 1e-10", ci = "abs 1e-10",
                   rmst = "abs 1e-8", logrank = "abs 1e-8 (chisq), rel 1e-8 (p)")
)
writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/km_weighted.json")
