# Rubin's rules as R's mice::pool and mice::pool.scalar compute them.
# Writes tests/reference/rubin.json. Run from the repository root:
#   Rscript tests/reference/r/rubin.R
# Case 1: a linear model on mice's bundled nhanes data, imputed with mice (m = 5, seed 1);
#   the per-imputation estimates and variances are exported next to mice::pool's result, so
#   the Python test pools the same numbers without R.
# Case 2: mice::pool.scalar on fixed numbers, large-sample (n = Inf) and small-sample
#   (n = 25, k = 2: dfcom = 23) degrees of freedom.
# Case 3: a logistic model (log odds ratio scale) on nhanes2, as for ratio measures.
suppressPackageStartupMessages({
  library(mice)
  library(jsonlite)
})

per_imputation <- function(fit) {
  est <- t(sapply(fit$analyses, coef))
  var <- t(sapply(fit$analyses, function(f) diag(vcov(f))))
  list(terms = colnames(est), estimates = unname(est), variances = unname(var))
}

pooled_list <- function(pl, conf) {
  p <- pl$pooled
  s <- summary(pl, conf.int = TRUE, conf.level = conf)
  list(term = as.character(p$term), estimate = p$estimate, ubar = p$ubar, b = p$b,
       t = p$t, dfcom = p$dfcom, df = p$df, riv = p$riv, lambda = p$lambda, fmi = p$fmi,
       std_error = s$std.error, statistic = s$statistic, p_value = s$p.value,
       conf_low = s[["2.5 %"]], conf_high = s[["97.5 %"]])
}

# ---- case 1: lm on nhanes
imp <- mice(nhanes, m = 5, seed = 1, print = FALSE)
fit <- with(imp, lm(chl ~ age + bmi))
pl <- pool(fit)
case1 <- c(per_imputation(fit), list(pooled = pooled_list(pl, 0.95)))

# ---- case 2: pool.scalar on fixed numbers
Q <- c(1.10, 1.32, 0.95, 1.21, 1.05, 1.40, 0.99)
U <- c(0.040, 0.052, 0.047, 0.039, 0.050, 0.044, 0.046)
ps_inf <- pool.scalar(Q, U, n = Inf)
ps_small <- pool.scalar(Q, U, n = 25, k = 2)
sc <- function(ps) list(qbar = ps$qbar, ubar = ps$ubar, b = ps$b, t = ps$t, df = ps$df,
                        r = ps$r, fmi = ps$fmi)
case2 <- list(Q = Q, U = U, large_sample = sc(ps_inf), small_sample = sc(ps_small),
              small_sample_dfcom = 23)

# ---- case 3: logistic model on nhanes2 (hyp = yes)
imp3 <- mice(nhanes2, m = 10, seed = 7, print = FALSE)
fit3 <- with(imp3, glm(I(hyp == "yes") ~ age + chl, family = binomial))
pl3 <- pool(fit3)
case3 <- c(per_imputation(fit3), list(pooled = pooled_list(pl3, 0.95)))

out <- list(
  id = "rubin",
  generated_by = "tests/reference/r/rubin.R",
  r_version = R.version.string,
  packages = list(mice = as.character(packageVersion("mice"))),
  date = as.character(Sys.Date()),
  specification = list(
    case1 = "mice(nhanes, m = 5, seed = 1); with(imp, lm(chl ~ age + bmi)); pool(); summary(conf.int = TRUE)",
    case2 = "pool.scalar(Q, U, n = Inf) and pool.scalar(Q, U, n = 25, k = 2)",
    case3 = "mice(nhanes2, m = 10, seed = 7); with(imp, glm(I(hyp == 'yes') ~ age + chl, binomial)); pool()"
  ),
  tolerance = list(rtol = 1e-8, note = "closed-form arithmetic on the exported per-imputation numbers (exported with 15 significant digits)"),
  lm_nhanes = case1,
  scalar = case2,
  logistic_nhanes2 = case3
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = 15, pretty = TRUE),
           "tests/reference/rubin.json")
