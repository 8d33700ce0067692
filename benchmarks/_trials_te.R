# Child process of bench_trials.py for TrialEmulation (R): one timed analysis, one JSON line.
#   R_LIBS_USER=/tmp/Rlib Rscript benchmarks/_trials_te.R data.csv itt|per_protocol
# The CSV is bench_trials.py's (columns id, time, A, Y, elig, V, L). Outside the timed region:
# loading the packages and reading the CSV (data.table::fread). Timed (elapsed): TrialEmulation's
# data_preparation() (expansion; switch weight models for per-protocol) + trial_msm() (the
# pooled logistic outcome model with glm and its sandwich::vcovCL robust variance), as
# tests/reference/trials_te/te_reference.R calls them. Outcome model: TrialEmulation's default
# assigned_treatment + followup_time + followup_time^2 + trial_period + trial_period^2 + V + L
# (V, L at the trial start), no interaction. Per-protocol: artificial censoring at the first
# switch, switch weights fitted BEFORE expansion by previous treatment (TrialEmulation's
# convention; numerator ~ V, denominator ~ V + L with the current L), so its coefficients are
# not cohortlab's (post-expansion weights) and only the row counts are expected to agree.
# Printed: {"seconds", "peak_MB" (VmHWM), "terms", "coef", "expanded", "outcome_rows"}.
suppressPackageStartupMessages({
  library(TrialEmulation)
  library(data.table)
  library(jsonlite)
})
setDTthreads(1)
args <- commandArgs(TRUE)
d <- as.data.frame(fread(args[1]))
estimand <- if (args[2] == "itt") "ITT" else "PP"
dir <- tempfile("te_bench_")
dir.create(dir)
tm <- system.time({
  extra <- if (estimand == "PP") {
    list(switch_n_cov = ~V, switch_d_cov = ~ V + L)
  } else {
    list()
  }
  prep <- do.call(data_preparation, c(list(
    data = d, id = "id", period = "time", eligible = "elig", treatment = "A",
    outcome = "Y", outcome_cov = ~ V + L, estimand_type = estimand, data_dir = dir,
    separate_files = FALSE, use_censor_weights = FALSE, quiet = TRUE
  ), extra))
  msm <- trial_msm(
    data = prep$data, outcome_cov = ~ V + L, estimand_type = estimand,
    model_var = "assigned_treatment", glm_function = "glm", quiet = TRUE
  )
})[["elapsed"]]
unlink(dir, recursive = TRUE)
st <- readLines("/proc/self/status")
hwm <- as.numeric(strsplit(trimws(sub("VmHWM:", "", st[startsWith(st, "VmHWM:")])), " +")[[1]][1])
cf <- coef(msm$model)
cat(toJSON(list(
  seconds = tm, peak_MB = hwm / 1024, terms = names(cf), coef = unname(cf),
  expanded = nrow(prep$data), outcome_rows = length(msm$model$fitted.values),
  TrialEmulation = as.character(packageVersion("TrialEmulation"))
), auto_unbox = TRUE, digits = NA), "\n")
