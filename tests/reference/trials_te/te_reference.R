# Reference values for cohortlab.sequential_trials() from TrialEmulation (R) on its bundled data
# trial_example and data_censored. Run outside CI:
#   R_LIBS_USER=/tmp/Rlib Rscript tests/reference/trials_te/te_reference.R
# Writes te_reference.json, trial_example.csv.gz and data_censored.csv next to this script.
#
# Versions: R 4.2.2; TrialEmulation 0.0.4.9 = github.com/Causal-LDA/TrialEmulation commit
#   f432103f (HEAD of the local mirror, "Bump version to 0.0.4.9"); parglm 0.1.7 (boennecd/parglm
#   d1fa3713), formula.tools 1.7.1 (decisionpatterns/formula.tools 45b6654e), operator.tools 1.6.3
#   (decisionpatterns/operator.tools cb5054bc), each `R CMD INSTALL -l /tmp/Rlib` from source;
#   broom, checkmate, data.table, DBI, lifecycle, lmtest, mvtnorm, Rcpp, RcppArmadillo, sandwich,
#   Matrix, jsonlite from Debian (r-cran-*).
# STUB: R's duckdb package is not installed (no CRAN access; building it takes too long).
#   TrialEmulation's NAMESPACE has importClassesFrom(duckdb, duckdb_connection), so a stub package
#   "duckdb" (version 0.0.0.9000) exporting the S4 class duckdb_connection (contains DBIConnection)
#   and a function duckdb() that stop()s was installed. Nothing below touches DuckDB: the expanded
#   data are kept in memory (initiators(), save_to_datatable()), the default data store.
#
# Analyses (close to TrialEmulation's vignettes "Getting-Started" and "New Interface"):
#  trial_example (48,400 person-periods, 503 persons), data_preparation() + trial_msm() as in
#  initiators(); outcome_cov = catvarA1 + catvarA2 + catvarA7 + catvarB1 + catvarB2 + catvarB3 +
#  catvarB7 + nvarA + nvarB + nvarC (the vignette's factors as 0/1 columns, catvarA = 3 merged
#  into the reference level: as its own level it has no event and separates the outcome):
#   te_itt        ITT, no weights
#   te_pp_unw     PP (artificial censoring at the first switch), switch models ~1 / ~1, so every
#                 weight is exactly 1: the unweighted per-protocol model
#   te_pp         PP with the vignette's switch numerator ~ nvarA + nvarB (denominator ~1)
#   te_itt_factor ITT with the vignette's factor coding (catvarA3 separated: -11, model SE 35)
#   te_sub_itt, te_sub_pp_unw  ITT and unweighted PP on the 50 smallest ids with outcome_cov
#                 ~ nvarA + nvarB + nvarC (the fast CI version)
#  data_censored (725 person-periods, 89 persons), trial_sequence() interface:
#   dc_itt_unw    ITT, adjustment ~ x2, linear trial period, no weights
#   dc_itt        the same + censoring weights (numerator ~x2, denominator ~x2 + x1, pooled
#                 numerator), as the vignette
#   dc_itt_unw_quadratic  dc_itt_unw with the default quadratic trial period (separated)
#   dc_pp_unw     PP, no weight models (all weights 1), outcome adjustment ~ age + x2
#   dc_pp         PP, switch weights (numerator ~age, denominator ~age + x1 + x3) and censoring
#                 weights (numerator ~x2, denominator ~x2 + x1, by previous treatment), as the
#                 vignette (both PP outcome models are separated: assigned_treatment 20.4)
# For each: coefficient names and values, model-based SEs, TrialEmulation's robust SEs
# (sandwich::vcovCL(cluster = id, type = NULL -> "HC0" for a glm, cadjust = TRUE -> G/(G-1)),
# the number of expanded rows, rows in the outcome model, persons (clusters), weights summary.
suppressPackageStartupMessages({
  library(TrialEmulation)
  library(jsonlite)
  library(data.table)
})
data.table::setDTthreads(1)
here <- local({
  a <- commandArgs(FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else getwd()
})

out <- list(
  TrialEmulation = as.character(packageVersion("TrialEmulation")),
  TrialEmulation_commit = "f432103f",
  R = R.version.string,
  sandwich = as.character(packageVersion("sandwich")),
  stub = "duckdb (S4 class duckdb_connection only; never called)"
)

model_entry <- function(model, vcov_robust, n_expanded, ids, y, w = NULL) {
  cf <- coef(model)
  list(
    terms = names(cf),
    coef = unname(cf),
    std_error_model = unname(sqrt(diag(vcov(model)))),
    std_error_robust = unname(sqrt(diag(vcov_robust))[names(cf)]),
    n_expanded = n_expanded,
    nobs = length(model$fitted.values),
    n_clusters = length(unique(ids)),
    n_events = sum(y),
    weights = if (is.null(w)) NULL else list(mean = mean(w), min = min(w), max = max(w), sd = sd(w))
  )
}
`%||%` <- function(a, b) if (is.null(a)) b else a

# ---- trial_example: initiators() --------------------------------------------------------------
data("trial_example")
te <- trial_example
te$catvarA <- as.factor(te$catvarA)
te$catvarB <- as.factor(te$catvarB)
fwrite(trial_example, file.path(here, "trial_example.csv.gz"))
cov_te <- c("catvarA", "catvarB", "nvarA", "nvarB", "nvarC")

# the vignette's factors as 0/1 columns (reference level 0), the same columns cohortlab reads;
# catvarA = 3 (111 person-periods, no event) is left in the reference level in the parity runs:
# as its own level it separates the outcome (glm: coefficient -11, model SE 35 to 68) and
# cohortlab refuses a non-converged fit; te_itt_factor keeps the vignette's factor coding
for (lev in c(1, 2, 3, 7)) {
  te[[paste0("catvarA", lev)]] <- as.numeric(trial_example$catvarA == lev)
  te[[paste0("catvarB", lev)]] <- as.numeric(trial_example$catvarB == lev)
}
f_dummies <- ~ catvarA1 + catvarA2 + catvarA7 + catvarB1 + catvarB2 + catvarB3 + catvarB7 +
  nvarA + nvarB + nvarC
f_factor <- ~ catvarA + catvarB + nvarA + nvarB + nvarC

run_init <- function(estimand, outcome_cov = f_dummies, data = te, ...) {
  dir <- tempfile("te_")
  dir.create(dir)
  prep <- data_preparation(
    data = data, id = "id", period = "period", eligible = "eligible", treatment = "treatment",
    outcome = "outcome", outcome_cov = outcome_cov,
    estimand_type = estimand, data_dir = dir, separate_files = FALSE, quiet = TRUE, ...
  )
  msm <- trial_msm(
    data = prep$data, outcome_cov = outcome_cov,
    estimand_type = estimand, model_var = "assigned_treatment", glm_function = "glm",
    quiet = TRUE
  )
  d <- prep$data
  e <- model_entry(msm$model, msm$robust$matrix, nrow(d), d$id, d$outcome, d$weight)
  e$std_error_robust_te <- msm$robust$summary$robust_se
  e$formula <- paste(deparse(formula(msm$model)), collapse = "")
  e
}
if (Sys.getenv("TE_ONLY_DC") == "") {
  out$te_itt <- run_init("ITT", use_censor_weights = FALSE)
  out$te_pp_unw <- run_init("PP", switch_n_cov = ~1, switch_d_cov = ~1, use_censor_weights = FALSE)
  out$te_pp <- run_init("PP", switch_n_cov = ~ nvarA + nvarB, use_censor_weights = FALSE)
  out$te_itt_factor <- run_init("ITT", outcome_cov = f_factor, use_censor_weights = FALSE)
}
# a small version for CI: the 50 smallest ids, outcome_cov ~ nvarA + nvarB + nvarC
te_sub <- te[te$id %in% sort(unique(te$id))[1:50], ]
out$te_sub_itt <- run_init("ITT", outcome_cov = ~ nvarA + nvarB + nvarC, data = te_sub,
                           use_censor_weights = FALSE)
out$te_sub_pp_unw <- run_init("PP", outcome_cov = ~ nvarA + nvarB + nvarC, data = te_sub,
                              switch_n_cov = ~1, switch_d_cov = ~1, use_censor_weights = FALSE)

# ---- data_censored: trial_sequence() ----------------------------------------------------------
data("data_censored")
fwrite(data_censored, file.path(here, "data_censored.csv"))

run_seq <- function(estimand, switch = NULL, censor = NULL, adjustment = ~1,
                    trial_terms = ~ trial_period + I(trial_period^2)) {
  tr <- trial_sequence(estimand = estimand)
  tr <- set_data(tr, data = data_censored, id = "id", period = "period", treatment = "treatment",
                 outcome = "outcome", eligible = "eligible")
  if (!is.null(switch)) {
    tr <- set_switch_weight_model(tr, numerator = switch[[1]], denominator = switch[[2]],
                                  model_fitter = stats_glm_logit(save_path = tempfile("w_")))
  }
  if (!is.null(censor)) {
    tr <- set_censor_weight_model(tr, censor_event = "censored", numerator = censor[[1]],
                                  denominator = censor[[2]], pool_models = censor[[3]],
                                  model_fitter = stats_glm_logit(save_path = tempfile("w_")))
  }
  if (!is.null(switch) || !is.null(censor)) tr <- calculate_weights(tr)
  tr <- set_outcome_model(tr, adjustment_terms = adjustment, trial_period_terms = trial_terms)
  tr <- set_expansion_options(tr, output = save_to_datatable(), chunk_size = 500)
  tr <- expand_trials(tr)
  tr <- load_expanded_data(tr)
  tr <- fit_msm(tr, weight_cols = "weight")
  fit <- tr@outcome_model@fitted@model
  d <- outcome_data(tr)
  e <- model_entry(fit$model, fit$vcov, tr@expansion@datastore@N, d$id, d$outcome, d$weight)
  e$formula <- paste(deparse(tr@outcome_model@formula), collapse = "")
  e
}
# ITT with a linear trial-period term: events occur only in early trials and the vignette's
# quadratic term separates them (glm: trial_period 7.1, its square -7.6, model SEs 626)
out$dc_itt_unw <- run_seq("ITT", adjustment = ~x2, trial_terms = ~trial_period)
out$dc_itt <- run_seq("ITT", censor = list(~x2, ~ x2 + x1, "numerator"), adjustment = ~x2,
                      trial_terms = ~trial_period)
out$dc_itt_unw_quadratic <- run_seq("ITT", adjustment = ~x2)
out$dc_pp_unw <- run_seq("PP", adjustment = ~ age + x2)
out$dc_pp <- run_seq("PP", switch = list(~age, ~ age + x1 + x3),
                     censor = list(~x2, ~ x2 + x1, "none"))

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           file.path(here, "te_reference.json"))
cat(toJSON(out, auto_unbox = TRUE, digits = 8, pretty = TRUE, null = "null"), "\n")
