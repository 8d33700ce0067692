# Empirical calibration (Schuemie et al. 2014, 2018) reference values.
# Writes tests/reference/empirical_calibration.json. Run from the repository root:
#   Rscript tests/reference/r/empirical_calibration.R [path/to/EmpiricalCalibration/data]
# With the data directory of an EmpiricalCalibration source checkout (3.1.4) as argument, the
# package's example data sets sccs.rda and southworthReplication.rda are first exported to
# tests/reference/data/ec_sccs.csv and ec_southworth.csv; without it the committed CSVs are used.
#
# Two kinds of numbers:
# 1. "package": printed by EmpiricalCalibration 3.1.4's own vignettes (docs/articles/*.html of
#    the package source), i.e. fitNull (Nelder-Mead optim from (0, 1)), calibrateP,
#    fitSystematicErrorModel (BFGS) and calibrateConfidenceInterval. The package is not
#    installed here, so these are transcribed, not recomputed.
# 2. "mle": the same likelihoods maximised here to high precision (written from the published
#    model, not from the package's code): log RR_i ~ N(mu, sigma^2 + se_i^2) for the null; for
#    the systematic error model mean = a + b * trueLogRr, sd = c + d * |trueLogRr| (the
#    package's default since 2.0) and the log-linear sd = exp(c + d * trueLogRr) of the 2018
#    paper ("legacy"). Calibrated limits solve z + (mean(x) - logRr) / sqrt(sd(x)^2 + se^2) = 0.
suppressPackageStartupMessages(library(jsonlite))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) == 1) {
  load(file.path(args[1], "sccs.rda"))
  load(file.path(args[1], "southworthReplication.rda"))
  sccs$drugName <- as.character(sccs$drugName)
  southworthReplication$outcomeName <- as.character(southworthReplication$outcomeName)
  write.csv(sccs, "tests/reference/data/ec_sccs.csv", row.names = FALSE)
  write.csv(southworthReplication, "tests/reference/data/ec_southworth.csv", row.names = FALSE)
}
sccs <- read.csv("tests/reference/data/ec_sccs.csv")
sw <- read.csv("tests/reference/data/ec_southworth.csv")

ctl <- list(reltol = 1e-14, maxit = 10000)

# --- null distribution by maximum likelihood (mu, log sigma) ------------------------------
nll_null <- function(p, y, s) -sum(dnorm(y, p[1], sqrt(exp(2 * p[2]) + s^2), log = TRUE))
neg <- sccs[sccs$groundTruth == 0, ]
pos <- sccs[sccs$groundTruth == 1, ]
f <- optim(c(0, log(0.5)), nll_null, y = neg$logRr, s = neg$seLogRr, method = "BFGS",
           control = ctl)
f <- optim(f$par, nll_null, y = neg$logRr, s = neg$seLogRr, method = "Nelder-Mead",
           control = ctl)
mu <- f$par[1]; sigma <- exp(f$par[2])
h <- optimHess(f$par, nll_null, y = neg$logRr, s = neg$seLogRr)
se_par <- sqrt(diag(solve(h)))
cal_p <- function(y, s, mu, sigma) {
  z <- (y - mu) / sqrt(sigma^2 + s^2)
  2 * pmin(pnorm(z), pnorm(-z))
}

# --- systematic error model ------------------------------------------------------------------
ctr <- sw[!is.na(sw$trueLogRr), ]
ooi <- sw[is.na(sw$trueLogRr), ]
sd_fun <- function(p, x, legacy) if (legacy) exp(p[3] + p[4] * x) else p[3] + p[4] * abs(x)
nll_err <- function(p, y, s, x, legacy) {
  sdv <- sd_fun(p, x, legacy)
  if (any(sdv < 0)) return(1e10)
  -sum(dnorm(y, p[1] + p[2] * x, sqrt(sdv^2 + s^2), log = TRUE))
}
fit_err <- function(legacy) {
  start <- if (legacy) c(0, 1, -2, 0) else c(0, 1, 0.1, 0)
  g <- optim(start, nll_err, y = ctr$logRr, s = ctr$seLogRr, x = ctr$trueLogRr,
             legacy = legacy, method = "BFGS", control = ctl)
  g <- optim(g$par, nll_err, y = ctr$logRr, s = ctr$seLogRr, x = ctr$trueLogRr,
             legacy = legacy, method = "Nelder-Mead", control = ctl)
  g$par
}
cal_ci <- function(p, y, s, legacy, level = 0.95) {
  bound <- function(z) {
    f <- function(x) z + (p[1] + p[2] * x - y) / sqrt(sd_fun(p, x, legacy)^2 + s^2)
    uniroot(f, c(-100, 100), tol = 1e-12)$root
  }
  zq <- qnorm((1 - level) / 2)
  c(logRr = bound(0), logLb = bound(-zq), logUb = bound(zq))
}
m_lin <- fit_err(FALSE)
m_log <- fit_err(TRUE)
ci_lin <- cal_ci(m_lin, ooi$logRr, ooi$seLogRr, FALSE)
ci_log <- cal_ci(m_log, ooi$logRr, ooi$seLogRr, TRUE)
# null-only error model (convertNullToErrorModel: slope 1, sd slope 0) on southworth negatives
swneg <- ctr[ctr$trueLogRr == 0, ]
fn <- optim(c(0, log(0.5)), nll_null, y = swneg$logRr, s = swneg$seLogRr, method = "BFGS",
            control = ctl)
fn <- optim(fn$par, nll_null, y = swneg$logRr, s = swneg$seLogRr, method = "Nelder-Mead",
            control = ctl)
m_null <- c(fn$par[1], 1, exp(fn$par[2]), 0)
ci_null <- cal_ci(m_null, ooi$logRr, ooi$seLogRr, FALSE)

out <- list(
  id = "empirical_calibration",
  dataset = paste("EmpiricalCalibration 3.1.4 example data: sccs (46 SCCS estimates, 45",
                  "negative controls + sertraline/upper GI bleeding) and southworthReplication",
                  "(173 estimates: 1 outcome of interest, negative and synthetic positive controls)"),
  data = list(files = c("data/ec_sccs.csv", "data/ec_southworth.csv"),
              source = "github:OHDSI/EmpiricalCalibration data/*.rda (Apache-2.0)"),
  r = list(version = R.version.string, script = "r/empirical_calibration.R"),
  tolerance = list(
    package_null = "abs 5e-4 (vignette prints 4 decimals; Nelder-Mead stops early)",
    package_p = "abs 1e-3 (p from the Nelder-Mead null)",
    package_error_model = "abs 2e-3 (BFGS default tolerance in the package)",
    package_ci = "abs 2e-3",
    mle = "abs 1e-6 (both sides converge to the MLE)"),
  package = list(
    null_sccs = list(call = "fitNull(negatives$logRr, negatives$seLogRr)",
                     mean = 0.7922, sd = 0.2834),
    calibrate_p_sertraline = list(call = "calibrateP(null, 0.7326235, 0.07371708)",
                                  p = 0.8389142),
    mcmc_null_sccs = list(call = "fitMcmcNull(negatives$logRr, negatives$seLogRr)",
                          mean = 0.79260, mean_ci = c(0.67357, 0.9052),
                          precision = 11.82262, precision_ci = c(6.03631, 23.4220),
                          note = "MCMC; only a sanity check for our Wald CIs"),
    error_model_southworth = list(
      call = "fitSystematicErrorModel(controls$logRr, controls$seLogRr, controls$trueLogRr)",
      meanIntercept = -0.066550795, meanSlope = 0.933292141, sdIntercept = 0.187468405,
      sdSlope = 0.002979502),
    calibrated_ci_gibleed = list(
      call = "calibrateConfidenceInterval(-0.3575234, 0.06668903, model)",
      logRr = -0.3117702, logLb95Rr = -0.733957, logUb95Rr = 0.1067054,
      seLogRr = 0.2144587)),
  mle = list(
    null_sccs = list(mean = mu, sd = sigma, se_mean = se_par[1], se_log_sd = se_par[2],
                     loglik = -f$value),
    calibrate_p_sccs_all = cal_p(sccs$logRr, sccs$seLogRr, mu, sigma),
    error_model_linear = list(par = m_lin, ci_gibleed = unname(ci_lin)),
    error_model_log_linear = list(par = m_log, ci_gibleed = unname(ci_log)),
    null_southworth = list(mean = m_null[1], sd = m_null[3], ci_gibleed = unname(ci_null)))
)
write(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
      "tests/reference/empirical_calibration.json")
