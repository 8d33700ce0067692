# cohortlab's per-protocol weighting convention computed with R's glm and sandwich on
# TrialEmulation's expanded data (trial_example: every 10th id, 51 persons, for CI; and all 503
# persons). NOT a TrialEmulation
# result: TrialEmulation fits its switch models before expansion (by previous treatment);
# this reference checks cohortlab's post-expansion weights, the weighted outcome model and its
# weighted person-clustered sandwich against independent R code on the same expanded rows.
# Run outside CI (versions, commits and the duckdb stub as in te_reference.R):
#   R_LIBS_USER=/tmp/Rlib Rscript tests/reference/trials_te/te_postexpansion.R
# Steps (what cohortlab.sequential_trials(estimand="per_protocol") documents):
#  1. TrialEmulation's ITT expansion (data_preparation(estimand_type = "ITT")): every eligible
#     period starts a trial, covariates nvarA, nvarB, nvarC frozen at the trial start;
#  2. current treatment and current nvarA, nvarB joined by (id, period = trial_period +
#     followup_time); first deviation = first follow-up whose treatment differs from the arm;
#  3. by arm, numerator glm(stay ~ followup + followup^2 + trial + trial^2 + baseline covariates)
#     and denominator (+ current nvarA, nvarB) on the rows with follow-up >= 1 up to and
#     including the first deviation (stay = treatment equals the arm);
#  4. weight = cumulative product over follow-up 1..t of p_num / p_den (1 at follow-up 0);
#  5. outcome glm on the rows before the first deviation with those weights;
#     sandwich::vcovCL(cluster = id, type = "HC0", cadjust = FALSE) (CR0).
suppressPackageStartupMessages({
  library(TrialEmulation)
  library(jsonlite)
  library(data.table)
  library(sandwich)
})
data.table::setDTthreads(1)
here <- local({
  a <- commandArgs(FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else getwd()
})
data("trial_example")
run <- function(keep_ids) {
te <- as.data.table(trial_example)
te <- te[id %in% keep_ids]
dir <- tempfile("te_")
dir.create(dir)
prep <- data_preparation(
  data = as.data.frame(te), id = "id", period = "period", eligible = "eligible",
  treatment = "treatment", outcome = "outcome", outcome_cov = ~ nvarA + nvarB + nvarC,
  estimand_type = "ITT", data_dir = dir, separate_files = FALSE, quiet = TRUE
)
ex <- as.data.table(prep$data)
ex[, period := trial_period + followup_time]
cur <- te[, list(id, period, nvarA_cur = nvarA, nvarB_cur = nvarB, treat_cur = treatment)]
ex <- merge(ex, cur, by = c("id", "period"), all.x = TRUE, sort = FALSE)
stopifnot(!anyNA(ex$treat_cur), all(ex$treat_cur == ex$treatment))
setorder(ex, id, trial_period, followup_time)
ex[, dev := treatment != assigned_treatment]
ex[, first_dev := suppressWarnings(min(as.numeric(followup_time)[dev])), by = list(id, trial_period)]
ex[, adherent := followup_time < first_dev]
ex[, fitrow := followup_time >= 1 & followup_time <= first_dev]
ex[, stay := as.numeric(!dev)]
f_num <- stay ~ followup_time + I(followup_time^2) + trial_period + I(trial_period^2) +
  nvarA + nvarB + nvarC
f_den <- update(f_num, . ~ . + nvarA_cur + nvarB_cur)
ex[, lr := 0]
models <- list()
for (a in 0:1) {
  d <- ex[fitrow & assigned_treatment == a]
  mn <- glm(f_num, binomial(), d, control = glm.control(epsilon = 1e-12, maxit = 50))
  md <- glm(f_den, binomial(), d, control = glm.control(epsilon = 1e-12, maxit = 50))
  models[[paste0("arm", a)]] <- list(numerator = unname(coef(mn)), denominator = unname(coef(md)),
                                     n = nrow(d))
  idx <- ex[, which(adherent & followup_time >= 1 & assigned_treatment == a)]
  nd <- ex[idx]
  ex[idx, lr := log(predict(mn, nd, type = "response")) - log(predict(md, nd, type = "response"))]
}
ex[, w := exp(cumsum(lr)), by = list(id, trial_period)]
od <- ex[adherent == TRUE]
fit <- glm(outcome ~ assigned_treatment + followup_time + I(followup_time^2) + trial_period +
             I(trial_period^2) + nvarA + nvarB + nvarC, binomial(), od, weights = w,
           control = glm.control(epsilon = 1e-12, maxit = 50))
v <- vcovCL(fit, cluster = od$id, type = "HC0", cadjust = FALSE)
list(
  n_persons = length(keep_ids), n_expanded = nrow(ex), nobs = nrow(od), n_events = sum(od$outcome),
  n_clusters = length(unique(od$id)),
  terms = names(coef(fit)), coef = unname(coef(fit)),
  std_error_cr0 = unname(sqrt(diag(v))),
  weights = list(mean = mean(od$w), min = min(od$w), max = max(od$w), sd = sd(od$w)),
  switch_models = models
)
}
all_ids <- sort(unique(trial_example$id))
out <- list(
  TrialEmulation = as.character(packageVersion("TrialEmulation")), R = R.version.string,
  sandwich = as.character(packageVersion("sandwich")),
  every_10th = run(all_ids[seq(1, length(all_ids), by = 10)]),
  all = run(all_ids)
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(here, "te_postexpansion.json"))
cat(toJSON(out, auto_unbox = TRUE, digits = 8, pretty = TRUE), "\n")
