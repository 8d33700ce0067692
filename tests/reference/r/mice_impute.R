# Multiple imputation by chained equations: R mice as the reference of cohortlab.impute and
# cohortlab.with_imputations. Writes tests/reference/mice_impute.json and
# tests/reference/data/mice_nhanes_completed.csv. Run from the repository root:
#   Rscript tests/reference/r/mice_impute.R
# (a) pooling: mice's m = 20 completed nhanes data sets (seed 2026) are exported row for row;
#     with(imp, lm(chl ~ age + bmi)) and pool() give the pooled estimates, SE, df, fmi, riv
#     that with_imputations must reproduce from the same completed data (no randomness).
# (b) imputation: mice is random, so its distributional output is recorded: for nhanes
#     (all pmm) and nhanes2 (bmi, chl pmm; hyp logreg), m = 500 imputations, maxit = 10; the
#     mean over imputations of the mean of the imputed values per variable and its Monte
#     Carlo SD (SD over imputations), plus the pooled lm(chl ~ age + bmi) coefficients.
suppressPackageStartupMessages({
  library(mice)
  library(jsonlite)
})

write.csv(nhanes, "tests/reference/data/mice_nhanes.csv", row.names = FALSE)
imp <- mice(nhanes, m = 20, seed = 2026, print = FALSE)
long <- complete(imp, "long")
write.csv(long[, c(".imp", ".id", "age", "bmi", "hyp", "chl")],
          "tests/reference/data/mice_nhanes_completed.csv", row.names = FALSE)
fit <- with(imp, lm(chl ~ age + bmi))
pl <- pool(fit)
p <- pl$pooled
s <- summary(pl, conf.int = TRUE)
pooling <- list(term = as.character(p$term), estimate = p$estimate, ubar = p$ubar, b = p$b,
                t = p$t, dfcom = p$dfcom, df = p$df, riv = p$riv, lambda = p$lambda,
                fmi = p$fmi, std_error = s$std.error, statistic = s$statistic,
                p_value = s$p.value, conf_low = s[["2.5 %"]], conf_high = s[["97.5 %"]])

imputed_means <- function(imp, vars) {
  out <- list()
  for (v in vars) {
    vals <- imp$imp[[v]]
    mu <- sapply(vals, function(col) mean(as.numeric(if (is.factor(col)) col == levels(col)[2] else col)))
    out[[v]] <- list(mean = mean(mu), mc_sd = sd(mu), n_missing = nrow(vals), m = length(mu))
  }
  out
}
big <- 500
imp1 <- mice(nhanes, m = big, maxit = 10, seed = 11, print = FALSE)
imp2 <- mice(nhanes2, m = big, maxit = 10, seed = 12, print = FALSE)
pl1 <- summary(pool(with(imp1, lm(chl ~ age + bmi))))
distribution <- list(
  nhanes = list(method = as.list(imp1$method), means = imputed_means(imp1, c("bmi", "hyp", "chl")),
                lm_term = as.character(pl1$term), lm_estimate = pl1$estimate,
                lm_std_error = pl1$std.error),
  nhanes2 = list(method = as.list(imp2$method),
                 means = imputed_means(imp2, c("bmi", "hyp", "chl")))
)

out <- list(
  id = "mice_impute",
  generated_by = "tests/reference/r/mice_impute.R",
  r_version = R.version.string,
  packages = list(mice = as.character(packageVersion("mice"))),
  date = as.character(Sys.Date()),
  specification = list(
    pooling = "imp <- mice(nhanes, m = 20, seed = 2026); complete(imp, 'long') -> data/mice_nhanes_completed.csv; pool(with(imp, lm(chl ~ age + bmi))); summary(conf.int = TRUE)",
    distribution = "mice(nhanes, m = 500, maxit = 10, seed = 11) and mice(nhanes2, m = 500, maxit = 10, seed = 12), default methods; per variable the mean over imputations of the mean imputed value (hyp in nhanes2: proportion 'yes') and its SD over imputations"
  ),
  tolerance = list(pooling = 1e-8, distribution = "4 Monte Carlo SEs of the difference"),
  pooling = pooling,
  distribution = distribution
)
write_json(out, "tests/reference/mice_impute.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
