# Reference values for cohortlab's matching with replacement (Abadie-Imbens SEs, bias
# correction): R Matching::Match on the LaLonde data (MatchIt's version, 614 rows,
# tests/reference/data/lalonde.csv). Run from the repository root:
#   Rscript tests/reference/matching_ai/lalonde_matching.R
# writes tests/reference/matching_ai/lalonde_matching.json.
#
# Matching on the propensity score of a logistic model
#   treat ~ age + educ + race + married + nodegree + re74 + re75
# (X = fitted probabilities, or their logit), with replacement, ties = TRUE (all controls tied
# with the M-th nearest are kept, weights 1/#ties) and distance.tolerance = 0 (exact ties
# only; Matching still adds its internal 1e-10 on the squared standardised distance),
# Var.calc = 1 (conditional variance by matching within arm, Abadie & Imbens 2006), and
# the population variance (sample = FALSE, the default). BiasAdjust = TRUE uses Z = X (the
# score) by default, or Z = the model's covariates (model matrix without intercept).
suppressPackageStartupMessages(library(Matching))
library(jsonlite)

d <- read.csv("tests/reference/data/lalonde.csv")
fit <- glm(treat ~ age + educ + race + married + nodegree + re74 + re75, binomial, data = d)
ps <- fitted(fit)
lp <- predict(fit, type = "link")
Z <- model.matrix(fit)[, -1]

run <- function(X, estimand, M, bias, Zm = X) {
  m <- Match(Y = d$re78, Tr = d$treat, X = X, Z = Zm, estimand = estimand, M = M,
             replace = TRUE, ties = TRUE, distance.tolerance = 0, Var.calc = 1,
             BiasAdjust = bias)
  list(estimand = estimand, M = M, bias_adjust = bias, est = unname(m$est[1, 1]),
       se = unname(m$se), se_standard = unname(m$se.standard),
       n_match_rows = length(m$index.treated), wnobs = unname(m$wnobs))
}

cases <- list(
  ps_att_m1 = run(ps, "ATT", 1, FALSE),
  ps_att_m1_biasadj_ps = run(ps, "ATT", 1, TRUE),
  ps_att_m1_biasadj_cov = run(ps, "ATT", 1, TRUE, Z),
  ps_att_m3 = run(ps, "ATT", 3, FALSE),
  ps_att_m3_biasadj_cov = run(ps, "ATT", 3, TRUE, Z),
  logit_att_m1 = run(lp, "ATT", 1, FALSE),
  logit_att_m1_biasadj_cov = run(lp, "ATT", 1, TRUE, Z),
  ps_atc_m1 = run(ps, "ATC", 1, FALSE),
  ps_atc_m1_biasadj_cov = run(ps, "ATC", 1, TRUE, Z),
  ps_ate_m1 = run(ps, "ATE", 1, FALSE),
  ps_ate_m1_biasadj_cov = run(ps, "ATE", 1, TRUE, Z)
)

out <- list(
  source = paste0("R ", R.version$major, ".", R.version$minor, ", Matching ",
                  as.character(packageVersion("Matching")),
                  " (tests/reference/matching_ai/lalonde_matching.R)"),
  data = "tests/reference/data/lalonde.csv (MatchIt's lalonde, 614 rows)",
  spec = paste("Match(Y = re78, Tr = treat, X = ps or logit ps, Z, estimand, M,",
               "replace = TRUE, ties = TRUE, distance.tolerance = 0, Var.calc = 1,",
               "BiasAdjust); ps from glm(treat ~ age + educ + race + married + nodegree +",
               "re74 + re75, binomial)"),
  tolerance = "1e-6 relative on est and se",
  coef = as.list(coef(fit)),
  cases = cases
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/reference/matching_ai/lalonde_matching.json")
