# Reference values for Cox extras: cox.zph, weighted Cox, left truncation, concordance,
# predicted survival, global tests, stratified + cluster, monotone likelihood and a
# weighted cause-specific Cox on mgus2.
#
# Run from anywhere:  Rscript tests/reference/r/cox_extra.R
# Writes tests/reference/cox_extra.json (full precision, jsonlite digits = NA).

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

script_dir <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f) == 1) dirname(normalizePath(f)) else file.path("tests", "reference", "r")
})
ref_dir <- normalizePath(file.path(script_dir, ".."))

# ---------------------------------------------------------------- helpers
named <- function(x) as.list(x)               # named numeric vector -> JSON object
coef_table <- function(fit) {
  # coef, model (naive) SE and, when the fit has one, robust SE per term
  b <- coef(fit)
  se_model <- if (!is.null(fit$naive.var)) sqrt(diag(fit$naive.var)) else sqrt(diag(fit$var))
  out <- list()
  for (j in seq_along(b)) {
    row <- list(coef = unname(b[j]), se_model = unname(se_model[j]))
    if (!is.null(fit$naive.var)) row$se_robust <- unname(sqrt(diag(fit$var))[j])
    out[[names(b)[j]]] <- row
  }
  out
}
zph_table <- function(z) {
  tab <- z$table
  out <- list()
  for (r in rownames(tab)) {
    out[[r]] <- list(chisq = unname(tab[r, "chisq"]), df = unname(tab[r, "df"]),
                     p = unname(tab[r, "p"]))
  }
  out
}
capture_warnings <- function(expr) {
  w <- character(0)
  val <- withCallingHandlers(expr, warning = function(cond) {
    w <<- c(w, conditionMessage(cond))
    invokeRestart("muffleWarning")
  })
  list(value = val, warnings = w)
}
# step function value of a right-continuous curve at times t (value at last time <= t)
step_at <- function(time, value, t, before = 0) {
  idx <- findInterval(t, time)
  ifelse(idx == 0, before, value[pmax(idx, 1)])
}

# ---------------------------------------------------------------- data
lung <- read.csv(file.path(ref_dir, "data", "lung.csv"))
lung_matches_package <- isTRUE(all.equal(lung, as.data.frame(survival::lung),
                                         check.attributes = FALSE))
n_lung <- nrow(lung)
res <- list()

# ---------------------------------------------------------------- 1. cox.zph
fitA <- coxph(Surv(time, status) ~ age + sex, data = lung)
fitB <- coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung)
res$cox_zph <- list(
  model_A_km = zph_table(cox.zph(fitA)),
  model_B_km = zph_table(cox.zph(fitB)),
  model_A_identity = zph_table(cox.zph(fitA, transform = "identity")),
  model_A_rank = zph_table(cox.zph(fitA, transform = "rank")),
  model_A_n = fitA$n, model_A_nevent = fitA$nevent,
  model_B_n = fitB$n, model_B_nevent = fitB$nevent
)

# ---------------------------------------------------------------- 2. weighted Cox
lung$w <- 0.5 + (lung$age > 60) + 0.25 * lung$sex
lung$w2 <- 1 + (lung$age > 60)
lung$row_id <- seq_len(n_lung)
wt <- list()
for (ties in c("efron", "breslow")) {
  for (mdl in c("A", "B")) {
    f <- if (mdl == "A") Surv(time, status) ~ age + sex else Surv(time, status) ~ age + sex + ph.ecog
    fit_default <- coxph(f, data = lung, weights = w, ties = ties)
    fit_naive <- coxph(f, data = lung, weights = w, ties = ties, robust = FALSE)
    fit_rob <- coxph(f, data = lung, weights = w, ties = ties, robust = TRUE)
    wt[[paste0("model_", mdl, "_", ties)]] <- list(
      terms = coef_table(fit_rob),
      se_model_from_robust_FALSE = as.list(setNames(sqrt(diag(fit_naive$var)), names(coef(fit_naive)))),
      default_variance_is_robust = !is.null(fit_default$naive.var),
      loglik = fit_rob$loglik, n = fit_rob$n, nevent = fit_rob$nevent,
      sum_weights = sum(lung$w[complete.cases(lung[, all.vars(f)[-(1:2)], drop = FALSE])])
    )
  }
}
res$weighted_cox <- wt

# integer weights vs replicated rows (model A and B, Efron and Breslow)
rep_idx <- rep(seq_len(n_lung), times = lung$w2)
lung_rep <- lung[rep_idx, ]
iw <- list(n_rows_replicated = nrow(lung_rep),
           default_variance_is_robust_for_weights_1_or_2 =
             !is.null(coxph(Surv(time, status) ~ age + sex, data = lung, weights = w2)$naive.var))
for (ties in c("efron", "breslow")) {
  for (mdl in c("A", "B")) {
    f <- if (mdl == "A") Surv(time, status) ~ age + sex else Surv(time, status) ~ age + sex + ph.ecog
    fw <- coxph(f, data = lung, weights = w2, ties = ties, robust = TRUE)
    fr <- coxph(f, data = lung_rep, ties = ties, robust = TRUE)
    frc <- coxph(f, data = lung_rep, ties = ties, cluster = row_id)
    iw[[paste0("model_", mdl, "_", ties)]] <- list(
      weighted = coef_table(fw),
      replicated_rows = coef_table(fr),
      replicated_rows_cluster_original_row = coef_table(frc),
      loglik_weighted = fw$loglik, loglik_replicated = fr$loglik,
      max_abs_coef_diff = max(abs(coef(fw) - coef(fr))),
      max_rel_se_model_diff = max(abs(sqrt(diag(fw$naive.var)) / sqrt(diag(fr$naive.var)) - 1)),
      max_rel_se_robust_weighted_vs_replicated_cluster =
        max(abs(sqrt(diag(fw$var)) / sqrt(diag(frc$var)) - 1))
    )
  }
}
res$integer_weights_vs_replicated <- iw

# ---------------------------------------------------------------- 3. left truncation
k <- (seq_len(n_lung) * 37) %% 100             # 1-based row index i
lung$entry <- (lung$time * k) %/% 200           # exact integer form of floor(time * k / 200)
entry_float <- floor(lung$time * (k / 200))
stopifnot(all(lung$entry < lung$time), all(lung$entry >= 0))
fitLT <- coxph(Surv(entry, time, status) ~ age + sex + ph.ecog, data = lung, robust = TRUE,
               id = row_id)
fitLT_naive <- coxph(Surv(entry, time, status) ~ age + sex + ph.ecog, data = lung)
kmLT <- survfit(Surv(entry, time, status) ~ 1, data = lung)
skm <- summary(kmLT, times = c(180, 365))
res$left_truncation <- list(
  entry = lung$entry,
  entry_sum = sum(lung$entry),
  entry_float_formula_identical = all(entry_float == lung$entry),
  n_entry_zero = sum(lung$entry == 0),
  cox = list(
    terms = coef_table(fitLT),
    se_model_from_plain_fit = as.list(setNames(sqrt(diag(fitLT_naive$var)), names(coef(fitLT_naive)))),
    loglik = fitLT$loglik, n = fitLT$n, nevent = fitLT$nevent
  ),
  km = list(
    times = skm$time, surv = skm$surv, std_err_surv_scale = skm$std.err,
    std_err_cumhaz_scale = step_at(kmLT$time, kmLT$std.err, c(180, 365)),
    n_risk = skm$n.risk, n_event_since_previous_time = skm$n.event,
    lower = skm$lower, upper = skm$upper
  )
)

# ---------------------------------------------------------------- 4. concordance
conc <- function(fit) {
  cc <- fit$concordance
  list(concordance = unname(cc["concordance"]), std = unname(cc["std"]),
       concordant = unname(cc["concordant"]), discordant = unname(cc["discordant"]),
       tied_x = unname(cc["tied.x"]), tied_y = unname(cc["tied.y"]),
       tied_xy = unname(cc["tied.xy"]))
}
res$concordance <- list(model_A = conc(fitA), model_B = conc(fitB))

# ---------------------------------------------------------------- 5. predicted survival
nd <- data.frame(age = c(50, 70), sex = c(1, 2))
sfA <- survfit(fitA, newdata = nd)
ss <- summary(sfA, times = c(180, 365, 730))
pred <- list()
for (j in 1:2) {
  pred[[paste0("age", nd$age[j], "_sex", nd$sex[j])]] <- list(
    times = ss$time, surv = ss$surv[, j], std_err = ss$std.err[, j],
    lower = ss$lower[, j], upper = ss$upper[, j],
    std_err_cumhaz_scale = step_at(sfA$time, sfA$std.err[, j], c(180, 365, 730))
  )
}
bh <- basehaz(fitA, centered = FALSE)
sf0_breslow <- survfit(fitA, newdata = data.frame(age = 0, sex = 0), ctype = 1, se.fit = FALSE)
sf0_efron <- survfit(fitA, newdata = data.frame(age = 0, sex = 0), ctype = 2, se.fit = FALSE)
res$predicted_survival <- list(
  newdata = list(age = nd$age, sex = nd$sex),
  survfit_defaults = list(conf_type = sfA$conf.type, conf_int = sfA$conf.int),
  curves = pred,
  basehaz_uncentered = list(
    times = c(180, 365, 730),
    hazard = step_at(bh$time, bh$hazard, c(180, 365, 730)),
    breslow_ctype1 = step_at(sf0_breslow$time, sf0_breslow$cumhaz, c(180, 365, 730)),
    efron_ctype2 = step_at(sf0_efron$time, sf0_efron$cumhaz, c(180, 365, 730))
  ),
  means = named(fitA$means)
)

# ---------------------------------------------------------------- 6. global tests, model B
fitB_rob <- coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung, robust = TRUE)
chi <- function(stat, df) list(statistic = unname(stat), df = df,
                               p = pchisq(unname(stat), df, lower.tail = FALSE))
dfB <- length(coef(fitB))
res$global_tests_model_B <- list(
  loglik_null = fitB$loglik[1], loglik_fitted = fitB$loglik[2],
  lr = chi(2 * (fitB$loglik[2] - fitB$loglik[1]), dfB),
  wald = chi(fitB$wald.test, dfB),
  score = chi(fitB$score, dfB),
  robust_fit = list(
    robust_score = chi(fitB_rob$rscore, dfB),
    wald_robust = chi(fitB_rob$wald.test, dfB),
    lr = chi(2 * (fitB_rob$loglik[2] - fitB_rob$loglik[1]), dfB),
    score_model_based = chi(fitB_rob$score, dfB)
  ),
  n = fitB$n, nevent = fitB$nevent
)

# ---------------------------------------------------------------- 7. stratified + cluster
fitS <- coxph(Surv(time, status) ~ age + sex + strata(ph.ecog), data = lung, cluster = inst)
fitS2 <- coxph(Surv(time, status) ~ age + sex + strata(ph.ecog) + cluster(inst), data = lung)
res$stratified_cluster <- list(
  terms = coef_table(fitS),
  cluster_term_in_formula_identical = isTRUE(all.equal(fitS$var, fitS2$var)),
  n = fitS$n, nevent = fitS$nevent, n_clusters = length(unique(lung$inst[!is.na(lung$inst) &
                                                                        !is.na(lung$ph.ecog)])),
  loglik = fitS$loglik,
  stratum_sizes = as.list(table(lung$ph.ecog[!is.na(lung$inst)]))
)

# ---------------------------------------------------------------- 8. monotone likelihood
mono <- data.frame(
  time   = c(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21),
  status = c(1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0),
  x      = c(1, 0, 1, 1, 1, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 0),
  z      = c(0.3, -1.2, 0.8, 0.1, -0.5, 1.4, 0.6, -0.9, 0.2, 1.1, -0.3, 0.5, -1.5, 0.9,
             -0.1, 0.4, -0.7, 1.3, 0.0, -0.4)
)
stopifnot(all(mono$x[mono$status == 1] == 1))
m1 <- capture_warnings(coxph(Surv(time, status) ~ x, data = mono))
m2 <- capture_warnings(coxph(Surv(time, status) ~ x + z, data = mono))
mono_out <- function(m) {
  f <- m$value
  se <- sqrt(diag(f$var))
  names(se) <- names(coef(f))
  list(coef = named(coef(f)), se = named(se), loglik = f$loglik,
       iterations = f$iter, warnings = m$warnings,
       lr_test = unname(2 * diff(f$loglik)), wald_test = unname(f$wald.test),
       score_test = unname(f$score))
}
res$monotone_likelihood <- list(
  data = as.list(mono),
  x_only = mono_out(m1),
  x_and_z = mono_out(m2)
)

# ---------------------------------------------------------------- 9. mgus2 weighted CS Cox
mgus2 <- read.csv(file.path(ref_dir, "data", "mgus2.csv"))
mgus2$etime <- ifelse(mgus2$pstat == 1, mgus2$ptime, mgus2$futime)
mgus2$event <- ifelse(mgus2$pstat == 1, 1, 2 * mgus2$death)
mgus2$w <- 0.5 + (mgus2$age > 70)
fitCS <- coxph(Surv(etime, event == 1) ~ age + sex + mspike, data = mgus2, weights = w,
               robust = TRUE)
fitCS_unw <- coxph(Surv(etime, event == 1) ~ age + sex + mspike, data = mgus2, robust = TRUE)
res$mgus2_cs_cox_pcm_weighted <- list(
  terms = coef_table(fitCS),
  unweighted_same_call = coef_table(fitCS_unw),
  n = fitCS$n, nevent = fitCS$nevent, loglik = fitCS$loglik,
  sum_weights = sum(mgus2$w[!is.na(mgus2$mspike)])
)

# ---------------------------------------------------------------- JSON
spec <- list(
  data_lung = "lung <- read.csv('data/lung.csv') (228 rows = survival::lung; status 1=censored, 2=dead; sex 1=male, 2=female); models drop rows with missing covariates (na.omit)",
  cox_zph = c(
    "fitA <- coxph(Surv(time, status) ~ age + sex, data = lung)  # ties = 'efron'",
    "fitB <- coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung)  # n = 227",
    "cox.zph(fitA); cox.zph(fitB)  # defaults: transform = 'km', terms = TRUE, global = TRUE",
    "cox.zph(fitA, transform = 'identity'); cox.zph(fitA, transform = 'rank')",
    "values = cox.zph(...)$table columns chisq, df, p (rows per term and GLOBAL)"
  ),
  weighted_cox = c(
    "lung$w <- 0.5 + (lung$age > 60) + 0.25 * lung$sex",
    "coxph(Surv(time, status) ~ age + sex, data = lung, weights = w, ties = t, robust = TRUE)  # model A",
    "coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung, weights = w, ties = t, robust = TRUE)  # model B",
    "t in 'efron', 'breslow'; se_model = sqrt(diag(fit$naive.var)), se_robust = sqrt(diag(fit$var)) (dfbeta sandwich, one cluster per row)",
    "se_model_from_robust_FALSE: same call with robust = FALSE, sqrt(diag(fit$var))",
    "default_variance_is_robust: whether the call WITHOUT robust= returns a robust variance (survival >= 3: yes for non-integer case weights)"
  ),
  integer_weights_vs_replicated = c(
    "lung$w2 <- 1 + (lung$age > 60); lung$row_id <- 1:228",
    "weighted: coxph(f, data = lung, weights = w2, ties = t, robust = TRUE)",
    "replicated_rows: lung_rep <- lung[rep(1:228, times = lung$w2), ]; coxph(f, data = lung_rep, ties = t, robust = TRUE)",
    "replicated_rows_cluster_original_row: coxph(f, data = lung_rep, ties = t, cluster = row_id)",
    "finding: with ties = 'breslow' weighted == replicated (coef, loglik, model SE to 1e-15; robust SE == replicated with cluster = row_id). With ties = 'efron' they differ (coef by ~1e-3): coxph's weighted Efron correction treats a weight-2 death as one death of weight 2, replicated rows make 2 tied deaths. Replicated rows without cluster give a smaller, wrong robust SE.",
    "default_variance_is_robust_for_weights_1_or_2: coxph(..., weights = w2) without robust=. ?coxph says the default is robust when weights are 'not 0 or 1', but the code (has.rwt <- any(weights != floor(weights))) only switches to robust for NON-INTEGER weights: FALSE here"
  ),
  left_truncation = c(
    "i <- 1:228 (1-based row index in data/lung.csv order); k <- (i * 37) %% 100",
    "entry <- (time * k) %/% 200   # == floor(time * u) with u = k / 200 (exact integer arithmetic); Python: i = np.arange(1, 229); entry = (time * ((i * 37) % 100)) // 200",
    "coxph(Surv(entry, time, status) ~ age + sex + ph.ecog, data = lung, robust = TRUE, id = row_id)  # Efron; survival 3.5.3 refuses robust = TRUE on (start, stop] data without id= or cluster= (error: one of cluster or id is needed); row_id = 1:228, one row per subject",
    "km <- survfit(Surv(entry, time, status) ~ 1, data = lung); summary(km, times = c(180, 365))",
    "summary(times=) semantics: surv/std.err = value at the last event time <= t; n_risk = number at risk at t (entry < t <= time); n_event_since_previous_time = events in (previous requested time, t]",
    "km std_err_surv_scale = summary()$std.err (Greenwood, survival scale); std_err_cumhaz_scale = km$std.err step value (log-survival scale); conf.type = 'log'"
  ),
  concordance = "fitA$concordance / fitB$concordance (Harrell's C as coxph reports it, concordance(..., timewt='n') on the linear predictor; std = infinitesimal-jackknife std)",
  predicted_survival = c(
    "sf <- survfit(fitA, newdata = data.frame(age = c(50, 70), sex = c(1, 2)))  # defaults: stype = 2 (exp(-H)), ctype = 2 (Efron-type hazard, as fitA has ties = 'efron'), conf.type = 'log', conf.int = 0.95, se.fit = TRUE",
    "summary(sf, times = c(180, 365, 730)): surv, std.err (survival scale), lower, upper",
    "basehaz(fitA, centered = FALSE) evaluated as a step function at 180, 365, 730 (covariates at 0; uses survfit's default ctype, i.e. the Efron-type hazard for an Efron fit)",
    "breslow_ctype1 / efron_ctype2: survfit(fitA, newdata = data.frame(age = 0, sex = 0), ctype = 1 or 2)$cumhaz at those times"
  ),
  global_tests_model_B = c(
    "fitB: lr = 2 * diff(fitB$loglik), wald = fitB$wald.test, score = fitB$score (log-rank type score test at beta = 0, Efron); df = 3; p = pchisq(stat, df, lower.tail = FALSE)",
    "fitBr <- coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung, robust = TRUE): robust_score = fitBr$rscore, wald_robust = fitBr$wald.test (uses the robust variance), lr and score as for fitB",
    "raw fit components are used because summary.coxph rounds the Wald statistic to 2 decimals"
  ),
  stratified_cluster = "coxph(Surv(time, status) ~ age + sex + strata(ph.ecog), data = lung, cluster = inst)  # n = 226 (1 missing ph.ecog, 1 missing inst); se_robust = grouped dfbeta sandwich by inst; identical to + cluster(inst) in the formula",
  monotone_likelihood = c(
    "data given in estimates$monotone_likelihood$data (20 rows; every event has x = 1)",
    "coxph(Surv(time, status) ~ x, data = mono); coxph(Surv(time, status) ~ x + z, data = mono)  # defaults: Efron, coxph.control(eps = 1e-9, iter.max = 20, toler.inf = sqrt(eps))"
  ),
  mgus2_cs_cox_pcm_weighted = c(
    "mgus2 <- read.csv('data/mgus2.csv'); etime <- ifelse(pstat == 1, ptime, futime); event <- ifelse(pstat == 1, 1, 2 * death)",
    "w <- 0.5 + (age > 70)",
    "coxph(Surv(etime, event == 1) ~ age + sex + mspike, data = mgus2, weights = w, robust = TRUE)  # n = 1373 (11 missing mspike), Efron; death treated as censoring"
  )
)

out <- list(
  id = "cox_extra",
  dataset = "survival::lung, survival::mgus2, and a 20-row made-up data set (monotone likelihood)",
  data = list(
    package = paste0("R survival ", as.character(packageVersion("survival"))),
    loader = "data/lung.csv, data/mgus2.csv",
    lung_csv_identical_to_survival_lung = lung_matches_package
  ),
  specification = spec,
  estimates = res,
  notes = c(
    "coxph's default variance is robust (fit$var robust, fit$naive.var model-based) only for NON-INTEGER case weights (or cluster=, or id with repeated events); ?coxph says 'not 0 or 1' but integer weights such as 1/2 give the model-based variance by default.",
    "Integer weights vs replicated rows: identical with ties = 'breslow'; with ties = 'efron' coef differ by up to 2e-3 (a weight-2 death is one death of weight 2, not two tied deaths). Robust SE of the weighted fit equals the replicated fit only with cluster = original row.",
    "robust = TRUE on Surv(entry, time, status) data errors ('one of cluster or id is needed') in survival 3.5.3; id = row_id used.",
    "summary.coxph rounds the Wald statistic to 2 decimals; values here come from fit$wald.test, fit$score, fit$rscore.",
    "basehaz(fit, centered = FALSE) for an Efron fit is the Efron-type (ctype = 2) cumulative hazard, not the Breslow one; both are recorded.",
    "cox.zph in survival >= 3 is the score test of beta(t) = beta + theta * g(t) (not the older correlation test); GLOBAL is the joint test.",
    "Monotone likelihood: coxph returns a large finite coef (x ~ 21.4, se ~ 1.5e4) after 20 iterations with the warning 'Loglik converged before variable  1 ; coefficient may be infinite. ' (double space as printed); LR and score tests stay valid, the Wald test collapses to ~0."
  ),
  source = paste0(R.version.string, "; survival ", packageVersion("survival"),
                  ", jsonlite ", packageVersion("jsonlite"),
                  "; platform ", R.version$platform,
                  "; script tests/reference/r/cox_extra.R"),
  tolerance = list(
    coef = "abs 1e-6 (same R call); abs 1e-5 if the optimiser stops at a different iteration",
    se_model = "rel 1e-4",
    se_robust = "rel 1e-3",
    tests_loglik = "abs 1e-6 loglik, rel 1e-4 test statistics and p-values",
    cox_zph = "rel 1e-4 chisq (rel 1e-3 for transform = 'km')",
    concordance = "abs 1e-8 concordance, rel 1e-4 std",
    survival_curves = "abs 1e-6 surv, rel 1e-4 std.err and CI limits",
    monotone_likelihood = "behaviour only: coefficient large (|coef| > 5) with a warning; the exact value depends on the stopping rule"
  )
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(ref_dir, "cox_extra.json"))
cat("wrote", file.path(ref_dir, "cox_extra.json"), "\n")
